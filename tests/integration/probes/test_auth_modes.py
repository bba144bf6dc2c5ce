"""The real probes (ping, push, pull, replication) against every auth mode a registry can ask for.

Each mode is a pair of real registries (source -> destination) with the notification-driven replicator
between them: (1) no auth, (2) htpasswd Basic, (3) bearer tokens from the test token server (JWTs the
registry verifies), (4) TLS from a throw-away CA trusted through ``tls.ca_file``. The replicator gets the
same ``config.Registry`` objects as regslo, so it authenticates and trusts the CA the same way.

Cleanup note: the replicator copies every push on the source, including the push probe's own image, so
after a round the destination also holds a copy of that image. regslo's sweep (same instance name, not a
live image) removes it, as the periodic sweep of a long-running ``regslo run`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import yaml

from regslo.config import AuthConfig, ProbeSettings, Registry, ReplicationPair, Secret, TLSConfig
from regslo.demo.replicator import Replicator
from regslo.oci.client import RegistryClient
from regslo.oci.errors import classify
from regslo.sources.probes.probes import RegistryProber, ReplicationProber
from tests.support.registry import make_htpasswd
from tests.support.tls import make_ca, make_server_cert
from tests.support.token_server import TokenServer
from tests.support.wait import poll

wait_for = partial(poll, timeout=5.0, interval=0.05)

MODES = ("none", "basic", "token", "tls")
USER = "probe"
PASSWORDS = {"basic": "b4sic-Pa55-9f1c", "token": "t0ken-Pa55-77ae"}
REPO = "regslo/probe"
DELAY = 0.3  # replicator copy delay
SETTINGS = ProbeSettings(interval=10, timeout=8, blob_size=4096)
JWT_PREFIX = "eyJ"  # every JWT (base64 of '{"') starts with it: no token may leak into output


@dataclass
class Site:
    """One auth mode: source and destination registries, the replicator, what regslo is configured with."""

    mode: str
    src: Registry
    dst: Registry
    replicator: Replicator
    yaml_extra: dict = field(default_factory=dict)  # registry entry keys for a YAML config
    token_server: TokenServer | None = None

    @property
    def secrets(self) -> list[str]:
        return [PASSWORDS[self.mode]] if self.mode in PASSWORDS else []


@pytest.fixture
def sites(registries, tmp_path):
    """Factory: ``sites("token")`` -> a running Site; everything stopped at teardown."""
    made: list[Site] = []

    def make(mode: str) -> Site:
        kwargs: dict = {}
        auth, tls, extra, server = None, TLSConfig(), {}, None
        if mode == "basic":
            kwargs["htpasswd"] = make_htpasswd(tmp_path / "htpasswd", USER, PASSWORDS["basic"])
            auth = AuthConfig(USER, Secret(PASSWORDS["basic"]))
            extra = {"auth": {"username": USER, "password_env": "REGSLO_TEST_BASIC_PASSWORD"}}
        elif mode == "token":
            server = TokenServer(tmp_path / "token", users={USER: PASSWORDS["token"]}).start()
            kwargs["token"] = server.registry_config()
            auth = AuthConfig(USER, Secret(PASSWORDS["token"]))
            secret_file = tmp_path / "token-password"
            secret_file.write_text(PASSWORDS["token"] + "\n")
            extra = {"auth": {"username": USER, "password_file": str(secret_file)}}
        elif mode == "tls":
            ca = make_ca(tmp_path / "pki")
            cert = make_server_cert(ca, tmp_path / "pki")
            kwargs["tls"] = (cert.cert_file, cert.key_file)
            tls = TLSConfig(ca_file=ca.cert_file)
            extra = {"tls": {"ca_file": str(ca.cert_file)}}
        src_proc, dst_proc = registries(f"{mode}-src", f"{mode}-dst", **kwargs)
        src = Registry(f"{mode}-src", src_proc.url, f"region-{mode}-src", auth=auth, tls=tls)
        dst = Registry(f"{mode}-dst", dst_proc.url, f"region-{mode}-dst", auth=auth, tls=tls)
        replicator = Replicator(src, [dst], delay=DELAY).start()
        src_proc.stop()  # the source posts its push events to the replicator
        src_proc.config["notifications"] = {"endpoints": [{"name": "rep", "url": replicator.url, "timeout": "1s",
                                                           "threshold": 5, "backoff": "1s"}]}
        src_proc.start()
        site = Site(mode, src, dst, replicator, extra, server)
        made.append(site)
        return site

    yield make
    for site in made:
        site.replicator.stop()
        if site.token_server is not None:
            site.token_server.stop()


def tags(registry: Registry) -> list[str]:
    """The probe repository's tags, read with the same credentials and trust as regslo."""
    with RegistryClient(registry, timeout=5) as client:
        return client.list_tags(REPO, time.monotonic() + 5)


def assert_enforced(site: Site) -> None:
    """The mode is real: a client without the credentials / without the CA is refused."""
    if site.mode == "none":
        return
    bare = Registry("bare", site.src.url, "x", auth=None, tls=TLSConfig())
    with RegistryClient(bare, timeout=5) as client, pytest.raises(Exception) as info:
        client.ping(time.monotonic() + 5)
    assert classify(info.value) == ("tls" if site.mode == "tls" else "auth")


@pytest.mark.parametrize("mode", MODES)
def test_ping_push_pull_replication_and_cleanup(sites, mode):
    site = sites(mode)
    assert_enforced(site)
    src = RegistryProber(site.src, SETTINGS, "authmodes")
    dst = RegistryProber(site.dst, SETTINGS, "authmodes")
    try:
        results = [prober.run(probe) for prober in (src, dst) for probe in ("ping", "push", "pull")]
        for r in results:
            assert r is not None and r.ok, r
            if mode == "token":  # every probe needed a token for a scope not cached yet
                assert r.phases.get("auth", 0) > 0, (r.probe, r.phases)
            else:
                assert "auth" not in r.phases, (r.probe, r.phases)
        assert {r.message.split()[0] for r in results} == {"GET", "pushed", "pulled"}
        assert all("2 blobs verified" in r.message for r in results if r.probe == "pull")
        if mode == "token":
            # ping (registry scope), push (pull,push), pull (pull) per registry; all JWTs the registry accepted
            issued = [g for g in site.token_server.grants if g.status == 200]
            assert len(issued) >= 6 and {g.user for g in issued} == {USER}

        pair = ReplicationPair(site.src.name, site.dst.name, timeout=8, poll_interval=0.1)
        repl = ReplicationProber(pair, src, dst).run()
        assert repl.outcome == "ok", repl
        assert DELAY <= repl.lag < DELAY + 3, repl
        # the replicator itself authenticated: it copied the push probe's image and the replication image
        assert wait_for(lambda: site.replicator.copied >= 2), (site.replicator.copied, site.replicator.failed)
        assert site.replicator.failed == 0

        assert src.cleanup_all() == 1 and dst.cleanup_all() == 1
        assert dst.sweep() == 1  # the replicator's copy of the source's push image
        assert tags(site.src) == [] and tags(site.dst) == []

        texts = [r.message + repr(r) for r in results] + [repl.message + repr(repl)]
        for text in texts:
            assert JWT_PREFIX not in text
            for secret in site.secrets:
                assert secret not in text
    finally:
        src.close()
        dst.close()


def test_probe_once_cli_across_all_modes(sites, tmp_path):
    """``regslo probe --once`` with one config naming all four modes, secrets via password_env/_file."""
    all_sites = [sites(mode) for mode in MODES]
    entries, pairs = [], []
    for site in all_sites:
        for reg in (site.src, site.dst):
            entries.append({"name": reg.name, "url": reg.url, "region": reg.region, **site.yaml_extra})
        pairs.append({"source": site.src.name, "destination": site.dst.name, "timeout": "8s",
                      "poll_interval": "100ms"})
    config = {"registries": entries, "replication": pairs,
              "probes": {"interval": "10s", "timeout": "8s", "blob_size": "4KiB"}}
    path = tmp_path / "regslo.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, REGSLO_TEST_BASIC_PASSWORD=PASSWORDS["basic"])
    res = subprocess.run([sys.executable, "-m", "regslo", "probe", "--once", "-c", str(path), "--instance",
                          "authcli", "--output", "json"], capture_output=True, text=True, timeout=45, env=env,
                         cwd=Path(__file__).resolve().parents[3])
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    by = {(p["registry"], p["probe"]): p for p in doc["probes"]}
    assert len(by) == 8 * 3 and all(p["ok"] for p in by.values()), [p for p in by.values() if not p["ok"]]
    for (name, _probe), p in by.items():
        assert ("auth" in p["phases"]) == name.startswith("token-"), (name, p["phases"])
    assert sorted((r["source"], r["outcome"]) for r in doc["replication"]) == \
        sorted((f"{m}-src", "ok") for m in MODES)

    for text in (res.stdout, res.stderr):
        assert JWT_PREFIX not in text
        for secret in PASSWORDS.values():
            assert secret not in text
    # probe --once deleted what it pushed; the replicator's copies of the push images go with the next sweep
    for site in all_sites:
        assert tags(site.src) == []
        wait_for(lambda: len(tags(site.dst)) == 1)
        sweeper = RegistryProber(site.dst, SETTINGS, "authcli")
        try:
            assert sweeper.sweep() == 1
        finally:
            sweeper.close()
        assert tags(site.dst) == []
