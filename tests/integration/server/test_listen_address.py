"""Issue 9 item 9: ``--web.listen-address`` takes ``[::1]:PORT``; an invalid value is exit 2 with one line.
Before the fix ``[::1]:PORT`` failed (the server was IPv4 only) and ``localhost`` (no port) was a traceback.
"""

import socket
import subprocess
import sys

import httpx
import pytest

from tests.integration.server.support import regslo_run, write_config


def ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False


def test_ipv6_loopback_address(tmp_path):
    if not ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")  # the parsing cases below still run
    with regslo_run(write_config(tmp_path / "c.yml"), host="::1") as r:
        assert r.base.startswith("http://[::1]:")
        assert httpx.get(f"{r.base}/metrics", timeout=5).status_code == 200
        with pytest.raises(httpx.HTTPError):  # bound to ::1 only
            httpx.get(f"http://127.0.0.1:{r.port}/metrics", timeout=2)


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:", ":99999", "::1:9745", "[127.0.0.1]:9745",
                                     "[::1]9745", "bad host:9745", "127.0.0.1:port"])
def test_invalid_listen_address_is_exit_2_with_one_line(tmp_path, address):
    res = subprocess.run([sys.executable, "-m", "regslo", "run", "-c", str(write_config(tmp_path / "c.yml")),
                          f"--web.listen-address={address}"], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: --web.listen-address: ") and "Traceback" not in res.stderr


def test_invalid_server_listen_address_in_the_config_names_the_key(tmp_path):
    cfg = write_config(tmp_path / "c.yml", server={"listen_address": "::1:9745"})
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: server.listen_address: an IPv6 address needs brackets, like [::1]:9745; "
                                  "got '::1:9745'")


def test_a_port_in_use_is_exit_2(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "regslo", "run", "-c", str(write_config(tmp_path / "c.yml")),
                              f"--web.listen-address=127.0.0.1:{port}"], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert res.returncode == 2 and res.stderr.strip().startswith("error: cannot listen on 127.0.0.1:"), res.stderr
