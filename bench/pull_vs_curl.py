"""Pull a 256 MiB blob from a local docker-registry with regslo's client (sha256 verified as it streams)
and with curl, alternating, in the same run. Prints the medians and the ratio regslo / curl (goal <= 1.10).

    python bench/pull_vs_curl.py [--size-mib 256] [--runs 5]

Two anchors are printed: `curl -o /dev/null` (transfer only) and `curl | sha256sum` (transfer plus the
same digest check regslo does). The ratio that counts is against plain curl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regslo.config import Registry  # noqa: E402
from regslo.oci.client import RegistryClient, sha256_digest  # noqa: E402
from tests.support.registry import start_registry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reg = start_registry(Path(tmp), "bench")
        try:
            data = os.urandom(args.size_mib * 1024 * 1024)
            digest = sha256_digest(data)
            client = RegistryClient(Registry("bench", reg.url, "local"), timeout=120)
            client.push_blob("bench/blob", data, digest=digest)
            del data
            url = f"{reg.url}/v2/bench/blob/blobs/{digest}"
            ours, curl, curl_sha = [], [], []
            size = args.size_mib * 1024 * 1024  # the size a manifest would give
            client.get_blob("bench/blob", digest, size=size)  # warm the page cache and the connection
            for _ in range(args.runs):
                t0 = time.perf_counter()
                assert client.get_blob("bench/blob", digest, size=size) == size
                ours.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                subprocess.run(["curl", "-sSf", "-o", "/dev/null", url], check=True)
                curl.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                out = subprocess.run(f"curl -sSf {url} | sha256sum", shell=True, check=True, capture_output=True,
                                     text=True).stdout
                curl_sha.append(time.perf_counter() - t0)
                assert out.split()[0] == digest[7:]
            client.close()
        finally:
            reg.stop()
    m_ours, m_curl, m_sha = (statistics.median(x) for x in (ours, curl, curl_sha))
    mib = args.size_mib
    print(f"blob: {mib} MiB, {args.runs} runs each, medians")
    print(f"regslo get_blob (sha256 verified): {m_ours:.3f} s  {mib / m_ours:7.1f} MiB/s")
    print(f"curl -o /dev/null:                 {m_curl:.3f} s  {mib / m_curl:7.1f} MiB/s")
    print(f"curl | sha256sum:                  {m_sha:.3f} s  {mib / m_sha:7.1f} MiB/s")
    print(f"ratio regslo/curl: {m_ours / m_curl:.2f}x (goal <= 1.10x)   regslo/(curl|sha256sum): {m_ours / m_sha:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
