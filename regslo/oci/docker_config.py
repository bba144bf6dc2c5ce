"""Credentials from a Docker ``config.json``: inline ``auths``, ``credHelpers`` and ``credsStore``.

Lookup for a registry host (``host[:port]``), first match wins:

1. ``credHelpers.<host>`` -> run ``docker-credential-<helper> get`` with the host on stdin;
2. ``auths.<host>`` with ``auth`` (base64 ``user:pass``), ``username``/``password``, or ``identitytoken``;
3. ``credsStore`` -> the same helper protocol, with the server address on stdin;
4. nothing: anonymous (a registry that needs credentials will then answer 401).

Keys match with or without a scheme and path: ``registry.example:5000``,
``https://registry.example:5000`` and ``https://registry.example:5000/v1/`` are one host. Docker Hub's
``https://index.docker.io/v1/`` key serves ``docker.io``, ``index.docker.io`` and ``registry-1.docker.io``.
(Docker itself ignores inline ``auths`` when a ``credsStore`` is set; regslo prefers inline credentials over
the store because a probe's config file is written for the probe.)

Nothing here puts a secret into an exception, a log line or a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from regslo.config import Secret

__all__ = ["Credentials", "CredentialError", "load_credentials", "normalize_host", "run_helper"]

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
HELPER_TIMEOUT = 10.0
_TOKEN_USERNAME = "<token>"  # helpers answer this username when Secret is an identity token


@dataclass(frozen=True)
class Credentials:
    """A username with a password, or an OAuth2 identity (refresh) token. Secrets never print."""

    username: str | None
    password: Secret | None = None
    identity_token: Secret | None = None
    source: str = "config"  # where they came from, for messages: "config", "auths", "helper <name>"

    def __repr__(self) -> str:
        kind = "identity_token" if self.identity_token else "password"
        return f"Credentials(username={self.username!r}, {kind}=<redacted>, source={self.source!r})"


class CredentialError(Exception):
    """Credentials could not be read (bad file, missing or failing helper). Message names no secret."""


def normalize_host(key: str) -> str:
    """``https://Registry.example:5000/v1/`` -> ``registry.example:5000``; Docker Hub aliases -> ``docker.io``."""
    key = key.strip()
    host = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    host = host.lower()
    return "docker.io" if host in DOCKER_HUB_HOSTS else host


def load_credentials(path: Path, host: str, timeout: float = HELPER_TIMEOUT) -> Credentials | None:
    """Credentials for ``host`` from the docker config at ``path``, or None (anonymous)."""
    config = _read(path)
    wanted = normalize_host(host)
    helpers = config.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise CredentialError(f"{path}: credHelpers must be a mapping")
    for key, helper in helpers.items():
        if normalize_host(key) == wanted:
            return run_helper(str(helper), key, timeout)
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        raise CredentialError(f"{path}: auths must be a mapping")
    for key, entry in auths.items():
        if normalize_host(key) == wanted and isinstance(entry, dict):
            creds = _inline(entry, path, key)
            if creds is not None:
                return creds
    store = config.get("credsStore")
    if store:
        server = DOCKER_HUB_KEY if wanted == "docker.io" else host
        return run_helper(str(store), server, timeout, missing_ok=True)
    return None


def _read(path: Path) -> dict:
    try:
        raw = Path(path).expanduser().read_text()
    except OSError as exc:
        raise CredentialError(f"cannot read docker config {path}: {exc.strerror}") from None
    try:
        config = json.loads(raw)
    except ValueError as exc:
        # the position only: the message of a JSON error may quote the (secret-bearing) text
        raise CredentialError(f"{path}: not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(config, dict):
        raise CredentialError(f"{path}: must hold a JSON object")
    return config


def _inline(entry: dict, path: Path, key: str) -> Credentials | None:
    token = entry.get("identitytoken")
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(str(entry["auth"]), validate=False).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(f"{path}: auths.{key}.auth is not base64 of user:password") from None
        if not sep:
            raise CredentialError(f"{path}: auths.{key}.auth is not base64 of user:password")
        if token:
            return Credentials(user, identity_token=Secret(str(token)), source="auths")
        return Credentials(user, password=Secret(password), source="auths")
    if token:
        return Credentials(entry.get("username"), identity_token=Secret(str(token)), source="auths")
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), password=Secret(str(entry["password"])), source="auths")
    return None


def run_helper(name: str, server: str, timeout: float = HELPER_TIMEOUT, missing_ok: bool = False) -> Credentials | None:
    """Run ``docker-credential-<name> get`` with ``server`` on stdin and parse ``{"Username","Secret"}``.

    Returns None when the helper has no credentials for ``server`` and ``missing_ok`` (a ``credsStore``
    that knows nothing of this registry means anonymous access, as in Docker).
    """
    binary = f"docker-credential-{name}"
    path = shutil.which(binary)
    if path is None:
        raise CredentialError(f"credential helper {binary} not found on PATH")
    try:  # own session, so a timeout kills the helper and anything it started (not just the shell)
        proc = subprocess.Popen([path, "get"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise CredentialError(f"credential helper {binary} could not run: {exc.strerror}") from None
    try:
        stdout, stderr = proc.communicate(server.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise CredentialError(f"credential helper {binary} did not answer within {timeout:g}s") from None
    if proc.returncode != 0:
        # Helpers print "credentials not found in native keychain" for unknown servers; other output is not
        # echoed, as nobody promises it is free of secrets.
        said = (stdout + stderr).decode(errors="replace").lower()
        if "credentials not found" in said:
            if missing_ok:
                return None
            raise CredentialError(f"credential helper {binary} has no credentials for {server}")
        raise CredentialError(f"credential helper {binary} failed with exit status {proc.returncode}")
    try:
        answer = json.loads(stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise CredentialError(f"credential helper {binary} answered something other than "
                              '{"Username": ..., "Secret": ...}') from None
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        raise CredentialError(f"credential helper {binary} answered an empty or non-string Username/Secret")
    if username == _TOKEN_USERNAME:
        return Credentials(None, identity_token=Secret(secret), source=f"helper {name}")
    return Credentials(username, password=Secret(secret), source=f"helper {name}")
