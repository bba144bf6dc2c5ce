import subprocess
import sys

from regslo.cli import main


def test_replay_prints_exposition(samples, capsys):
    assert main(["logs", "replay", "-f", "combined", "-r", "r4", str(samples / "r4-htpasswd-access.stdout.log")]) == 0
    out = capsys.readouterr().out
    assert 'regslo_registry_requests_total{code="401",operation="ping",registry="r4"} 5.0' in out
    assert "# TYPE regslo_registry_request_duration_seconds histogram" in out


def test_replay_reads_stdin(samples):
    data = (samples / "r2-text-mixed.log").read_bytes()
    res = subprocess.run([sys.executable, "-m", "regslo", "logs", "replay", "-f", "distribution", "-r", "r2", "-"],
                         input=data, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert b'regslo_log_lines_total{outcome="malformed",source="-"} 0.0' in res.stdout


def test_replay_errors_are_clear(tmp_path, capsys):
    assert main(["logs", "replay", "-f", "combined", "-r", "r1", str(tmp_path / "missing.log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.log: cannot read: No such file" in err
    assert main(["logs", "replay", "-f", "combined", "-r", "bad name!", str(tmp_path)]) == 2
    assert "--registry: must be" in capsys.readouterr().err
    assert main(["logs", "replay", "-f", "combined", "-r", "r1", "--log-format", "$status", str(tmp_path)]) == 2
    assert "--log-format: only applies to --format nginx" in capsys.readouterr().err
    assert main(["logs", "replay", "-f", "nginx", "-r", "r1", "--log-format", "$remote_addr", str(tmp_path)]) == 2
    assert "must contain $status" in capsys.readouterr().err
    assert main(["logs", "replay", "-f", "combined", "-r", "r1", str(tmp_path)]) == 2  # a directory
    assert "cannot read" in capsys.readouterr().err


def test_parallel_replay_equals_sequential(tmp_path, monkeypatch, samples):
    from prometheus_client import generate_latest

    from regslo.sources.logs import replay as replay_module
    big = tmp_path / "big.log"
    lines = (samples / "r1-json-mixed.log").read_bytes()
    big.write_bytes(lines * 40 + b"x" * 300 + b"\n" + b"tail without newline")
    monkeypatch.setattr(replay_module, "PARALLEL_MIN_BYTES", 1)

    def exposition(jobs, top_k):
        text = generate_latest(replay_module.replay([str(big)], "distribution", "r1", jobs=jobs, top_k=top_k,
                                                    max_line_bytes=256)).decode()
        return sorted(line for line in text.splitlines() if "last_line_timestamp" not in line)

    assert exposition(3, 100) == exposition(1, 100)
    parallel = exposition(3, 1)  # re-limited after the merge: one repository plus __other__
    repos = {line.split('repository="')[1].split('"')[0] for line in parallel if 'repository="' in line}
    assert len(repos) == 2 and "__other__" in repos
