"""Integrity, consistency and auth alerts: the registry serves the right bytes under the right names.

Failure modes that are no outage (see docs/runbooks/): a corrupted blob (``RegsloDigestMismatch``, page),
a tag that differs between regions (``RegsloTagInconsistent``, ticket, one rule per ``consistency`` entry with
its ``grace``), a protected tag moved (``RegsloProtectedTagOverwritten``, severity from ``immutable_tags``)
and a token service refusing or failing every request (``RegsloTokenServiceDown``, page). Plus the recorded
auth-failure ratio from logs and the on-call panels for all of them.

Each alert comes with promtool tests: it fires on the fault, stays silent on healthy data and on no data.
"""

from __future__ import annotations

import re
from typing import Any

from regslo.outputs.extras._common import alert_annotations, expected_alert, first_registry, promtool_case
from regslo.outputs.extras._panels import panel, row

NAME = "integrity"
GROUP = "regslo-integrity"
AUTH_RATIO = "regslo:registry_auth_failures:ratio_rate5m"
DIGEST_WINDOW = "10m"
OVERWRITE_WINDOW = "1h"
TOKEN_DOWN_SECONDS = 300.0
ALERTS = ("RegsloDigestMismatch", "RegsloTagInconsistent", "RegsloProtectedTagOverwritten", "RegsloTokenServiceDown")


def _duration(seconds: float) -> str:
    from regslo.units import format_duration
    return format_duration(seconds)


def _regex(values: tuple[str, ...]) -> str:
    """A PromQL label regex matching exactly these values (dots escaped, quoted for a PromQL string)."""
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in values)


def _annotations(config: Any, runbook: str, summary: str, description: str) -> dict[str, str]:
    return alert_annotations(config, f"{runbook}.md", summary, description)


# -- rules -------------------------------------------------------------------------------------------
def digest_mismatch_alert(config: Any) -> dict:
    return {
        "alert": "RegsloDigestMismatch",
        "expr": (f'sum by (registry, probe) (increase(regslo_probe_failures_total{{reason="digest_mismatch"}}'
                 f"[{DIGEST_WINDOW}])) > 0"),
        "labels": {"severity": "page"},
        "annotations": _annotations(
            config, "digest-mismatch", "{{ $labels.registry }} served bytes that do not match their digest",
            f"A {{{{ $labels.probe }}}} probe of {{{{ $labels.registry }}}} read a manifest or blob whose "
            f"sha256 is not the one it was stored under, in the last {DIGEST_WINDOW}. Storage corruption or a "
            "cache serving wrong content; users pulling now may get broken images."),
    }


def tag_inconsistent_alerts(config: Any) -> list[dict]:
    out = []
    for check in getattr(config, "consistency", None) or []:
        rule = {
            "alert": "RegsloTagInconsistent",
            "expr": (f'regslo_tag_consistent{{repository="{check.repository}",tag=~"{_regex(check.tags)}"}} == 0'),
            "labels": {"severity": "ticket"},
            "annotations": _annotations(
                config, "tag-inconsistent", "{{ $labels.repository }}:{{ $labels.tag }} differs between regions",
                f"The registries {', '.join(check.registries)} have not served one digest under "
                "{{ $labels.repository }}:{{ $labels.tag }} for "
                f"{_duration(check.grace) if check.grace else 'a check'}: users in different regions pull "
                "different images. See the status page for the digest each registry serves."),
        }
        if check.grace:
            rule["for"] = _duration(check.grace)
        out.append(rule)
    return out


def protected_overwrite_alert(config: Any) -> list[dict]:
    protected = getattr(config, "immutable_tags", None)
    if not protected:
        return []
    return [{
        "alert": "RegsloProtectedTagOverwritten",
        "expr": (f"sum by (registry) (increase(regslo_registry_protected_tag_overwrites_total"
                 f"[{OVERWRITE_WINDOW}])) > 0"),
        "labels": {"severity": protected.severity},
        "annotations": _annotations(
            config, "protected-tag-overwritten", "A protected tag was moved on {{ $labels.registry }}",
            "A push moved a tag matching immutable_tags "
            f"({', '.join(protected.patterns)}) to another digest on {{{{ $labels.registry }}}} in the last "
            f"{OVERWRITE_WINDOW}. Which tag, the old and new digest and who pushed are on the status page "
            "(/api/v1/status, protected_tag_overwrites)."),
    }]


def token_service_alert(config: Any, window: float = TOKEN_DOWN_SECONDS) -> dict:
    """Pages when, for ``window``, the probes made token requests and none succeeded.

    The condition (failures and no success within the last 2/5 of the window) must hold for the remaining
    3/5: so no success for the whole window and failures all along. A short burst of failures does not
    page, and a registry whose cached tokens are still valid (no requests) cannot page either.
    ``window`` is a parameter only so a test can run the same rule shape in seconds."""
    look, hold = _duration(window * 2 / 5), _duration(window * 3 / 5)
    failed = f'sum by (registry) (increase(regslo_auth_token_requests_total{{result=~"denied|error"}}[{look}]))'
    ok = f'sum by (registry) (increase(regslo_auth_token_requests_total{{result="ok"}}[{look}]))'
    return {
        "alert": "RegsloTokenServiceDown",
        "expr": f"({failed} > 0)\nunless on (registry)\n({ok} > 0)",
        "for": hold,
        "labels": {"severity": "page"},
        "annotations": _annotations(
            config, "token-service-down",
            f"Every token request for {{{{ $labels.registry }}}} failed for {_duration(window)}",
            "The probes asked the token service of {{ $labels.registry }} for bearer tokens and every request "
            f"for {_duration(window)} was refused or failed. Clients cannot get new tokens: pushes and pulls "
            "fail as soon as cached tokens expire."),
    }


def auth_ratio_record() -> dict:
    return {"record": AUTH_RATIO,
            "expr": ("sum by (registry) (rate(regslo_registry_auth_failures_total[5m]))\n"
                     "/\nsum by (registry) (rate(regslo_registry_requests_total[5m]))")}


def groups(config: Any) -> list[dict]:
    rules: list[dict] = []
    if getattr(config, "logs", None):
        rules.append(auth_ratio_record())
    rules.append(digest_mismatch_alert(config))
    rules += tag_inconsistent_alerts(config)
    rules += protected_overwrite_alert(config)
    rules.append(token_service_alert(config))
    return [{"name": GROUP, "rules": rules}]


# -- promtool tests ------------------------------------------------------------------------------------
def tests(config: Any) -> list[dict]:
    reg = first_registry(config)
    cases = []
    # digest mismatch: one failing pull pages at once, stops 10m later; healthy and absent data stay silent
    rule = digest_mismatch_alert(config)
    fail = f'regslo_probe_failures_total{{registry="{reg}",region="x",probe="pull",reason="digest_mismatch"}}'
    cases.append(promtool_case("RegsloDigestMismatch fires on one corrupted read and clears after 10m",
                               [(fail, "0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1")],
                               [("4m", "RegsloDigestMismatch", []),
                                ("5m", "RegsloDigestMismatch", [expected_alert(rule, {"registry": reg, "probe": "pull"})]),
                                ("13m", "RegsloDigestMismatch", [expected_alert(rule, {"registry": reg, "probe": "pull"})]),
                                ("20m", "RegsloDigestMismatch", [])]))
    cases.append(promtool_case("RegsloDigestMismatch is silent on healthy data and on no data",
                               [(fail, "0+0x30"),
                                (f'regslo_probe_failures_total{{registry="{reg}",region="x",probe="pull",reason="timeout"}}',
                                 "0+1x30")],
                               [("30m", "RegsloDigestMismatch", [])]))
    cases.append(promtool_case("RegsloDigestMismatch: no data", [], [("30m", "RegsloDigestMismatch", [])]))
    # tag inconsistency: fires only after grace
    for check in getattr(config, "consistency", None) or []:
        rule = next(r for r in tag_inconsistent_alerts(config) if f'repository="{check.repository}"' in r["expr"])
        tag = check.tags[0]
        series = f'regslo_tag_consistent{{repository="{check.repository}",tag="{tag}"}}'
        grace_min = int(-(-check.grace // 60))
        bad = 5 + grace_min + 3
        values = "1x4 " + " ".join(["0"] * bad) + " 1x10"
        labels = {"repository": check.repository, "tag": tag}
        checks = [("4m", "RegsloTagInconsistent", [])]
        if grace_min:
            checks.append((f"{5 + grace_min - 1}m", "RegsloTagInconsistent", []))
        checks += [(f"{5 + grace_min + 1}m", "RegsloTagInconsistent", [expected_alert(rule, labels)]),
                   (f"{5 + bad + 2}m", "RegsloTagInconsistent", [])]
        cases.append(promtool_case(f"RegsloTagInconsistent {check.repository}:{tag} fires after grace, clears when fixed",
                                   [(series, values)], checks))
        cases.append(promtool_case(f"RegsloTagInconsistent {check.repository}:{tag} silent when consistent",
                                   [(series, f"1x{grace_min + 30}"),
                                    (f'regslo_tag_digests{{repository="{check.repository}",tag="{tag}"}}', f"1x{grace_min + 30}")],
                                   [(f"{grace_min + 30}m", "RegsloTagInconsistent", [])]))
        cases.append(promtool_case(f"RegsloTagInconsistent {check.repository}:{tag}: no data", [],
                                   [(f"{grace_min + 30}m", "RegsloTagInconsistent", [])]))
    # protected tag overwrite
    for rule in protected_overwrite_alert(config):
        series = f'regslo_registry_protected_tag_overwrites_total{{registry="{reg}"}}'
        cases.append(promtool_case("RegsloProtectedTagOverwritten fires on one overwrite for an hour",
                                   [(series, "0x9 1x100")],
                                   [("9m", "RegsloProtectedTagOverwritten", []),
                                    ("10m", "RegsloProtectedTagOverwritten", [expected_alert(rule, {"registry": reg})]),
                                    ("60m", "RegsloProtectedTagOverwritten", [expected_alert(rule, {"registry": reg})]),
                                    ("75m", "RegsloProtectedTagOverwritten", [])]))
        cases.append(promtool_case("RegsloProtectedTagOverwritten silent while unprotected tags move",
                                   [(series, "0x60"), (f'regslo_registry_tag_overwrites_total{{registry="{reg}"}}', "0+3x60")],
                                   [("60m", "RegsloProtectedTagOverwritten", [])]))
        cases.append(promtool_case("RegsloProtectedTagOverwritten: no data", [],
                                   [("60m", "RegsloProtectedTagOverwritten", [])]))
    # token service: every request failing for 5m pages; a success, or nothing attempted, keeps it quiet
    rule = token_service_alert(config)

    def tok(result: str) -> str:
        return f'regslo_auth_token_requests_total{{registry="{reg}",result="{result}"}}'
    cases.append(promtool_case("RegsloTokenServiceDown fires 5m after the last successful token request",
                               [(tok("ok"), "0+1x10 10x30"), (tok("error"), "0x10 0+2x30"), (tok("denied"), "0x40")],
                               [("10m", "RegsloTokenServiceDown", []),
                                ("13m", "RegsloTokenServiceDown", []),  # failing since 11m: pending, not 5m yet
                                ("17m", "RegsloTokenServiceDown", [expected_alert(rule, {"registry": reg})])]))
    cases.append(promtool_case("RegsloTokenServiceDown fires when the token service denies everything",
                               [(tok("ok"), "0x30"), (tok("error"), "0x30"), (tok("denied"), "0+1x30")],
                               [("3m", "RegsloTokenServiceDown", []),
                                ("7m", "RegsloTokenServiceDown", [expected_alert(rule, {"registry": reg})])]))
    cases.append(promtool_case("RegsloTokenServiceDown: a minute of failures does not page",
                               [(tok("ok"), "0+1x10 10x30"), (tok("error"), "0x10 1x30"), (tok("denied"), "0x40")],
                               [("12m", "RegsloTokenServiceDown", []), ("16m", "RegsloTokenServiceDown", []),
                                ("30m", "RegsloTokenServiceDown", [])]))
    cases.append(promtool_case("RegsloTokenServiceDown silent while some token requests succeed, and when none are made",
                               [(tok("ok"), "0+1x40"), (tok("error"), "0+1x40"), (tok("denied"), "0x40"),
                                ('regslo_auth_token_requests_total{registry="idle",result="ok"}', "5x40"),
                                ('regslo_auth_token_requests_total{registry="idle",result="error"}', "3x40")],
                               [("40m", "RegsloTokenServiceDown", [])]))
    cases.append(promtool_case("RegsloTokenServiceDown: no data", [], [("40m", "RegsloTokenServiceDown", [])]))
    if getattr(config, "logs", None):
        cases.append({"name": "auth failure ratio excludes nothing it is given and divides by all requests",
                      "interval": "1m",
                      "input_series": [
                          {"series": f'regslo_registry_auth_failures_total{{registry="{reg}",operation="pull"}}',
                           "values": "0+1x10"},
                          {"series": f'regslo_registry_auth_failures_total{{registry="{reg}",operation="ping"}}',
                           "values": "0x10"},
                          {"series": f'regslo_registry_requests_total{{registry="{reg}",operation="pull",code="200"}}',
                           "values": "0+99x10"},
                          {"series": f'regslo_registry_requests_total{{registry="{reg}",operation="pull",code="401"}}',
                           "values": "0+1x10"}],
                      "promql_expr_test": [{"expr": AUTH_RATIO, "eval_time": "10m",
                                            "exp_samples": [{"labels": f'{AUTH_RATIO}{{registry="{reg}"}}',
                                                             "value": 0.01}]}]})
    return cases


# -- panels ------------------------------------------------------------------------------------------
def panels(config: Any, dashboard: str) -> list[dict]:
    if dashboard != "oncall":
        return []
    reg = 'registry=~"$registry"'
    # log, replication and token series have no region label: joined to it through regslo_registry_info
    in_region = ' and on (registry) regslo_registry_info{region=~"$region"}'
    src_in_region = (' and on (source) label_join(regslo_registry_info{region=~"$region"}, "source", "", '
                     '"registry")')
    out = [row("Integrity and auth"),
           panel("Firing integrity and auth alerts",
                  [(f'ALERTS{{alertname=~"{"|".join(ALERTS)}",alertstate="firing"}} or on () vector(0)', "")],
                  type="table", w=24, h=6,
                  description="Digest mismatches, tags differing between regions, protected tags moved, token "
                              "service down. A single row with value 0: none firing."),
           panel("Digest mismatches (last 1h)",
                  [(f'sum by (registry, probe) (increase(regslo_probe_failures_total{{reason="digest_mismatch",{reg},'
                    f'region=~"$region"}}[1h]))',
                    "{{registry}} {{probe}}"),
                   ('sum by (source, destination) (increase(regslo_replication_digest_mismatches_total'
                    f'{{source=~"$registry"}}[1h]){src_in_region})', "replication {{source}} -> {{destination}}")],
                  description="Probe reads whose bytes did not match their digest (page), and replicated images "
                              "served under another digest at the destination."),
           panel("Auth failures per request (from logs, challenges excluded)",
                  [(f"{AUTH_RATIO}{{{reg}}}{in_region}", "{{registry}}")], unit="percentunit",
                  description="401/403 responses except the anonymous 401 every client gets on its first GET /v2/."),
           panel("Token requests by result",
                  [(f"sum by (registry, result) (rate(regslo_auth_token_requests_total{{{reg}}}[$__rate_interval])"
                    f"{in_region})",
                    "{{registry}} {{result}}")], unit="ops",
                  description="The probes' own token requests; only 5m without a success while requests fail "
                              "pages (RegsloTokenServiceDown).")]
    if getattr(config, "immutable_tags", None):
        out.append(panel("Protected tag overwrites (last 1h)",
                          [(f"sum by (registry) (increase(regslo_registry_protected_tag_overwrites_total{{{reg}}}[1h])"
                             f"{in_region})",
                            "{{registry}}")],
                          description="Which tag, digests and actor: the status page (protected_tag_overwrites)."))
    if getattr(config, "consistency", None):
        out.append(panel("Tags differing between regions",
                          [("regslo_tag_digests unless on (repository, tag) (regslo_tag_consistent == 1)", "")],
                          type="table", description="Distinct digests served under each inconsistent tag."))
    return out
