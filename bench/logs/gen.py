"""Generate realistic distribution (registry:2) json log lines: mixed operations, codes and noise lines."""

from __future__ import annotations

import random
import uuid

_PATHS = [
    # weight, method, path template, status choices, written
    (30, "GET", "/v2/{repo}/blobs/sha256:{digest}", (200, 200, 200, 200, 404, 500), 24_000_000),
    (25, "HEAD", "/v2/{repo}/manifests/{tag}", (200, 200, 200, 404), 0),
    (15, "GET", "/v2/{repo}/manifests/{tag}", (200, 200, 404, 429), 1500),
    (8, "GET", "/v2/", (200, 200, 200, 503), 2),
    (6, "POST", "/v2/{repo}/blobs/uploads/", (202, 202, 202, 400), 0),
    (5, "PATCH", "/v2/{repo}/blobs/uploads/{uuid}?_state=abc", (202, 202, 416), 0),
    (5, "PUT", "/v2/{repo}/blobs/uploads/{uuid}?_state=abc&digest=sha256%3A{digest}", (201, 201, 400), 0),
    (3, "PUT", "/v2/{repo}/manifests/{tag}", (201, 201, 400), 0),
    (1, "DELETE", "/v2/{repo}/manifests/sha256:{digest}", (202, 404), 0),
    (1, "GET", "/v2/{repo}/tags/list", (200, 404), 120),
    (1, "GET", "/v2/_catalog?n=100", (200,), 900),
]
_WEIGHTS = [p[0] for p in _PATHS]
_NOISE = ('{"go.version":"go1.19.8","http.request.host":"registry.example:5000","http.request.id":"%s",'
          '"http.request.method":"GET","http.request.remoteaddr":"10.1.2.3:51234","http.request.uri":"/v2/",'
          '"http.request.useragent":"docker/24.0.7","level":"info","msg":"authorized request",'
          '"time":"2026-11-27T07:44:59.904486085Z"}')
_LINE = ('{"go.version":"go1.19.8","http.request.host":"registry.example:5000","http.request.id":"%s",'
         '"http.request.method":"%s","http.request.remoteaddr":"10.1.%d.%d:%d","http.request.uri":"%s",'
         '"http.request.useragent":"docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0-13-amd64 os/linux arch/amd64",'
         '"http.response.contenttype":"application/json; charset=utf-8","http.response.duration":"%s",'
         '"http.response.status":%d,"http.response.written":%d,"level":"%s","msg":"%s","region":"us-east",'
         '"service":"registry","time":"2026-11-27T07:44:%02d.%09dZ"}')


def _duration(rng: random.Random) -> str:
    ms = rng.lognormvariate(1.5, 1.6)
    if ms < 1:
        return f"{ms * 1000:.3f}\u00b5s"
    if ms < 1000:
        return f"{ms:.6f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.9f}s"
    return f"{int(ms // 60000)}m{(ms % 60000) / 1000:.3f}s"


def lines(n: int, seed: int = 1, distinct_repos: bool = False):
    """Yield ``n`` lines; ~4% are not requests. ``distinct_repos``: every request names a new repository."""
    rng = random.Random(seed)
    repos = [f"team{i % 40}/app{i}" for i in range(400)]
    for i in range(n):
        rid = str(uuid.UUID(int=rng.getrandbits(128)))
        if rng.random() < 0.04:
            yield _NOISE % rid
            continue
        _w, method, template, statuses, written = rng.choices(_PATHS, _WEIGHTS)[0]
        repo = f"user{i}/image" if distinct_repos else repos[min(int(rng.paretovariate(1.2)) - 1, 399)]
        uri = template.format(repo=repo, digest="%064x" % rng.getrandbits(256), tag=f"v{rng.randint(1, 50)}",
                              uuid=rid)
        status = rng.choice(statuses)
        level, msg = ("info", "response completed") if status < 400 else ("error", "response completed with error")
        size = rng.randint(0, written) if status < 300 and written else (150 if status >= 400 else 0)
        yield _LINE % (rid, method, rng.randint(0, 255), rng.randint(1, 254), rng.randint(1024, 65535), uri,
                       _duration(rng), status, size, level, msg, i % 60, rng.getrandbits(29) % 1_000_000_000)


def write(path, n: int, **kw) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines(n, **kw):
            f.write(line)
            f.write("\n")
