import json
import time

import pytest
from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sources.logs.service import LogService
from tests.unit.logs.support import series

CT = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}


@pytest.fixture
def service(tmp_path):
    cfg = parse_config("""
registries: [{name: us, url: 'http://127.0.0.1:5000'}, {name: eu, url: 'http://127.0.0.1:5001'}]
logs: [{format: notifications, registry: us}]
""", base_dir=tmp_path)
    reg = CollectorRegistry()
    svc = LogService(cfg.logs, reg)
    svc.registry = reg
    return svc


def envelope(samples, name="notification_push_manifest.json", **changes) -> dict:
    doc = json.loads((samples / name).read_text())
    doc["events"][0].update(changes)
    return doc


def events(svc) -> dict:
    svc.commit()
    return {a: v for (a, _r), v in series(svc.registry, "regslo_registry_events_total").items()}


def test_webhook_counts_and_dedupes(service, samples):
    body = json.dumps(envelope(samples)).encode()
    assert service.handle_notification(body, CT, "us") == (200, b"ok\n")
    assert service.handle_notification(body, CT, "us")[0] == 200  # a retry: answered, not counted again
    pull = json.dumps(envelope(samples, "notification_pull_manifest.json")).encode()
    assert service.handle_notification(pull, {"content-type": "application/json"}, "us")[0] == 200
    assert events(service) == {"push": 1, "pull": 1}


def test_webhook_rejections(service, samples):
    body = json.dumps(envelope(samples)).encode()
    assert service.handle_notification(body, CT, "eu")[0] == 404  # no notifications source for eu
    assert service.handle_notification(body, CT, "../etc")[0] == 404
    assert service.handle_notification(body, {"Content-Type": "text/plain"}, "us")[0] == 415
    assert service.handle_notification(b"{nope", CT, "us")[0] == 400
    assert service.handle_notification(b'{"no": "events"}', CT, "us")[0] == 400
    assert service.handle_notification(b" " * (5 * 1024 * 1024), CT, "us")[0] == 413
    assert events(service) == {}
    lines = {o: v for (o, _s), v in series(service.registry, "regslo_log_lines_total").items()}
    assert lines["malformed"] == 1 and lines["parsed"] == 0


def test_webhook_answers_fast_while_a_follower_holds_work(service, samples):
    body = json.dumps(envelope(samples)).encode()
    started = time.perf_counter()
    for i in range(200):
        doc = envelope(samples, id=f"e{i}")
        assert service.handle_notification(json.dumps(doc).encode(), CT, "us")[0] == 200
    # a bound with slack for a loaded machine: a notification that waited for a poll round or a checkpoint
    # write would take tenths of a second each; parsing and counting one takes well under a millisecond
    assert (time.perf_counter() - started) / 200 < 0.1
    assert events(service) == {"push": 200}
    assert service.handle_notification(body, CT, "us")[0] == 200


def test_tag_memory_survives_a_clean_restart_only(tmp_path, samples):
    text = """
registries: [{name: us, url: 'http://127.0.0.1:5000'}]
logs: {checkpoint_dir: state, sources: [{format: notifications, registry: us}]}
"""

    def start():
        reg = CollectorRegistry()
        svc = LogService(parse_config(text, base_dir=tmp_path).logs, reg)
        svc.registry = reg
        return svc

    def push(svc, event_id, digest):
        doc = envelope(samples, id=event_id)
        doc["events"][0]["target"]["digest"] = digest
        assert svc.handle_notification(json.dumps(doc).encode(), CT, "us")[0] == 200
        svc.commit()
        return series(svc.registry, "regslo_registry_tag_overwrites_total")

    first = start()
    push(first, "a", "sha256:aaa")
    first.stop()  # clean stop: the tag memory is saved
    second = start()
    assert push(second, "b", "sha256:bbb") == {("us",): 1.0}  # v1 moved from aaa to bbb
    del second  # killed: nothing saved, and the file read at start was consumed
    third = start()
    assert push(third, "c", "sha256:aaa") == {("us",): 1.0}  # unknown tag after a kill: no false overwrite
