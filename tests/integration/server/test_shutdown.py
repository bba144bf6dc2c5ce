"""Stopping the exporter while clients are mid-request leaves nothing behind.

CI once failed on this: stop() cancelled the connection tasks, turned the loop once and closed it, so a task
still unwinding an ``asyncio.wait_for`` was destroyed pending; its ``finally`` later ran against the closed
loop and printed "Event loop is closed" and "Task was destroyed but it is pending!" to regslo's stderr.
"""

import gc
import logging
import socket
import sys
import threading
import time

from prometheus_client import CollectorRegistry

from regslo.outputs.server import ExporterServer, Response


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_stop_with_connections_in_every_state_destroys_no_pending_task():
    unraisable: list[str] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} ({u.object!r})")
    handler = _Collect()
    aio = logging.getLogger("asyncio")
    aio.addHandler(handler)
    release = threading.Event()
    sockets: list[socket.socket] = []
    try:
        for round_ in range(5):
            server = ExporterServer(CollectorRegistry(), "127.0.0.1:0")
            # a handler that is still running in the worker pool when the server stops
            server.route("POST", "/slow", lambda r: (release.wait(5), Response(200, b"ok\n"))[1], max_body=1024)
            server.start()
            port = server.port
            for i in range(30):
                s = socket.create_connection(("127.0.0.1", port))
                kind = i % 5
                if kind == 1:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # head never ends
                elif kind == 2:
                    s.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")  # body short
                elif kind == 3:
                    s.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")  # in the handler
                elif kind == 4:
                    s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, kept alive
                sockets.append(s)
            time.sleep(0.3)  # every connection has reached its await
            server.stop()
            release.set()
            release.clear()
            for s in sockets:
                s.close()
            sockets.clear()
            gc.collect()
            assert not unraisable, (round_, unraisable)
            leftovers = [m for m in handler.messages if "destroyed" in m or "closed" in m.lower()]
            assert not leftovers, (round_, leftovers)
            assert server._loop is not None and server._loop.is_closed()
    finally:
        release.set()
        for s in sockets:
            s.close()
        sys.unraisablehook = old_hook
        aio.removeHandler(handler)
