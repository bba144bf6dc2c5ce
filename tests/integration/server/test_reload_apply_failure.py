"""A reload that fails while applying (a stage raising: a bug, since the file was valid) is retried in full by
the next reload. Before, the new config was already recorded as current, so the retry saw "no change" in
the failed stage and log tailing stayed stopped for good. The failure is injected (a LogService that
raises once): no real input reaches that path, which is the point of the guard."""

from __future__ import annotations

import yaml

from regslo.config import load_config
from regslo.service import Service
from regslo.sources.logs import service as log_service
from tests.support.registry import free_port
from tests.support.wait import poll
from tests.unit.logs.support import total

LINE = ('{"level":"info","msg":"response completed","http.request.method":"GET","http.request.uri":"/v2/",'
        '"http.response.status":200,"http.response.duration":"1ms","time":"2026-11-30T00:00:00Z"}\n')


def _write(path, log, port):
    path.write_text(yaml.safe_dump({
        "registries": [{"name": "r1", "url": f"http://127.0.0.1:{free_port()}"}],
        "probes": {"interval": "1h", "timeout": "1s", "enabled": ["ping"]},
        "logs": {"start_at": "beginning", "sources": [{"path": str(log), "format": "distribution",
                                                       "registry": "r1"}]},
        "server": {"listen_address": f"127.0.0.1:{port}"}}))


def test_a_reload_that_failed_while_applying_is_retried_by_the_next(tmp_path, monkeypatch):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(LINE * 3)
    second.write_text(LINE * 5)
    path = tmp_path / "regslo.yml"
    _write(path, first, free_port())
    service = Service(load_config(str(path)))
    service.start()
    m = service.registry
    try:
        assert poll(lambda: total(m, "regslo_log_lines_total", outcome="parsed") == 3)
        real = log_service.LogService

        def broken(*args, **kwargs):
            raise RuntimeError("injected: a stage that cannot take the new config")

        monkeypatch.setattr(log_service, "LogService", broken)
        _write(path, second, service.server.port)
        ok, problems = service.reload()
        assert not ok and problems == ["applying the new config: RuntimeError"]
        assert total(m, "regslo_config_last_reload_successful") == 0
        monkeypatch.setattr(log_service, "LogService", real)
        ok, problems = service.reload()  # the same file again: the log stage must be rebuilt now
        assert ok, problems
        # the new source is read from its beginning (series of the removed one go, as on any reload)
        assert poll(lambda: total(m, "regslo_log_lines_total", outcome="parsed", source=str(second)) == 5), \
            total(m, "regslo_log_lines_total", outcome="parsed", source=str(second))
        assert total(m, "regslo_config_last_reload_successful") == 1
    finally:
        service.stop()
