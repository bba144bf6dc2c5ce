"""Auth failures from logs, protected-tag overwrites from notifications, the consistency verdict."""

import json

from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sources.consistency import judge
from regslo.sources.logs.formats import make_parser
from regslo.sources.logs.service import LogService
from tests.unit.logs.support import series

CT = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}


def test_auth_failures_exclude_the_anonymous_challenge_to_v2(samples):
    """The recorded htpasswd access log: curl and skopeo each get the normal 401 on GET /v2/ first."""
    from regslo.sli.log_metrics import LogMetrics

    reg = CollectorRegistry()
    metrics = LogMetrics(reg)
    sink = metrics.sink("r4", "access")
    parser = make_parser("combined")
    lines = (samples / "r4-htpasswd-access.stdout.log").read_text().splitlines()
    with metrics.lock:
        for line in lines:
            parser.feed(line, sink)
    metrics.publish()
    requests = series(reg, "regslo_registry_requests_total")
    failures = series(reg, "regslo_registry_auth_failures_total")
    challenges = sum(v for (code, op, _r), v in requests.items() if code == "401" and op == "ping")
    others = sum(v for (code, op, _r), v in requests.items() if code in ("401", "403") and op != "ping")
    assert challenges >= 4 and others >= 1  # the sample holds both kinds
    assert sum(failures.values()) == others
    assert failures[("pull", "r4")] == others
    assert failures[("ping", "r4")] == 0 and failures[("push", "r4")] == 0  # declared at zero


def test_403_on_ping_is_a_failure():
    from regslo.sli.log_metrics import LogMetrics

    reg = CollectorRegistry()
    metrics = LogMetrics(reg)
    sink = metrics.sink("r", "s")
    sink.request("ping", "403", 0, None)
    sink.request("ping", "401", 0, None)
    sink.request("push", "401", 0, "app")
    metrics.publish()
    failures = series(reg, "regslo_registry_auth_failures_total")
    assert failures[("ping", "r")] == 1 and failures[("push", "r")] == 1


def _service(tmp_path, extra=""):
    cfg = parse_config("registries: [{name: us, url: 'http://127.0.0.1:5000'}]\n"
                       "logs: [{format: notifications, registry: us}]\n" + extra, base_dir=tmp_path)
    reg = CollectorRegistry()
    svc = LogService(cfg.logs, reg, protected=cfg.immutable_tags)
    return svc, reg


def _push(samples, repo, tag, digest, n, actor="ci-bot"):
    doc = json.loads((samples / "notification_push_manifest.json").read_text())
    event = doc["events"][0]
    event["id"] = f"event-{n}"
    event["target"].update(repository=repo, tag=tag, digest=digest)
    event["actor"] = {"name": actor}
    return json.dumps(doc).encode()


def test_moving_a_protected_tag_is_counted_and_remembered_without_labels(tmp_path, samples):
    svc, reg = _service(tmp_path, 'immutable_tags: ["prod/**:v*", "base/*:latest"]\n')
    a, b, c = ("sha256:" + x * 64 for x in "abc")
    pushes = [("prod/team/app", "v1", a), ("prod/team/app", "v1", b),  # protected: moved
              ("prod/team/app", "latest", a), ("prod/team/app", "latest", b),  # not protected
              ("base/alpine", "latest", a), ("base/alpine", "latest", a),  # same digest again: no move
              ("base/alpine", "latest", c)]  # protected: moved
    for n, (repo, tag, digest) in enumerate(pushes):
        assert svc.handle_notification(_push(samples, repo, tag, digest, n), CT, "us")[0] == 200
    svc.commit()
    assert series(reg, "regslo_registry_tag_overwrites_total") == {("us",): 3}
    assert series(reg, "regslo_registry_protected_tag_overwrites_total") == {("us",): 2}
    recent = list(svc.metrics.recent_protected)
    assert [(r["repository"], r["tag"], r["old_digest"], r["new_digest"], r["actor"]) for r in recent] == [
        ("prod/team/app", "v1", a, b, "ci-bot"), ("base/alpine", "latest", a, c, "ci-bot")]
    assert recent[0]["time"].startswith("2026-")
    # repository, tag and digests never become label values
    for family in reg.collect():
        for sample in family.samples:
            assert "tag" not in sample.labels and "repository" not in sample.labels, sample
            assert not any(v.startswith("sha256:") for v in sample.labels.values()), sample


def test_without_immutable_tags_nothing_is_protected(tmp_path, samples):
    svc, reg = _service(tmp_path)
    for n, digest in enumerate(("sha256:" + "a" * 64, "sha256:" + "b" * 64)):
        svc.handle_notification(_push(samples, "prod/app", "v1", digest, n), CT, "us")
    svc.commit()
    assert series(reg, "regslo_registry_protected_tag_overwrites_total") == {("us",): 0}
    assert series(reg, "regslo_registry_tag_overwrites_total") == {("us",): 1}


def test_recent_protected_overwrites_are_bounded(tmp_path, samples):
    svc, reg = _service(tmp_path, 'immutable_tags: ["*:*"]\n')
    for n in range(60):
        svc.handle_notification(_push(samples, "app", "v1", f"sha256:{n:064x}", n), CT, "us")
    svc.commit()
    assert series(reg, "regslo_registry_protected_tag_overwrites_total") == {("us",): 59}
    assert len(svc.metrics.recent_protected) == 20


def test_consistency_verdict():
    d1, d2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    assert judge({"us": d1, "eu": d1}) == (True, 1)
    assert judge({"us": d1, "eu": d2}) == (False, 2)
    assert judge({"us": d1, "eu": None}) == (False, 1)  # missing in one region
    assert judge({"us": None, "eu": None}) == (True, 0)  # absent everywhere: regions agree


def test_token_request_counts_are_exposed_for_every_registry():
    from types import SimpleNamespace

    from regslo.sli.integrity import TokenRequests

    auth = SimpleNamespace(token_results={"ok": 3, "denied": 1, "error": 2})
    probers = {"us": SimpleNamespace(client=SimpleNamespace(auth=auth)),
               "eu": SimpleNamespace(client=SimpleNamespace(auth=None))}
    reg = CollectorRegistry()
    TokenRequests(probers, reg)
    got = series(reg, "regslo_auth_token_requests_total")
    assert got == {("us", "ok"): 3, ("us", "denied"): 1, ("us", "error"): 2,
                   ("eu", "ok"): 0, ("eu", "denied"): 0, ("eu", "error"): 0}


def test_batch_totals_count_auth_failures_like_single_requests():
    from regslo.sli.log_metrics import LogMetrics

    reg = CollectorRegistry()
    metrics = LogMetrics(reg)
    sink = metrics.sink("r", "s")
    sink.add({("pull", "403", "app"): 3, ("ping", "401", None): 5, ("push", "401", "app"): 2,
              ("pull", "200", "app"): 7}, {"pull": 100}, {}, {})
    metrics.publish()
    failures = series(reg, "regslo_registry_auth_failures_total")
    assert failures[("pull", "r")] == 3 and failures[("push", "r")] == 2 and failures[("ping", "r")] == 0


def test_status_page_lists_overwrites_and_consistency_escaped():
    from regslo.outputs.status import build_status, render_html
    from regslo.sli.recent import RecentResults

    config = parse_config("registries: [{name: us, url: 'http://127.0.0.1:5001'}, {name: eu, url: 'http://x:1'}]\n")
    status = build_status(config, RecentResults(config).snapshot(), [], now=1_800_000_000.0)
    bare = render_html(status)
    assert 'id="protected-overwrites"' not in bare and 'id="tag-consistency"' not in bare
    d1, d2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    status["protected_tag_overwrites"] = [{"registry": "us", "repository": "prod/app", "tag": "v1",
                                           "old_digest": d1, "new_digest": d2, "actor": "<script>x</script>",
                                           "time": "2026-11-27T08:31:58Z", "seen_at": 1.0, "seen": ""}]
    status["tag_consistency"] = [{"repository": "app/web", "tag": "latest", "consistent": False,
                                  "digests": {"us": d1, "eu": None}, "checked_at": 1_800_000_000.0,
                                  "inconsistent_since": 1_799_999_000.0}]
    html = render_html(status)
    assert 'id="protected-overwrites"' in html and "prod/app:v1" in html and d1 in html and d2 in html
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert 'data-repository="app/web" data-tag="latest" data-consistent="False"' in html
    assert "eu: absent" in html and f"us: {d1[:19]}" in html


def test_oversized_names_in_events_are_not_remembered(tmp_path, samples):
    """The tag memory holds 10,000 entries: with names of any length that is 10,000 x the envelope size.
    Names beyond the distribution spec's lengths are counted as events but not remembered or matched."""
    svc, reg = _service(tmp_path, 'immutable_tags: ["**:*a*a*a*a*a*a*"]\n')
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    long_tag, long_repo = "a" * 200_000 + "b", "x" * 300
    for n, (repo, tag, digest) in enumerate([("app", long_tag, a), ("app", long_tag, b), (long_repo, "v1", a),
                                             (long_repo, "v1", b), ("app", "aaaaaaa", a), ("app", "aaaaaaa", b)]):
        assert svc.handle_notification(_push(samples, repo, tag, digest, n), CT, "us")[0] == 200
    svc.commit()
    assert series(reg, "regslo_registry_protected_tag_overwrites_total") == {("us",): 1}  # only the short one
    events = series(reg, "regslo_registry_events_total")
    assert sum(v for labels, v in events.items() if "push" in labels) == 6  # counted all the same
    stored = svc.tags.dump()
    assert len(stored) == 1 and stored[0][1:3] == ["app", "aaaaaaa"]
