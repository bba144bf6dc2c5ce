"""Garbage collection of a real registry, tailed live: the GC metrics equal what ``garbage-collect`` printed,
run after run in one file, including a failed run (no root needed, unlike the F3 test)."""

from __future__ import annotations

import re
import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from regslo.config import Registry
from regslo.config.logs import LogSource, LogsConfig
from regslo.oci.client import RegistryClient
from regslo.sources.logs.service import LogService
from regslo.sources.probes.image import build_image
from tests.support.registry import REGISTRY_BIN

SUMMARY = re.compile(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion")


def push(client: RegistryClient, repo: str, tag: str) -> str:
    image = build_image("gc", 4096)
    client.push_blob(repo, image.layer, digest=image.layer_digest)
    client.push_blob(repo, image.config, digest=image.config_digest)
    client.put_manifest(repo, tag, image.manifest)
    return image.manifest_digest


def value(text: str, series: str) -> float:
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert m, series
    return float(m.group(1))


def test_live_gc_runs_match_their_output(registry, tmp_path):
    log = tmp_path / "gc.log"
    log.touch()
    prom = CollectorRegistry()
    service = LogService(LogsConfig(sources=(LogSource(format="distribution-gc", registry="r1", path=str(log)),),
                                    start_at="beginning", registries=("r1",)), prom)
    runs = []
    with RegistryClient(Registry(name="r1", url=registry.url, region="r1")) as client:
        for round_ in range(2):
            for i in range(3):
                digest = push(client, f"team/app{i}", f"v{round_}")
                if i:  # delete two of the three images: their blobs become garbage
                    client.delete_manifest(f"team/app{i}", digest)
            registry.stop()
            with open(log, "ab") as out:
                runs.append(subprocess.run([REGISTRY_BIN, "garbage-collect", "--delete-untagged",
                                            str(registry.config_path)], stdout=out, stderr=subprocess.STDOUT,
                                           timeout=120).returncode)
            registry.start()
    with open(log, "ab") as out:  # a failing run: a config file that does not exist
        runs.append(subprocess.run([REGISTRY_BIN, "garbage-collect", str(tmp_path / "missing.yml")], stdout=out,
                                   stderr=subprocess.STDOUT, timeout=60).returncode)
    with open(log, "ab") as out:
        out.write(b"\n")  # the `echo` of the documented cron line: the failure message has no newline
    assert runs == [0, 0, 1]
    service.poll_once()
    service.commit()
    text = generate_latest(prom).decode()
    printed = log.read_text()
    summaries = SUMMARY.findall(printed)
    assert len(summaries) == 2 and all(int(blobs) > 0 for _m, blobs, _k in summaries)
    assert value(text, 'regslo_gc_runs_total{registry="r1",result="success"}') == 2
    assert value(text, 'regslo_gc_runs_total{registry="r1",result="failure"}') == 1
    assert value(text, 'regslo_gc_blobs_deleted_total{registry="r1"}') == sum(int(b) for _m, b, _k in summaries) \
        == printed.count("Deleting blob: ")
    assert value(text, 'regslo_gc_manifests_deleted_total{registry="r1"}') == sum(int(k) for _m, _b, k in summaries)
    assert value(text, f'regslo_log_lines_total{{outcome="malformed",source="{log}"}}') == 0
    assert value(text, 'regslo_gc_last_success_timestamp_seconds{registry="r1"}') > 0
    service.stop()
