"""Issue 9 item 10: SIGHUP and ``POST /-/reload`` (only with ``--web.enable-lifecycle``) reload the config of
a running ``regslo run``: new registries and log sources start, removed ones disappear, counters,
checkpointed file positions and the tag memory carry over; an invalid config keeps the old one running and
sets ``regslo_config_last_reload_successful`` to 0. Before the fix SIGHUP killed the process (exit -1/129).
"""

import json
import subprocess
import sys
import signal
import time
from functools import partial

import httpx
import yaml

from tests.integration.server.support import CT, parse_samples, regslo_run, value
from tests.support.configs import registry_entry
from tests.support.registry import free_port
from tests.support.wait import poll

wait = partial(poll, timeout=20.0, interval=0.25)

TOKEN = "reload-test-token-0123456789"


def line(i: int) -> str:
    return f'10.0.0.1 - - [29/Nov/2026:10:00:{i % 60:02d} +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/8"\n'


def append(path, start: int, n: int) -> None:
    with open(path, "a") as f:
        f.writelines(line(start + i) for i in range(n))


def lines_read(samples: dict, source: str) -> float:
    return sum(v for (name, labels), v in samples.items()
               if name == "regslo_log_lines_total" and dict(labels)["source"] == source)


def runs(samples: dict, registry: str) -> float | None:
    return value(samples, "regslo_probe_runs_total", registry=registry, region=registry, probe="ping")


def push_event(i: int, digest: str) -> bytes:
    return json.dumps({"events": [{"id": f"push-{i}", "action": "push", "target": {
        "repository": "app", "tag": "latest", "digest": digest,
        "mediaType": "application/vnd.oci.image.manifest.v1+json"}}]}).encode()


def test_sighup_and_lifecycle_reload_keep_counters_positions_and_tag_memory(registry, tmp_path):
    log1, log2 = tmp_path / "one.log", tmp_path / "two.log"
    append(log1, 0, 10)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    state = tmp_path / "state"

    def config(extra_registry: str, sources: list[dict], bad: bool = False) -> None:
        doc = {"registries": [registry_entry(registry, region="r1"),
                              {"name": extra_registry, "url": f"http://127.0.0.1:{free_port()}"}],
               "probes": {"interval": "1s", "timeout": "1s", "enabled": ["ping"]},
               "logs": {"checkpoint_dir": str(state), "start_at": "beginning", "poll_interval": "0.1s",
                        "sources": [*sources, {"format": "notifications", "registry": "r1",
                                               "token_file": str(token_file)}]}}
        if bad:
            doc["probes"]["intervall"] = "5s"
        (tmp_path / "regslo.yml").write_text(yaml.safe_dump(doc))

    one = {"path": str(log1), "format": "combined", "registry": "r1"}
    two = {"path": str(log2), "format": "combined", "registry": "r1"}
    config("gone", [one])
    auth = {"Content-Type": CT, "Authorization": f"Bearer {TOKEN}"}
    with regslo_run(tmp_path / "regslo.yml", "--web.enable-lifecycle") as r:
        hook = f"{r.base}/notifications/r1"
        assert wait(lambda: lines_read(r.samples(), str(log1)) == 10 and (runs(r.samples(), "r1") or 0) >= 2)
        assert httpx.post(hook, content=push_event(1, "sha256:" + "a" * 64), headers=auth, timeout=5).status_code == 200
        before = r.samples()
        assert runs(before, "gone") is not None and runs(before, "new") is None

        # 1. SIGHUP: registry "gone" replaced by "new", a second log file
        append(log2, 0, 5)
        config("new", [one, two])
        r.proc.send_signal(signal.SIGHUP)
        assert wait(lambda: runs(r.samples(), "new") is not None), "the new registry never appeared"
        assert r.proc.poll() is None, "SIGHUP ended regslo"
        after = r.samples()
        assert value(after, "regslo_config_last_reload_successful") == 1
        assert runs(after, "gone") is None  # removed registry: its series are gone
        assert runs(after, "r1") >= runs(before, "r1")  # no counter reset
        assert wait(lambda: lines_read(r.samples(), str(log2)) == 5)
        append(log1, 10, 3)  # the first file resumes at its position: 13 lines in all, none twice
        assert wait(lambda: lines_read(r.samples(), str(log1)) == 13)
        time.sleep(0.5)
        assert lines_read(r.samples(), str(log1)) == 13
        # the tag memory survived: moving "latest" to another digest is an overwrite
        overwrites = value(r.samples(), "regslo_registry_tag_overwrites_total", registry="r1")
        assert httpx.post(hook, content=push_event(2, "sha256:" + "b" * 64), headers=auth, timeout=5).status_code == 200
        assert wait(lambda: value(r.samples(), "regslo_registry_tag_overwrites_total", registry="r1") == overwrites + 1)

        # 2. an invalid config: the running one stays, the failure is visible
        config("new", [one, two], bad=True)
        stamp = value(r.samples(), "regslo_config_last_reload_success_timestamp_seconds")
        r.proc.send_signal(signal.SIGHUP)
        assert wait(lambda: value(r.samples(), "regslo_config_last_reload_successful") == 0)
        assert r.proc.poll() is None
        n = runs(r.samples(), "r1")
        assert wait(lambda: runs(r.samples(), "r1") > n), "probes stopped after a failed reload"
        assert value(r.samples(), "regslo_config_last_reload_success_timestamp_seconds") == stamp

        # 3. POST /-/reload: 500 with the problem while the file is bad, 200 once it is fixed
        resp = httpx.post(f"{r.base}/-/reload", timeout=30)
        assert resp.status_code == 500 and "probes.intervall: unknown key" in resp.text
        config("new", [one, two])
        assert httpx.post(f"{r.base}/-/reload", timeout=30).status_code == 200
        assert value(r.samples(), "regslo_config_last_reload_successful") == 1
        assert value(r.samples(), "regslo_config_last_reload_success_timestamp_seconds") > stamp
    assert r.proc.returncode == 0, r.stderr_text[-2000:]
    assert "reload: probes.intervall: unknown key" in r.stderr_text
    assert "Traceback" not in r.stderr_text, r.stderr_text[-3000:]
    saved = json.loads((state / "logs-checkpoint.json").read_text())
    assert set(saved["sources"]) == {str(log1), str(log2)}  # both files, positions saved on the way out


def test_reload_endpoint_needs_the_lifecycle_flag(tmp_path):
    cfg = tmp_path / "regslo.yml"
    cfg.write_text(yaml.safe_dump({"registries": [{"name": "r1", "url": f"http://127.0.0.1:{free_port()}"}],
                                   "probes": {"interval": "60s", "timeout": "1s", "enabled": ["ping"]}}))
    with regslo_run(cfg) as r:
        assert httpx.post(f"{r.base}/-/reload", timeout=5).status_code in (404, 405)
        assert value(r.samples(), "regslo_config_last_reload_successful") == 1


def test_reloads_during_push_and_pull_rounds_lose_nothing_and_leave_no_images(registry, tmp_path):
    """Six SIGHUPs in quick succession, each changing the probe interval (so each stops the probe engine while
    push and pull probes are running and starts a new one): regslo stays up, answers /metrics throughout, the
    counters never go down, and once it has stopped no probe image is left in the registry."""
    cfg = tmp_path / "regslo.yml"

    def config(interval: str) -> None:
        cfg.write_text(yaml.safe_dump({"registries": [registry_entry(registry, region="r1")],
                                       "probes": {"interval": interval, "timeout": "1s", "blob_size": "64KiB",
                                                  "enabled": ["ping", "push", "pull"]}}))

    def counts() -> dict:
        s = r.samples()
        return {p: value(s, "regslo_probe_runs_total", registry="r1", region="r1", probe=p) or 0
                for p in ("ping", "push", "pull")}

    config("1s")
    with regslo_run(cfg) as r:
        assert wait(lambda: counts()["pull"] >= 2), "push/pull probes never ran"
        seen = [counts()]
        for i in range(6):
            config("1s" if i % 2 else "2s")
            r.proc.send_signal(signal.SIGHUP)
            time.sleep(0.4 + 0.15 * i)  # land in different phases of the running round
            seen.append(counts())
        assert wait(lambda: value(r.samples(), "regslo_config_last_reload_successful") == 1)
        last = seen[-1]["push"]
        assert wait(lambda: counts()["push"] > last), "push probes stopped after the reloads"
        seen.append(counts())
        assert r.proc.poll() is None
    for before, after in zip(seen, seen[1:]):
        assert all(after[p] >= before[p] for p in before), seen  # no counter reset, ever
    assert r.proc.returncode == 0, r.stderr_text[-2000:]
    assert "Traceback" not in r.stderr_text, r.stderr_text[-3000:]
    left = httpx.get(f"{registry.url}/v2/regslo/probe/tags/list", timeout=5)
    assert left.status_code == 404 or not (left.json().get("tags") or []), left.text


def test_sighup_during_start_up_is_a_reload_not_a_kill(tmp_path):
    """A SIGHUP that arrives while regslo is still reading its config and building its stages (a config
    management tool that reloads right after starting the unit) used to kill it (the default action, exit
    129). The signal is now taken before the config is read and answered with one reload once running.
    The signal is sent from inside the config load, so the timing is exact, not raced."""
    port = free_port()
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"registries": [{"name": "r1", "url": "http://127.0.0.1:9"}],
                                   "probes": {"interval": "1h", "timeout": "1s", "enabled": ["ping"]},
                                   "server": {"listen_address": f"127.0.0.1:{port}"}}))
    script = (
        "import os, signal, sys\n"
        "import regslo.commands.run as run\n"
        "load = run.load_or_exit\n"
        "def load_with_a_hup(path):\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    return load(path)\n"
        "run.load_or_exit = load_with_a_hup\n"
        "from regslo.cli import main\n"
        f"sys.argv = ['regslo', 'run', '-c', {str(cfg)!r}]\n"
        "sys.exit(main())\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        up = False
        while time.monotonic() < deadline and proc.poll() is None and not up:
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert up, f"regslo exited {proc.returncode} instead of serving"
        time.sleep(1.5)  # the reload is taken in the main loop's next turn (0.5 s)
        assert value(parse_samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text),
                     "regslo_config_last_reload_successful") == 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert err.count("received SIGHUP: reloading") == 1, err[-2000:]
