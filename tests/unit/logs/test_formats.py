"""Every format against the real distribution 2.8 samples, checked against counts made here independently."""

import json
from collections import Counter

import pytest

from regslo.sources.logs.classify import parse_go_duration
from tests.unit.logs.support import access_fields, expected_operation, run_lines, series, total

REQ = "regslo_registry_requests_total"


def _json_completions(lines):
    for line in lines:
        if line.startswith("{"):
            d = json.loads(line)
            if d["msg"].startswith("response completed"):
                yield d


def _by_op_code(reg):
    out = Counter()
    for (code, op, _registry), value in series(reg, REQ).items():
        out[(op, code)] += value
    return out


def test_distribution_json_counts_completion_lines(samples):
    text = (samples / "r4-htpasswd-json.stderr.log").read_text()
    lines = text.splitlines()
    expected = Counter((expected_operation(d["http.request.method"], d["http.request.uri"]),
                        str(d["http.response.status"])) for d in _json_completions(lines))
    reg, _ = run_lines("distribution-json", text.encode())
    assert _by_op_code(reg) == expected and sum(expected.values()) > 10
    assert samples_lines(reg) == {"parsed": sum(expected.values()), "ignored": len(lines) - sum(expected.values()),
                                  "malformed": 0}
    written = sum(d.get("http.response.written", 0) for d in _json_completions(lines))
    assert total(reg, "regslo_registry_response_bytes_total") == written
    durations = [parse_go_duration(d["http.response.duration"]) for d in _json_completions(lines)]
    assert total(reg, "regslo_registry_request_duration_seconds_count") == len(durations)
    assert total(reg, "regslo_registry_request_duration_seconds_sum") == pytest.approx(sum(durations))


def samples_lines(reg):
    return {outcome: value for (outcome, _src), value in series(reg, "regslo_log_lines_total").items()}


def test_combined_counts_every_access_line_including_401(samples):
    text = (samples / "r4-htpasswd-access.stdout.log").read_text()
    fields = [access_fields(line) for line in text.splitlines()]
    expected = Counter((expected_operation(m, u), s) for m, u, s, _ in fields)
    reg, _ = run_lines("combined", text.encode())
    assert _by_op_code(reg) == expected
    assert expected[("ping", "401")] >= 1
    assert total(reg, "regslo_registry_response_bytes_total") == sum(b for *_, b in fields)
    assert total(reg, "regslo_registry_request_duration_seconds_count") == 0  # combined carries no duration


@pytest.mark.parametrize("name,app_prefix", [("r1-json-mixed.log", "{"), ("r2-text-mixed.log", "time="),
                                              ("r3-proxy-json-mixed.log", "{")])
def test_mixed_stream_counts_each_request_once(samples, name, app_prefix):
    text = (samples / name).read_text()
    lines = text.splitlines()
    access = [access_fields(line) for line in lines if not line.startswith(app_prefix)]
    completions = [line for line in lines if line.startswith(app_prefix) and 'msg="response completed' in line
                   or line.startswith(app_prefix) and '"msg":"response completed' in line]
    expected = Counter((expected_operation(m, u), s) for m, u, s, _ in access)
    reg, _ = run_lines("distribution", text.encode())
    assert _by_op_code(reg) == expected
    assert total(reg, REQ) == len(access)  # once per request, not once per line
    assert total(reg, "regslo_registry_request_duration_seconds_count") == len(completions)
    assert samples_lines(reg)["malformed"] == 0


def test_distribution_text_matches_json_semantics(samples):
    lines = [line for line in (samples / "r2-text-mixed.log").read_text().splitlines() if line.startswith("time=")]
    completions = [line for line in lines if 'msg="response completed' in line]
    expected = Counter()
    for line in completions:
        status = line.split("http.response.status=")[1].split()[0]
        method = line.split("http.request.method=")[1].split()[0]
        uri = line.split("http.request.uri=")[1].split()[0].strip('"')
        expected[(expected_operation(method, uri), status)] += 1
    reg, _ = run_lines("distribution-text", ("\n".join(lines) + "\n").encode())
    assert _by_op_code(reg) == expected and len(completions) > 10
    assert samples_lines(reg) == {"parsed": len(completions), "ignored": len(lines) - len(completions), "malformed": 0}


def test_repository_taken_from_uri_on_success_lines(samples):
    text = (samples / "r4-htpasswd-json.stderr.log").read_text()
    reg, _ = run_lines("distribution-json", text.encode())
    repos = {repo for (_cls, _op, _reg, repo) in series(reg, "regslo_registry_repository_requests_total")}
    assert "probe/auth" in repos


def test_notifications_file_dedupes_and_counts_actions(samples):
    text = (samples / "registry_notifications.jsonl").read_text()
    events = {}
    for line in text.splitlines():
        for e in json.loads(json.loads(line)["body"])["events"]:
            events[e["id"]] = e
    expected = Counter(e["action"] for e in events.values())
    doubled = text + text  # a retried delivery must not count twice
    reg, _ = run_lines("notifications", doubled.encode())
    got = {action: v for (action, _r), v in series(reg, "regslo_registry_events_total").items()}
    assert got == dict(expected) and sum(expected.values()) > 5
    media = Counter(e["target"].get("mediaType") for e in events.values() if e["action"] == "pull")
    got_media = {m: v for (a, m, _r), v in series(reg, "regslo_registry_events_by_media_type_total").items() if a == "pull"}
    assert sum(got_media.values()) == sum(media.values())


def test_tag_overwrite_detected_and_memory_bounded(samples):
    base = json.loads((samples / "notification_push_manifest.json").read_text())
    envelopes = []
    for i, digest in enumerate(["sha256:aa", "sha256:aa", "sha256:bb", "sha256:cc"]):
        e = json.loads(json.dumps(base))
        e["events"][0]["id"] = f"id-{i}"
        e["events"][0]["target"]["digest"] = digest
        envelopes.append(json.dumps(e))
    reg, _ = run_lines("notifications", ("\n".join(envelopes) + "\n").encode())
    assert series(reg, "regslo_registry_tag_overwrites_total") == {("r1",): 2.0}  # aa->bb, bb->cc

    from regslo.sources.logs.formats.notifications import TagMemory
    mem = TagMemory(capacity=100)
    for i in range(10_000):
        mem.push("r1", f"repo{i}", "latest", "sha256:1")
    assert len(mem.lru) == 100


def test_delete_then_repush_is_not_an_overwrite():
    from regslo.sources.logs.formats.notifications import TagMemory
    mem = TagMemory()
    assert not mem.push("r", "a", "v1", "sha256:1")
    mem.delete("r", "a", "sha256:1")
    assert not mem.push("r", "a", "v1", "sha256:2")
    assert mem.push("r", "a", "v1", "sha256:3")


NGINX_LINES = [
    ('10.0.0.1 - alice [27/Nov/2026:07:45:10 +0000] "GET /v2/app/manifests/v1 HTTP/1.1" 200 417 "-" "skopeo/1.9.3" 0.012 0.011', "pull", "200", 0.012),
    ('10.0.0.1 - - [27/Nov/2026:07:45:10 +0000] "PUT /v2/app/blobs/uploads/u1?digest=sha256%3A1 HTTP/1.1" 201 0 "-" "docker/24" 1.500 1.499', "push", "201", 1.5),
    ('10.0.0.2 - - [27/Nov/2026:07:45:11 +0000] "GET /v2/ HTTP/1.1" 429 169 "-" "curl/7.88" 0.000 -', "ping", "429", 0.0),
    ('10.0.0.2 - - [27/Nov/2026:07:45:11 +0000] "\\x16\\x03\\x01" 400 157 "-" "-" 0.001 -', "other", "400", 0.001),
]


def test_nginx_default_format():
    data = "".join(line + "\n" for line, *_ in NGINX_LINES).encode()
    reg, _ = run_lines("nginx", data)
    expected = Counter((op, code) for _l, op, code, _d in NGINX_LINES)
    assert _by_op_code(reg) == expected
    assert total(reg, "regslo_registry_request_duration_seconds_sum") == pytest.approx(sum(d for *_, d in NGINX_LINES))
    assert total(reg, "regslo_registry_response_bytes_total") == 417 + 169 + 157


def test_nginx_custom_log_format():
    fmt = '$remote_addr [$time_local] "$request_method $request_uri" $status $bytes_sent rt=$request_time'
    line = '10.0.0.1 [27/Nov/2026:07:45:10 +0000] "HEAD /v2/a/b/manifests/latest" 200 1024 rt=0.250\n'
    reg, _ = run_lines("nginx", (line + "garbage line\n").encode(), log_format=fmt)
    assert series(reg, REQ) == {("200", "pull", "r1"): 1.0}
    assert samples_lines(reg) == {"parsed": 1, "ignored": 0, "malformed": 1}
    assert total(reg, "regslo_registry_request_duration_seconds_bucket", le="0.25", operation="pull") == 1


def test_nginx_log_format_without_status_is_rejected():
    from regslo.sources.logs.formats.access import compile_log_format
    with pytest.raises(ValueError, match=r"\$status"):
        compile_log_format('$remote_addr "$request"')


HARBOR = [
    'Jul 19 06:54:41 harbor-core audit[1]: 2022-07-19T06:54:41Z [INFO] [/pkg/audit/manager.go:75][operator="admin" time="2022-07-19 06:54:41"]: action:delete, resource:test01/photon:sha256:7f3e',
    '<14>Jul 19 06:55:00 172.18.0.1 audit[1]: 2022-07-19T06:55:00Z [INFO] [/pkg/audit/manager.go:75][operator="bob" time="2022-07-19 06:55:00"]: action:create, resource:lib/team/app:v2, resourceType:artifact',
    'Jul 19 06:55:01 harbor-core audit[1]: 2022-07-19T06:55:01Z [INFO] [/pkg/audit/manager.go:75][operator="bob" time="2022-07-19 06:55:01"]: action:pull, resource:lib/team/app@sha256:abc, resourceType:artifact',
    'Jul 19 06:55:02 harbor-core audit[1]: 2022-07-19T06:55:02Z [INFO] [/pkg/audit/manager.go:75][operator="bob" time="x"]: action:create, resource:lib, resourceType:project',
    'Jul 19 06:55:03 harbor-core core[1]: something unrelated',
    'Jul 19 06:55:04 harbor-core audit[1]: truncated garbage',
]


def test_harbor_audit():
    reg, _ = run_lines("harbor-audit", ("\n".join(HARBOR) + "\n").encode())
    events = {a: v for (a, _r), v in series(reg, "regslo_registry_events_total").items()}
    assert events == {"delete": 1, "push": 2, "pull": 1}
    repos = {(repo, op, cls) for (cls, op, _r, repo) in series(reg, "regslo_registry_repository_requests_total")}
    assert repos == {("test01/photon", "delete", "other"), ("lib/team/app", "push", "other"),
                     ("lib/team/app", "pull", "other")}  # audit entries carry no status
    assert samples_lines(reg) == {"parsed": 4, "ignored": 1, "malformed": 1}


def test_bad_bytes_are_counted_never_raised():
    data = b'\xff\xfe garbage\n{"msg":"response completed","http.response.status":"x"}\n\x00\x01\x02\n' + b"x" * 300 + b"\n"
    reg, _ = run_lines("distribution-json", data, max_line_bytes=256)
    assert samples_lines(reg) == {"parsed": 0, "ignored": 0, "malformed": 4}


def test_json_fast_path_agrees_with_json_loads(samples):
    from regslo.sources.logs.formats.distribution import _fast_fields
    checked = 0
    for name in ("r1-json-mixed.log", "r3-proxy-json-mixed.log", "r4-htpasswd-json.stderr.log"):
        for line in (samples / name).read_text().splitlines():
            fast = _fast_fields(line)
            if fast is None:
                continue
            d = json.loads(line)
            assert fast == (d["http.request.method"], d["http.request.uri"], d["http.response.duration"],
                            str(d["http.response.status"]), d["http.response.written"])
            checked += 1
    assert checked > 50


def test_logstash_formatter_lines_are_json_too():
    line = ('{"@timestamp":"2026-11-27T07:45:10Z","@version":"1","http.request.method":"GET",'
            '"http.request.uri":"/v2/a/manifests/v1","http.response.duration":"2.5ms","http.response.status":200,'
            '"http.response.written":417,"level":"info","message":"response completed","type":"registry"}\n')
    reg, _ = run_lines("distribution-json", line.encode())
    assert series(reg, REQ) == {("200", "pull", "r1"): 1.0}
    assert total(reg, "regslo_registry_request_duration_seconds_sum") == 0.0025
