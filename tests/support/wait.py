"""Polling for a condition in tests, two ways: ``wait_until`` fails the test with what it waited for and the
last value seen; ``poll`` hands back the last value for the caller to assert on (with its own message)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def poll(fn: Callable[[], T], timeout: float = 15.0, interval: float = 0.2) -> T:
    """Call ``fn`` until it returns something truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(fn: Callable[[], T], timeout: float, what: str = "condition", interval: float = 0.25) -> T:
    """Like ``poll``, but a timeout is an AssertionError naming ``what`` and the last value."""
    value = poll(fn, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {value!r})")
    return value
