"""regslo watching itself: a config reload that failed, log checkpoints that cannot be written.

Both failures leave regslo running and its SLIs flowing, which is exactly why nobody notices them:

- RegsloConfigReloadFailed: the last reload (SIGHUP, ``POST /-/reload``) was refused, so regslo still runs
  the previous config and the next restart will not start at all with the file as it is. Same expression
  as Prometheus' own PrometheusBadConfig alert (``max_over_time`` over 5m, so a reload that fails and is
  fixed within minutes does not ticket).
- RegsloLogCheckpointFailing (only with a ``logs`` section): file positions and totals are not saved, so a
  restart re-reads or skips log lines and the published log totals stand still.
"""

from __future__ import annotations

from typing import Any

from regslo.outputs.extras._common import runbook

NAME = "self"
RELOAD = "RegsloConfigReloadFailed"
CHECKPOINT = "RegsloLogCheckpointFailing"
RELOAD_FOR = "10m"
CHECKPOINT_FOR = "10m"


def reload_annotations(config: Any, instance: str = "{{ $labels.instance }}") -> dict[str, str]:
    return {
        "summary": f"regslo {instance}: config reload failed",
        "description": ("The last reload of regslo's config file was refused (each problem is in regslo's log, "
                        "'reload: ...'). regslo keeps running the previous config; a restart with the file as "
                        "it is would fail."),
        "runbook_url": runbook(config, "config-reload-failed.md"),
    }


def checkpoint_annotations(config: Any, source: str = "{{ $labels.source }}") -> dict[str, str]:
    return {
        "summary": f"log source {source}: checkpoint cannot be written",
        "description": ("regslo cannot save log positions and totals to logs.checkpoint_dir (missing, "
                        "read-only or full). Published log totals stand still, and a restart re-reads or skips "
                        "log lines."),
        "runbook_url": runbook(config, "log-checkpoint-failing.md"),
    }


def groups(config: Any) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [{
        "alert": RELOAD,
        "expr": "max_over_time(regslo_config_last_reload_successful[5m]) == 0",
        "for": RELOAD_FOR,
        "labels": {"severity": "ticket"},
        "annotations": reload_annotations(config),
    }]
    if getattr(config, "logs", None):
        rules.append({
            "alert": CHECKPOINT,
            "expr": "increase(regslo_log_checkpoint_failures_total[10m]) > 0",
            "for": CHECKPOINT_FOR,
            "labels": {"severity": "ticket"},
            "annotations": checkpoint_annotations(config),
        })
    return [{"name": "regslo-self", "rules": rules}]


def tests(config: Any) -> list[dict[str, Any]]:
    up = 'regslo_config_last_reload_successful{instance="regslo:9745", job="regslo"}'
    fired = [{"exp_labels": {"severity": "ticket", "instance": "regslo:9745", "job": "regslo"},
              "exp_annotations": reload_annotations(config, "regslo:9745")}]
    cases: list[dict[str, Any]] = [
        {"name": f"{RELOAD} tickets when the last reload has failed for a while", "interval": "1m",
         "input_series": [{"series": up, "values": "1x10 0x30"}],
         "alert_rule_test": [{"eval_time": "20m", "alertname": RELOAD, "exp_alerts": []},
                             {"eval_time": "30m", "alertname": RELOAD, "exp_alerts": fired}]},
        {"name": f"{RELOAD} stays silent while reloads succeed, and after a failure fixed within minutes",
         "interval": "1m", "input_series": [{"series": up, "values": "1x10 0x3 1x30"}],
         "alert_rule_test": [{"eval_time": "12m", "alertname": RELOAD, "exp_alerts": []},
                             {"eval_time": "30m", "alertname": RELOAD, "exp_alerts": []}]},
        {"name": f"{RELOAD} stays silent without data", "interval": "1m", "input_series": [],
         "alert_rule_test": [{"eval_time": "30m", "alertname": RELOAD, "exp_alerts": []}]},
    ]
    if getattr(config, "logs", None):
        series = 'regslo_log_checkpoint_failures_total{instance="regslo:9745", job="regslo", source="access"}'
        alert = [{"exp_labels": {"severity": "ticket", "instance": "regslo:9745", "job": "regslo",
                                 "source": "access"},
                  "exp_annotations": checkpoint_annotations(config, "access")}]
        cases += [
            {"name": f"{CHECKPOINT} tickets when checkpoints keep failing", "interval": "1m",
             "input_series": [{"series": series, "values": "0x5 1+1x30"}],
             "alert_rule_test": [{"eval_time": "30m", "alertname": CHECKPOINT, "exp_alerts": alert}]},
            {"name": f"{CHECKPOINT} stays silent while checkpoints are written, and after one passing failure",
             "interval": "1m", "input_series": [{"series": series, "values": "0x5 1x30"}],
             "alert_rule_test": [{"eval_time": "16m", "alertname": CHECKPOINT, "exp_alerts": []},
                                 {"eval_time": "30m", "alertname": CHECKPOINT, "exp_alerts": []}]},
            {"name": f"{CHECKPOINT} stays silent without data", "interval": "1m", "input_series": [],
             "alert_rule_test": [{"eval_time": "30m", "alertname": CHECKPOINT, "exp_alerts": []}]},
        ]
    return cases
