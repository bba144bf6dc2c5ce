"""Each integrity fault, injected into real processes, raises its generated alert on a real Prometheus.

One stack for the module: registries ``us`` (sends notifications to regslo), ``eu`` and ``tok`` (bearer auth
through the test token server), ``regslo run``'s Service in this process probing all three every 2 s, and
Prometheus scraping regslo every second and evaluating the generated ``regslo-integrity`` rules every second.
Faults: a tag pushed differently to one region, a blob corrupted on disk, a protected tag moved, the token
service denying and then down. Each test prints the time from the fault to its alert.

The token alert's production window is 5 minutes; here the same rule shape is generated with a 20 s window
(``token_service_alert(config, window=20)``) so the test runs in seconds. promtool tests
(alerts/regslo-integrity_test.yml) cover the production timing of every alert.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from regslo.config import Registry, parse_config
from regslo.oci.client import RegistryClient
from regslo.outputs.extras import integrity
from regslo.service import Service
from regslo.sources.probes.image import build_image
from tests.conftest import require
from tests.integration.slo.conftest import serve
from tests.support.registry import free_port, start_registry
from tests.support.token_server import TokenServer
from tests.support.wait import wait_until as wait

USER, PASSWORD = "probe", "t0ken-Pa55"
GRACE = 4.0
CONSISTENCY_INTERVAL = 1.0
TOKEN_WINDOW = 20.0
TIMINGS: dict[str, float] = {}


class Stack:
    def __init__(self, base: Path):
        self.port = free_port()
        self.service = self.token = None
        self.started: list = []  # stopped by stop(), also when a later start fails
        try:
            self.us = self._keep(start_registry(base, "us",
                                                notify_url=f"http://127.0.0.1:{self.port}/notifications/us"))
            self.eu = self._keep(start_registry(base, "eu"))
            self.token = TokenServer(base / "token", users={USER: PASSWORD}, expires_in=2).start()
            self.tok = self._keep(start_registry(base, "tok", token=self.token.registry_config()))
            text = yaml.safe_dump({
                "registries": [{"name": "us", "url": self.us.url, "region": "us-east"},
                               {"name": "eu", "url": self.eu.url, "region": "eu-west"},
                               {"name": "tok", "url": self.tok.url, "region": "tok",
                                "auth": {"username": USER, "password": PASSWORD}}],
                "probes": {"interval": "2s", "timeout": "2s", "blob_size": "4KiB"},
                "server": {"listen_address": f"127.0.0.1:{self.port}"},
                "logs": {"sources": [{"format": "notifications", "registry": "us"}]},
                "consistency": [{"repository": "app/web", "tags": ["latest"], "registries": ["us", "eu"],
                                 "interval": f"{CONSISTENCY_INTERVAL:g}s", "grace": f"{GRACE:g}s"}],
                "immutable_tags": ["prod/**:v*"],
            })
            self.config = parse_config(text)
            self.service = Service(self.config)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def rules(self) -> dict:
        (group,) = integrity.groups(self.config)
        group["rules"] = [r for r in group["rules"] if r.get("alert") != "RegsloTokenServiceDown"]
        group["rules"].append(integrity.token_service_alert(self.config, window=TOKEN_WINDOW))
        group["interval"] = "1s"
        return {"groups": [group]}

    def _keep(self, registry):
        self.started.append(registry)
        return registry

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self.token is not None:
            self.token.stop()
        for reg in self.started:
            reg.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    for binary in ("docker-registry", "prometheus"):
        require(binary)
    base = tmp_path_factory.mktemp("integrity-live")
    s = Stack(base)
    try:
        s.service.start()
        (base / "integrity.rules.yml").write_text(yaml.safe_dump(s.rules()))
        (base / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(base / "integrity.rules.yml")],
            "scrape_configs": [{"job_name": "regslo",
                                "static_configs": [{"targets": [f"127.0.0.1:{s.port}"]}]}]}))
        with serve([require("prometheus"), f"--config.file={base / 'prometheus.yml'}",
                    f"--storage.tsdb.path={base / 'tsdb'}"]) as prom:
            s.prometheus = prom
            wait(lambda: query(s, 'up{job="regslo"} == 1'), 30, "Prometheus scraping regslo")
            yield s
    finally:
        s.stop()
        if TIMINGS:
            print("\nfault -> alert: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))


def query(s: Stack, expr: str) -> list:
    body = httpx.get(f"{s.prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def alerts(s: Stack, name: str, state: str = "firing", **labels: str) -> list:
    data = httpx.get(f"{s.prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [a for a in data if a["labels"].get("alertname") == name and a["state"] == state
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def regslo_value(s: Stack, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{s.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def push(url: str, repo: str, tag: str, image=None) -> str:
    image = image or build_image("user", 512)
    with RegistryClient(Registry("x", url, "x"), timeout=5) as client:
        client.push_blob(repo, image.layer, digest=image.layer_digest)
        client.push_blob(repo, image.config, digest=image.config_digest)
        client.put_manifest(repo, tag, image.manifest)
    return image.manifest_digest


def test_tag_differing_between_regions_raises_RegsloTagInconsistent_after_grace(stack):
    first = build_image("user", 512)
    push(stack.us.url, "app/web", "latest", first)
    push(stack.eu.url, "app/web", "latest", first)
    labels = {"repository": "app/web", "tag": "latest"}
    # (before the first push the tag is absent everywhere: consistent too, with 0 digests)
    wait(lambda: (regslo_value(stack, "regslo_tag_consistent", **labels),
                  regslo_value(stack, "regslo_tag_digests", **labels)) == (1, 1), 10, "consistent tag, one digest")

    t0 = time.monotonic()
    push(stack.eu.url, "app/web", "latest")  # another image under the same tag in one region
    pushed = time.monotonic()
    wait(lambda: regslo_value(stack, "regslo_tag_consistent", **labels) == 0, 10, "inconsistent tag")
    seen = time.monotonic() - pushed
    # within one interval, plus slack for a loaded machine (one round's HEADs and the scrape polling);
    # measured from the end of the push, which itself may take long when the machine is busy
    assert seen <= CONSISTENCY_INTERVAL + 4.0, f"inconsistency seen after {seen:.1f}s, interval {CONSISTENCY_INTERVAL}s"
    assert regslo_value(stack, "regslo_tag_digests", **labels) == 2
    wait(lambda: alerts(stack, "RegsloTagInconsistent", **labels), GRACE + 20, "RegsloTagInconsistent firing")
    elapsed = time.monotonic() - t0
    TIMINGS["tag inconsistent (grace 4s)"] = elapsed
    assert elapsed >= GRACE, f"fired after {elapsed:.1f}s, before the {GRACE}s grace"
    status = httpx.get(f"{stack.url}/api/v1/status", timeout=5).json()
    (entry,) = [t for t in status["tag_consistency"] if t["tag"] == "latest"]
    assert entry["consistent"] is False and len(set(entry["digests"].values())) == 2
    page = httpx.get(stack.url + "/", timeout=5).text
    assert 'id="tag-consistency"' in page and 'data-tag="latest" data-consistent="False"' in page

    push(stack.eu.url, "app/web", "latest", first)  # fixed: eu serves the same image again
    wait(lambda: regslo_value(stack, "regslo_tag_consistent", **labels) == 1, 10, "consistent again")
    wait(lambda: not alerts(stack, "RegsloTagInconsistent", **labels), 20, "RegsloTagInconsistent resolved")


def test_blob_corrupted_on_disk_pages_RegsloDigestMismatch(stack):
    root = stack.us.storage / "docker/registry/v2/blobs"
    before = {p for p in root.rglob("data")} if root.exists() else set()
    stop = threading.Event()
    corrupted: list[Path] = []

    def corrupt_new_layers() -> None:
        """Flip one byte of every layer blob the push probe stores from now on (same size, other bytes)."""
        done = set(before)
        while not stop.is_set():
            for path in list(root.rglob("data")):
                if path in done:
                    continue
                try:
                    raw = bytearray(path.read_bytes())
                    if len(raw) > 2048:  # a layer (the config blob is a few hundred bytes)
                        raw[len(raw) // 2] ^= 0xFF
                        path.write_bytes(bytes(raw))
                        corrupted.append(path)
                    done.add(path)
                except OSError:
                    pass  # deleted by the probe's cleanup meanwhile
            stop.wait(0.02)

    labels = {"registry": "us", "probe": "pull"}
    assert not alerts(stack, "RegsloDigestMismatch", **labels)
    assert regslo_value(stack, "regslo_probe_failures_total", reason="digest_mismatch", **labels) == 0
    thread = threading.Thread(target=corrupt_new_layers, daemon=True)
    t0 = time.monotonic()
    thread.start()
    try:
        wait(lambda: alerts(stack, "RegsloDigestMismatch", **labels), 40, "RegsloDigestMismatch firing")
    finally:
        stop.set()
        thread.join(5)
    TIMINGS["corrupted blob"] = time.monotonic() - t0
    assert corrupted
    assert regslo_value(stack, "regslo_probe_failures_total", reason="digest_mismatch", **labels) >= 1
    (alert,) = alerts(stack, "RegsloDigestMismatch", **labels)
    assert alert["labels"]["severity"] == "page"
    assert not alerts(stack, "RegsloDigestMismatch", registry="eu")  # the healthy region stays silent


def test_moving_a_protected_tag_raises_RegsloProtectedTagOverwritten(stack):
    old = push(stack.us.url, "prod/team/app", "v1.0")
    push(stack.us.url, "app/web", "dev")
    push(stack.us.url, "app/web", "dev")  # an unprotected tag moving is counted, not alerted
    wait(lambda: (regslo_value(stack, "regslo_registry_tag_overwrites_total", registry="us") or 0) >= 1, 15,
         "the unprotected overwrite counted")
    time.sleep(2)
    assert not alerts(stack, "RegsloProtectedTagOverwritten")
    assert regslo_value(stack, "regslo_registry_protected_tag_overwrites_total", registry="us") == 0

    t0 = time.monotonic()
    new = push(stack.us.url, "prod/team/app", "v1.0")
    wait(lambda: alerts(stack, "RegsloProtectedTagOverwritten", registry="us"), 30,
         "RegsloProtectedTagOverwritten firing")
    TIMINGS["protected tag overwrite"] = time.monotonic() - t0
    (alert,) = alerts(stack, "RegsloProtectedTagOverwritten", registry="us")
    assert alert["labels"]["severity"] == "ticket" and set(alert["labels"]) == {"alertname", "registry", "severity"}
    status = httpx.get(f"{stack.url}/api/v1/status", timeout=5).json()
    (entry,) = status["protected_tag_overwrites"]
    assert (entry["registry"], entry["repository"], entry["tag"], entry["old_digest"], entry["new_digest"]) == (
        "us", "prod/team/app", "v1.0", old, new)
    assert entry["time"]  # the event's timestamp; actor is empty: this registry has no auth
    page = httpx.get(stack.url + "/", timeout=5).text
    assert 'id="protected-overwrites"' in page and "prod/team/app:v1.0" in page and new in page


def test_token_service_denying_then_down_raises_RegsloTokenServiceDown(stack):
    labels = {"registry": "tok"}

    def count(result: str) -> float:
        return regslo_value(stack, "regslo_auth_token_requests_total", result=result, **labels) or 0.0

    wait(lambda: count("ok") >= 2, 20, "token requests succeeding")
    assert not alerts(stack, "RegsloTokenServiceDown", "pending") and not alerts(stack, "RegsloTokenServiceDown")

    # 1. the token service answers, but denies everyone
    denied0 = count("denied")
    t0 = time.monotonic()
    stack.token.reject_all = True
    wait(lambda: alerts(stack, "RegsloTokenServiceDown", **labels), TOKEN_WINDOW + 30, "firing (denied)")
    TIMINGS[f"token service denying (window {TOKEN_WINDOW:g}s)"] = time.monotonic() - t0
    assert time.monotonic() - t0 >= TOKEN_WINDOW * 3 / 5
    assert count("denied") > denied0
    # recovery: one successful token request is enough to clear it
    stack.token.reject_all = False
    wait(lambda: not alerts(stack, "RegsloTokenServiceDown", **labels), 30, "resolved")

    # 2. the token service is down: connection refused
    error0 = count("error")
    t0 = time.monotonic()
    stack.token.stop()
    time.sleep(1.0)  # a token request in flight at the stop may still have succeeded
    ok0 = count("ok")
    try:
        wait(lambda: alerts(stack, "RegsloTokenServiceDown", **labels), TOKEN_WINDOW + 30, "firing (stopped)")
        TIMINGS[f"token service stopped (window {TOKEN_WINDOW:g}s)"] = time.monotonic() - t0
        assert count("error") > error0 and count("ok") == ok0
        assert not alerts(stack, "RegsloTokenServiceDown", registry="us")  # no bearer auth: no requests
    finally:
        stack.token.start()
