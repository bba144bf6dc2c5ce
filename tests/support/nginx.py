"""A real nginx as a reverse proxy in front of a test registry, logging with a chosen log_format.

The tests that need one differ only in a few ``http`` directives (a cache zone, a rate-limit zone) and the
``location`` blocks in front of the catch-all proxy to the registry; the rest lives here once."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import require
from tests.support.registry import free_port, wait_port

_CONF = """
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
  {http}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    {locations}
    location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_set_header Host $http_host; }}
  }}
}}
"""


@contextmanager
def nginx_proxy(workdir: Path, upstream: int, log_format: str, http: str = "",
                locations: str = "") -> Iterator[tuple[int, Path]]:
    """Run nginx on a free 127.0.0.1 port proxying to ``127.0.0.1:upstream``; yields (port, access log path).

    ``http`` and ``locations`` are nginx directives, with ``{d}`` (the work directory) and ``{upstream}``
    (the registry's port) filled in. nginx is stopped (and has flushed its log) when the block ends."""
    nginx = require("nginx")
    port = free_port()
    fill = {"d": workdir, "upstream": upstream}
    conf = workdir / "nginx.conf"
    conf.write_text(_CONF.format(d=workdir, fmt=log_format, port=port, upstream=upstream,
                                 http=http.format(**fill), locations=locations.format(**fill)))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_port(port)
        yield port, workdir / "access.log"
    finally:
        proc.terminate()
        proc.wait(10)
