"""The inspect: config section, the kind table, the artifact tests and the bounded, non-blocking intake."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

from regslo.config import ConfigError, parse_config
from regslo.sources.inspect.inspector import Inspector
from regslo.sources.inspect.kinds import descriptor_kind, is_artifact_tag, kind_of, manifest_is_artifact
from tests.unit.logs.support import series, total

BASE = """
registries: [{name: r1, url: 'http://127.0.0.1:5000'}, {name: r2, url: 'http://127.0.0.1:5001'}]
logs: [{format: notifications, registry: r1}]
"""


def test_defaults_and_globs():
    cfg = parse_config(BASE + "inspect: {repositories: ['prod/**', 'base/*', 'x?z']}")
    ins = cfg.inspect
    assert (ins.delay, ins.max_per_minute, ins.queue_size, ins.registries) == (600.0, 60, 10_000, ("r1",))
    assert ins.selects("prod/a") and ins.selects("prod/a/b/c") and ins.selects("base/img")
    assert not ins.selects("prod") and not ins.selects("production/a") and not ins.selects("base/a/b")
    assert ins.selects("xyz") and not ins.selects("x/z") and not ins.selects("staging/prod/a")


@pytest.mark.parametrize("section, key", [
    ("{repositories: []}", "inspect.repositories"),
    ("{delay: 1m}", "inspect.repositories"),
    ("{repositories: ['Prod/**']}", "inspect.repositories[0]"),
    ("{repositories: ['prod/a**']}", "inspect.repositories[0]"),  # '**' only as a whole segment, as in immutable_tags
    ("{repositories: [a], delay: 2d}", "inspect.delay"),
    ("{repositories: [a], max_per_minute: 0}", "inspect.max_per_minute"),
    ("{repositories: [a], queue_size: -1}", "inspect.queue_size"),
    ("{repositories: [a], queue_size: 200001}", "inspect.queue_size"),  # ~850 B a push: bounded memory
    ("{repositories: [a], registries: [nope]}", "inspect.registries[0]"),
    ("{repositories: [a], speed: 3}", "inspect.speed"),
])
def test_bad_config_names_the_key(section, key):
    with pytest.raises(ConfigError) as exc:
        parse_config(BASE + f"inspect: {section}")
    assert any(p.startswith(key + ":") for p in exc.value.problems), exc.value.problems


def test_registry_without_notifications_is_a_warning():
    cfg = parse_config(BASE + "inspect: {repositories: [a], registries: [r2]}")
    assert any("r2" in w and "notifications" in w for w in cfg.warnings)


def test_kind_table():
    assert kind_of("application/vnd.dev.cosign.simplesigning.v1+json") == "signature"
    assert kind_of("application/vnd.cncf.notary.signature") == "signature"
    assert kind_of("application/vnd.CycloneDX+json") == "sbom"
    assert kind_of("application/vnd.security.vulnerability.report; version=1.1") == "vulnerability_report"
    assert kind_of("application/vnd.dsse.envelope.v1+json", {"predicateType": "https://slsa.dev/provenance/v1"}) == "provenance"
    assert kind_of("application/vnd.in-toto+json", {"in-toto.io/predicate-type": "https://spdx.dev/Document"}) == "sbom"
    assert kind_of("application/vnd.dev.sigstore.bundle.v0.3+json",
                   {"dev.sigstore.bundle.predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1"}) == "vulnerability_report"
    assert kind_of("application/vnd.dev.sigstore.bundle.v0.3+json") == "signature"
    assert kind_of("application/x-unknown") == "other"
    assert descriptor_kind({"artifactType": "application/spdx+json"}) == "sbom"
    assert descriptor_kind({"mediaType": "application/vnd.oci.image.manifest.v1+json"}) == "other"


def test_artifact_tags_and_manifests():
    hexd = "a" * 64
    assert is_artifact_tag(f"sha256-{hexd}") and is_artifact_tag(f"sha256-{hexd}.sig")
    assert is_artifact_tag(f"sha256-{hexd}.att") and is_artifact_tag(f"sha256-{hexd}.sbom")
    assert not is_artifact_tag("v1") and not is_artifact_tag("sha256-abc") and not is_artifact_tag(None)
    image = {"config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}]}
    assert not manifest_is_artifact(image)
    assert manifest_is_artifact({**image, "subject": {"digest": "sha256:" + hexd}})
    assert manifest_is_artifact({**image, "artifactType": "application/spdx+json"})
    assert manifest_is_artifact({**image, "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json"}]})
    assert manifest_is_artifact({**image, "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json"}})


def test_intake_is_bounded_counts_overflow_and_never_blocks():
    cfg = parse_config(BASE + "inspect: {repositories: ['prod/**'], queue_size: 100}")
    reg = CollectorRegistry()
    ins = Inspector(cfg, reg)  # not started: nothing leaves the queue
    t = time.perf_counter()
    queued = sum(ins.submit("r1", "prod/app", f"v{i}", f"sha256:{i:064x}") for i in range(150))
    elapsed = time.perf_counter() - t
    assert queued == 100 and series(reg, "regslo_inspect_dropped_total") == {("r1",): 50}
    assert total(reg, "regslo_inspect_queue_length") == 100
    assert elapsed < 1.0  # 150 submits; each is O(1) without I/O
    assert not ins.submit("r1", "staging/app", "v1", "sha256:" + "1" * 64)
    assert not ins.submit("r1", "prod/app", None, "sha256:" + "2" * 64)
    assert not ins.submit("r1", "prod/app", "sha256-" + "3" * 64 + ".sig", "sha256:" + "4" * 64)
    assert not ins.submit("r2", "prod/app", "v1", "sha256:" + "5" * 64)  # not an inspected registry
    skipped = {r: v for (r, _reg), v in series(reg, "regslo_inspect_skipped_total").items()}
    assert skipped == {"not_selected": 1, "untagged": 1, "artifact": 1, "duplicate": 0, "invalid": 0}
    # every kind exists at zero from the start, so ratios are 0 rather than empty
    assert len(series(reg, "regslo_pushed_images_with_artifact_total")) == 5


COVERAGE = BASE + """
inspect: {repositories: ['prod/**']}
slos:
  - name: prod-signed
    sli: {kind: coverage, artifact: signature, registry: r1}
    objective: 99
    period: 30d
"""


def test_coverage_slo_counts_inspected_images_with_the_artifact():
    from regslo.slo.sli import event_query

    cfg = parse_config(COVERAGE)
    slo = cfg.slos[0]
    assert (slo.sli.kind, slo.sli.source, slo.sli.artifact, slo.no_data_after) == ("coverage", "inspect", "signature",
                                                                                   3 * 86400.0)
    q = event_query(slo.sli)
    assert q.valid.promql() == 'regslo_pushed_images_inspected_total{registry="r1"}'
    assert q.good.promql() == 'regslo_pushed_images_with_artifact_total{registry="r1",kind="signature"}'
    assert slo.runbook_url.endswith("/inspect-coverage.md")


@pytest.mark.parametrize("edit, key", [
    (("artifact: signature", "artifact: tattoo"), "slos[0].sli.artifact"),
    (("artifact: signature, ", ""), "slos[0].sli.artifact"),
    (("signature, registry: r1", "signature, registry: r2"), "slos[0].sli.registry"),
    (("signature, registry: r1", "signature, registry: r1, threshold: 1s"), "slos[0].sli.threshold"),
    (("inspect: {repositories: ['prod/**']}\n", ""), "slos[0].sli"),
])
def test_bad_coverage_slo_names_the_key(edit, key):
    with pytest.raises(ConfigError) as exc:
        parse_config(COVERAGE.replace(*edit))
    assert any(p.startswith(key + ":") for p in exc.value.problems), exc.value.problems


def test_a_notifications_file_feeds_the_inspector_too(tmp_path, samples):
    from regslo.sources.logs.service import LogService

    doc = (samples / "notification_push_manifest.json").read_text()
    (tmp_path / "events.jsonl").write_text("")
    cfg = parse_config(f"""
registries: [{{name: r1, url: 'http://127.0.0.1:5000'}}]
logs:
  start_at: beginning
  sources: [{{path: {tmp_path}/events.jsonl, format: notifications, registry: r1}}]
""")
    service = LogService(cfg.logs, CollectorRegistry())
    got = []
    service.subscribe(lambda *event: got.append(event))
    service.poll_once()
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write(" ".join(doc.split()) + "\n")
    service.poll_once()
    import json
    pushes = [e for e in json.loads(doc)["events"] if e["action"] == "push" and "manifest" in e["target"]["mediaType"]]
    assert len(got) == len(pushes) >= 1
    registry, repo, tag, digest, media = got[0]
    assert (registry, repo, digest) == ("r1", pushes[0]["target"]["repository"], pushes[0]["target"]["digest"])


@pytest.mark.parametrize("repository, digest", [
    ("prod/../admin/secret", "sha256:" + "a" * 64),  # matches prod/**; httpx would resolve it to admin/secret
    ("prod/./app", "sha256:" + "a" * 64),
    ("prod/app/", "sha256:" + "a" * 64),
    ("prod//app", "sha256:" + "a" * 64),
    ("prod/App", "sha256:" + "a" * 64),
    ("prod/app?x=1", "sha256:" + "a" * 64),
    ("prod/app%2f..", "sha256:" + "a" * 64),
    ("prod/app\n", "sha256:" + "a" * 64),
    ("prod/" + "a" * 251, "sha256:" + "a" * 64),  # 256 characters: over the spec's 255
    ("prod/app", "sha256:" + "a" * 63),
    ("prod/app", "sha256:" + "A" * 64),
    ("prod/app", "sha256:../../admin/secret/manifests/latest"),
    ("prod/app", "md5:" + "a" * 32),
])
def test_crafted_names_and_digests_are_never_queued(repository, digest):
    cfg = parse_config(BASE + "inspect: {repositories: ['prod/**']}")
    reg = CollectorRegistry()
    ins = Inspector(cfg, reg)
    assert not ins.submit("r1", repository, "v1", digest)
    assert total(reg, "regslo_inspect_queue_length") == 0
    skipped = {r: v for (r, _reg), v in series(reg, "regslo_inspect_skipped_total").items() if v}
    assert skipped == {"invalid": 1}


def test_valid_names_are_queued():
    cfg = parse_config(BASE + "inspect: {repositories: ['prod/**']}")
    ins = Inspector(cfg, CollectorRegistry())
    for i, name in enumerate(["prod/app", "prod/a.b_c__d--e/f9", "prod/" + "a" * 250]):
        assert ins.submit("r1", name, "v1", f"sha256:{i:064x}"), name


def test_the_documented_kind_table_is_the_code_table():
    """docs/supply-chain.md's "Artifact kinds" table and kinds.py agree both ways (a type added to one only
    would silently count as ``other`` or be undocumented)."""
    import re
    from pathlib import Path

    from regslo.sources.inspect.kinds import KINDS, MEDIA_TYPE_KINDS, PREDICATE_KINDS

    doc = (Path(__file__).resolve().parents[3] / "docs" / "supply-chain.md").read_text()
    table = doc[doc.index("## Artifact kinds"):]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in KINDS:
            rows[cells[0]] = cells
    assert set(rows) == set(KINDS)
    media, predicates = {}, {}
    for kind, (_k, types, preds) in rows.items():
        for t in re.findall(r"`([^`]+)`", types):
            if "/" in t:
                media[t] = kind
        for p in re.findall(r"`([^`]+)`", preds):
            predicates[p.lower()] = kind
    assert media == MEDIA_TYPE_KINDS
    assert predicates == {p.lower(): k for p, k in PREDICATE_KINDS}
    for t, kind in media.items():
        assert kind_of(t) == kind and kind_of(t.upper() + "; v=1") == kind
    for p, kind in predicates.items():
        assert kind_of("application/vnd.dsse.envelope.v1+json", {"predicateType": p + "v9"}) == kind
    for unknown in ("application/x-unknown", "", None, 42, "application/vnd.oci.image.manifest.v1+json"):
        assert kind_of(unknown) == "other"
    assert kind_of("application/spdx+json", {"predicateType": "https://example.com/custom/v1"}) == "other"
