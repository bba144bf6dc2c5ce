"""What users push (image inspector, config ``inspect:``): recorded shares of pushed images that are signed,
carry an SBOM, a vulnerability report or provenance, and the mean pushed image size; exec panels "Signed
image adoption", "Scanned before use", "Mean pushed image size" and an on-call panel of the inspector's
health. Nothing is generated without an ``inspect:`` section (the metrics would never exist).

Shares are over one day of pushes (``increase(...[1d])``), per registry; with no push that day they have
no value rather than NaN. See docs/supply-chain.md.
"""

from __future__ import annotations

from typing import Any

from regslo.outputs.extras._common import alert_annotations
from regslo.outputs.extras._panels import panel, row

NAME = "supply-chain"
WINDOW = "1d"
INSPECTED = "regslo_pushed_images_inspected_total"
WITH_ARTIFACT = "regslo_pushed_images_with_artifact_total"
SIZE = "regslo_pushed_image_size_bytes"
# recorded share -> artifact kind
SHARES = {"signed": "signature", "sbom": "sbom", "scanned": "vulnerability_report", "provenance": "provenance"}
MEAN_SIZE = f"regslo:pushed_image_size_bytes:mean{WINDOW}"
INSPECTOR_ALERT = "RegsloImageInspectorFailing"
MISSED_SHARE = 0.1  # of the pushes it should have read in the last hour


def inspector_alert(config: Any) -> dict[str, Any]:
    """Ticket: the inspector missed (failed reads, dropped pushes) over 10 % of the last hour's pushes, so the
    shares above describe a biased sample. No pushes, or none missed: silent."""
    fails = "sum by (registry) (increase(regslo_inspect_failures_total[1h]))"
    dropped = "sum by (registry) (increase(regslo_inspect_dropped_total[1h]))"
    done = f"sum by (registry) (increase({INSPECTED}[1h]))"
    annotations = alert_annotations(
        config, "image-inspector.md", "The image inspector of {{ $labels.registry }} misses pushed images",
        f"Over {int(MISSED_SHARE * 100)}% of the images pushed to {{{{ $labels.registry }}}} in the last hour were "
        "not inspected (failed reads or a full queue): the signed, SBOM and scanned shares describe a biased "
        "sample.")
    return {"alert": INSPECTOR_ALERT, "expr": f"({fails} + {dropped})\n/ ({fails} + {dropped} + {done}) > {MISSED_SHARE}",
            "for": "15m", "labels": {"severity": "ticket"}, "annotations": annotations}


def share_record(name: str) -> str:
    return f"regslo:pushed_images_{name}:ratio{WINDOW}"


def _share_expr(kind: str) -> str:
    return (f'sum by (registry) (increase({WITH_ARTIFACT}{{kind="{kind}"}}[{WINDOW}]))\n'
            f"/ (sum by (registry) (increase({INSPECTED}[{WINDOW}])) > 0)")


def groups(config: Any) -> list[dict[str, Any]]:
    if not getattr(config, "inspect", None):
        return []
    rules = [{"record": share_record(name), "expr": _share_expr(kind)} for name, kind in SHARES.items()]
    rules.append({"record": MEAN_SIZE,
                  "expr": f"sum by (registry) (increase({SIZE}_sum[{WINDOW}]))\n"
                          f"/ (sum by (registry) (increase({SIZE}_count[{WINDOW}])) > 0)"})
    rules.append(inspector_alert(config))
    return [{"name": "regslo-supply-chain", "rules": rules}]


def tests(config: Any) -> list[dict[str, Any]]:
    """Shares and mean size on known pushes; no pushes: no value (never NaN); other registries apart."""
    if not getattr(config, "inspect", None):
        return []
    minutes = 60
    series = [
        # us: 10 images a minute, half signed, a fifth scanned, every one with an SBOM; 100 MB each
        {"series": f'{INSPECTED}{{registry="us"}}', "values": f"0+10x{minutes}"},
        {"series": f'{WITH_ARTIFACT}{{registry="us",kind="signature"}}', "values": f"0+5x{minutes}"},
        {"series": f'{WITH_ARTIFACT}{{registry="us",kind="vulnerability_report"}}', "values": f"0+2x{minutes}"},
        {"series": f'{WITH_ARTIFACT}{{registry="us",kind="sbom"}}', "values": f"0+10x{minutes}"},
        {"series": f'{WITH_ARTIFACT}{{registry="us",kind="provenance"}}', "values": f"0+0x{minutes}"},
        {"series": f'{SIZE}_sum{{registry="us"}}', "values": f"0+1000000000x{minutes}"},
        {"series": f'{SIZE}_count{{registry="us"}}', "values": f"0+10x{minutes}"},
        # eu: the inspector runs but nobody pushes
        {"series": f'{INSPECTED}{{registry="eu"}}', "values": f"0+0x{minutes}"},
        {"series": f'{WITH_ARTIFACT}{{registry="eu",kind="signature"}}', "values": f"0+0x{minutes}"},
        {"series": f'{SIZE}_sum{{registry="eu"}}', "values": f"0+0x{minutes}"},
        {"series": f'{SIZE}_count{{registry="eu"}}', "values": f"0+0x{minutes}"},
    ]
    at = f"{minutes}m"
    exprs = [
        {"expr": share_record("signed"), "eval_time": at,
         "exp_samples": [{"labels": f'{share_record("signed")}{{registry="us"}}', "value": 0.5}]},
        {"expr": share_record("scanned"), "eval_time": at,
         "exp_samples": [{"labels": f'{share_record("scanned")}{{registry="us"}}', "value": 0.2}]},
        {"expr": share_record("sbom"), "eval_time": at,
         "exp_samples": [{"labels": f'{share_record("sbom")}{{registry="us"}}', "value": 1}]},
        {"expr": share_record("provenance"), "eval_time": at,
         "exp_samples": [{"labels": f'{share_record("provenance")}{{registry="us"}}', "value": 0}]},
        {"expr": MEAN_SIZE, "eval_time": at,
         "exp_samples": [{"labels": f'{MEAN_SIZE}{{registry="us"}}', "value": 1e8}]},
    ]
    for name in [*SHARES, None]:  # eu had no pushes: no sample at all, in particular no NaN
        record = share_record(name) if name else MEAN_SIZE
        exprs.append({"expr": f'{record}{{registry="eu"}}', "eval_time": at, "exp_samples": []})
    alert = inspector_alert(config)
    missed = [  # us: 5 failed reads per 10 inspected; eu: healthy; ap: no pushes at all
        {"series": f'{INSPECTED}{{registry="us"}}', "values": "0+10x90"},
        {"series": 'regslo_inspect_failures_total{registry="us",reason="auth"}', "values": "0+5x90"},
        {"series": 'regslo_inspect_dropped_total{registry="us"}', "values": "0+0x90"},
        {"series": f'{INSPECTED}{{registry="eu"}}', "values": "0+10x90"},
        {"series": 'regslo_inspect_failures_total{registry="eu",reason="auth"}', "values": "0+0x90"},
        {"series": 'regslo_inspect_dropped_total{registry="eu"}', "values": "0+0x90"},
        {"series": f'{INSPECTED}{{registry="ap"}}', "values": "0+0x90"},
        {"series": 'regslo_inspect_failures_total{registry="ap",reason="auth"}', "values": "0+0x90"},
        {"series": 'regslo_inspect_dropped_total{registry="ap"}', "values": "0+0x90"},
    ]
    firing = [{"exp_labels": {"severity": "ticket", "registry": "us"},
               "exp_annotations": {k: v.replace("{{ $labels.registry }}", "us")
                                   for k, v in alert["annotations"].items()}}]
    return [{"name": "shares and mean size of a day's pushes; none without pushes", "interval": "1m",
             "input_series": series, "promql_expr_test": exprs},
            {"name": f"{INSPECTOR_ALERT}: a third missed fires after 15m; healthy and idle registries stay silent",
             "interval": "1m", "input_series": missed,
             "alert_rule_test": [{"eval_time": "10m", "alertname": INSPECTOR_ALERT, "exp_alerts": []},
                                 {"eval_time": "60m", "alertname": INSPECTOR_ALERT, "exp_alerts": firing}]}]


def panels(config: Any, dashboard: str) -> list[dict[str, Any]]:
    if not getattr(config, "inspect", None):
        return []
    sel = '{registry=~"$registry"}'
    if dashboard == "exec":
        return [
            row("What users push (image inspector)"),
            panel("Signed image adoption", [(share_record("signed") + sel, "{{registry}}")], unit="percentunit",
                  w=8, max=1, description="Share of the day's pushed images (selected repositories) that carried a "
                                          "signature (cosign, notation) when inspected."),
            panel("Scanned before use", [(share_record("scanned") + sel, "{{registry}}")], unit="percentunit",
                  w=8, max=1, description="Share of the day's pushed images with a vulnerability report attached "
                                          "within the inspection delay after the push."),
            panel("Mean pushed image size", [(MEAN_SIZE + sel, "{{registry}}")], unit="bytes", w=8,
                  description="Mean config + layer bytes of the day's pushed images (all platforms of an index)."),
            panel("SBOM and provenance coverage", [(share_record("sbom") + sel, "SBOM {{registry}}"),
                                                   (share_record("provenance") + sel, "provenance {{registry}}")],
                  unit="percentunit", w=24, max=1,
                  description="Share of the day's pushed images with an SBOM (SPDX, CycloneDX) and with "
                              "provenance (in-toto / SLSA)."),
        ]
    if dashboard == "oncall":
        rate = "[$__rate_interval]"
        return [panel("Image inspector: inspected, failed, dropped", [
            (f"sum by (registry) (rate({INSPECTED}{sel}{rate}))", "inspected {{registry}}"),
            (f"sum by (registry, reason) (rate(regslo_inspect_failures_total{sel}{rate}))", "failed {{registry}} {{reason}}"),
            (f"sum by (registry) (rate(regslo_inspect_dropped_total{sel}{rate}))", "dropped {{registry}}"),
            ("regslo_inspect_queue_length", "queued")], unit="ops", w=24,
            description="Images per second the inspector read, failed to read (by reason) and dropped because "
                        "its queue was full; queued: pushes waiting for their delay.")]
    return []
