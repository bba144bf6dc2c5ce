"""A local Alertmanager webhook receiver: the demo's pager. It logs every notification and keeps the alerts.

Alertmanager POSTs webhook payload version 4 (``{"receiver", "status", "alerts": [...]}``) to
``http://127.0.0.1:PORT/<receiver name>``. Each alert is recorded with the local time it arrived, appended
to a JSON-lines file and handed to the listeners (the console prints it).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable


@dataclass
class ReceivedAlert:
    receiver: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    received: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "?")

    def matches(self, **labels: str) -> bool:
        return all(self.labels.get(k) == v for k, v in labels.items())


def alert_line(alert: ReceivedAlert) -> str:
    """One printable line for a notification (the demo console and the standalone pager both print it)."""
    labels = alert.labels
    what = " ".join(f"{k}={labels[k]}" for k in ("slo", "registry", "region", "source", "destination",
                                                   "long_window", "burn_rate") if k in labels)
    sev = labels.get("severity", "?").upper()
    summary = alert.annotations.get("summary", "")
    when = time.strftime("%H:%M:%S", time.localtime(alert.received))
    return f"{when} >>> {sev} {alert.status.upper()}: {alert.name} {what}" + (f" - {summary}" if summary else "")


class WebhookReceiver:
    def __init__(self, port: int, log_path: Path | None = None, host: str = "127.0.0.1"):
        self.alerts: list[ReceivedAlert] = []
        self.listeners: list[Callable[[ReceivedAlert], None]] = []
        self.log_path = log_path
        self._cond = threading.Condition()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                    status = 200
                except ValueError:
                    payload, status = None, 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if payload is not None:
                    receiver.on_payload(self.path.strip("/") or "default", payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def on_payload(self, path: str, payload: dict) -> None:
        received = []
        for a in payload.get("alerts") or []:
            received.append(ReceivedAlert(receiver=payload.get("receiver") or path, status=a.get("status", "?"),
                                          labels=dict(a.get("labels") or {}),
                                          annotations=dict(a.get("annotations") or {}),
                                          starts_at=a.get("startsAt", "")))
        with self._cond:
            self.alerts.extend(received)
            if self.log_path is not None:
                with open(self.log_path, "a") as f:
                    for r in received:
                        f.write(json.dumps({"received": r.received, "receiver": r.receiver, "status": r.status,
                                            "labels": r.labels, "annotations": r.annotations}) + "\n")
            self._cond.notify_all()
        for r in received:
            for fn in list(self.listeners):
                fn(r)

    def wait_for(self, predicate: Callable[[ReceivedAlert], bool], timeout: float,
                 since: float = 0.0) -> ReceivedAlert | None:
        """The first alert received at or after ``since`` (unix time) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for a in self.alerts:
                    if a.received >= since and predicate(a):
                        return a
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def start(self) -> "WebhookReceiver":
        threading.Thread(target=self.httpd.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> int:
    """``python -m regslo.demo.receiver --listen HOST:PORT``: print each notification (docker-compose's pager)."""
    import argparse

    parser = argparse.ArgumentParser(description="log Alertmanager webhook notifications to stdout")
    parser.add_argument("--listen", default="127.0.0.1:9097", metavar="HOST:PORT")
    parser.add_argument("--log", type=Path, metavar="FILE", help="also append each alert as JSON to FILE")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    receiver = WebhookReceiver(int(port), args.log, host=host or "127.0.0.1")
    receiver.listeners.append(lambda a: print(alert_line(a), flush=True))
    print(f"pager: listening on {receiver.url}", flush=True)
    try:
        receiver.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    receiver.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
