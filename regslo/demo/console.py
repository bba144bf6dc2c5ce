"""What the demo prints: one summary line per probe round, pages as they arrive, and typed commands.

The console subscribes to regslo's recent-results sink and to the webhook receiver; it never polls
Prometheus. A round is one probe interval: each line shows the latest result of every probe of every
registry and the replication lag seen in that interval, plus the alerts firing at the pager.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

from regslo.demo.receiver import ReceivedAlert, alert_line
from regslo.events import ProbeResult, ReplicationResult

ORDER = {"ping": 0, "push": 1, "pull": 2}
HELP = """commands: break REGION (stop its registry) | freeze REGION (SIGSTOP: it hangs) | fix REGION |
          status | urls | help | quit      (regions: {regions})"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


class Console:
    def __init__(self, stack, interval: float, out: TextIO = sys.stdout):
        self.stack = stack
        self.interval = interval
        self.out = out
        self._lock = threading.Lock()
        self._probes: dict[tuple[str, str], ProbeResult] = {}
        self._lags: dict[tuple[str, str], ReplicationResult] = {}
        self._new = False
        self.firing: dict[tuple, ReceivedAlert] = {}
        self._stop = threading.Event()
        self.commands: dict[str, Callable[[list[str]], str]] = {}

    def write(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    # ---- listeners ---------------------------------------------------------------------------------
    def on_result(self, result: ProbeResult | ReplicationResult) -> None:
        with self._lock:
            if isinstance(result, ProbeResult):
                self._probes[(result.registry, result.probe)] = result
            else:
                self._lags[(result.source, result.destination)] = result
            self._new = True

    def on_alert(self, alert: ReceivedAlert) -> None:
        key = tuple(sorted(alert.labels.items()))
        with self._lock:
            if alert.status == "firing":
                self.firing[key] = alert
            else:
                self.firing.pop(key, None)
        self.write(alert_line(alert))

    # ---- the round line ----------------------------------------------------------------------------
    def round_line(self) -> str:
        with self._lock:
            probes, lags, self._new = dict(self._probes), dict(self._lags), False
            firing = list(self.firing.values())
        parts = []
        for name, region in self.stack.regions.items():
            items = []
            for (reg, probe), r in sorted(probes.items(), key=lambda kv: ORDER.get(kv[0][1], 9)):
                if reg != name:
                    continue
                if r.timestamp < time.time() - 1.5 * self.interval:
                    items.append(f"{probe} ...")  # no result this round: the run still hangs
                else:
                    items.append(f"{probe} {_ms(r.duration)}" if r.ok else f"{probe} FAIL({r.reason})")
            state = "" if region.state == "up" else f" [{region.state}]"
            parts.append(f"{name}{state}: " + (", ".join(items) or "waiting"))
        for (src, dst), r in sorted(lags.items()):
            parts.append(f"{src}->{dst} lag {_ms(r.lag)}" if r.outcome == "ok" and r.lag is not None
                         else f"{src}->{dst} {r.outcome.upper()}" + (f"({r.reason})" if r.reason else ""))
        pages = sorted({f"{a.labels.get('slo', a.name)}/{a.labels.get('registry', '-')}" for a in firing
                        if a.labels.get("severity") == "page"})
        tickets = sum(1 for a in firing if a.labels.get("severity") != "page")
        parts.append(f"pages: {', '.join(pages) or 'none'}" + (f" (+{tickets} tickets)" if tickets else ""))
        return time.strftime("%H:%M:%S ") + " | ".join(parts)

    def _ticker(self) -> None:
        while not self._stop.wait(self.interval):
            if self._new:
                self.write(self.round_line())

    # ---- commands ----------------------------------------------------------------------------------
    def handle(self, line: str) -> str | None:
        words = line.split()
        if not words:
            return None
        cmd, rest = words[0].lower(), words[1:]
        regions = ", ".join(self.stack.regions)
        try:
            if cmd in ("break", "stop", "freeze") and len(rest) == 1:
                return self.stack.break_region(rest[0], "freeze" if cmd == "freeze" else "stop")
            if cmd in ("fix", "start", "thaw") and len(rest) == 1:
                return self.stack.fix_region(rest[0])
            if cmd == "status":
                return self.round_line()
            if cmd == "urls":
                return "\n".join(f"  {k:<22} {v}" for k, v in self.stack.urls().items())
            if cmd in ("quit", "exit", "q"):
                self.commands["quit"]([])
                return "stopping"
        except (KeyError, RuntimeError) as exc:
            return f"error: {exc}"
        return HELP.format(regions=regions)

    def _reader(self, stdin: TextIO) -> None:
        for line in stdin:
            if self._stop.is_set():
                return
            answer = self.handle(line)
            if answer:
                self.write(answer)

    def start(self, stdin: TextIO | None = None) -> None:
        if self.stack.service is not None:
            self.stack.service.recent.listeners.append(self.on_result)
        if self.stack.receiver is not None:
            self.stack.receiver.listeners.append(self.on_alert)
        threading.Thread(target=self._ticker, name="demo-console", daemon=True).start()
        if stdin is not None:
            threading.Thread(target=self._reader, args=(stdin,), name="demo-commands", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
