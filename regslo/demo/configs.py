"""Config files the demo writes for the programs it starts: registries, Prometheus, Alertmanager.

Pure functions from settings to documents (dicts, dumped as YAML by the caller), so tests can read them.
Every address is on 127.0.0.1.
"""

from __future__ import annotations

import copy
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEMO_CONFIG = "demo.yml"


def embedded_config() -> dict[str, Any]:
    """The demo's default regslo config (regslo/data/demo.yml), as a mapping."""
    text = resources.files("regslo").joinpath("data", DEMO_CONFIG).read_text()
    return yaml.safe_load(text)


def registry_config(name: str, port: int, workdir: Path, notify: list[tuple[str, str]] = ()) -> dict[str, Any]:
    """A distribution 2.8 config: JSON logs, delete enabled, ``http.secret`` set, push notifications to ``notify``."""
    cfg: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "json", "fields": {"service": "registry", "region": name},
                "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    if notify:
        cfg["notifications"] = {"events": {"includereferences": True}, "endpoints": [
            {"name": ep_name, "url": url, "timeout": "1s", "threshold": 5, "backoff": "1s"}
            for ep_name, url in notify]}
    return cfg


def prometheus_config(regslo: str, alertmanager: str, rule_files: list[Path], scrape_interval: float,
                      evaluation_interval: float) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": _dur(scrape_interval), "scrape_timeout": _dur(min(scrape_interval, 10)),
                   "evaluation_interval": _dur(evaluation_interval)},
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "regslo", "static_configs": [{"targets": [regslo]}]},
        ],
    }


def rule_files(alerts_dir: Path) -> list[Path]:
    """The Prometheus rule files among ``regslo generate``'s output (not its promtool tests or alertmanager.yml)."""
    out = []
    for path in sorted(alerts_dir.glob("*.y*ml")):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and "groups" in doc and "rule_files" not in doc:
            out.append(path)
    return out


def alertmanager_config(receiver_url: str, generated: dict[str, Any] | None, group_wait: float | None = None,
                        group_interval: float | None = None, repeat_interval: float | None = None) -> dict[str, Any]:
    """The generated Alertmanager config with every receiver pointed at the demo's webhook.

    Routing, grouping and inhibitions stay as ``regslo generate`` wrote them; only the placeholder receivers
    become ``webhook_configs`` (``<receiver_url>/<receiver name>``, resolved notifications on) and the
    timers (when given) shrink so a page shows up seconds after Prometheus fires it. Without a generated config, a small
    one routes everything to the webhook, grouped by slo and registry.
    """
    if generated and isinstance(generated.get("route"), dict):
        cfg = copy.deepcopy(generated)
        names = [r["name"] for r in cfg.get("receivers") or [] if isinstance(r, dict) and "name" in r]
    else:
        cfg = {"route": {"receiver": "default", "group_by": ["alertname", "slo", "registry"]},
               "receivers": []}
        names = ["default"]
    cfg["receivers"] = [{"name": n, "webhook_configs": [{"url": f"{receiver_url}/{n}", "send_resolved": True}]}
                        for n in names]
    cfg.pop("global", None)  # placeholders for SMTP, Slack ... are not needed here
    if group_wait is not None:
        _shrink_timers(cfg["route"], group_wait, group_interval or group_wait, repeat_interval or 3600)
    return cfg


def _shrink_timers(route: dict[str, Any], wait: float, interval: float, repeat: float) -> None:
    route.update(group_wait=_dur(wait), group_interval=_dur(interval), repeat_interval=_dur(repeat))
    stack = list(route.get("routes") or [])
    while stack:  # child routes inherit the root's timers
        child = stack.pop()
        for key in ("group_wait", "group_interval", "repeat_interval"):
            child.pop(key, None)
        stack.extend(child.get("routes") or [])


def _dur(seconds: float) -> str:
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{int(round(seconds * 1000))}ms"


COMPOSE_AM_HEADER = """\
# Alertmanager in docker-compose.yml: alerts/alertmanager.yml (generated) with every receiver sent to the
# pager service, which prints notifications (docker-compose logs -f pager). Rewrite it after changing
# the generated routing: python3 -m regslo.demo.configs (run from the repository root)
"""
EXAMPLE_SECTIONS = "\nslos:\n"  # deploy/regslo-compose.yml repeats examples/regslo.yml from this line on


def compose_alertmanager(generated_path: Path = Path("alerts/alertmanager.yml")) -> str:
    """deploy/alertmanager.yml: the committed generated routing, receivers pointed at compose's pager."""
    cfg = alertmanager_config("http://pager:9097", yaml.safe_load(generated_path.read_text()))
    return COMPOSE_AM_HEADER + yaml.safe_dump(cfg, sort_keys=False)


def compose_regslo_config(current: str, example: str) -> str:
    """deploy/regslo-compose.yml: its own head (registries, probes, logs) + the example's SLO sections."""
    head = current[:current.index(EXAMPLE_SECTIONS) + 1]
    return head + example[example.index(EXAMPLE_SECTIONS) + 1:]


def sync_compose(root: Path = Path(".")) -> list[Path]:
    """Rewrite the deploy/ files derived from the committed example output; return the changed ones."""
    changed = []
    for path, text in (
            (root / "deploy/alertmanager.yml", compose_alertmanager(root / "alerts/alertmanager.yml")),
            (root / "deploy/regslo-compose.yml",
             compose_regslo_config((root / "deploy/regslo-compose.yml").read_text(),
                                   (root / "examples/regslo.yml").read_text()))):
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed in sync_compose():
        print(f"rewrote {changed}")
