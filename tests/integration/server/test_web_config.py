"""Issue 9 item 8: ``--web.config.file`` (Prometheus exporter-toolkit format): TLS, client certificates,
min_version and bcrypt basic auth on every endpoint, checked with a real Prometheus scraping regslo.
Before the fix the flag did not exist (argparse exit 2) and /metrics was plain, unauthenticated HTTP.
"""

import ssl
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.conftest import require
from tests.integration.server.support import regslo_run, tls_client, write_config
from tests.support.registry import free_port, wait_port
from tests.support.tls import make_ca, make_client_cert, make_server_cert

PASSWORD = "scrape-password-42"


def bcrypt_hash(user: str, password: str) -> str:
    """What an operator does: htpasswd -nbBC 10 (the same format Prometheus' own web config takes)."""
    out = subprocess.run([require("htpasswd"), "-nbBC", "10", user, password], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split(":", 1)[1]


@pytest.fixture
def pki(tmp_path):
    ca = make_ca(tmp_path / "pki")
    server = make_server_cert(ca, tmp_path / "pki")
    client = make_client_cert(ca, tmp_path / "pki", name="prometheus")
    return ca, server, client


def web_file(tmp_path, doc: dict) -> str:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def targets(prom: str) -> dict[str, dict]:
    data = httpx.get(f"{prom}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t for t in data}


def test_prometheus_scrapes_over_tls_with_basic_auth_and_a_wrong_password_gets_401(tmp_path, pki):
    ca, server, _ = pki
    web = web_file(tmp_path, {"tls_server_config": {"cert_file": str(server.cert_file),
                                                    "key_file": str(server.key_file), "min_version": "TLS12"},
                              "basic_auth_users": {"prometheus": bcrypt_hash("prometheus", PASSWORD)}})
    cfg = write_config(tmp_path / "c.yml")
    client = {"verify": tls_client(ca.cert_file), "auth": ("prometheus", PASSWORD)}
    with regslo_run(cfg, "--web.config.file", web, scheme="https", client=client) as r:
        # every endpoint asks for the password; plain HTTP on the TLS port gets nowhere
        for path in ("/metrics", "/-/healthy", "/-/ready", "/"):
            resp = httpx.get(f"{r.base}{path}", verify=tls_client(ca.cert_file), timeout=5)
            assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(f"{r.base}/metrics", timeout=10, **client).status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{r.port}/metrics", timeout=5)
        # a real Prometheus: one job with the right password, one with a wrong one
        prom_port = free_port()
        pw_file = tmp_path / "pw"
        pw_file.write_text(PASSWORD)
        bad_file = tmp_path / "bad"
        bad_file.write_text(PASSWORD + "-wrong")
        job = {"scheme": "https", "scrape_interval": "1s", "static_configs": [{"targets": [f"127.0.0.1:{r.port}"]}],
               "tls_config": {"ca_file": str(ca.cert_file)}}
        prom_cfg = tmp_path / "prometheus.yml"
        prom_cfg.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [
            {"job_name": "regslo", **job, "basic_auth": {"username": "prometheus", "password_file": str(pw_file)}},
            {"job_name": "regslo-wrong", **job,
             "basic_auth": {"username": "prometheus", "password_file": str(bad_file)}}]}))
        prom = subprocess.Popen([require("prometheus"), f"--config.file={prom_cfg}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(prom_port, 30)
            url = f"http://127.0.0.1:{prom_port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                t = targets(url)
                if t.get("regslo", {}).get("health") == "up" and t.get("regslo-wrong", {}).get("health") == "down":
                    break
                time.sleep(0.5)
            t = targets(url)
            assert t["regslo"]["health"] == "up", t["regslo"]
            assert t["regslo-wrong"]["health"] == "down" and "401" in t["regslo-wrong"]["lastError"], t["regslo-wrong"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                res = httpx.get(f"{url}/api/v1/query", params={"query": 'regslo_build_info{job="regslo"}'},
                                timeout=5).json()["data"]["result"]
                if res:
                    break
                time.sleep(0.5)
            assert res and res[0]["metric"]["version"]
        finally:
            prom.terminate()
            prom.wait(20)
    assert PASSWORD not in r.stderr_text and "Traceback" not in r.stderr_text, r.stderr_text[-3000:]


def test_client_certificates_and_min_version(tmp_path, pki):
    ca, server, client_cert = pki
    web = web_file(tmp_path, {"tls_server_config": {
        "cert_file": str(server.cert_file), "key_file": str(server.key_file), "min_version": "TLS13",
        "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(ca.cert_file)}})
    with_cert = tls_client(ca.cert_file, (client_cert.cert_file, client_cert.key_file))
    with regslo_run(write_config(tmp_path / "c.yml"), "--web.config.file", web, scheme="https",
                    client={"verify": with_cert}) as r:
        assert httpx.get(f"{r.base}/metrics", verify=with_cert, timeout=5).status_code == 200
        with pytest.raises(httpx.HTTPError):  # no client certificate
            httpx.get(f"{r.base}/metrics", verify=tls_client(ca.cert_file), timeout=5)
        old = tls_client(ca.cert_file, (client_cert.cert_file, client_cert.key_file))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.HTTPError):  # below min_version
            httpx.get(f"{r.base}/metrics", verify=old, timeout=5)
    assert "Traceback" not in r.stderr_text, r.stderr_text[-3000:]


BAD_FILES = [
    ({"tls_server_config": {"cert_file": "/nonexistent/tls.crt", "key_file": "KEY"}},
     "tls_server_config.cert_file: file not found: /nonexistent/tls.crt"),
    ({"tls_server_config": {"key_file": "KEY"}}, "tls_server_config.cert_file: is required in tls_server_config"),
    ({"tls_server_config": {"cert_file": "CERT", "key_file": "KEY", "min_version": "TLS14"}},
     "tls_server_config.min_version: must be one of TLS10, TLS11, TLS12, TLS13; got 'TLS14'"),
    ({"tls_server_config": {"cert_file": "CERT", "key_file": "KEY", "client_auth_type": "RequireAnyClientCert"}},
     "tls_server_config.client_auth_type: RequireAnyClientCert is not supported"),
    ({"tls_server_config": {"cert_file": "CERT", "key_file": "KEY",
                            "client_auth_type": "RequireAndVerifyClientCert"}},
     "tls_server_config.client_ca_file: is required with client_auth_type RequireAndVerifyClientCert"),
    ({"basic_auth_users": {"prometheus": "plain-text-password"}},
     "basic_auth_users.prometheus: must be a bcrypt hash"),
    ({"basic_auth_user": {"prometheus": "x"}}, "basic_auth_user: unknown key"),
    ({"tls_server_config": {"cert_file": "KEY", "key_file": "CERT"}},
     "tls_server_config.key_file: cannot load the certificate and key"),
]


def test_a_bad_web_config_file_exits_2_naming_the_key(tmp_path, pki):
    _, server, _ = pki
    cfg = write_config(tmp_path / "c.yml")
    for doc, expected in BAD_FILES:
        text = yaml.safe_dump(doc).replace("CERT", str(server.cert_file)).replace("KEY", str(server.key_file))
        web = tmp_path / "web.yml"
        web.write_text(text)
        res = subprocess.run([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.config.file", str(web),
                              "--web.listen-address", f"127.0.0.1:{free_port()}"], capture_output=True, text=True,
                             timeout=60, cwd=str(tmp_path))
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, (doc, res.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"error: {web}: {expected}"), (doc, res.stderr)


def test_webhook_token_stands_in_for_basic_auth_on_its_route_only(tmp_path):
    """A registry sends one Authorization header: with basic auth on, the webhook's bearer token is enough
    for POST /notifications/<registry>, and grants nothing else."""
    token = "webhook-token-0123456789abcdef"
    (tmp_path / "token").write_text(token)
    web = web_file(tmp_path, {"basic_auth_users": {"prometheus": bcrypt_hash("prometheus", PASSWORD)}})
    cfg = write_config(tmp_path / "c.yml", logs={"sources": [{"format": "notifications", "registry": "r1",
                                                              "token_file": str(tmp_path / "token")}]})
    with regslo_run(cfg, "--web.config.file", web, client={"auth": ("prometheus", PASSWORD)}) as r:
        hook = f"{r.base}/notifications/r1"
        body = b'{"events": []}'
        ct = "application/vnd.docker.distribution.events.v1+json"
        bearer = {"Content-Type": ct, "Authorization": f"Bearer {token}"}
        assert httpx.post(hook, content=body, headers=bearer, timeout=5).status_code == 200
        assert httpx.post(hook, content=body, headers={"Content-Type": ct, "Authorization": "Bearer wrong"},
                          timeout=5).status_code == 401
        # basic auth gets past the server, but the webhook still wants its token
        assert httpx.post(hook, content=body, headers={"Content-Type": ct}, auth=("prometheus", PASSWORD),
                          timeout=5).status_code == 401
        assert httpx.get(f"{r.base}/metrics", headers={"Authorization": f"Bearer {token}"},
                         timeout=5).status_code == 401
        assert httpx.get(f"{r.base}/metrics", auth=("prometheus", PASSWORD), timeout=5).status_code == 200
