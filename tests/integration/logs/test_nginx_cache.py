"""A real nginx with proxy_cache in front of a real registry: repeated blob pulls become HITs, and regslo's
cache counts from the nginx format (log_format with $upstream_cache_status) equal what nginx logged."""

import hashlib
import time
from collections import Counter

import httpx

from regslo.sources.logs.replay import replay
from tests.support.nginx import nginx_proxy
from tests.unit.logs.support import expected_operation, series

HTTP = "proxy_cache_path {d}/cache levels=1:2 keys_zone=blobs:1m max_size=64m inactive=1h use_temp_path=off;"
LOCATIONS = """
    location ~ ^/v2/.+/blobs/sha256:[0-9a-f]+$ {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
      proxy_cache blobs;
      proxy_cache_key $request_uri;
      proxy_ignore_headers Cache-Control Expires;
      proxy_cache_valid 200 3s;
      proxy_cache_bypass $http_x_no_cache;
    }}
"""
FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
          '"$http_user_agent" $request_time $upstream_response_time $upstream_cache_status')


def test_cache_statuses_equal_nginx_log(tmp_path, registry):
    with nginx_proxy(tmp_path, registry.port, FORMAT, http=HTTP, locations=LOCATIONS) as (port, _):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            blob = b"layer-bytes" * 1000
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            r = c.post("/v2/app/blobs/uploads/")
            loc = httpx.URL(r.headers["Location"]).raw_path.decode()
            assert c.put(f"{loc}&digest={digest}", content=blob).status_code == 201
            for _ in range(4):  # first a MISS, then HITs from the cache
                r = c.get(f"/v2/app/blobs/{digest}")
                assert r.status_code == 200 and r.content == blob
            assert c.get(f"/v2/app/blobs/{digest}", headers={"X-No-Cache": "1"}).status_code == 200  # BYPASS
            # nginx keeps whole seconds: an entry stored at second S with 3s validity is stale from S + 4 on
            time.sleep(4.5)  # past proxy_cache_valid: EXPIRED, fetched again
            assert c.get(f"/v2/app/blobs/{digest}").status_code == 200
            assert c.get("/v2/app/manifests/latest").status_code == 404  # not a cached location: "-"
            assert c.get("/v2/").status_code == 200
        time.sleep(0.2)
    logged = Counter()
    for line in (tmp_path / "access.log").read_text().splitlines():
        method, uri = line.split('"')[1].split(" ")[:2]
        status = line.rsplit(" ", 1)[1]
        logged[(expected_operation(method, uri), status if status != "-" else "none")] += 1
    reg = replay([str(tmp_path / "access.log")], "nginx", "edge", log_format=FORMAT)
    got = Counter({(op, status): int(v) for (op, _r, status), v in
                   series(reg, "regslo_registry_cache_requests_total").items()})
    assert got == logged
    assert got[("pull", "HIT")] >= 2 and got[("pull", "MISS")] >= 1, got
    assert got[("pull", "BYPASS")] == 1 and got[("pull", "EXPIRED")] + got[("pull", "MISS")] >= 2, got
