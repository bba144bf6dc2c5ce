"""The one config model of regslo: YAML in, validated dataclasses out.

``load_config(path)`` returns a ``Config`` or raises ``ConfigError`` whose ``problems`` are one line each,
every line starting with the key path (``registries[1].url: ...``). Sections other than registries, probes,
replication and server are parsed by their own modules (``logs``, ``slos``) with the same machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from regslo.config.base import ConfigError, Errors, Secret, Section, join
from regslo.oci.names import REPOSITORY_NAME

DEFAULT_LISTEN_ADDRESS = ":9745"
PROBE_KINDS = ("ping", "push", "pull")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = [
    "Config", "ConfigError", "Registry", "AuthConfig", "TLSConfig", "ProbeSettings", "ReplicationPair",
    "ServerSettings", "Secret", "load_config", "parse_config", "DEFAULT_LISTEN_ADDRESS", "PROBE_KINDS",
]


@dataclass(frozen=True)
class AuthConfig:
    username: str | None = None
    password: Secret | None = None
    docker_config: Path | None = None


@dataclass(frozen=True)
class TLSConfig:
    ca_file: Path | None = None
    insecure_skip_verify: bool = False
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class Registry:
    name: str
    url: str
    region: str
    auth: AuthConfig | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)
    storage: Any = None  # regslo.config.storage.StorageConfig
    gc: Any = None  # regslo.config.storage.GCConfig

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@dataclass(frozen=True)
class ProbeSettings:
    interval: float = 30.0
    timeout: float = 20.0
    repository: str = "regslo/probe"
    blob_size: int = 1024 * 1024
    chunk_threshold: int = 8 * 1024 * 1024  # blobs above this size are pushed in PATCH chunks
    chunk_size: int = 4 * 1024 * 1024
    enabled: tuple[str, ...] = PROBE_KINDS
    jitter: float = 0.1  # fraction of the interval used to spread start-up and each run
    cleanup: bool = True
    instance: str | None = None  # distinguishes several regslo instances probing one registry


@dataclass(frozen=True)
class ReplicationPair:
    source: str
    destination: str
    timeout: float = 120.0
    poll_interval: float = 1.0


@dataclass(frozen=True)
class ServerSettings:
    listen_address: str = DEFAULT_LISTEN_ADDRESS


@dataclass
class Config:
    registries: list[Registry]
    probes: ProbeSettings
    replication: list[ReplicationPair]
    server: ServerSettings
    logs: Any = None  # regslo.config.logs.LogsConfig
    slos: list = field(default_factory=list)  # regslo.config.slos.SLO
    alerting: Any = None  # regslo.slo.settings.AlertingSettings
    dashboards: Any = None  # regslo.slo.settings.DashboardSettings
    consistency: list = field(default_factory=list)  # regslo.config.consistency.ConsistencyCheck
    immutable_tags: Any = None  # regslo.config.integrity.ImmutableTags
    traffic: Any = None  # regslo.config.traffic.TrafficConfig
    inspect: Any = None  # regslo.config.inspect.InspectConfig
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None

    def registry(self, name: str) -> Registry:
        for reg in self.registries:
            if reg.name == name:
                return reg
        raise KeyError(name)


def load_config(path: str | Path, check_secrets: bool = True) -> Config:
    """Read and validate a YAML config file; raise ``ConfigError`` listing every problem.

    ``check_secrets=False`` skips reading password_env/password_file (for commands that never log in).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.strerror}"]) from None
    config = parse_config(text, base_dir=path.parent, source=str(path), check_secrets=check_secrets)
    config.path = path  # for reloads
    return config


def parse_config(text: str, base_dir: Path | None = None, source: str = "<config>",
                 check_secrets: bool = True) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{source}: invalid YAML{where}: {problem}"]) from None
    errors = Errors(check_secrets=check_secrets)
    config = build_config(raw, errors, base_dir or Path.cwd())
    if errors:
        raise ConfigError(errors.problems)
    config.warnings = errors.warnings
    return config


TOP_LEVEL_KEYS = {"registries", "probes", "replication", "server", "logs", "slos", "alerting", "dashboards",
                  "consistency", "immutable_tags", "traffic",
                  "inspect"}


def build_config(raw: Any, errors: Errors, base_dir: Path) -> Config:
    from regslo.config import logs as logs_section
    from regslo.config import slos as slos_section

    top = Section(raw, "", errors, known=TOP_LEVEL_KEYS)
    registries = _parse_registries(top, errors, base_dir)
    probes = _parse_probes(Section(top.mapping("probes"), "probes", errors, known=_PROBE_KEYS), errors)
    names = {r.name for r in registries}
    replication = _parse_replication(top, errors, names)
    server_sec = Section(top.mapping("server"), "server", errors, known={"listen_address"})
    server = ServerSettings(listen_address=server_sec.str("listen_address", DEFAULT_LISTEN_ADDRESS))
    _check_listen_address(server.listen_address, "server.listen_address", errors)
    config = Config(registries=registries, probes=probes, replication=replication, server=server)
    config.logs = logs_section.parse(top.raw.get("logs"), "logs", errors, config, base_dir)
    from regslo.config.storage import check_gc_sources
    check_gc_sources(registries, config.logs, errors)
    from regslo.config import inspect as inspect_section
    config.inspect = inspect_section.parse(top.raw.get("inspect"), "inspect", errors, config)
    from regslo.slo import settings as slo_settings
    config.alerting = slo_settings.parse_alerting(top.raw.get("alerting"), "alerting", errors)
    config.dashboards = slo_settings.parse_dashboards(top.raw.get("dashboards"), "dashboards", errors)
    config.slos = slos_section.parse(top.raw.get("slos"), "slos", errors, config)
    from regslo.config import consistency, integrity
    config.consistency = consistency.parse(top.raw.get("consistency"), "consistency", errors, [r.name for r in registries])
    config.immutable_tags = integrity.parse(top.raw.get("immutable_tags"), "immutable_tags", errors)
    from regslo.config import traffic
    config.traffic = traffic.parse(top.raw.get("traffic"), "traffic", errors)
    return config


def _check_listen_address(value: str, path: str, errors: Errors) -> None:
    from regslo.outputs.server import parse_listen_address

    try:
        parse_listen_address(value)
    except ValueError as exc:
        errors.add(path, str(exc))


def _parse_registries(top: Section, errors: Errors, base_dir: Path) -> list[Registry]:
    items = top.list("registries", required=True)
    if "registries" in top.raw and not items and isinstance(top.raw.get("registries"), list):
        errors.add("registries", "must name at least one registry")
    out: list[Registry] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = join("registries", i)
        sec = Section(item, path, errors, known={"name", "url", "region", "auth", "tls", "storage", "gc"})
        name = sec.str("name", required=True)
        url = sec.str("url", required=True)
        region = sec.str("region", default=name or "")
        if name is not None:
            if not _NAME.match(name):
                errors.add(sec.key("name"), f"must be letters, digits, '.', '_' or '-', got {name!r}")
            if name in seen:
                errors.add(sec.key("name"), f"duplicate name {name!r} (also registries[{seen[name]}])")
            seen.setdefault(name, i)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.add(sec.key("url"), f"must be an http:// or https:// URL with a host, got {url!r}")
            elif parts.path not in ("", "/") or parts.query:
                errors.add(sec.key("url"), "must be the registry root (no path or query); probes add /v2/")
            elif parts.username or parts.password:
                errors.add(sec.key("url"), "must not carry credentials; use auth.username/password_env")
            url = url.rstrip("/")
        auth = _parse_auth(sec, errors, base_dir) if sec.has("auth") else None
        tls = _parse_tls(sec, errors, base_dir)
        from regslo.config import storage as storage_section
        storage = storage_section.parse_storage(sec.raw.get("storage"), sec.key("storage"), errors, base_dir)
        gc = storage_section.parse_gc(sec.raw.get("gc"), sec.key("gc"), errors)
        if name and url:
            out.append(Registry(name=name, url=url, region=region or name, auth=auth, tls=tls, storage=storage, gc=gc))
    return out


def _parse_auth(reg: Section, errors: Errors, base_dir: Path) -> AuthConfig | None:
    sec = Section(reg.mapping("auth"), reg.key("auth"), errors,
                  known={"username", "password", "password_env", "password_file", "docker_config"})
    username = sec.str("username")
    password = sec.secret("password", base_dir)
    docker_config = sec.str("docker_config")
    if docker_config and (username or password):
        errors.add(sec.path, "give either username/password or docker_config, not both")
    if password is not None and not username:
        errors.add(sec.key("username"), "is required when a password is given")
    if username and password is None and errors.check_secrets and not any(sec.has(k) for k in ("password", "password_env", "password_file")):
        errors.add(sec.key("password"), "one of password, password_env or password_file is required with username")
    dc_path = None
    if docker_config:
        import os
        dc_path = Path(os.path.expanduser(docker_config))
        if not dc_path.is_absolute():
            dc_path = base_dir / dc_path
        if errors.check_secrets and not dc_path.is_file():
            errors.add(sec.key("docker_config"), f"file not found: {dc_path}")
    if not (username or docker_config):
        errors.add(sec.path, "must give username with a password, or docker_config")
        return None
    return AuthConfig(username=username, password=password, docker_config=dc_path)


def _parse_tls(reg: Section, errors: Errors, base_dir: Path) -> TLSConfig:
    if not reg.has("tls"):
        return TLSConfig()
    sec = Section(reg.mapping("tls"), reg.key("tls"), errors,
                  known={"ca_file", "insecure_skip_verify", "cert_file", "key_file"})
    paths = {}
    for key in ("ca_file", "cert_file", "key_file"):
        value = sec.str(key)
        if value:
            p = Path(value).expanduser()
            p = p if p.is_absolute() else base_dir / p
            if errors.check_secrets and not p.is_file():
                errors.add(sec.key(key), f"file not found: {p}")
            paths[key] = p
    if ("cert_file" in paths) != ("key_file" in paths):
        errors.add(sec.path, "cert_file and key_file go together")
    return TLSConfig(insecure_skip_verify=sec.bool("insecure_skip_verify", False), **paths)


_PROBE_KEYS = {"interval", "timeout", "repository", "blob_size", "chunk_threshold", "chunk_size", "enabled",
               "jitter", "cleanup", "instance"}


def _parse_probes(sec: Section, errors: Errors) -> ProbeSettings:
    d = ProbeSettings()
    interval = sec.duration("interval", d.interval)
    timeout = sec.duration("timeout", d.timeout)
    if timeout > interval:
        errors.add(sec.key("timeout"), f"must not exceed probes.interval ({timeout:g}s > {interval:g}s): "
                                       "runs of one probe would pile up")
    repository = sec.str("repository", d.repository)
    if repository and not REPOSITORY_NAME.fullmatch(repository):
        errors.add(sec.key("repository"), f"not a valid repository name (lowercase path like regslo/probe): {repository!r}")
    blob_size = sec.size("blob_size", d.blob_size)
    if blob_size is not None and not 1 <= blob_size <= 1024**3:
        errors.add(sec.key("blob_size"), "must be between 1B and 1GiB")
    chunk_size = sec.size("chunk_size", d.chunk_size)
    if chunk_size is not None and chunk_size < 5 * 1024 * 1024 and sec.has("chunk_size"):
        errors.warn(sec.key("chunk_size"), "below 5MiB: S3-backed registries reject smaller chunks")
    enabled = tuple(sec.list("enabled")) or d.enabled
    for i, kind in enumerate(enabled):
        if kind not in PROBE_KINDS:
            errors.add(join(sec.key("enabled"), i), f"unknown probe {kind!r} (known: {', '.join(PROBE_KINDS)})")
    if "pull" in enabled and "push" not in enabled:
        errors.add(sec.key("enabled"), "pull needs push: it pulls the image the push probe wrote")
    jitter = sec.float("jitter", d.jitter)
    if jitter is not None and not 0 <= jitter <= 1:
        errors.add(sec.key("jitter"), "must be between 0 and 1 (a fraction of the interval)")
    instance = sec.str("instance")
    if instance and not re.match(r"^[a-z0-9][a-z0-9-]{0,30}$", instance):
        errors.add(sec.key("instance"), "must be 1-31 lowercase letters, digits or '-'")
    return ProbeSettings(interval=interval, timeout=timeout, repository=repository or d.repository,
                         blob_size=blob_size or d.blob_size,
                         chunk_threshold=sec.size("chunk_threshold", d.chunk_threshold) or d.chunk_threshold,
                         chunk_size=chunk_size or d.chunk_size, enabled=enabled, jitter=jitter or 0.0,
                         cleanup=sec.bool("cleanup", True), instance=instance)


def _parse_replication(top: Section, errors: Errors, names: set[str]) -> list[ReplicationPair]:
    out = []
    seen = set()
    for i, item in enumerate(top.list("replication")):
        sec = Section(item, join("replication", i), errors, known={"source", "destination", "timeout", "poll_interval"})
        src = sec.str("source", required=True)
        dst = sec.str("destination", required=True)
        for key, value in (("source", src), ("destination", dst)):
            if value is not None and value not in names:
                errors.add(sec.key(key), f"unknown registry {value!r} (known: {', '.join(sorted(names)) or 'none'})")
        if src is not None and src == dst:
            errors.add(sec.key("destination"), "must differ from source")
        if (src, dst) in seen:
            errors.add(sec.path, f"duplicate pair {src} -> {dst}")
        seen.add((src, dst))
        timeout = sec.duration("timeout", 120.0)
        poll = sec.duration("poll_interval", 1.0)
        if poll and timeout and poll > timeout:
            errors.add(sec.key("poll_interval"), "must not exceed timeout")
        if src and dst:
            out.append(ReplicationPair(src, dst, timeout, poll))
    return out
