"""What the distribution spec allows as a repository name, and the digests regslo can verify.

A name is path components of lowercase alphanumerics joined by ".", "_", "__" or dashes, 255 characters at
most. Names and digests that come from configs, logs, notifications or a registry's own index become URL
paths: "prod/../admin/x" would match "prod/**" while httpx resolves the dot segments into a read of
"admin/x", and a digest may carry "/", "?" or "#". Everything that puts one in a URL or a label checks it here.
"""

from __future__ import annotations

import re
from typing import Any

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")  # use with fullmatch
MAX_REPOSITORY_NAME = 255
SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # use with fullmatch


def valid_repository(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= MAX_REPOSITORY_NAME and REPOSITORY_NAME.fullmatch(name) is not None


def valid_digest(digest: Any) -> bool:
    return isinstance(digest, str) and SHA256_DIGEST.fullmatch(digest) is not None
