"""Issue 8 §3: what every exporter has, on a real ``regslo run``: process_* and python_* collectors,
``regslo_build_info`` with ``revision`` and ``pythonversion``, gzip when the scraper asks for it, and an
exposition ``promtool check metrics`` accepts. Before: none of the collectors, build_info had only
``version``, and /metrics ignored Accept-Encoding.
"""

import gzip
import platform
import subprocess

import httpx

from tests.conftest import require
from tests.integration.server.support import parse_samples, raw_request, regslo_run, write_config


def test_runtime_collectors_build_info_and_gzip(tmp_path):
    cfg = write_config(tmp_path / "c.yml", logs={"sources": [{"format": "notifications", "registry": "r1"}]})
    with regslo_run(cfg, env={"REGSLO_REVISION": "0123456789abcdef0123456789abcdef01234567"}) as r:
        plain = httpx.get(f"{r.base}/metrics", headers={"Accept-Encoding": "identity"}, timeout=10)
        assert "content-encoding" not in plain.headers
        names = {name for name, _ in parse_samples(plain.text)}
        for name in ("process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total",
                     "process_start_time_seconds", "python_info", "python_gc_objects_collected_total"):
            assert name in names, name
        build = [dict(labels) for (name, labels) in parse_samples(plain.text) if name == "regslo_build_info"]
        assert build == [{"version": build[0]["version"], "revision": "0123456789abcdef0123456789abcdef01234567",
                          "pythonversion": platform.python_version()}]
        # gzip on request (Prometheus sends Accept-Encoding: gzip), with a body that really is gzip
        answer = raw_request(r.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                                     b"Connection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"\r\nContent-Encoding: gzip" in head and b"\r\nVary: Accept-Encoding" in head
        text = gzip.decompress(body).decode()
        assert "regslo_build_info" in text and len(body) < len(plain.content) / 3
        # q=0 refuses gzip
        refused = raw_request(r.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n"
                                      b"Connection: close\r\n\r\n")
        assert b"Content-Encoding" not in refused.partition(b"\r\n\r\n")[0]
        check = subprocess.run([require("promtool"), "check", "metrics"], input=plain.text, capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
