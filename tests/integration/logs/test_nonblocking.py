"""While the tailer catches up on a large backlog in its thread, scrapes and webhook calls stay fast."""

import json
import time

from prometheus_client import CollectorRegistry, generate_latest

from regslo.config import parse_config
from regslo.sources.logs.service import LogService
from tests.unit.logs.support import total


def test_scrapes_and_webhook_answer_during_catch_up(tmp_path, samples):
    logs = tmp_path / "logs"
    logs.mkdir()
    one = (samples / "r1-json-mixed.log").read_bytes()
    (logs / "big.log").write_bytes(one * 300)  # ~45k lines
    cfg = parse_config("""
registries: [{name: r1, url: 'http://127.0.0.1:5000'}]
logs:
  start_at: beginning
  poll_interval: 0.05s
  sources: [{path: logs/*.log, format: distribution, registry: r1}, {format: notifications, registry: r1}]
""", base_dir=tmp_path)
    reg = CollectorRegistry()
    service = LogService(cfg.logs, reg)
    envelope = json.loads((samples / "notification_push_manifest.json").read_text())
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    service.start()
    try:
        slowest_scrape = slowest_hook = 0.0
        scrapes = 0
        deadline = time.monotonic() + 60
        expected = 300 * sum(1 for line in one.splitlines() if not line.startswith(b"{"))  # access lines
        while total(reg, "regslo_registry_requests_total") < expected and time.monotonic() < deadline:
            t = time.perf_counter()
            generate_latest(reg)
            slowest_scrape = max(slowest_scrape, time.perf_counter() - t)
            envelope["events"][0]["id"] = f"e{scrapes}"
            t = time.perf_counter()
            assert service.handle_notification(json.dumps(envelope).encode(), headers, "r1")[0] == 200
            slowest_hook = max(slowest_hook, time.perf_counter() - t)
            scrapes += 1
            time.sleep(0.01)
        assert total(reg, "regslo_registry_requests_total") == expected
        assert scrapes >= 5  # the catch-up really overlapped the scrapes
        assert slowest_scrape < 0.5 and slowest_hook < 0.5, (slowest_scrape, slowest_hook)
    finally:
        service.stop()
