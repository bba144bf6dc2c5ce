import pytest
from hypothesis import given, strategies as st

from regslo.sources.logs.classify import OPERATIONS, classify, parse_go_duration
from tests.unit.logs.support import expected_operation


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("method,uri,op,repo", [
    ("GET", "/v2/", "ping", None),
    ("HEAD", "/v2/", "ping", None),
    ("POST", "/v2/", "other", None),
    ("GET", "/v2/_catalog?n=10", "list", None),
    ("GET", "/v2/team/app/tags/list?n=2&last=a", "list", "team/app"),
    ("GET", "/v2/a/referrers/sha256:abc", "list", "a"),
    ("GET", "/v2/a/b/c/manifests/v1", "pull", "a/b/c"),
    ("HEAD", "/v2/a/manifests/sha256:abc", "pull", "a"),
    ("PUT", "/v2/a/manifests/v1", "push", "a"),
    ("DELETE", "/v2/a/manifests/sha256:abc", "delete", "a"),
    ("PATCH", "/v2/a/manifests/v1", "other", "a"),
    ("GET", "/v2/a/blobs/" + DIGEST, "pull", "a"),
    ("HEAD", "/v2/a/b/blobs/sha512:" + "0F" * 64, "pull", "a/b"),
    ("DELETE", "/v2/a/blobs/" + DIGEST, "delete", "a"),
    ("GET", "/v2/a/blobs/notadigest", "other", "a"),  # a client error (404), not a pull
    ("HEAD", "/v2/a/blobs/notadigest", "other", "a"),
    ("GET", "/v2/a/blobs/sha256:zz", "other", "a"),  # the registry answers 400 digest invalid
    ("GET", "/v2/a/blobs/sha256:abc", "other", "a"),  # too short to be a digest
    ("GET", "/v2/a/blobs/SHA256:" + "ab" * 32, "other", "a"),
    ("DELETE", "/v2/a/blobs/notadigest", "other", "a"),
    ("GET", "/v2/a/b/blobs/notadigest?x=1", "other", "a/b"),
    ("GET", "/v2/a/manifests/notadigest", "pull", "a"),  # manifests take tags and digests alike
    ("GET", "/v2/a/manifests/" + DIGEST, "pull", "a"),
    ("POST", "/v2/a/blobs/uploads/", "push", "a"),
    ("POST", "/v2/a/blobs/uploads/?mount=sha256:1&from=b", "push", "a"),
    ("PATCH", "/v2/a/blobs/uploads/7f3e", "push", "a"),
    ("PUT", "/v2/a/blobs/uploads/7f3e?_state=x&digest=sha256%3A1", "push", "a"),
    ("DELETE", "/v2/a/blobs/uploads/7f3e", "push", "a"),
    ("GET", "/v2/manifests/manifests/v1", "pull", "manifests"),  # the last segment wins
    ("GET", "/", "other", None),
    ("GET", "/debug/vars", "other", None),
    ("GET", "/v2/justaname", "other", None),
])
def test_classify_table(method, uri, op, repo):
    assert classify(method, uri) == (op, repo)


@given(st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]),
       st.lists(st.sampled_from(["a", "b-c", "manifests", "blobs", "tags", "uploads", "list", "v2", "sha256:1", DIGEST]),
                max_size=6))
def test_classify_agrees_with_independent_rules(method, segments):
    uri = "/v2/" + "/".join(segments) if segments else "/v2/"
    op, _ = classify(method, uri)
    assert op in OPERATIONS
    assert op == expected_operation(method, uri)


@pytest.mark.parametrize("text,seconds", [
    ("879.067\u00b5s", 0.000879067), ("879.067\u03bcs", 0.000879067), ("879.067us", 0.000879067),
    ("14.015062ms", 0.014015062), ("14ms", 0.014), ("1.2s", 1.2), ("1m2.5s", 62.5), ("1h", 3600.0),
    ("2h45m0.5s", 9900.5), ("0", 0.0), ("500ns", 5e-7), (".5s", 0.5), ("1.s", 1.0), ("-1.5s", -1.5),
])
def test_go_durations_parse_exactly(text, seconds):
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "ms", "1x", "1.2.3s", "s1", "1 s", ".s", "--1s", "1m 2s"])
def test_bad_go_durations_are_errors(text):
    with pytest.raises(ValueError):
        parse_go_duration(text)


@given(st.integers(0, 10**15))
def test_go_duration_nanoseconds_roundtrip(ns):
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs, nanos = divmod(rest, 1_000_000_000)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + f"{secs}.{nanos:09d}s"
    assert parse_go_duration(text) == ns / 1e9


@given(st.integers(0, 10**6), st.text(alphabet="0123456789", max_size=12),
       st.sampled_from(["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"]))
def test_go_duration_fast_path_matches_integer_reference(whole, frac, unit):
    scale = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}[unit]
    text = f"{whole}.{frac}{unit}" if frac else f"{whole}{unit}"
    ns = whole * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
    assert parse_go_duration(text) == ns / 1e9
