"""The demo stack: registries, a replicator, regslo, Prometheus, Alertmanager and a webhook pager on 127.0.0.1.

``Stack(workdir, ports, timing).start()`` brings everything up in dependency order and ``stop()`` takes it
down in reverse, on any exit path (a failed start stops what already runs). The e2e tests and the page
latency benchmark drive the same class with shorter timers.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from regslo.config import ConfigError, Registry, parse_config
from regslo.demo import configs
from regslo.demo.procs import Child, check_port, wait_http
from regslo.demo.receiver import WebhookReceiver

log = logging.getLogger("regslo.demo")
BINARIES = {"registry": "docker-registry", "prometheus": "prometheus", "alertmanager": "prometheus-alertmanager"}


@dataclass
class Ports:
    registries: tuple[int, ...] = (5001, 5002)  # in the order of the config's registries
    replicator: int = 5003
    regslo: int = 9745
    prometheus: int = 9090
    alertmanager: int = 9093
    receiver: int = 9097

    def offset(self, n: int) -> "Ports":
        return Ports(tuple(p + n for p in self.registries), self.replicator + n, self.regslo + n,
                     self.prometheus + n, self.alertmanager + n, self.receiver + n)

    def named(self) -> list[tuple[int, str, str]]:
        """(port, what, flag) for every port, for the 'port taken' check."""
        out = [(p, f"registry #{i + 1}", "--registry-ports") for i, p in enumerate(self.registries)]
        out += [(getattr(self, f.name), f.name, f"--{f.name}-port") for f in fields(self) if f.name != "registries"]
        return out


@dataclass
class Timing:
    probe_interval: float | None = None  # None: as in the config
    probe_timeout: float | None = None
    scrape_interval: float = 5.0
    evaluation_interval: float = 5.0
    group_wait: float = 5.0
    group_interval: float = 5.0
    repeat_interval: float = 3600.0
    replication_delay: float = 2.0


@dataclass
class Region:
    registry: Registry
    port: int
    dir: Path
    child: Child | None = None
    state: str = "up"  # up | stopped | frozen
    notify: list[tuple[str, str]] = field(default_factory=list)  # (endpoint name, URL) for push notifications


@dataclass
class Stack:
    workdir: Path
    ports: Ports = field(default_factory=Ports)
    timing: Timing = field(default_factory=Timing)
    config: dict[str, Any] | None = None  # a regslo config mapping; default: the embedded demo.yml
    echo: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.regions: dict[str, Region] = {}
        self.replicators: list[Any] = []
        self.children: list[Child] = []
        self.receiver: WebhookReceiver | None = None
        self.service: Any = None
        self.features: dict[str, bool] = {}
        self.config_path = self.workdir / "regslo.yml"
        self.out_dir = self.workdir / "generated"

    # ---- start -------------------------------------------------------------------------------------
    def start(self) -> "Stack":
        for binary in BINARIES.values():
            if not shutil.which(binary):
                raise RuntimeError(f"{binary} is not installed: run `bash scripts/demo.sh` (it installs what is "
                                   "missing) or apt-get install docker-registry prometheus prometheus-alertmanager")
        for port, what, flag in self.ports.named():
            check_port(port, what, flag)
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        doc = self._regslo_config()
        self.receiver = WebhookReceiver(self.ports.receiver, self.workdir / "pages.jsonl").start()
        cfg = parse_config(yaml.safe_dump(doc), base_dir=self.workdir)
        for i, reg in enumerate(cfg.registries):
            self.regions[reg.name] = Region(reg, self.ports.registries[i], self.workdir / reg.name)
        self._start_replicators(cfg)
        for source in (cfg.logs.sources if cfg.logs else ()):
            if source.format == "notifications" and source.path is None:  # regslo's webhook for this registry
                self.regions[source.registry].notify.append(
                    ("regslo", f"http://127.0.0.1:{self.ports.regslo}/notifications/{source.registry}"))
        for region in self.regions.values():
            self._start_registry(region)
        for region in self.regions.values():
            wait_http(f"{region.registry.url}/v2/", 15, region.child)
        self._generate()
        self._start_alertmanager()
        self._start_prometheus()
        from regslo.service import Service

        self.service = Service(cfg, listen_address=f"127.0.0.1:{self.ports.regslo}", instance="demo")
        self.service.start()

    def _regslo_config(self) -> dict[str, Any]:
        """The config regslo runs on: ports filled in, optional sections this build lacks dropped."""
        doc = copy.deepcopy(self.config if self.config is not None else configs.embedded_config())
        regs = doc["registries"]
        if len(regs) > len(self.ports.registries):
            raise ValueError(f"the demo config names {len(regs)} registries but only "
                             f"{len(self.ports.registries)} ports were given")
        for reg, port in zip(regs, self.ports.registries):
            reg["url"] = f"http://127.0.0.1:{port}"
            (self.workdir / reg["name"]).mkdir(parents=True, exist_ok=True)  # logs: paths point here
        doc.setdefault("server", {})["listen_address"] = f"127.0.0.1:{self.ports.regslo}"
        probes = doc.setdefault("probes", {})
        if self.timing.probe_interval:
            probes["interval"] = f"{self.timing.probe_interval:g}s"
        if self.timing.probe_timeout:
            probes["timeout"] = f"{self.timing.probe_timeout:g}s"
        if doc.get("logs") and importlib.util.find_spec("regslo.sources.logs.service") is None:
            doc.pop("logs")  # the log tailer is not part of this build yet
        for section in ("logs", "slos"):  # keep the demo running on builds where a section is unfinished
            try:
                parse_config(yaml.safe_dump(doc), base_dir=self.workdir)
                break
            except ConfigError as exc:
                if section in doc and any(p.startswith(section) for p in exc.problems):
                    self.echo(f"note: leaving out the `{section}:` section ({exc.problems[0]})")
                    doc.pop(section)
        parse_config(yaml.safe_dump(doc), base_dir=self.workdir)  # raise what is left
        self.features = {"logs": bool(doc.get("logs")), "slos": bool(doc.get("slos"))}
        self.config_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return doc

    def _start_replicators(self, cfg: Any) -> None:
        from regslo.demo.replicator import Replicator

        by_source: dict[str, list[str]] = {}
        for pair in cfg.replication:
            by_source.setdefault(pair.source, []).append(pair.destination)
        for i, (source, dests) in enumerate(sorted(by_source.items())):
            rep = Replicator(cfg.registry(source), [cfg.registry(d) for d in dests],
                             delay=self.timing.replication_delay, listen=("127.0.0.1", self.ports.replicator + i))
            self.replicators.append(rep.start())
            self.regions[source].notify.append(("replicator", rep.url))

    def _start_registry(self, region: Region) -> None:
        region.dir.mkdir(parents=True, exist_ok=True)
        path = region.dir / "config.yml"
        if not path.exists():
            path.write_text(yaml.safe_dump(configs.registry_config(region.registry.name, region.port, region.dir,
                                                                   region.notify)))
        region.child = Child(f"registry-{region.registry.name}", [BINARIES["registry"], "serve", str(path)],
                             stdout=region.dir / "access.log", stderr=region.dir / "app.log").start()
        self.children.append(region.child)
        region.state = "up"

    def _generate(self) -> None:
        res = subprocess.run([sys.executable, "-m", "regslo", "generate", "-c", str(self.config_path),
                              "-o", str(self.out_dir)], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            self.echo(f"note: `regslo generate` failed, Prometheus runs without SLO rules: "
                      f"{(res.stderr or res.stdout).strip().splitlines()[-1:]}")
            self.features["rules"] = False
            return
        self.features["rules"] = bool(configs.rule_files(self.out_dir / "alerts"))

    def _start_alertmanager(self) -> None:
        generated_path = self.out_dir / "alerts" / "alertmanager.yml"
        generated = yaml.safe_load(generated_path.read_text()) if generated_path.exists() else None
        t = self.timing
        cfg = configs.alertmanager_config(self.receiver.url, generated, t.group_wait, t.group_interval,
                                          t.repeat_interval)
        self._start_server("alertmanager", cfg, self.ports.alertmanager,
                           lambda d: [f"--storage.path={d / 'data'}", "--cluster.listen-address="])

    def _start_prometheus(self) -> None:
        t = self.timing
        cfg = configs.prometheus_config(f"127.0.0.1:{self.ports.regslo}", f"127.0.0.1:{self.ports.alertmanager}",
                                        configs.rule_files(self.out_dir / "alerts"), t.scrape_interval,
                                        t.evaluation_interval)
        self._start_server("prometheus", cfg, self.ports.prometheus,
                           lambda d: [f"--storage.tsdb.path={d / 'data'}", "--storage.tsdb.retention.time=1d"])

    def _start_server(self, name: str, cfg: dict, port: int, extra_args) -> None:
        """Write NAME/NAME.yml, start the Prometheus-family server NAME on 127.0.0.1:PORT, wait until ready."""
        d = self.workdir / name
        d.mkdir(exist_ok=True)
        (d / f"{name}.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        addr = f"127.0.0.1:{port}"
        args = [BINARIES[name], f"--config.file={d / f'{name}.yml'}", f"--web.listen-address={addr}",
                *extra_args(d), f"--web.external-url=http://{addr}"]
        child = Child(name, args, stdout=d / f"{name}.log").start()
        self.children.append(child)
        wait_http(f"http://{addr}/-/ready", 30, child)

    # ---- chaos -------------------------------------------------------------------------------------
    def break_region(self, name: str, how: str = "stop") -> str:
        region = self._region(name)
        if region.state != "up":
            return f"{name} is already {region.state}"
        if how == "freeze":
            region.child.freeze()
            region.state = "frozen"
        else:
            region.child.stop()
            self.children.remove(region.child)
            region.state = "stopped"
        return f"{name}: registry {region.state} (pid file {region.dir}/{region.child.name}.pid)"

    def fix_region(self, name: str) -> str:
        region = self._region(name)
        if region.state == "up" and not (region.child and region.child.alive()):
            region.state = "stopped"  # killed from outside the demo (kill PID in a second terminal)
            if region.child in self.children:
                self.children.remove(region.child)
        if region.state == "frozen":
            region.child.thaw()
            region.state = "up"
        elif region.state == "stopped":
            self._start_registry(region)
            wait_http(f"{region.registry.url}/v2/", 15, region.child)
        else:
            region.child.thaw()  # harmless when it runs; undoes a `kill -STOP` from a second terminal
            return f"{name} is up (sent SIGCONT in case it was frozen from outside)"
        return f"{name}: registry up again"

    def _region(self, name: str) -> Region:
        if name not in self.regions:
            raise KeyError(f"unknown region {name!r} (known: {', '.join(self.regions)})")
        return self.regions[name]

    # ---- stop --------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call twice or after a failed start."""
        for region in self.regions.values():
            if region.state == "frozen" and region.child:
                region.child.thaw()
        if self.service is not None:
            try:
                self.service.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                log.warning("stopping regslo: %s", exc)
            self.service = None
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        for rep in self.replicators:
            rep.stop()
        self.replicators.clear()
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    def urls(self) -> dict[str, str]:
        p = self.ports
        out = {f"registry {r.registry.name} ({r.registry.region})": r.registry.url for r in self.regions.values()}
        out.update({"regslo metrics": f"http://127.0.0.1:{p.regslo}/metrics",
                    "regslo status": f"http://127.0.0.1:{p.regslo}/",
                    "prometheus": f"http://127.0.0.1:{p.prometheus}/alerts",
                    "alertmanager": f"http://127.0.0.1:{p.alertmanager}/#/alerts",
                    "webhook receiver": f"{self.receiver.url if self.receiver else ''} (pages also in "
                                        f"{self.workdir / 'pages.jsonl'})"})
        return out
