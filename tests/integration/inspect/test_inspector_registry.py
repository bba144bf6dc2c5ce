"""The image inspector against a real docker-registry (distribution 2.8) that sends its real notifications to
regslo's webhook: images and the artifacts real tools attach (cosign .sig/.att tags, an OCI 1.1 SBOM with
subject via the referrers tag schema, a buildx-style attestation inside an index, a Helm chart) are counted
exactly, artifacts are never images, other repositories are never read, the rate limit holds, a failed read
is counted once and never retried, and the inspector's reads are not user pulls in the log-derived SLIs."""

from __future__ import annotations

import re
import time
from datetime import datetime

import yaml

from regslo.config import Registry, parse_config
from regslo.oci.client import RegistryClient
from regslo.service import Service
from regslo.sources.logs.classify import INSPECTOR_PRODUCT
from regslo.sources.logs.replay import replay
from tests.support.artifacts import (attach_cosign_attestation, attach_cosign_signature, attach_referrer,
                                     push_helm_chart, push_image, push_index)
from tests.support.registry import free_port
from tests.unit.logs.support import series, total
from tests.support.wait import wait_until as _wait

VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
SLSA = "https://slsa.dev/provenance/v1"
SPDX = b'{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app"}'


def _config(registry_url: str, port: int) -> str:
    return yaml.safe_dump({
        "registries": [{"name": "r1", "url": registry_url}],
        "probes": {"interval": "1h", "timeout": "5s", "enabled": ["ping"]},
        "logs": {"sources": [{"format": "notifications", "registry": "r1"}]},
        "inspect": {"repositories": ["prod/**"], "delay": "6s", "max_per_minute": 60},
        "server": {"listen_address": f"127.0.0.1:{port}"},
    })


def _access_lines(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def test_inspector_counts_what_was_attached(registries, tmp_path):
    port = free_port()
    reg = registries("r1", notify_url=f"http://127.0.0.1:{port}/notifications/r1")[0]
    cfg = parse_config(_config(reg.url, port))
    service = Service(cfg)
    service.start()
    c = RegistryClient(Registry("r1", reg.url, "r1"))
    try:
        # A: a plain image; the same digest pushed again under another tag is one image
        plain = push_image(c, "prod/app", "v1", (3000, 5000))
        c.put_manifest("prod/app", "v1-again", c.get_manifest("prod/app", plain.digest).body)
        # B: signed the way cosign lays it out (a .sig tag with a simple-signing layer)
        signed = push_image(c, "prod/team/signed", "v1", (7000,))
        attach_cosign_signature(c, signed, f"127.0.0.1:{reg.port}/prod/team/signed")
        # C: an OCI 1.1 SBOM with subject (referrers tag schema) + cosign attestations: vuln scan, provenance
        scanned = push_image(c, "prod/scanned", "v2", (1000, 1000, 1000))
        attach_referrer(c, scanned, "application/spdx+json", SPDX)
        attach_cosign_attestation(c, scanned, [VULN, SLSA])
        # D: a two-platform index with a buildx provenance attestation inside it
        amd = push_image(c, "prod/multi", None, (4000,), platform="linux/amd64")
        arm = push_image(c, "prod/multi", None, (6000,), platform="linux/arm64")
        multi = push_index(c, "prod/multi", "v1", {"linux/amd64": amd, "linux/arm64": arm})
        # E: a Helm chart under an ordinary tag: an artifact, not an image
        push_helm_chart(c, "prod/charts/demo", "1.0.0")
        # F: outside the globs: never read
        push_image(c, "staging/app", "v1")
        push_image(c, "production/app", "v1")
        # G: gone before the delay passed: one failed read, counted, not retried
        gone = push_image(c, "prod/gone", "v1")
        c.delete_manifest("prod/gone", gone.digest)

        reg_metrics = service.registry
        _wait(lambda: total(reg_metrics, "regslo_pushed_images_inspected_total") >= 4
              and total(reg_metrics, "regslo_inspect_failures_total") >= 1
              and total(reg_metrics, "regslo_inspect_skipped_total", reason="artifact") >= 1
              and service.inspector._queue.__len__() == 0, 60, "inspections")
        time.sleep(1.5)  # anything wrongly still queued would be read by now (1 per second)

        assert series(reg_metrics, "regslo_pushed_images_inspected_total") == {("r1",): 4}
        kinds = {k: v for (k, _r), v in series(reg_metrics, "regslo_pushed_images_with_artifact_total").items()}
        assert kinds == {"signature": 1, "sbom": 1, "vulnerability_report": 1, "provenance": 2, "other": 0}
        assert total(reg_metrics, "regslo_pushed_image_size_bytes_count") == 4
        assert total(reg_metrics, "regslo_pushed_image_size_bytes_sum") == (
            plain.size + signed.size + scanned.size + multi.size)
        fails = {r: v for (r, _reg), v in series(reg_metrics, "regslo_inspect_failures_total").items() if v}
        assert fails == {"not_found": 1}
        skipped = {r: v for (r, _reg), v in series(reg_metrics, "regslo_inspect_skipped_total").items()}
        # artifact tags (.sig, .att, sha256-<hex> index) and the chart; platform manifests and OCI 1.1
        # artifacts pushed by digest; the retag; staging/ and production/
        assert skipped["duplicate"] == 1
        assert skipped["artifact"] == 4  # .sig, .att, referrers index tag, helm chart (read, then skipped)
        assert skipped["untagged"] == 4  # amd, arm, the buildx attestation and the SPDX artifact
        assert skipped["not_selected"] == 2
        assert total(reg_metrics, "regslo_inspect_dropped_total") == 0
    finally:
        service.stop()
        c.close()

    lines = _access_lines(reg.access_log)
    own = [line for line in lines if f'"{INSPECTOR_PRODUCT}' in line]
    assert own, "the inspector's requests carry its User-Agent"
    paths = [re.search(r'"(?:GET|HEAD) (\S+)', line).group(1) for line in own]
    assert all(p.startswith("/v2/prod/") or p == "/v2/" for p in paths), [p for p in paths if "/prod/" not in p]
    assert not [p for p in paths if "/v2/staging/" in p or "/v2/production/" in p]
    # the failed image: exactly one read of its manifest (no retry)
    assert sum(1 for p in paths if p.startswith("/v2/prod/gone/manifests/")) == 1
    # rate limit 60/min: the first reads of the 6 inspected or failed images span at least 4 seconds
    firsts = {}
    for line in own:
        m = re.search(r'\[([^\]]+)\] "GET /v2/(prod/[^ ]+?)/manifests/(sha256:[0-9a-f]{64})', line)
        if m and m.group(2) + "@" + m.group(3) not in firsts:
            firsts[m.group(2) + "@" + m.group(3)] = datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z")
    starts = sorted(firsts.values())
    assert (starts[-1] - starts[0]).total_seconds() >= 4, starts
    # the log-derived SLIs do not count the inspector's reads
    metrics = replay([str(reg.access_log)], "combined", "r1")
    assert total(metrics, "regslo_registry_requests_total") == len(lines) - len(own)
    assert total(metrics, "regslo_log_lines_total", outcome="ignored") == len(own)


def test_inspector_and_cache_metrics_pass_promtool_check_metrics(tmp_path):
    import subprocess

    from prometheus_client import generate_latest

    from tests.conftest import require

    port = free_port()
    cfg = parse_config(_config("http://127.0.0.1:1", port).replace(
        "sources:\n  - format: notifications\n    registry: r1\n",
        "sources:\n  - format: notifications\n    registry: r1\n  - format: nginx\n    registry: r1\n"
        f"    path: {tmp_path}/nginx.log\n"
        "    log_format: '\"$request\" $status $body_bytes_sent $upstream_cache_status'\n"))
    (tmp_path / "nginx.log").write_text("")
    service = Service(cfg)  # not started: only its metrics are read
    try:
        service.inspector.metrics.size.labels("r1").observe(3e8)
        service.logs.followers[0].sink.cache("pull", "HIT")
        service.logs.metrics.publish()
        text = generate_latest(service.registry)
    finally:
        service.server.stop()  # never started: closes its socket
    assert b"regslo_pushed_image_size_bytes_bucket" in text and b"regslo_registry_cache_requests_total" in text
    res = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr


def test_stop_does_not_wait_for_a_frozen_registry(registry):
    from prometheus_client import CollectorRegistry

    from regslo.sources.inspect.inspector import Inspector

    cfg = parse_config(yaml.safe_dump({
        "registries": [{"name": "r1", "url": registry.url}],
        "logs": {"sources": [{"format": "notifications", "registry": "r1"}]},
        "inspect": {"repositories": ["prod/**"], "delay": "0s", "timeout": "8s"}}))
    with RegistryClient(Registry("r1", registry.url, "r1")) as c:
        img = push_image(c, "prod/app", "v1")
    metrics = CollectorRegistry()
    inspector = Inspector(cfg, metrics)
    inspector.start()
    registry.freeze()  # the port accepts connections, nothing answers
    try:
        assert inspector.submit("r1", "prod/app", "v1", img.digest)
        time.sleep(1.0)  # the read is in flight
        t = time.monotonic()
        inspector.stop()
        took = time.monotonic() - t
        assert took < 4, took  # not the 8 s inspection timeout
        # the read in flight ends at its deadline and is counted; nothing is retried
        _wait(lambda: total(metrics, "regslo_inspect_failures_total") >= 1, 20, "the failed read")
    finally:
        registry.resume()
    assert total(metrics, "regslo_inspect_failures_total", reason="timeout") == 1
    assert total(metrics, "regslo_pushed_images_inspected_total") == 0
