"""A reload applies the inspect: section without a restart (it used to log "takes effect at the next
restart" and keep the old one): new globs select at once, pushes queued under the old globs that the new
ones do not select leave the queue (counted), removing the section stops the inspector and drops its series,
and adding it back starts a new one. A real docker-registry sends its real notifications to regslo."""

from __future__ import annotations

import time

import yaml

from regslo.config import Registry, load_config
from regslo.oci.client import RegistryClient
from regslo.service import Service
from tests.support.artifacts import push_image
from tests.support.registry import free_port
from tests.unit.logs.support import series, total
from tests.support.wait import wait_until as _wait


def _write(path, registry_url: str, port: int, inspect: dict | None) -> None:
    doc = {
        "registries": [{"name": "r1", "url": registry_url}],
        "probes": {"interval": "1h", "timeout": "5s", "enabled": ["ping"]},
        "logs": {"sources": [{"format": "notifications", "registry": "r1"}]},
        "server": {"listen_address": f"127.0.0.1:{port}"},
    }
    if inspect is not None:
        doc["inspect"] = inspect
    path.write_text(yaml.safe_dump(doc))


def _skipped(metrics, reason: str) -> float:
    return total(metrics, "regslo_inspect_skipped_total", reason=reason)


def test_reload_applies_inspect_changes_in_place(registries, tmp_path):
    port = free_port()
    reg = registries("r1", notify_url=f"http://127.0.0.1:{port}/notifications/r1")[0]
    path = tmp_path / "regslo.yml"
    _write(path, reg.url, port, {"repositories": ["prod/**"], "delay": "1s", "max_per_minute": 600})
    service = Service(load_config(str(path)))
    service.start()
    m = service.registry
    c = RegistryClient(Registry("r1", reg.url, "r1"))
    try:
        push_image(c, "prod/a", "v1")
        push_image(c, "team/a", "v1")  # outside prod/**: skipped
        _wait(lambda: total(m, "regslo_pushed_images_inspected_total") == 1 and _skipped(m, "not_selected") == 1,
              30, "the first inspection")
        first = service.inspector

        # 1. new globs and a long delay: team/** is read, prod/** no longer is; queued prod/ pushes leave
        _write(path, reg.url, port, {"repositories": ["team/**"], "delay": "1h", "max_per_minute": 600})
        ok, problems = service.reload()
        assert ok, problems
        assert service.inspector is first, "a changed section is applied in place (counters carry on)"
        push_image(c, "team/b", "v1")
        push_image(c, "prod/b", "v1")
        _wait(lambda: len(service.inspector._queue) == 1 and _skipped(m, "not_selected") == 2, 30,
              "team/b queued, prod/b skipped")
        _write(path, reg.url, port, {"repositories": ["other/**"], "delay": "1s", "max_per_minute": 600})
        assert service.reload()[0]
        assert len(service.inspector._queue) == 0  # team/b: no longer selected, taken out of the queue
        assert _skipped(m, "not_selected") == 3
        push_image(c, "other/c", "v1")
        _wait(lambda: total(m, "regslo_pushed_images_inspected_total") == 2, 30, "other/c inspected")
        time.sleep(1.5)
        assert total(m, "regslo_pushed_images_inspected_total") == 2  # team/b was never read

        # 2. the section removed: the inspector stops, its series go, pushes are no longer submitted
        _write(path, reg.url, port, None)
        assert service.reload()[0]
        assert service.inspector is None and not first._thread
        assert not series(m, "regslo_pushed_images_inspected_total")
        push_image(c, "other/d", "v1")
        time.sleep(1.5)
        assert first._queue.__len__() == 0 and total(m, "regslo_pushed_images_inspected_total") == 0

        # 3. added back: a new inspector with fresh counters, fed by the same notifications source
        _write(path, reg.url, port, {"repositories": ["other/**"], "delay": "1s", "max_per_minute": 600})
        assert service.reload()[0]
        assert service.inspector is not None and service.inspector is not first
        assert series(m, "regslo_pushed_images_inspected_total") == {("r1",): 0}
        push_image(c, "other/e", "v1")
        _wait(lambda: total(m, "regslo_pushed_images_inspected_total") == 1, 30, "other/e inspected")
        assert total(m, "regslo_config_last_reload_successful") == 1
    finally:
        service.stop()
        c.close()
