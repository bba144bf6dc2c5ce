"""Request classification shared by every log format: operation from method + path, and Go durations.

Operations follow the OCI distribution API's routes: ping, list, pull, push, delete, other. The repository
name is what lies between ``/v2/`` and the last ``/manifests/``, ``/blobs/``, ``/tags/`` or ``/referrers/``
segment (names may contain slashes). ``blobs/<digest>`` is a pull only when the segment is a digest
(``algorithm:hex``, as the registry's route requires); ``blobs/notadigest`` is a client error, ``other``.
``manifests/<reference>`` takes tags and digests alike.
"""

from __future__ import annotations

import re

from regslo import __version__

OPERATIONS = ("ping", "list", "pull", "push", "delete", "other")
# The image inspector's User-Agent: its reads are regslo's own, never user pulls (parsers skip them).
INSPECTOR_PRODUCT = "regslo-inspector/"
INSPECTOR_USER_AGENT = f"{INSPECTOR_PRODUCT}{__version__} (+regslo image inspector; docs/supply-chain.md)"
_READ = frozenset(("GET", "HEAD"))
_SEGMENTS = ("/manifests/", "/blobs/", "/tags/", "/referrers/")
# algorithm ":" hex, the algorithm as in the OCI image spec, at least 32 hex digits (the registry's route)
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}\Z").match
_HEX = "0123456789abcdef"


def is_digest(segment: str) -> bool:
    """``algorithm:hex`` with at least 32 hex digits (a lowercase sha256 digest is checked without a regex)."""
    if len(segment) == 71 and segment.startswith("sha256:") and not segment[7:].strip(_HEX):
        return True
    return _DIGEST(segment) is not None


def own_read(user_agent: object) -> bool:
    """True for a request the image inspector made (its User-Agent starts with ``regslo-inspector/``)."""
    return isinstance(user_agent, str) and user_agent.startswith(INSPECTOR_PRODUCT)


def classify(method: str, uri: str) -> tuple[str, str | None]:
    """Return ``(operation, repository or None)`` for one request line's method and URI."""
    path = uri
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    if not path.startswith("/v2/"):
        return "other", None
    # Fast path: the keyword is the next-to-last segment (/v2/<name>/manifests/<ref>, .../blobs/<digest>,
    # .../tags/list, .../referrers/<d>, .../blobs/uploads/<uuid>); anything else takes the general path.
    slash = path.rfind("/")
    prev = path.rfind("/", 0, slash)
    if prev > 4:
        kind, last = path[prev + 1:slash], path[slash + 1:]
        if last:
            if kind == "manifests":
                repo = path[4:prev]
                if method in _READ:
                    return "pull", repo
                return ("push" if method == "PUT" else "delete" if method == "DELETE" else "other"), repo
            if kind == "blobs":
                repo = path[4:prev]
                if last == "uploads":
                    return "push", repo
                if not is_digest(last):
                    return "other", repo
                if method in _READ:
                    return "pull", repo
                return ("delete" if method == "DELETE" else "other"), repo
            if kind == "uploads" and path.endswith("/blobs", 0, prev):
                before = path.rfind("/", 0, prev)
                if before > 4:
                    return "push", path[4:before]
    rest = path[4:]
    if not rest:
        return ("ping" if method in _READ else "other"), None
    if rest == "_catalog":
        return ("list" if method in _READ else "other"), None
    best = -1
    seg = ""
    for s in _SEGMENTS:
        i = rest.rfind(s)
        if i > best:
            best, seg = i, s
    if best <= 0:
        return "other", None
    repo = rest[:best]
    tail = rest[best + len(seg):]
    if seg == "/blobs/" and (tail == "uploads" or tail.startswith("uploads/")):
        return ("push" if "/" not in tail[8:] else "other"), repo
    if not tail or "/" in tail:  # references, digests and "list" never contain a slash
        return "other", repo
    if seg == "/blobs/":
        if not is_digest(tail):
            return "other", repo
        if method in _READ:
            return "pull", repo
        return ("delete" if method == "DELETE" else "other"), repo
    if seg == "/manifests/":
        if method in _READ:
            return "pull", repo
        if method == "PUT":
            return "push", repo
        return ("delete" if method == "DELETE" else "other"), repo
    if seg == "/tags/":
        return ("list" if tail == "list" and method in _READ else "other"), repo
    return ("list" if method in _READ else "other"), repo  # referrers


# Go's time.ParseDuration grammar: [-+]?(\d*\.?\d*(ns|us|µs|μs|ms|s|m|h))+ or "0".
_GO_UNITS_NS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
                "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_FAST_UNITS = {"ms": (1_000_000, 6), "us": (1_000, 3), "\u00b5s": (1_000, 3), "\u03bcs": (1_000, 3), "ns": (1, 0)}
_DIGITS = frozenset("0123456789.")
_GO_PART = re.compile("(\\d*)(?:\\.(\\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds for a Go duration string (``879.067µs``, ``14ms``, ``1m2.5s``); ``ValueError`` if invalid.

    Computed in integer nanoseconds like Go, so the result is the exact value Go would print.
    """
    unit = text[-2:]
    fast = _FAST_UNITS.get(unit) if unit != "ms" or len(text) < 3 or text[-3] != "m" else None
    if fast is None and unit[-1:] == "s" and unit[:1] in _DIGITS:
        fast, unit = (1_000_000_000, 9), "s"
    if fast is not None:  # one unit, as the registry writes it: exact integer nanoseconds, no regex
        whole, dot, frac = text[:-len(unit)].partition(".")
        if whole.isdigit() and (not dot or frac.isdigit()) and whole.isascii() and frac.isascii():
            scale, digits = fast
            ns = int(whole) * scale
            if frac:
                ns += int(frac[:digits].ljust(digits, "0")) * scale // 10 ** digits if digits else 0
            return ns / 1e9
    s = text
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    pos = 0
    total = 0
    n = len(s)
    while pos < n:
        m = _GO_PART.match(s, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}")
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise ValueError(f"invalid duration {text!r}")
        scale = _GO_UNITS_NS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // (10 ** len(frac))
        pos = m.end()
    return sign * total / 1e9
