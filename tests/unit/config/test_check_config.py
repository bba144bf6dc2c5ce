"""check-config: every broken config exits 2 with one line per problem naming the key, no traceback."""

import subprocess
import sys
import textwrap

import pytest

GOOD = """
registries:
  - {name: us, url: "http://127.0.0.1:5001", region: us-east}
  - {name: eu, url: "http://127.0.0.1:5002", region: eu-west}
probes: {interval: 30s, timeout: 20s, repository: regslo/probe, blob_size: 1MiB}
replication:
  - {source: us, destination: eu, timeout: 120s, poll_interval: 1s}
server: {listen_address: ":9745"}
"""

BROKEN = [
    ("registries: []", "registries: must name at least one registry"),
    ("probes: {}", "registries: is required"),
    ("registries:\n  - {name: us, url: 'ftp://x'}", "registries[0].url: must be an http:// or https:// URL"),
    ("registries:\n  - {name: us, url: 'http://a'}\n  - {name: us, url: 'http://b'}",
     "registries[1].name: duplicate name 'us' (also registries[0])"),
    ("registries:\n  - {url: 'http://a'}", "registries[0].name: is required"),
    ("registries:\n  - {name: us, url: 'http://a', colour: red}", "registries[0].colour: unknown key"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobes: {interval: 10s, timeout: 20s}",
     "probes.timeout: must not exceed probes.interval"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobes: {interval: soon}", "probes.interval: expected a duration"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobes: {blob_size: 1 tonne}", "probes.blob_size: expected a size"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobes: {repository: 'Has Spaces'}", "probes.repository: not a valid"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobes: {enabled: [ping, fly]}", "probes.enabled[1]: unknown probe"),
    ("registries:\n  - {name: us, url: 'http://a'}\nreplication:\n  - {source: us, destination: mars}",
     "replication[0].destination: unknown registry 'mars'"),
    ("registries:\n  - {name: us, url: 'http://a'}\nreplication:\n  - {source: us, destination: us}",
     "replication[0].destination: must differ from source"),
    ("registries:\n  - {name: us, url: 'http://a', auth: {username: probe, password_env: REGSLO_TEST_UNSET_VAR}}",
     "registries[0].auth.password_env: environment variable REGSLO_TEST_UNSET_VAR is not set"),
    ("registries:\n  - {name: us, url: 'http://a', auth: {username: probe, password: a, password_env: B}}",
     "registries[0].auth.password: give only one of password, password_env"),
    ("registries:\n  - {name: us, url: 'http://a', auth: {password: a}}", "registries[0].auth.username: is required"),
    ("registries:\n  - {name: us, url: 'http://a', tls: {ca_file: /nonexistent/ca.pem}}",
     "registries[0].tls.ca_file: file not found"),
    ("registries:\n  - {name: us, url: 'http://a'}\nserver: {listen_address: 'nope'}",
     "server.listen_address: must be HOST:PORT"),
    ("registries: [\n", "invalid YAML at line"),
    ("registries:\n  - {name: us, url: 'http://a'}\nprobez: {}", "probez: unknown key"),
]


def check(tmp_path, text):
    path = tmp_path / "regslo.yml"
    path.write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_good_config_passes(tmp_path):
    res = check(tmp_path, GOOD)
    assert res.returncode == 0, res.stderr
    assert "ok (2 registries, 1 replication pairs" in res.stdout


@pytest.mark.parametrize("text,expected", BROKEN, ids=[b[1][:40] for b in BROKEN])
def test_broken_config_names_the_key(tmp_path, text, expected):
    res = check(tmp_path, text)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert any(expected in line for line in lines), lines
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), lines


def test_secret_never_echoed(tmp_path):
    res = check(tmp_path, "registries:\n  - {name: us, url: 'http://a', auth: {username: u, password: hunter2, "
                          "password_env: X}}")
    assert res.returncode == 2 and "hunter2" not in res.stderr + res.stdout


def test_missing_file(tmp_path):
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(tmp_path / "none.yml")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "cannot read config" in res.stderr and "Traceback" not in res.stderr


def test_password_sources(tmp_path, monkeypatch):
    from regslo.config import load_config
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("REGSLO_TEST_PW", "from-env")
    path = tmp_path / "c.yml"
    path.write_text(
        "registries:\n"
        "  - {name: a, url: 'http://a', auth: {username: u, password: literal}}\n"
        "  - {name: b, url: 'http://b', auth: {username: u, password_env: REGSLO_TEST_PW}}\n"
        "  - {name: c, url: 'http://c', auth: {username: u, password_file: pw}}\n")
    cfg = load_config(path)
    assert [r.auth.password.reveal() for r in cfg.registries] == ["literal", "from-env", "from-file"]
    assert "from-env" not in repr(cfg) and "literal" not in repr(cfg) and "from-file" not in repr(cfg)
