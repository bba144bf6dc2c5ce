"""The stack for end-to-end tests: the demo's Stack with seconds-scale timers on free loopback ports.

Real docker-registry, Prometheus 2.42 and Alertmanager 0.25 processes, started once per module and stopped
at teardown. The timers (probe 1 s, scrape 1 s, evaluation 1 s, group_wait 1 s) and a 1 h SLO period with
15 s minimum windows make a page arrive seconds after a region breaks; ``page_bound`` derives the bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from regslo.demo import bounds
from regslo.demo.procs import free_port
from regslo.demo.stack import Ports, Stack, Timing
from tests.conftest import require
from tests.support.wait import wait_until

TIMING = Timing(probe_interval=1.0, probe_timeout=1.0, scrape_interval=1.0, evaluation_interval=1.0,
                group_wait=1.0, group_interval=1.0, repeat_interval=3600.0, replication_delay=1.0)
# delivery slack: increase() extrapolation at a window edge, the notifier queue and the webhook POST
SLACK = 10.0


def e2e_config() -> dict[str, Any]:
    """Per-registry SLOs (the alerts carry the registry label), one freshness SLO, and the log tailer."""
    slo = {"objective": 99, "period": "1h"}
    return {
        "registries": [{"name": "us", "url": "http://127.0.0.1:1", "region": "us-east"},
                       {"name": "eu", "url": "http://127.0.0.1:2", "region": "eu-west"}],
        "probes": {"interval": "1s", "timeout": "1s", "blob_size": "4KiB"},
        "replication": [{"source": "us", "destination": "eu", "timeout": "10s", "poll_interval": "200ms"}],
        "alerting": {"min_window": "15s"},
        "logs": {"start_at": "beginning", "sources": [
            {"path": "us/app.log", "format": "distribution-json", "registry": "us"},
            {"path": "eu/app.log", "format": "distribution-json", "registry": "eu"},
            {"format": "notifications", "registry": "us"}, {"format": "notifications", "registry": "eu"}]},
        # the image inspector reads what seed_pushes() pushes to prod/ (exec panels "Signed image adoption" ...)
        "inspect": {"repositories": ["prod/**"], "delay": "1s", "max_per_minute": 600},
        "slos": [
            {"name": "pull-us", "sli": {"kind": "availability", "source": "probe", "operation": "pull",
                                        "registry": "us"}, **slo},
            {"name": "pull-eu", "sli": {"kind": "availability", "source": "probe", "operation": "pull",
                                        "registry": "eu"}, **slo},
            {"name": "push-us", "sli": {"kind": "availability", "source": "probe", "operation": "push",
                                        "registry": "us"}, **slo},
            {"name": "pull-latency-us", "sli": {"kind": "latency", "source": "probe", "operation": "pull",
                                                "registry": "us", "threshold": "1s"}, **slo},
            {"name": "freshness-us-eu", "sli": {"kind": "freshness", "source": "us", "destination": "eu",
                                                "threshold": "5s"}, "objective": 95, "period": "1h"},
        ],
    }


def free_ports() -> Ports:
    return Ports(registries=(free_port(), free_port()), replicator=free_port(), regslo=free_port(),
                 prometheus=free_port(), alertmanager=free_port(), receiver=free_port())


def page_bound(stack: Stack, slo_name: str) -> float:
    """regslo.demo.bounds.page_bound (probe interval + timeout + detection + scrape + evaluation +
    group_wait) plus SLACK."""
    return bounds.page_bound(stack.service.config, stack.timing, slo_name).total + SLACK


def resolve_bound(stack: Stack, slo_name: str) -> float:
    """regslo.demo.bounds.resolve_bound (short window + probe interval + scrape + evaluation +
    group_interval) plus SLACK."""
    return bounds.resolve_bound(stack.service.config, stack.timing, slo_name).total + SLACK


def query(stack: Stack, expr: str) -> dict:
    resp = httpx.get(f"http://127.0.0.1:{stack.ports.prometheus}/api/v1/query", params={"query": expr},
                     timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
    return body["data"]


def seed_pushes(stack: Stack) -> None:
    """Push images to prod/ on us as users would: one signed with a vulnerability report and an SBOM, one
    bare, so the exec panels of the image inspector have data."""
    from regslo.oci.client import RegistryClient
    from tests.support.artifacts import (attach_cosign_attestation, attach_cosign_signature, attach_referrer,
                                         push_image)

    # the counters must be scraped at 0 before the first inspection, or increase() sees no change
    wait_until(lambda: query(stack, "regslo_pushed_images_inspected_total")["result"], 60,
               what="Prometheus scraped the inspector's counters")
    registry = stack.regions["us"].registry
    with RegistryClient(registry) as client:
        signed = push_image(client, "prod/app", "v1", (200_000, 300_000))
        attach_cosign_signature(client, signed, f"{registry.host}/prod/app")
        attach_cosign_attestation(client, signed, ["https://cosign.sigstore.dev/attestation/vuln/v1"])
        attach_referrer(client, signed, "application/spdx+json", b'{"spdxVersion":"SPDX-2.3"}')
        push_image(client, "prod/tool", "v1", (100_000,))


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    for binary in ("docker-registry", "prometheus", "prometheus-alertmanager"):
        require(binary)
    workdir: Path = tmp_path_factory.mktemp("e2e-stack")
    s = Stack(workdir, free_ports(), TIMING, config=e2e_config(), echo=lambda line: print(line))
    s.start()
    try:
        seed_pushes(s)
        yield s
    finally:
        s.stop()
