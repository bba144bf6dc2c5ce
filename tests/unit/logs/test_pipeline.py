from hypothesis import given, settings, strategies as st

from regslo.sources.logs.pipeline import LineSplitter, StreamSplitter


def test_partial_line_is_not_consumed():
    lines, consumed = LineSplitter(100).feed(b"a\nb\npart")
    assert lines == [b"a", b"b"] and consumed == 4


def test_final_flushes_partial_line():
    lines, consumed = LineSplitter(100).feed(b"a\npart", final=True)
    assert lines == [b"a", b"part"] and consumed == 6


def test_overlong_line_in_the_middle_is_marked():
    lines, consumed = LineSplitter(4).feed(b"ok\n0123456789\nok2\n")
    assert lines == [b"ok", None, b"ok2"] and consumed == 18


def test_overlong_partial_line_is_counted_once_and_skipped_to_its_newline():
    s = LineSplitter(4)
    lines, consumed = s.feed(b"ok\n0123456789")
    assert lines == [b"ok", None] and consumed == 13 and s.skipping
    lines, consumed = s.feed(b"more bytes")
    assert lines == [] and consumed == 10 and s.skipping
    lines, consumed = s.feed(b"tail\nnext\n")
    assert lines == [b"next"] and consumed == 10 and not s.skipping


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=20),
       st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_any_chunking_gives_the_same_lines(lines, cuts):
    """Feeding a stream in arbitrary pieces (re-reading unconsumed bytes, as the follower does) is exact."""
    data = b"".join(line + b"\n" for line in lines)
    s = LineSplitter(20)
    got, pos, i = [], 0, 0
    while pos < len(data):
        end = min(len(data), pos + cuts[i % len(cuts)] + (0 if i < 100 else 10**6))
        out, consumed = s.feed(data[pos:end])
        got += out
        pos += consumed
        if consumed == 0:
            cuts = [c + 20 for c in cuts]
        i += 1
    assert got == [line if len(line) <= 20 else None for line in lines]


def test_a_parser_bug_counts_malformed_instead_of_wedging_the_tailer(caplog):
    from regslo.sli.log_metrics import LogMetrics
    from regslo.sources.logs.pipeline import feed_lines

    class Broken:
        def feed(self, line, sink):
            if line == "boom":
                raise KeyError(line)
            return "parsed"

    sink = LogMetrics(None).sink("r1", "s")
    assert feed_lines([b"ok", b"boom", b"ok", b"boom"], Broken(), sink) == (2, 0, 2)
    assert sum("Broken raised" in r.getMessage() for r in caplog.records) == 1


def test_replay_stream_counts_alike_whatever_the_chunk_size(samples, tmp_path, monkeypatch):
    """replay_stream completes a partial line across chunks without copying the chunk; any chunk size gives
    the totals of one read of the whole file (overlong lines, a CRLF line and a final partial line included)."""
    from prometheus_client import generate_latest

    from regslo.sources.logs import replay as replay_module
    data = ((samples / "r5-json-mixed.log").read_bytes() + b"x" * 700 + b"\n" + (samples / "r5-json.stderr.log").read_bytes()
            + b"y" * 3000 + b"\n\r\n" + (samples / "r1-json-mixed.log").read_bytes() + b'{"msg":"partial')
    path = tmp_path / "mixed.log"
    path.write_bytes(data)

    def exposition(fmt):
        reg = replay_module.replay([str(path)], fmt, "r1", max_line_bytes=512)
        return sorted(line for line in generate_latest(reg).decode().splitlines()
                      if "last_line" not in line and "_sum{" not in line)

    for fmt in ("distribution", "distribution-json"):
        monkeypatch.setattr(replay_module, "CHUNK", len(data) + 1)
        whole = exposition(fmt)
        assert any('outcome="malformed"' in line and not line.endswith(" 0.0") for line in whole)
        for size in (1, 7, 64, 511, 513, 1000, 4096):
            monkeypatch.setattr(replay_module, "CHUNK", size)
            assert exposition(fmt) == whole, (fmt, size)


_PIECES = [b"a", b"{}", b"\n", b"\r\n", b"x" * 9, b"y" * 30, b"\n\n"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30), st.lists(st.integers(0, 40), max_size=12),
       st.integers(4, 20))
def test_stream_splitter_gives_the_lines_of_the_offset_splitter_for_any_chunking(pieces, cuts, limit):
    """StreamSplitter (replay: keeps the partial line itself) against LineSplitter (the follower: offsets)
    fed the whole stream at once: the same lines, overlong ones as None, wherever the chunks are cut; it never
    holds more than one line's worth of bytes."""
    data = b"".join(pieces)
    reference, _ = LineSplitter(limit).feed(data, final=True)
    positions = sorted({min(c * 3, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *positions], [*positions, len(data)])]
    splitter, got = StreamSplitter(limit), []
    for chunk in chunks:
        got += splitter.feed(chunk)
        assert len(splitter._pending) <= limit  # bounded: an overlong partial line is not kept
    got += splitter.feed(b"", final=True)
    assert got == reference
