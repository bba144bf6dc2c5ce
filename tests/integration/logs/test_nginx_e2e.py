"""A real nginx in front of a real registry: its access log (combined + request/upstream times) through the
nginx format gives exactly the requests sent, including nginx's own 429s that never reach the registry."""

import subprocess
import time
from collections import Counter

import httpx

from regslo.sources.logs.replay import replay
from tests.conftest import require
from tests.support.registry import free_port, wait_port
from tests.unit.logs.support import expected_operation, series, total

NGINX_CONF = """
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  log_format regslo '{fmt}';
  access_log {d}/access.log regslo;
  limit_req_zone $binary_remote_addr zone=catalog:1m rate=1r/m;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location /v2/_catalog {{ limit_req zone=catalog nodelay; limit_req_status 429; proxy_pass http://127.0.0.1:{upstream}; }}
    location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_set_header Host $http_host; }}
  }}
}}
"""
FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
          '"$http_user_agent" $request_time $upstream_response_time')


def test_nginx_access_log_equals_traffic(tmp_path, registry):
    nginx = require("nginx")
    port = free_port()
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(d=tmp_path, fmt=FORMAT, port=port, upstream=registry.port))
    proc = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port)
        sent = Counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            def send(method, path, **kw):
                r = c.request(method, path, **kw)
                sent[(expected_operation(method, path), str(r.status_code))] += 1
                return r
            for _ in range(3):
                assert send("GET", "/v2/").status_code == 200
            assert send("GET", "/v2/app/manifests/latest").status_code == 404
            r = send("POST", "/v2/app/blobs/uploads/")
            assert r.status_code == 202
            loc = httpx.URL(r.headers["Location"]).raw_path.decode()
            assert send("PUT", loc + "&digest=sha256:" + "0" * 64, content=b"x").status_code == 400  # wrong digest
            assert send("GET", "/v2/_catalog").status_code == 200
            assert send("GET", "/v2/_catalog").status_code == 429  # nginx's limit: never reaches the registry
        time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
    reg = replay([str(tmp_path / "access.log")], "nginx", "edge", log_format=FORMAT)
    got = Counter()
    for (code, op, _r), v in series(reg, "regslo_registry_requests_total").items():
        got[(op, code)] += int(v)
    assert got == sent and sent[("list", "429")] == 1
    assert total(reg, "regslo_registry_request_duration_seconds_count") == sum(sent.values())
    lines = {o: v for (o, _s), v in series(reg, "regslo_log_lines_total").items()}
    assert lines == {"parsed": sum(sent.values()), "ignored": 0, "malformed": 0}
