"""`regslo run` with storage and GC configured, as a user runs it: its real /metrics passes
`promtool check metrics` once every storage gauge and GC series is present (the exposition test in
tests/integration/probes covers a config without them)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import require
from tests.support.configs import registry_entry, write_config
from tests.support.registry import free_port

WANTED = ("regslo_storage_capacity_bytes{", "regslo_storage_available_bytes{", "regslo_storage_registry_bytes{",
          "regslo_storage_scan_timestamp_seconds{", "regslo_storage_scan_duration_seconds{",
          "regslo_storage_scan_skipped_entries{", "regslo_storage_full_in_seconds{",
          'regslo_gc_runs_total{registry="r1",result="success"} 4.0', "regslo_gc_blobs_deleted_total{",
          "regslo_gc_manifests_deleted_total{", "regslo_gc_last_success_timestamp_seconds{",
          "regslo_gc_duration_seconds{")


def test_storage_and_gc_exposition_passes_promtool(registry, samples, tmp_path):
    root = tmp_path / "store"
    (root / "docker/registry/v2/blobs").mkdir(parents=True)
    (root / "docker/registry/v2/blobs/data").write_bytes(b"x" * 100_000)
    gc_log = tmp_path / "gc.log"
    shutil.copy(samples / "gc-json.log", gc_log)  # four successful runs and a failed one, recorded
    port = free_port()
    cfg = write_config(tmp_path / "c.yml",
                       [registry_entry(registry, storage={"path": str(root), "sample_interval": "100ms",
                                                          "window": "2s", "scan_interval": "200ms"},
                                       gc={"max_age": "8d"})],
                       probes={"interval": "1h", "timeout": "4s"},
                       logs={"start_at": "beginning",
                             "sources": [{"path": str(gc_log), "format": "distribution-gc",
                                          "registry": registry.name}]})
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg),
                             "--web.listen-address", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                text = ""
            if all(w in text for w in WANTED):
                break
            time.sleep(0.2)
        missing = [w for w in WANTED if w not in text]
        assert not missing, missing
        check = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
