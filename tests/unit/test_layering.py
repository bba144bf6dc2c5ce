"""The package's layering, read from the source (every import statement, also those inside functions).

- The metrics stage (regslo.sli) and the status page depend on the event types in regslo.events, never on a
  source's module (regslo.sources.*).
- No import cycles between regslo's modules (e.g. the demo's console and webhook receiver once imported each
  other).
- Demo machinery lives under regslo.demo: no product module imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "regslo"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """regslo modules ``name`` imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def test_metrics_and_status_do_not_import_sources():
    graph = _graph()
    offenders = {(m, d) for m, deps in graph.items() if m.startswith(("regslo.sli", "regslo.outputs"))
                 for d in deps if d.startswith("regslo.sources")}
    assert not offenders
    assert "regslo.events" in graph["regslo.sli.probe_metrics"]
    assert "regslo.events" in graph["regslo.sources.probes.engine"]


def test_no_import_cycles():
    graph = _graph()
    # a package's __init__ importing its own submodules is not a cycle worth reporting
    def deps(m: str) -> set[str]:
        return {d for d in graph[m] if not m.startswith(d + ".")}

    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(deps(m)):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles


def test_demo_machinery_stays_in_demo():
    graph = _graph()
    assert "regslo.replicator" not in graph and "regslo.demo.replicator" in graph
    product = {m for m in graph if not m.startswith("regslo.demo") and m not in ("regslo.cli", "regslo.__main__")}
    offenders = {(m, d) for m in product for d in graph[m] if d.startswith("regslo.demo")}
    assert not offenders
