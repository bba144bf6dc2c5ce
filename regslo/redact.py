"""Keeping secrets out of texts: log lines, probe messages, the CLI table, the status page.

Library messages can quote a header value (h11: "Illegal header value b'Bearer ..."), and a registry can echo
what it received into its error message. Two nets: the exact secrets regslo has sent (passwords, tokens,
Basic header values), remembered in a bounded set by ``remember_secret``, and anything shaped like an
``Authorization`` value or a ``token=`` parameter. No dependencies: the log formatters use it too.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

__all__ = ["redact", "remember_secret"]

_AUTH_VALUE = re.compile(r"\b(Bearer|Basic|BEARER|BASIC)(?:\s+|\\x20|%20)[^\s'\",;]{6,}(?:\\[nrt][^\s'\",;]*)*")
_SECRET_KEYS = re.compile(r"(?i)\b(refresh_token|access_token|password|token)=[^&\s'\"]+")
MAX_SECRETS = 1024
_secrets: "OrderedDict[str, None]" = OrderedDict()
_secrets_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Have ``redact`` remove this exact value from every message from now on (values under 6 characters
    are too common to redact without garbling messages)."""
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        _secrets[value] = None
        _secrets.move_to_end(value)
        while len(_secrets) > MAX_SECRETS:
            _secrets.popitem(last=False)


def redact(text: str) -> str:
    """``text`` without Authorization-shaped values, ``token=``-style parameters and remembered secrets."""
    with _secrets_lock:
        known = list(_secrets)
    for value in known:
        if value in text:
            text = text.replace(value, "<redacted>")
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} <redacted>", text)
    return _SECRET_KEYS.sub(lambda m: f"{m.group(1)}=<redacted>", text)
