"""Shared machinery for config sections: key paths, collected errors, secrets, typed getters.

Every section parser takes the raw mapping, a key path prefix and an ``Errors`` collector. It records one
message per problem (``registries[1].url: must start with http:// or https://``) and keeps going, so a
user sees every problem in one run of ``regslo check-config``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from regslo.units import parse_duration, parse_size

T = TypeVar("T")


class ConfigError(Exception):
    """Raised by ``load_config`` with every problem found; ``str()`` is one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Errors:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # False for commands that never contact a registry (generate): a password_env that is not set in
    # the generating environment is then no problem.
    check_secrets: bool = True

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}" if path else message)

    def __bool__(self) -> bool:  # truthy when there are problems
        return bool(self.problems)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Secret:
    """A string that never prints. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


_MISSING = object()


class Section:
    """Typed, path-aware access to one mapping of the config, recording problems in ``errors``.

    Unknown keys are reported so typos (``intervall``) don't silently fall back to defaults.
    """

    def __init__(self, raw: Any, path: str, errors: Errors, known: set[str] | None = None):
        self.path = path
        self.errors = errors
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            errors.add(path, f"must be a mapping, got {type(raw).__name__}")
            raw = {}
        self.raw: dict = raw
        if known is not None:
            for key in raw:
                if key not in known:
                    errors.add(join(path, str(key)), f"unknown key (known: {', '.join(sorted(known))})")

    def key(self, name: str) -> str:
        return join(self.path, name)

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def _get(self, name: str, default: Any, required: bool) -> Any:
        if name not in self.raw or self.raw[name] is None:
            if required:
                self.errors.add(self.key(name), "is required")
            return _MISSING if required else default
        return self.raw[name]

    def convert(self, name: str, fn: Callable[[Any], T], default: T, required: bool = False) -> T:
        value = self._get(name, default, required)
        if value is _MISSING:
            return default
        if value is default:
            return default
        try:
            return fn(value)
        except (ValueError, TypeError) as exc:
            self.errors.add(self.key(name), str(exc))
            return default

    def str(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        def check(v: Any) -> str:
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"must be a non-empty string, got {v!r}")
            return v
        return self.convert(name, check, default, required)

    def bool(self, name: str, default: bool = False) -> bool:
        def check(v: Any) -> bool:
            if not isinstance(v, bool):
                raise ValueError(f"must be true or false, got {v!r}")
            return v
        return self.convert(name, check, default)

    def int(self, name: str, default: int | None = None, minimum: int | None = None, required: bool = False) -> int | None:
        def check(v: Any) -> int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"must be an integer, got {v!r}")
            if minimum is not None and v < minimum:
                raise ValueError(f"must be >= {minimum}, got {v}")
            return v
        return self.convert(name, check, default, required)

    def float(self, name: str, default: float | None = None, required: bool = False) -> float | None:
        def check(v: Any) -> float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"must be a number, got {v!r}")
            return float(v)
        return self.convert(name, check, default, required)

    def duration(self, name: str, default: float | None = None, required: bool = False, positive: bool = True) -> float | None:
        def check(v: Any) -> float:
            seconds = parse_duration(v)
            if positive and seconds <= 0:
                raise ValueError(f"must be a positive duration, got {v!r}")
            return seconds
        return self.convert(name, check, default, required)

    def size(self, name: str, default: int | None = None, required: bool = False) -> int | None:
        return self.convert(name, parse_size, default, required)

    def list(self, name: str, required: bool = False) -> list:
        value = self._get(name, [], required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.errors.add(self.key(name), f"must be a list, got {type(value).__name__}")
            return []
        return value

    def mapping(self, name: str) -> dict:
        value = self._get(name, {}, False)
        if not isinstance(value, dict):
            self.errors.add(self.key(name), f"must be a mapping, got {type(value).__name__}")
            return {}
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None, required: bool = False) -> str | None:
        def check(v: Any) -> str:
            if v not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}; got {v!r}")
            return v
        return self.convert(name, check, default, required)

    def secret(self, stem: str, base_dir: Path | None = None) -> Secret | None:
        """Read ``<stem>``, ``<stem>_env`` or ``<stem>_file`` (at most one) as a Secret."""
        given = [k for k in (stem, f"{stem}_env", f"{stem}_file") if self.has(k)]
        if len(given) > 1:
            self.errors.add(self.key(stem), f"give only one of {', '.join(given)}")
            return None
        if not given:
            return None
        key = given[0]
        value = self.raw[key]
        if not isinstance(value, str) or not value:
            self.errors.add(self.key(key), "must be a non-empty string")
            return None
        if key == stem:
            return Secret(value)
        if key.endswith("_env"):
            if value not in os.environ:
                if self.errors.check_secrets:
                    self.errors.add(self.key(key), f"environment variable {value} is not set")
                return None
            return Secret(os.environ[value])
        path = Path(os.path.expanduser(value))
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            return Secret(path.read_text().rstrip("\r\n"))
        except OSError as exc:
            if self.errors.check_secrets:
                self.errors.add(self.key(key), f"cannot read {path}: {exc.strerror}")
            return None
