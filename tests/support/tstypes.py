"""Check JSON values against TypeScript declarations (the subset Grafana's generated ``.d.ts`` files use).

Understood: ``export interface X extends A, B { name?: T; ... }``, ``export declare enum E { a = 0, b = 'x' }``,
``export type T = ...``, and type expressions made of ``string number boolean unknown any null``, string and
number literals, unions ``(A | B)``, ``Array<T>`` / ``T[]``, ``Record<string, T>``, inline ``{ ... }`` object
types, references to interfaces, enums, aliases and enum members (``MappingType.ValueToText``), and
references through an import alias (``common.X``, ``ui.X``) into another module. ``check`` reports missing
required fields, keys an interface does not declare, and values of the wrong type. Written for regslo's
tests; anything outside that subset raises ``ValueError`` rather than passing silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PRIMITIVES = {"string", "number", "boolean", "unknown", "any", "null", "undefined"}


@dataclass
class Module:
    decls: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (kind, payload)
    imports: dict[str, "Module"] = field(default_factory=dict)  # alias -> module


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", text)


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, start, quote = [], 0, 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "(<{[":
            depth += 1
        elif ch in ")>}]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _matching(text: str, start: int) -> int:
    """Index of the brace closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced braces")


def _fields(body: str) -> dict[str, tuple[bool, Any]]:
    out = {}
    for member in _split_top(body, ";"):
        member = member.strip()
        if not member:
            continue
        m = re.fullmatch(r"(?s)['\"]?([\w$-]+)['\"]?(\?)?\s*:\s*(.+)", member)
        if not m:
            raise ValueError(f"cannot read member {member!r}")
        out[m.group(1)] = (m.group(2) is None, parse_type(m.group(3)))
    return out


def parse_type(text: str) -> Any:
    t = text.strip()
    while t.startswith("(") and _balanced_wrap(t, "(", ")"):
        t = t[1:-1].strip()
    branches = [b for b in _split_top(t, "|") if b.strip()]
    if len(branches) > 1:
        return ("union", [parse_type(b) for b in branches])
    if t.startswith("{"):
        if not _balanced_wrap(t, "{", "}"):
            raise ValueError(f"cannot read type {t!r}")
        return ("object", _fields(t[1:-1]), [])
    if t.endswith("[]"):
        return ("array", parse_type(t[:-2]))
    m = re.fullmatch(r"(?s)Array<(.+)>", t)
    if m:
        return ("array", parse_type(m.group(1)))
    m = re.fullmatch(r"(?s)Record<\s*string\s*,(.+)>", t)
    if m:
        return ("record", parse_type(m.group(1)))
    if re.fullmatch(r"'[^']*'|\"[^\"]*\"", t):
        return ("literal", t[1:-1])
    if re.fullmatch(r"-?\d+(\.\d+)?", t):
        return ("literal", float(t))
    if t in ("true", "false"):
        return ("literal", t == "true")
    if t in PRIMITIVES:
        return ("prim", t)
    if re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)?", t):
        return ("ref", t)
    raise ValueError(f"cannot read type {t!r}")


def _balanced_wrap(t: str, open_: str, close: str) -> bool:
    if not (t.startswith(open_) and t.endswith(close)):
        return False
    depth = 0
    for i, ch in enumerate(t):
        depth += ch == open_
        depth -= ch == close
        if depth == 0 and i < len(t) - 1:
            return False
    return True


def parse_module(text: str, imports: dict[str, Module] | None = None) -> Module:
    mod = Module(imports=dict(imports or {}))
    text = _strip_comments(text)
    for m in re.finditer(r"export\s+interface\s+(\w+)\s*(?:extends\s+([^{]+))?\{", text):
        end = _matching(text, m.end() - 1)
        extends = [e.strip() for e in (m.group(2) or "").split(",") if e.strip()]
        mod.decls[m.group(1)] = ("interface", (_fields(text[m.end():end]), extends))
    for m in re.finditer(r"export\s+declare\s+enum\s+(\w+)\s*\{", text):
        end = _matching(text, m.end() - 1)
        members = {}
        for part in text[m.end():end].split(","):
            if part.strip():
                key, _, value = part.partition("=")
                value = value.strip()
                members[key.strip()] = value[1:-1] if value[:1] in "'\"" else float(value)
        mod.decls[m.group(1)] = ("enum", members)
    for m in re.finditer(r"export\s+type\s+(\w+)\s*=\s*", text):
        end = text.index(";", m.end())
        while text[m.end():end].count("(") != text[m.end():end].count(")") or \
                text[m.end():end].count("{") != text[m.end():end].count("}"):
            end = text.index(";", end + 1)
        mod.decls[m.group(1)] = ("alias", parse_type(text[m.end():end]))
    return mod


def _resolve(mod: Module, name: str) -> tuple[Module, str, Any]:
    if "." in name:
        head, tail = name.split(".", 1)
        if head in mod.imports:
            return _resolve(mod.imports[head], tail)
        kind, members = mod.decls[head]
        if kind != "enum":
            raise ValueError(f"{name}: {head} is not an enum")
        return mod, "literal", members[tail]
    if name not in mod.decls:
        raise ValueError(f"unknown type {name}")
    kind, payload = mod.decls[name]
    return mod, kind, payload


def interface_fields(mod: Module, name: str) -> dict[str, tuple[bool, Any, Module]]:
    """All members of an interface, its bases' included, each with the module its type is read in."""
    mod, kind, payload = _resolve(mod, name)
    if kind == "alias" and payload[0] == "ref":
        return interface_fields(mod, payload[1])
    if kind != "interface":
        raise ValueError(f"{name} is a {kind}, not an interface")
    fields, extends = payload
    out: dict[str, tuple[bool, Any, Module]] = {}
    for base in extends:
        out.update(interface_fields(mod, base))
    out.update({k: (req, typ, mod) for k, (req, typ) in fields.items()})
    return out


def check(value: Any, typ: Any, mod: Module, path: str = "$") -> list[str]:
    kind = typ[0]
    if kind == "prim":
        name = typ[1]
        ok = {"string": isinstance(value, str), "boolean": isinstance(value, bool),
              "number": isinstance(value, (int, float)) and not isinstance(value, bool),
              "null": value is None, "undefined": value is None}.get(name, True)
        return [] if ok else [f"{path}: expected {name}, got {value!r}"]
    if kind == "literal":
        return [] if value == typ[1] and type(value) is not bool or value is typ[1] else \
            [f"{path}: expected {typ[1]!r}, got {value!r}"]
    if kind == "union":
        results = [check(value, branch, mod, path) for branch in typ[1]]
        return [] if any(not r for r in results) else min(results, key=len)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in check(v, typ[1], mod, f"{path}[{i}]")]
    if kind == "record":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in check(v, typ[1], mod, f"{path}.{k}")]
    if kind == "object":
        fields = {k: (req, t, mod) for k, (req, t) in typ[1].items()}
        return _check_fields(value, fields, path)
    if kind == "ref":
        target_mod, target_kind, payload = _resolve(mod, typ[1])
        if target_kind == "literal":
            return check(value, ("literal", payload), target_mod, path)
        if target_kind == "enum":
            return [] if value in payload.values() and not isinstance(value, bool) else \
                [f"{path}: {value!r} is not one of {typ[1]} {sorted(map(str, payload.values()))}"]
        if target_kind == "alias":
            return check(value, payload, target_mod, path)
        return _check_fields(value, interface_fields(mod, typ[1]), path)
    raise ValueError(f"unknown type node {typ!r}")


def _check_fields(value: Any, fields: dict[str, tuple[bool, Any, Module]], path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    out = [f"{path}.{k}: required, missing" for k, (req, _, _) in fields.items() if req and k not in value]
    for key, v in value.items():
        if key not in fields:
            out.append(f"{path}.{key}: not declared (known: {', '.join(sorted(fields))})")
            continue
        _, typ, mod = fields[key]
        out += check(v, typ, mod, f"{path}.{key}")
    return out
