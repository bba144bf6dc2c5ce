"""Benchmark: ``regslo logs replay`` against mtail (the Debian package) on the same generated log file.

    python bench/logs/bench_tailer.py [--lines 300000] [--workdir DIR] [--repeat N]

Generates a distribution-json file (realistic field layout, mixed operations and codes, ~4% non-request
lines) and, in the same run, replays it with ``regslo logs replay`` and with ``mtail --one_shot`` running
each of two anchors:

- minimal.mtail: one regex per line, requests counted by method and status (the stricter anchor: mtail
  does the least work it can). regslo must report the same requests by status.
- registry.mtail: the full classification (requests by operation and code, bytes by operation); regslo
  must report identical numbers.

Prints lines/s (wall) and lines per CPU-second of each, both ratios (goal: regslo >= 3x the minimal
program) and peak RSS of the whole process tree (goal < 150 MB). Then replays a file in which every
request names a different repository: RSS must stay flat and the repository series at their bound.
Exit status 1 if counts differ or a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

TOP_K = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (0 once it has exited)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                stack += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run(cmd: list[str], stdout_path: Path) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall seconds, CPU seconds (user+system, with its children), peak RSS in MB of
    the process tree, sampled every 20 ms and never below the kernel's own peak from wait4)."""
    peak = [0]
    with open(stdout_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit status {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, max(peak[0], usage.ru_maxrss) / 1024


def counts(text: str) -> tuple[dict, dict, int]:
    requests, nbytes, repo_series = {}, {}, 0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "regslo_minimal_requests_total":  # minimal.mtail: by method and code
                key = (s.labels["method"], s.labels["code"])
                requests[key] = requests.get(key, 0) + int(s.value)
            elif s.name == "regslo_registry_requests_total":
                key = (s.labels["operation"], s.labels["code"])
                requests[key] = requests.get(key, 0) + int(s.value)
            elif s.name == "regslo_registry_response_bytes_total":
                nbytes[s.labels["operation"]] = nbytes.get(s.labels["operation"], 0) + int(s.value)
            elif s.name == "regslo_registry_repository_requests_total":
                repo_series += 1
    return requests, nbytes, repo_series


def replay_cmd(path: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "regslo", "logs", "replay", "--format", "distribution-json", "--registry", "bench",
            "--top-k", str(TOP_K), "--jobs", str(jobs), str(path)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs of each; the best counts")
    parser.add_argument("--jobs", type=int, default=1,
                        help="regslo replay processes (default 1: one process against mtail's one)")
    args = parser.parse_args()
    mtail = shutil.which("mtail")
    if not mtail:
        print("mtail is not installed (apt-get install mtail)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="regslo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "registry.json.log"
    t = time.perf_counter()
    gen.write(log, args.lines)
    print(f"generated {args.lines} lines ({log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s: {log}")

    anchors = {}
    for program in ("minimal.mtail", "registry.mtail"):
        progs = workdir / f"progs-{program.split('.')[0]}"
        progs.mkdir(exist_ok=True)
        shutil.copy(HERE / program, progs / program)
        anchors[program] = progs
    runs: dict[str, list] = {"minimal.mtail": [], "registry.mtail": [], "regslo": []}
    for _ in range(args.repeat):  # alternate, keep the best of each: the machine may be shared
        for program, progs in anchors.items():
            runs[program].append(run([mtail, "--progs", str(progs), "--logs", str(log), "--one_shot",
                                      "--one_shot_format", "prometheus", "--address", "127.0.0.1",
                                      "--port", str(free_port()), "--logtostderr"], workdir / f"{program}.prom"))
        runs["regslo"].append(run(replay_cmd(log, args.jobs), workdir / "regslo.prom"))
    best = {name: (min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs)) for name, rs in runs.items()}
    print(f"load average after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall times of all runs: "
          + ", ".join(f"{name} {[round(r[0], 2) for r in rs]}" for name, rs in runs.items()))
    r_req, r_bytes, r_series = counts((workdir / "regslo.prom").read_text())
    f_req, f_bytes, _ = counts((workdir / "registry.mtail.prom").read_text())
    m_req, _, _ = counts((workdir / "minimal.mtail.prom").read_text())
    by_code = lambda req: {c: sum(n for (_k, code), n in req.items() if code == c) for _k, c in req}  # noqa: E731
    same_full = f_req == r_req and f_bytes == r_bytes and sum(r_req.values()) > 0
    same_minimal = by_code(m_req) == by_code(r_req) and sum(m_req.values()) > 0
    print(f"requests counted: regslo {sum(r_req.values())}, registry.mtail {sum(f_req.values())}, "
          f"minimal.mtail {sum(m_req.values())}")
    print(f"  vs registry.mtail by operation and code, bytes by operation: {'IDENTICAL' if same_full else 'DIFFERENT'}")
    print(f"  vs minimal.mtail by status: {'IDENTICAL' if same_minimal else 'DIFFERENT'}")
    rates = {}
    for name, (wall, cpu, rss) in best.items():
        rates[name] = (args.lines / wall, args.lines / cpu)
        extra = f" (--jobs {args.jobs})" if name == "regslo" else ""
        print(f"{name:15s} {wall:6.2f}s wall {rates[name][0]:9.0f} lines/s | {cpu:6.2f}s CPU "
              f"{rates[name][1]:9.0f} lines/CPU-s | RSS {rss:6.1f} MB{extra}")
    ratios = {}
    for anchor in ("minimal.mtail", "registry.mtail"):
        ratios[anchor] = (rates["regslo"][0] / rates[anchor][0], rates["regslo"][1] / rates[anchor][1])
        goal = " (goal >= 3x)" if anchor == "minimal.mtail" else ""
        print(f"ratio regslo/{anchor}: {ratios[anchor][0]:.2f}x by wall clock, {ratios[anchor][1]:.2f}x by CPU time{goal}")
    r_rss = best["regslo"][2]
    same = same_full and same_minimal

    distinct = workdir / "distinct-repos.json.log"
    gen.write(distinct, args.lines, distinct_repos=True)
    d_time, _d_cpu, d_rss = run(replay_cmd(distinct, args.jobs), workdir / "distinct.prom")
    _req, _bytes, d_series = counts((workdir / "distinct.prom").read_text())
    bound = (TOP_K + 1) * 5 * 6  # repositories (+ __other__) x operations with a repository x response classes
    print(f"{args.lines} distinct repositories: {d_time:.2f}s {args.lines / d_time:.0f} lines/s  RSS {d_rss:.1f} MB  "
          f"repository series {d_series} (bound {bound}); same-file run had {r_series}")
    ok = same and max(ratios["minimal.mtail"]) >= 3 and max(r_rss, d_rss) < 150 and d_series <= bound
    print("goals met" if ok else "GOALS MISSED")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
