"""Harbor audit lines forwarded over syslog (tag ``audit``):

``... audit[1]: 2022-07-19T06:54:41Z [INFO] [/pkg/audit/manager.go:75][operator="admin" time="..."]:
action:delete, resource:test01/photon:sha256:..., resourceType:artifact`` (resourceType in newer releases).
Counted as events by action (create -> push) and per repository; Harbor audit carries no status code.
"""

from __future__ import annotations

import re

from regslo.sli.log_metrics import IGNORED, MALFORMED, PARSED, Sink

_AUDIT = re.compile(r'audit(?:\[\d+\])?: .*?\]: action:\s*(?P<action>[\w-]+),\s*resource:\s*(?P<resource>[^\s,]+)'
                    r'(?:,\s*resourceType:\s*(?P<type>[\w-]+))?')
_ACTIONS = {"create": "push", "push": "push", "pull": "pull", "delete": "delete"}


def split_resource(resource: str) -> str:
    """``project/repo:tag`` or ``project/repo@sha256:...`` -> ``project/repo``."""
    slash = resource.rfind("/")
    head, tail = resource[:slash + 1], resource[slash + 1:]
    for sep in ("@", ":"):
        cut = tail.find(sep)
        if cut >= 0:
            tail = tail[:cut]
    return head + tail


class HarborAuditParser:
    def feed(self, line: str, sink: Sink) -> str:
        if "audit" not in line:  # other programs' syslog lines on the same stream
            return IGNORED
        m = _AUDIT.search(line)
        if m is None:
            return MALFORMED
        action = _ACTIONS.get(m.group("action").lower(), "other")
        rtype = (m.group("type") or "artifact").lower()
        repo = split_resource(m.group("resource")) if rtype in ("artifact", "repository", "tag") else None
        sink.event(action, None, repo or None)
        return PARSED
