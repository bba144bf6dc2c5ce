"""The status page of a real ``Service`` probing two real registries every second, replicated by a real
asynchronous replicator, looked at through the JSON API and through headless Chromium.

The tests share one running stack and run in file order: healthy first, then a registry is stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from regslo.config import Config, Registry, load_config
from regslo.replicator import Replicator
from regslo.service import Service
from tests.integration.status.browser import dump_dom, screenshot
from tests.support.configs import registry_entry, write_config
from tests.support.registry import RegistryProcess, free_port, start_registry
from tests.unit.status.dom import Elements

SETTLE = 20.0  # seconds for every probe and one replication check to succeed (a round takes ~1 s)
PROBES = ("ping", "push", "pull")
SLOS = [  # one-day periods: alert windows scaled down to minutes
    {"name": "pull-availability", "description": "Test images can be pulled in every region",
     "sli": {"kind": "availability", "source": "probe", "operation": "pull"}, "objective": 99, "period": "1d"},
    {"name": "push-latency", "sli": {"kind": "latency", "source": "probe", "operation": "push", "threshold": "2s"},
     "objective": 95, "period": "1d"},
    {"name": "replication-freshness", "sli": {"kind": "freshness", "source": "us", "threshold": "5s"},
     "objective": 99, "period": "1d"},
]


@dataclass
class Stack:
    url: str
    us: RegistryProcess
    eu: RegistryProcess
    config: Config
    service: Service
    tmp: Path

    def status(self, **params: str) -> dict:
        resp = httpx.get(f"{self.url}/api/v1/status", params=params, timeout=5)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        return resp.json()

    def wait(self, condition, what: str, timeout: float = SETTLE) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            # SLOState samples every 15 s on its own; sample now so burn rates follow within this test
            self.service.slo_state.sample()
            status = self.status()
            if condition(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} after {timeout}s: {status}")
            time.sleep(0.25)


def registry(status: dict, name: str) -> dict:
    return next(r for r in status["registries"] if r["name"] == name)


def healthy(status: dict) -> bool:
    regs_ok = all(r["status"] == "ok" and [p["probe"] for p in r["probes"]] == list(PROBES)
                  for r in status["registries"])
    slos_ok = all(any(b["rate"] is not None for b in o["burn_rates"]) for o in status["slos"])
    return regs_ok and slos_ok and all(p["outcome"] == "ok" for p in status["replication"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status")
    us, eu = start_registry(tmp / "registries", "us"), start_registry(tmp / "registries", "eu")
    rep = Replicator(Registry("us", us.url, "us"), [Registry("eu", eu.url, "eu")], delay=0.5).start()
    service = None
    try:
        us.stop()  # restart the source so it notifies the replicator of every push
        us.config["notifications"] = {"endpoints": [{"name": "replicator", "url": rep.url, "timeout": "1s",
                                                     "threshold": 5, "backoff": "1s"}]}
        us.start()
        regs = [registry_entry(us, region="us-east"), registry_entry(eu, region="eu-west")]
        config = load_config(write_config(
            tmp / "regslo.yml", regs, probes={"interval": "1s", "timeout": "1s", "jitter": 0},
            replication=[{"source": "us", "destination": "eu", "timeout": "5s", "poll_interval": "0.2s"}],
            slos=SLOS))
        service = Service(config, f"127.0.0.1:{free_port()}", instance="status-test")
        service.start()
        yield Stack(f"http://127.0.0.1:{service.server.port}", us, eu, config, service, tmp)
    finally:
        if service is not None:
            service.stop()
        rep.stop()
        us.stop()
        eu.stop()


def test_api_reports_both_registries_with_real_values(stack):
    status = stack.wait(healthy, "healthy")
    now = time.time()
    assert status["schema_version"] == 1 and status["status"] == "ok" and status["instance"] == "status-test"
    assert [(r["name"], r["region"], r["url"]) for r in status["registries"]] == [
        ("us", "us-east", stack.us.url), ("eu", "eu-west", stack.eu.url)]
    for reg in status["registries"]:
        ping, push, pull = reg["probes"]
        for p in (ping, push, pull):
            assert p["ok"] and p["reason"] is None and 0 < p["duration_seconds"] < 3
            assert abs(now - p["timestamp"]) < 10 and p["time"].endswith("Z")
        # phase times are measured, and the phases lie within the probe's duration
        assert {"blob_upload", "manifest_put"} <= set(push["phases"]) and {"manifest_get", "blob_get"} <= set(pull["phases"])
        assert 0 < sum(push["phases"].values()) <= push["duration_seconds"] + 1e-3
        assert all(pts for pts in reg["history"].values()) and all(ok for pts in reg["history"].values()
                                                                   for _, _, ok in pts)
    (pair,) = status["replication"]
    # the replicator copies 0.5 s after the push event: the lag is real and at least that
    assert pair["status"] == "ok" and 0.5 <= pair["lag_seconds"] < 5
    assert "history" not in stack.status(history="0")["registries"][0]
    assert [o["name"] for o in status["slos"]] == [o["name"] for o in SLOS]
    for slo in status["slos"]:
        assert slo["objective_ratio"] in (0.99, 0.95) and slo["period"] == "1d" and slo["alert"] is None
        assert [b["window"] for b in slo["burn_rates"]][:2] == ["1m", "2m"]
        assert all(b["rate"] == 0.0 and b["level"] is None for b in slo["burn_rates"])  # nothing failed
        assert slo["status"] == "ok" and {t["severity"] for t in slo["tiers"]} == {"page", "ticket"}


def test_page_in_chromium_shows_registries_and_replication(stack):
    stack.wait(healthy, "healthy")
    dom = dump_dom(stack.url + "/", stack.tmp / "chromium")
    doc = Elements(dom)
    (body,) = doc.find("body")
    assert body["data-status"] == "ok" and doc.find("span", id="overall", data_status="ok")
    assert doc.find("meta", http_equiv="refresh", content="15")
    for name, region in (("us", "us-east"), ("eu", "eu-west")):
        (row,) = doc.find("tr", class_="registry", data_registry=name)
        assert row["data-region"] == region and row["data-status"] == "ok"
    cells = doc.find("td", class_="probe", data_ok="true")
    assert sorted(c["data-probe"] for c in cells) == sorted(PROBES * 2)
    assert all(0 < float(c["data-duration"]) < 3 for c in cells)
    assert {(a["data-registry"], a["data-probe"]) for a in doc.find("tr", class_="phases")} >= {
        ("us", "push"), ("us", "pull"), ("eu", "push"), ("eu", "pull")}
    assert len(doc.find("td", data_phase="blob_get")) >= 2
    (rep,) = doc.find("tr", class_="replication", data_source="us", data_destination="eu")
    assert rep["data-status"] == "ok" and float(rep["data-lag"]) >= 0.5
    assert len(doc.find("svg", class_="chart")) == 3  # duration per registry + the replication lag
    rows = doc.find("tr", class_="slo")
    assert [r["data-slo"] for r in rows] == [o["name"] for o in SLOS] and {r["data-status"] for r in rows} == {"ok"}
    assert {a["data-value"] for a in doc.find("td", class_="objective")} == {"0.99", "0.95"}
    assert {a["data-rate"] for a in doc.find("span", class_="burn", data_window="1m")} == {"0.0"}
    text = " ".join(doc.text)
    assert "s ago" in text and time.strftime("%Y-%m-%dT", time.gmtime()) in text
    png = screenshot(stack.url + "/", "status-healthy.png", stack.tmp / "chromium")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_stopped_registry_shows_failing_with_reason(stack):
    stack.wait(healthy, "healthy")
    stack.eu.stop()
    status = stack.wait(lambda s: all(not p["ok"] for p in registry(s, "eu")["probes"]), "eu failing")
    eu = registry(status, "eu")
    assert eu["status"] == "critical" and status["status"] == "critical"
    assert {p["reason"] for p in eu["probes"]} == {"connect"}
    assert registry(status, "us")["status"] == "ok"
    assert any(f["kind"] == "probe" and f["registry"] == "eu" and f["reason"] == "connect" and f["message"]
               for f in status["failures"])

    doc = Elements(dump_dom(stack.url + "/", stack.tmp / "chromium"))
    (row,) = doc.find("tr", class_="registry", data_registry="eu")
    assert row["data-status"] == "critical"
    assert doc.find("tr", class_="registry", data_registry="us", data_status="ok")
    assert len(doc.find("td", class_="probe", data_ok="false", data_reason="connect")) == 3
    assert doc.find("tr", class_="failure", data_registry="eu", data_reason="connect")
    assert doc.find("span", id="overall", data_status="critical")
    assert "Connection refused" in " ".join(doc.text)
    # the failed pulls burn the pull SLO's budget: over the short windows it burns faster than 1x
    stack.service.slo_state.sample()
    slo = next(o for o in stack.status()["slos"] if o["name"] == "pull-availability")
    assert slo["burn_rates"][0]["rate"] > 1 and slo["status"] != "ok"
    screenshot(stack.url + "/", "status-failing.png", stack.tmp / "chromium")
