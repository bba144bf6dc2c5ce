"""The generated Alertmanager config in a real Alertmanager: a ticket is inhibited while its SLO pages."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import require
from tests.integration.slo.conftest import serve


@pytest.fixture
def alertmanager(generated, tmp_path):
    with serve([require("prometheus-alertmanager"), f"--config.file={generated / 'alerts' / 'alertmanager.yml'}",
                f"--storage.path={tmp_path}", "--cluster.listen-address="]) as url:
        yield url


def alert(name: str, severity: str, slo: str, **extra: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, "slo": slo, "registry": "us", **extra},
            "annotations": {"summary": f"{slo} {severity}"}}


def test_ticket_is_inhibited_while_the_page_of_the_same_slo_fires(alertmanager):
    alerts = [alert("RegsloBurnRatePage", "page", "pull", long_window="1h"),
              alert("RegsloBurnRateTicket", "ticket", "pull", long_window="1d"),
              alert("RegsloBurnRateTicket", "ticket", "push", long_window="1d")]
    with httpx.Client(base_url=alertmanager, timeout=10) as client:
        assert client.post("/api/v2/alerts", json=alerts).status_code == 200
        deadline = time.monotonic() + 10
        while True:
            got = {(a["labels"]["slo"], a["labels"]["severity"]): a["status"] for a in client.get("/api/v2/alerts").json()}
            if len(got) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert got[("pull", "ticket")]["state"] == "suppressed" and got[("pull", "ticket")]["inhibitedBy"]
    assert got[("pull", "page")]["state"] == "active"
    assert got[("push", "ticket")]["state"] == "active"  # another SLO's page does not hide it
