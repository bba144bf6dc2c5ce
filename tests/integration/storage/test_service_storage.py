"""The storage monitor inside ``Service``: started and stopped with it (so a config reload can throw it away
and build another), its gauges on the real /metrics endpoint, GC runs told their reclaimed bytes."""

from __future__ import annotations

import threading
import time

import httpx

from regslo.config import parse_config
from regslo.service import Service


def test_service_starts_and_stops_the_storage_monitor(tmp_path):
    root = tmp_path / "registry"
    root.mkdir()
    (root / "blob").write_bytes(b"x" * 50_000)
    gc_log = tmp_path / "gc.log"
    gc_log.touch()
    config = parse_config(f"""
registries:
  - name: r1
    url: http://127.0.0.1:1
    storage: {{path: {root}, sample_interval: 100ms, window: 5s, scan_interval: 100ms}}
probes: {{enabled: [ping], interval: 1h, timeout: 1s}}
logs:
  start_at: beginning
  sources: [{{path: {gc_log}, format: distribution-gc, registry: r1}}]
""")
    service = Service(config, listen_address="127.0.0.1:0")
    assert service.logs.metrics.reclaimed == service.storage.reclaimed
    service.start()
    try:
        url = f"http://127.0.0.1:{service.server.port}/metrics"
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(url, timeout=5).text
            if 'regslo_storage_registry_bytes{registry="r1"}' in text:
                break
            time.sleep(0.05)
        for name in ("capacity_bytes", "available_bytes", "registry_bytes", "scan_timestamp_seconds"):
            assert f'regslo_storage_{name}{{registry="r1"}}' in text, name
        assert 'regslo_gc_runs_total{registry="r1",result="success"} 0.0' in text
        assert any(t.name == "regslo-storage" for t in threading.enumerate())
    finally:
        service.stop()
    assert not any(t.name == "regslo-storage" for t in threading.enumerate())
    from prometheus_client import generate_latest
    assert b"regslo_storage_" not in generate_latest(service.registry)  # unregistered with the monitor


def test_a_reload_that_removes_storage_unhooks_gc_runs_from_the_old_monitor(tmp_path):
    """Without the storage section a GC run has no reclaimed bytes to read; before, the log stage kept reading
    the stopped monitor's last samples of a registry no longer watched."""
    root = tmp_path / "registry"
    root.mkdir()
    gc_log = tmp_path / "gc.log"
    gc_log.touch()
    path = tmp_path / "regslo.yml"
    text = f"""
registries:
  - name: r1
    url: http://127.0.0.1:1
    storage: {{path: {root}, sample_interval: 100ms, window: 5s, scan_interval: 100ms}}
probes: {{enabled: [ping], interval: 1h, timeout: 1s}}
logs:
  sources: [{{path: {gc_log}, format: distribution-gc, registry: r1}}]
"""
    path.write_text(text)
    from regslo.config import load_config

    service = Service(load_config(str(path)), listen_address="127.0.0.1:0")
    try:
        assert service.logs.metrics.reclaimed == service.storage.reclaimed
        path.write_text(text.replace(f"    storage: {{path: {root}, sample_interval: 100ms, window: 5s, "
                                     "scan_interval: 100ms}\n", ""))
        ok, problems = service.reload()
        assert ok, problems
        assert service.storage is None and service.logs.metrics.reclaimed is None
        path.write_text(text)
        assert service.reload()[0]
        assert service.logs.metrics.reclaimed == service.storage.reclaimed  # hooked to the new monitor
    finally:
        service.stop()
