"""F3 end to end: storage full is caught before pushes fail, and garbage collection gives the space back.

A 32 MiB tmpfs holds a real ``docker-registry``'s storage. ``regslo run`` (a real process) pushes a 1 MiB
probe image every second, measures the filesystem and tails the GC output file; a real Prometheus scrapes
it every second and evaluates the generated capacity rules. The test proves the order of events:

1. ``regslo_storage_full_in_seconds`` becomes finite and falls while the store fills;
2. Prometheus fires ``RegsloStorageFillingUp`` (page) while regslo has counted no failed push;
3. then pushes fail, with reason ``server_error``;
4. after deleting the probe images and running ``docker-registry garbage-collect`` (registry stopped, as
   distribution requires), the GC metrics equal what the GC printed and the reclaimed bytes equal the
   growth of ``df``'s available bytes.

It prints the projected and the actual time to full.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from regslo.config import Registry, load_config
from regslo.oci.client import RegistryClient
from regslo.outputs.generate import render, write
from tests.conftest import require
from tests.integration.slo.conftest import serve
from tests.support.registry import REGISTRY_BIN, RegistryProcess, free_port, registry_config, wait_port
from tests.support.tmpfs import df, mounted_tmpfs

pytestmark = pytest.mark.slow
FILL_BOUND = 150.0  # seconds to fill 32 MiB at 1 MiB/s, with room for a loaded machine
POLL = 0.2


def metrics(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    text = httpx.get(url + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("regslo_") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def one(values: dict[str, float], prefix: str) -> float | None:
    found = [v for k, v in values.items() if k.startswith(prefix)]
    return found[0] if found else None


def failures(values: dict[str, float]) -> dict[str, float]:
    out = {}
    for key, value in values.items():
        m = re.match(r'regslo_probe_failures_total\{.*reason="([^"]+)"', key)
        if m and value:
            out[m.group(1)] = value
    return out


def firing(prom: str) -> list[dict]:
    alerts = httpx.get(prom + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == "RegsloStorageFillingUp" and a["state"] == "firing"]


def test_storage_full_is_caught_before_pushes_fail_and_gc_reclaims(tmp_path):
    require("docker-registry")
    prometheus = require("prometheus")
    with mounted_tmpfs(tmp_path / "mnt", "32m") as mnt, contextlib.ExitStack() as cleanup:
        # -- a registry whose storage is the tmpfs
        root = mnt / "registry"
        root.mkdir()
        workdir = tmp_path / "reg"
        workdir.mkdir()
        port = free_port()
        cfg = registry_config(workdir, port, name="full")
        cfg["storage"]["filesystem"]["rootdirectory"] = str(root)
        reg = RegistryProcess(name="full", workdir=workdir, port=port, config=cfg).start()
        cleanup.callback(reg.stop)  # stopped (before the unmount) even if the set-up below fails
        gc_log = tmp_path / "gc.log"
        gc_log.touch()
        regslo_port = free_port()
        config_path = tmp_path / "regslo.yml"
        config_path.write_text(yaml.safe_dump({
            "registries": [{"name": "full", "url": reg.url, "storage": {
                "path": str(root), "sample_interval": "250ms", "window": "20s", "scan_interval": "2s",
                "page_within": "5m", "ticket_within": "1h", "alert_for": "2s"}}],
            "probes": {"interval": "1s", "timeout": "1s", "blob_size": "1MiB", "enabled": ["push"],
                       "instance": "f3"},
            "logs": {"start_at": "beginning", "poll_interval": "100ms", "sources": [
                {"path": str(gc_log), "format": "distribution-gc", "registry": "full"}]},
        }))
        rules_dir = tmp_path / "generated"
        write(render(load_config(config_path)), rules_dir)
        rules = rules_dir / "alerts" / "regslo-capacity.rules.yml"
        prom_dir = tmp_path / "prometheus"
        prom_dir.mkdir()
        (prom_dir / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "regslo", "static_configs": [{"targets": [f"127.0.0.1:{regslo_port}"]}]}],
        }))
        regslo = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(config_path),
                                   "--web.listen-address", f"127.0.0.1:{regslo_port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp_path / "regslo.err", "wb"))
        url = f"http://127.0.0.1:{regslo_port}"
        try:
            wait_port(regslo_port, timeout=30)
            with serve([prometheus, f"--config.file={prom_dir / 'prometheus.yml'}",
                        f"--storage.tsdb.path={prom_dir / 'data'}"]) as prom:
                started = time.time()
                projections: list[tuple[float, float]] = []
                fired_at = failed_at = None
                fail_reasons: dict[str, float] = {}
                deadline = time.monotonic() + FILL_BOUND
                while time.monotonic() < deadline:
                    now = time.time()
                    values = metrics(url)
                    fail_reasons = failures(values)
                    if fail_reasons and failed_at is None:
                        failed_at = now
                        break
                    full_in = one(values, "regslo_storage_full_in_seconds{")
                    if full_in is not None and full_in != float("inf"):
                        projections.append((now, full_in))
                    if fired_at is None and any(a["labels"].get("severity") == "page" for a in firing(prom)):
                        fired_at = now
                        assert not failures(metrics(url)), "the page came only after a push had failed"
                    time.sleep(POLL)
                assert failed_at is not None, f"no push failed within {FILL_BOUND}s; df: {df(mnt)}"
                # 1. the projection was finite and falling before the first failure
                assert len(projections) >= 10, projections
                third = len(projections) // 3
                early = sorted(p for _t, p in projections[:third])[third // 2]
                late = sorted(p for _t, p in projections[-third:])[third // 2]
                assert late < early, (early, late)
                # 2. the page fired before the first failed push
                assert fired_at is not None and fired_at < failed_at, (fired_at, failed_at)
                # 3. the failure is a server error
                assert "server_error" in fail_reasons, fail_reasons
                first_t, first_projection = projections[0]
                print(f"\nF3: first finite projection {first_projection:.1f}s at +{first_t - started:.1f}s "
                      f"(projected full at +{first_t - started + first_projection:.1f}s); "
                      f"median projection {sorted(p for _t, p in projections)[len(projections) // 2]:.1f}s; "
                      f"page fired at +{fired_at - started:.1f}s; first failed push seen at "
                      f"+{failed_at - started:.1f}s (actual time to full from the first projection: "
                      f"{failed_at - first_t:.1f}s); {len(projections)} projections")
                misses = sorted(t + p - failed_at for t, p in projections)  # projected minus actual full time
                print(f"F3: projected minus actual time of full over all projections: median "
                      f"{misses[len(misses) // 2]:+.1f}s, range {misses[0]:+.1f}s .. {misses[-1]:+.1f}s")

                # 4. delete the probe images, stop the registry, garbage-collect into the file regslo tails
                with RegistryClient(Registry(name="full", url=reg.url, region="full")) as client:
                    for tag in client.list_tags("regslo/probe"):
                        digest = client.head_manifest("regslo/probe", tag)
                        if digest:
                            client.delete_manifest("regslo/probe", digest)
                reg.stop()
                time.sleep(1.0)  # a storage sample of the quiet, full filesystem
                before = metrics(url)
                avail_before = df(mnt)[1]
                with open(gc_log, "ab") as out:
                    res = subprocess.run([REGISTRY_BIN, "garbage-collect", "--delete-untagged", str(reg.config_path)],
                                         stdout=out, stderr=subprocess.STDOUT, timeout=120)
                assert res.returncode == 0, gc_log.read_text()[-2000:]
                avail_after = df(mnt)[1]
                printed = gc_log.read_text()
                summary = re.search(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible", printed)
                assert summary and int(summary.group(2)) > 0, printed[-2000:]
                deleted_lines = printed.count("Deleting blob: ")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    after = metrics(url)
                    if after.get('regslo_gc_runs_total{registry="full",result="success"}') == 1:
                        break
                    time.sleep(POLL)
                assert after.get('regslo_gc_runs_total{registry="full",result="success"}') == 1, after
                assert after['regslo_gc_runs_total{registry="full",result="failure"}'] == 0
                assert after['regslo_gc_blobs_deleted_total{registry="full"}'] == int(summary.group(2)) == deleted_lines
                assert after['regslo_gc_manifests_deleted_total{registry="full"}'] == int(summary.group(3))
                reclaimed = after['regslo_gc_reclaimed_bytes_total{registry="full"}']
                assert reclaimed > 16 * 1024 * 1024, reclaimed  # most of the 32 MiB came back
                assert reclaimed == pytest.approx(avail_after - avail_before, rel=0.01)
                assert after['regslo_gc_last_success_timestamp_seconds{registry="full"}'] >= started
                print(f"F3: GC deleted {deleted_lines} blobs and {summary.group(3)} manifests, reclaimed "
                      f"{reclaimed / 2**20:.1f} MiB (df: {(avail_after - avail_before) / 2**20:.1f} MiB); "
                      f"available before {one(before, 'regslo_storage_available_bytes{'):.0f} B")
                # the store no longer grows (registry stopped): the projection goes back to +Inf
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if metrics(url).get('regslo_storage_full_in_seconds{registry="full"}') == float("inf"):
                        break
                    time.sleep(POLL)
                assert metrics(url).get('regslo_storage_full_in_seconds{registry="full"}') == float("inf")
        finally:
            regslo.terminate()
            try:
                regslo.wait(15)
            except subprocess.TimeoutExpired:
                regslo.kill()
                regslo.wait()
            reg.stop()
