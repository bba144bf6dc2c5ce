"""A response with several errors[] entries is one request: real distribution 2.8 logs (r5, captured by
scripts/capture-multi-error-logs.py) replayed per format, compared with counts made here from the access
log of the same run (one line per request, written by a different part of the registry)."""

import json
from collections import Counter

import pytest

from regslo.sources.logs.classify import parse_go_duration
from regslo.sources.logs.formats.distribution import RECENT_IDS, RecentIds, parse_logfmt
from regslo.sources.logs.replay import _split
from tests.unit.logs.support import access_fields, expected_operation, run_lines, series, total

REQ = "regslo_registry_requests_total"
ROUTER_404 = ("404", 19)  # "404 page not found\n": the router's answer, no application line is written


def _by_op_code(reg):
    out = Counter()
    for (code, op, _registry), value in series(reg, REQ).items():
        out[(op, code)] += value
    return out


def _access(samples, formatter):
    lines = (samples / f"r5-{formatter}-access.stdout.log").read_text().splitlines()
    return [access_fields(line) for line in lines]


def _completions(samples, formatter, name=None):
    """Completion lines of the application log as dicts, parsed here with json / a plain split."""
    text = (samples / (name or f"r5-{formatter}.stderr.log")).read_text()
    out = []
    for line in text.splitlines():
        if formatter == "json" and line.startswith("{"):
            d = json.loads(line)
        elif formatter == "text" and line.startswith("time="):
            d = parse_logfmt(line)
        else:
            continue
        if d.get("msg", "").startswith("response completed"):
            out.append(d)
    return out


def _first_durations(completions):
    first = {}
    for d in completions:
        first.setdefault(d["http.request.id"], parse_go_duration(d["http.response.duration"]))
    return first


@pytest.mark.parametrize("formatter", ["json", "text"])
def test_the_data_holds_real_multi_error_responses(samples, formatter):
    ids = Counter(d["http.request.id"] for d in _completions(samples, formatter))
    assert max(ids.values()) == 3 and sum(1 for n in ids.values() if n == 2) >= 3
    paths = {uri for _m, uri, _s, _b in _access(samples, formatter)}
    assert "/v2/team/app/blobs/notadigest" in paths and "/v2/team/app/blobs/sha256:zz" in paths


@pytest.mark.parametrize("formatter", ["json", "text"])
def test_application_log_counts_each_request_once(samples, formatter):
    access = _access(samples, formatter)
    # every access line except the router's own 404s has completion lines in the application log
    expected = Counter((expected_operation(m, u), s) for m, u, s, b in access if (s, b) != ROUTER_404)
    data = (samples / f"r5-{formatter}.stderr.log").read_bytes()
    reg, _ = run_lines(f"distribution-{formatter}", data)
    assert _by_op_code(reg) == expected
    assert expected[("push", "400")] == 6  # six manifest PUTs, eleven error lines
    durations = _first_durations(_completions(samples, formatter))
    assert len(durations) == sum(expected.values())
    assert total(reg, "regslo_registry_request_duration_seconds_count") == len(durations)
    assert total(reg, "regslo_registry_request_duration_seconds_sum") == pytest.approx(sum(durations.values()))
    written = sum(b for m, u, s, b in access if (s, b) != ROUTER_404)
    assert total(reg, "regslo_registry_response_bytes_total") == written
    lines = {o: v for (o, _s), v in series(reg, "regslo_log_lines_total").items()}
    assert lines["parsed"] == sum(expected.values()) and lines["malformed"] == 0


@pytest.mark.parametrize("formatter", ["json", "text"])
def test_mixed_stream_counts_each_request_once(samples, formatter):
    access = _access(samples, formatter)
    expected = Counter((expected_operation(m, u), s) for m, u, s, _b in access)
    reg, _ = run_lines("distribution", (samples / f"r5-{formatter}-mixed.log").read_bytes())
    assert _by_op_code(reg) == expected and total(reg, REQ) == len(access)
    assert expected[("other", "404")] == 2 and expected[("other", "400")] == 1  # notadigest x2, sha256:zz
    durations = _first_durations(_completions(samples, formatter, f"r5-{formatter}-mixed.log"))
    assert total(reg, "regslo_registry_request_duration_seconds_count") == len(durations)
    assert total(reg, "regslo_registry_request_duration_seconds_sum") == pytest.approx(sum(durations.values()))


def test_error_lines_of_one_request_count_once_across_batches_and_interleaving(samples):
    """The follower feeds batches to one parser; another request's line may fall between two error lines."""
    from prometheus_client import CollectorRegistry

    from regslo.sli.log_metrics import LogMetrics
    from regslo.sources.logs.formats import make_parser

    lines = [line for line in (samples / "r5-json.stderr.log").read_text().splitlines()
             if '"response completed with error"' in line and "three-missing" in line]
    other = next(line for line in (samples / "r5-json.stderr.log").read_text().splitlines()
                 if '"msg":"response completed"' in line)
    assert len(lines) == 3
    metrics = LogMetrics(CollectorRegistry())
    parser, sink = make_parser("distribution-json"), metrics.sink("r1", "t")
    outcomes = [parser.feed(line, sink) for line in (lines[0], other, lines[1], lines[2])]
    assert outcomes == ["parsed", "parsed", "ignored", "ignored"]
    metrics.publish()
    assert metrics.state["requests"] == {("r1", "push", "400"): 1, ("r1", "ping", "200"): 1}


def test_recent_ids_are_bounded():
    ids = RecentIds(4)
    assert [ids.repeat(x) for x in "abcab"] == [False] * 3 + [True] * 2
    for i in range(10 * RECENT_IDS):
        ids.repeat(str(i))
        assert len(ids) <= 8
    for i in range(4):  # the last `size` are always remembered
        assert ids.repeat(str(10 * RECENT_IDS - 1 - i))
    assert not ids.repeat("a")  # forgotten after at most 2 x size newer ids


def test_parallel_parts_never_separate_one_responses_lines(samples, tmp_path):
    """Cut points for --jobs move past the lines of a response that spans them."""
    text = (samples / "r5-json.stderr.log").read_text()
    lines = text.splitlines(keepends=True)
    path = tmp_path / "app.log"
    path.write_text(text)
    three = [i for i, line in enumerate(lines) if "three-missing" in line and "with error" in line]
    assert len(three) == 3
    starts = {sum(len(x.encode()) for x in lines[:i]) for i in range(len(lines) + 1)}
    for parts in range(2, 40):
        ranges = _split(str(path), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(text.encode())
        assert all(a in starts and b in starts for a, b in ranges)
        inside = {sum(len(x.encode()) for x in lines[:i]) for i in three[1:]}
        assert not inside & {a for a, _b in ranges}


def test_parallel_replay_of_multi_error_lines_equals_sequential(samples, tmp_path, monkeypatch):
    from prometheus_client import generate_latest

    from regslo.sources.logs import replay as replay_module
    big = tmp_path / "big.log"
    one = (samples / "r5-json.stderr.log").read_bytes()
    # 40 copies, each with its own request ids (the same id 40 times would rightly count once)
    big.write_bytes(b"".join(one.replace(b'"http.request.id":"', b'"http.request.id":"%d-' % i) for i in range(40)))
    monkeypatch.setattr(replay_module, "PARALLEL_MIN_BYTES", 1)

    def exposition(jobs):
        reg = replay_module.replay([str(big)], "distribution-json", "r1", jobs=jobs)
        return sorted(line for line in generate_latest(reg).decode().splitlines() if "last_line" not in line)

    def split(lines):  # float sums depend on the order of additions: compared approximately
        sums = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if "_sum{" in line}
        return [line for line in lines if "_sum{" not in line], sums

    sequential, seq_sums = split(exposition(1))
    assert 'regslo_registry_requests_total{code="400",operation="push",registry="r1"} 240.0' in sequential
    for jobs in (2, 3, 7):
        lines, sums = split(exposition(jobs))
        assert lines == sequential
        assert sums.keys() == seq_sums.keys() and all(abs(sums[k] - v) < 1e-9 for k, v in seq_sums.items())


def test_a_checkpoint_from_before_the_class_label_restores_all_but_repository_rows():
    from prometheus_client import CollectorRegistry

    from regslo.sli.log_metrics import LogMetrics
    old = LogMetrics(CollectorRegistry())
    sink = old.sink("r1", "s")
    sink.request("pull", "200", 10, "team/app")
    dump = old.dump()
    dump["repos"] = [["r1", "team/app", "pull", 7]]  # the old layout: no class
    new = LogMetrics(CollectorRegistry())
    new.load(dump)
    assert new.state["requests"] == {("r1", "pull", "200"): 1} and new.state["repos"] == {}
    new.sink("r1", "s").request("pull", "503", 0, "team/app")
    assert new.state["repos"] == {("r1", "team/app", "pull", "5xx"): 1}


def _requests_and_durations(state: dict) -> tuple[dict, dict]:
    return dict(state["requests"]), {key: sum(counts) for key, counts in state["dur"].items()}


@pytest.mark.parametrize("fmt,name", [("distribution-json", "r5-json.stderr.log"), ("distribution-text", "r5-text.stderr.log"),
                                      ("distribution", "r5-json-mixed.log"), ("distribution", "r5-text-mixed.log")])
@pytest.mark.parametrize("how", ["restart", "reload"])
def test_a_restart_or_reload_between_the_lines_of_one_response_counts_it_once(samples, tmp_path, fmt, name, how):
    """The follower may read the first errors[] line of a response before the registry has written the
    next; the recent request ids go into the checkpoint (restart) and to the successor (reload), so the
    totals are those of one uninterrupted read (each request and its duration once)."""
    from prometheus_client import CollectorRegistry

    from regslo.config import parse_config
    from regslo.sli.log_metrics import LogMetrics
    from regslo.sources.logs.formats import make_parser
    from regslo.sources.logs.pipeline import LineSplitter, feed_lines
    from regslo.sources.logs.service import LogService
    data = (samples / name).read_bytes()
    reference = LogMetrics(CollectorRegistry())
    with reference.lock:
        feed_lines(LineSplitter().feed(data, final=True)[0], make_parser(fmt), reference.sink("r1", "app"))
    text = data.decode().splitlines(keepends=True)
    three = [i for i, line in enumerate(text) if "three-missing" in line and "with error" in line]
    assert len(three) == 3 and three[2] - three[0] <= 3
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "registry.log"
    log.write_text("".join(text[:three[0] + 1]))  # up to the response's first error line
    cfg = parse_config(f"""
registries: [{{name: r1, url: 'http://127.0.0.1:5000'}}]
logs:
  start_at: beginning
  checkpoint_dir: state
  sources: [{{path: 'logs/*.log', format: {fmt}, registry: r1, name: app}}]
""", base_dir=tmp_path)
    first = LogService(cfg.logs, CollectorRegistry())
    first.poll_once()
    if how == "restart":
        first.stop()
        second = LogService(cfg.logs, CollectorRegistry())
    else:
        second = LogService(cfg.logs, CollectorRegistry(), previous=first)
    with open(log, "a") as f:
        f.write("".join(text[three[0] + 1:]))
    second.poll_once()
    second.stop()
    got = _requests_and_durations(second.metrics.state)
    assert got == _requests_and_durations(reference.state)
    assert sum(got[1].values()) == len(_first_durations(_completions(samples, "json" if "json" in name else "text", name)))


def test_request_ids_of_a_foreign_or_damaged_checkpoint_are_dropped_not_fatal():
    from regslo.sources.logs.service import RESUME_IDS, _valid_request_ids
    assert _valid_request_ids(None) == {} and _valid_request_ids(["a"]) == {}
    assert _valid_request_ids({"app": ["a", 5, "", "x" * 300, "b"], "other": "ab", 3: ["c"]}) == {"app": ["a", "b"]}
    assert _valid_request_ids({"app": [str(i) for i in range(500)]})["app"] == [str(i) for i in range(500 - RESUME_IDS, 500)]
