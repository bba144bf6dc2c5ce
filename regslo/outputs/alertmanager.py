"""Config -> Alertmanager config (``OUT/alerts/alertmanager.yml``) for the generated SLO alerts.

severity=page goes to the ``regslo-pager`` receiver, severity=ticket (burn-rate tickets and no-data) to
``regslo-ticket``; both are placeholders for the user's integrations. Alerts are grouped by slo and
registry; a ticket is inhibited while the page of the same SLO fires; the ``maintenance`` time interval
(alerting.maintenance) mutes both during planned work such as garbage collection or promotions.
"""

from __future__ import annotations

from typing import Any

from regslo.outputs.rules import ALERT_NAMES, HEADER, NO_DATA_ALERT
from regslo.outputs.yamltext import dump
from regslo.slo.settings import AlertingSettings

PAGER, TICKET, FALLBACK = "regslo-pager", "regslo-ticket", "regslo-default"
MAINTENANCE = "maintenance"
ALERTS_REGEX = "|".join(sorted([*ALERT_NAMES.values(), NO_DATA_ALERT]))


def _receiver(name: str, hint: str) -> dict[str, Any]:
    # A placeholder that passes `amtool check-config`; replace with pagerduty_configs, slack_configs, ...
    return {"name": name, "webhook_configs": [{"url": f"http://127.0.0.1:9/{hint}", "send_resolved": True}]}


def config_dict(config: Any) -> dict[str, Any]:
    settings = getattr(config, "alerting", None) or AlertingSettings()
    route = {
        "receiver": FALLBACK,
        "group_by": ["alertname", "slo", "registry"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [
            {"receiver": PAGER, "matchers": [f'alertname=~"{ALERTS_REGEX}"', 'severity="page"'],
             "group_by": ["slo", "registry"], "group_wait": "10s", "repeat_interval": "1h",
             "mute_time_intervals": [MAINTENANCE]},
            {"receiver": TICKET, "matchers": [f'alertname=~"{ALERTS_REGEX}"', 'severity="ticket"'],
             "group_by": ["slo", "registry"], "group_wait": "1m", "repeat_interval": "12h",
             "mute_time_intervals": [MAINTENANCE]},
        ],
    }
    return {
        "route": route,
        "inhibit_rules": [{
            "source_matchers": [f'alertname=~"{ALERTS_REGEX}"', 'severity="page"'],
            "target_matchers": [f'alertname=~"{ALERTS_REGEX}"', 'severity="ticket"'],
            "equal": ["slo"],
        }],
        "time_intervals": [{"name": MAINTENANCE, "time_intervals": [dict(i) for i in settings.maintenance]}],
        "receivers": [_receiver(FALLBACK, "default"), _receiver(PAGER, "page"), _receiver(TICKET, "ticket")],
    }


def render(config: Any) -> str:
    header = (f"{HEADER}\nReceivers are placeholders: replace their webhook_configs with your pager and ticket "
              "integrations.\nThe maintenance time interval (UTC) comes from alerting.maintenance.")
    return dump(config_dict(config), header=header)
