"""Issue 9 item 5: request framing on regslo's port, against a real ``regslo run`` and raw sockets.

Before the fix ``Content-Length: -1`` made the server read to EOF (400 MB sent -> peak RSS 850 MiB, no
answer until the client closed), chunked bodies were read as empty, and 200,000 nested JSON arrays were a
500 with a traceback in the log.
"""

import socket
import time

from tests.integration.server.support import CT, raw_request, regslo_run, status_of, write_config

LOGS = {"sources": [{"format": "notifications", "registry": "r1"}]}


def post_head(length: str, extra: str = "") -> bytes:
    return (f"POST /notifications/r1 HTTP/1.1\r\nHost: x\r\nContent-Type: {CT}\r\nContent-Length: {length}\r\n"
            f"{extra}\r\n").encode()


def test_negative_content_length_is_refused_at_once_and_the_body_never_read(tmp_path):
    with regslo_run(write_config(tmp_path / "c.yml", logs=LOGS)) as r:
        before = r.peak_rss_mib()
        s = socket.create_connection(("127.0.0.1", r.port))
        s.sendall(post_head("-1"))
        s.settimeout(5)
        t0 = time.monotonic()
        answer = s.recv(4096)  # the old server waited for EOF here
        assert status_of(answer) == 400 and time.monotonic() - t0 < 5
        sent = 0
        try:
            for _ in range(200):  # 200 MB more: the server has closed the connection and reads none of it
                s.sendall(b"[" * (1024 * 1024))
                sent += 1
        except OSError:
            pass
        s.close()
        time.sleep(0.5)
        assert r.peak_rss_mib() - before < 30, (before, r.peak_rss_mib(), sent)
        assert r.samples()  # still serving
    assert "Traceback" not in r.stderr_text


def test_content_length_must_be_decimal_digits(tmp_path):
    with regslo_run(write_config(tmp_path / "c.yml", logs=LOGS)) as r:
        for length in ["+5", "0x10", "1e3", "5, 5", "abc", "99999999999999999999999"]:
            answer = raw_request(r.port, post_head(length) + b"{}", timeout=5)
            assert status_of(answer) == 400, (length, answer[:200])
    assert "Traceback" not in r.stderr_text


def test_framing_errors_get_their_status_without_reading_the_body(tmp_path):
    with regslo_run(write_config(tmp_path / "c.yml", logs=LOGS)) as r:
        # over the route's limit (4 MiB for the webhook): 413 before a byte of the body is sent
        assert status_of(raw_request(r.port, post_head(str(5 * 1024 * 1024)), timeout=5)) == 413
        # GET routes take no body at all
        assert status_of(raw_request(r.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
                                     timeout=5)) == 413
        # chunked bodies are not supported: 411, and the chunks are not mistaken for a next request
        chunked = (f"POST /notifications/r1 HTTP/1.1\r\nHost: x\r\nContent-Type: {CT}\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").encode()
        answer = raw_request(r.port, chunked, timeout=5)
        assert status_of(answer) == 411 and answer.count(b"HTTP/1.1 ") == 1
        # two Content-Length headers (request smuggling) -> 400
        assert status_of(raw_request(r.port, post_head("2", "Content-Length: 3\r\n") + b"{}", timeout=5)) == 400
        # a head over 32 KiB -> 431; a malformed request line -> 400; a header without a colon -> 400
        big = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
        assert status_of(raw_request(r.port, big, timeout=5)) == 431
        assert status_of(raw_request(r.port, b"GET\r\n\r\n", timeout=5)) == 400
        assert status_of(raw_request(r.port, b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", timeout=5)) == 400
        assert status_of(raw_request(r.port, b"GET /metrics HTTP/9.9\r\n\r\n", timeout=5)) == 505
        # a bare LF inside a field hides a second Content-Length from this parser (not from a proxy that splits
        # on LF): refused, and the bytes after the head are not taken for a next request
        smuggle = post_head("2", "X-A: 1\nContent-Length: 60\r\n") + b"{}GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = raw_request(r.port, smuggle, timeout=5)
        assert status_of(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1, answer[:300]
        assert r.samples()
    assert "Traceback" not in r.stderr_text


def test_deeply_nested_json_is_a_400_not_a_traceback(tmp_path):
    with regslo_run(write_config(tmp_path / "c.yml", logs=LOGS)) as r:
        body = b"[" * 200_000 + b"]" * 200_000
        answer = raw_request(r.port, post_head(str(len(body))) + body, timeout=10)
        assert status_of(answer) == 400, answer[:200]
        assert r.samples()
    assert "Traceback" not in r.stderr_text and "RecursionError" not in r.stderr_text


def test_keep_alive_serves_several_requests_on_one_connection(tmp_path):
    """Strictness must not break well-formed clients: two requests on one connection, then HEAD."""
    with regslo_run(write_config(tmp_path / "c.yml")) as r:
        req = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = raw_request(r.port, req + req + b"HEAD /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.count(b"HTTP/1.1 200 OK") == 3 and answer.count(b"Healthy.") == 2
