"""Repository globs, one dialect for every section that takes them (``inspect.repositories``,
``immutable_tags``): ``*`` and ``?`` stay inside one path segment, ``**`` is a whole segment and matches one
or more segments. ``prod/**`` matches ``prod/a`` and ``prod/a/b``, not ``prod`` itself."""

from __future__ import annotations

import re

_REPO_GLOB = re.compile(r"[a-z0-9._*?-]+(?:/[a-z0-9._*?-]+)*")


def _segment(seg: str) -> str:
    if seg == "**":
        return "[^/]+(?:/[^/]+)*"
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in seg)


def repository_glob(glob: str) -> str:
    """Regex text (for fullmatch) of one repository glob; ``ValueError`` says what is wrong with it."""
    if not isinstance(glob, str) or not _REPO_GLOB.fullmatch(glob) or \
            any("**" in s and s != "**" for s in glob.split("/")):
        raise ValueError(f"bad repository glob {glob!r} (lowercase letters, digits, . _ - / * ?; "
                         "'**' only as a whole segment)")
    return "/".join(_segment(s) for s in glob.split("/"))
