"""The import layers of console/, checked (STYLE: "Layers, checked"; issue 15 item 3).

Every console/**/*.py (migrations excluded) is parsed with ast; every import counts,
module-level and inside functions alike (``TYPE_CHECKING`` blocks too). From them:

- the app-level graph: an app may import its own layer or lower ones (LAYERS, bottom
  first; docs/architecture.md lists the same), and the apps' graph has no cycle;
- the module-level graph: no cycle between modules at all.

``from package import name`` depends on ``package.name`` when that is a module (the
submodule), else on ``package``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. A name is an app (console/<name>/) or a project module (console/<name>.py).
LAYERS: list[list[str]] = [
    ["core", "env"],
    ["audit"],
    ["accounts"],
    ["projects"],
    ["jobs"],
    ["fleet", "metrics"],
    ["data", "policies"],
    ["runs"],
    ["alerts", "carbon", "registry"],
    ["energy", "governance"],
    ["cards"],
    ["home", "settings", "urls", "wsgi"],
]

# Upward imports still allowed, each with the reason it is not gone yet.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted((root / "console").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the console modules it imports (anywhere in the file)."""
    modules = _modules(root)

    def owner(name: str) -> str | None:  # the module a dotted name lives in
        parts = name.split(".")
        while parts:
            if ".".join(parts) in modules:
                return ".".join(parts)
            parts.pop()
        return None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            for target in targets:
                if target == "console" or target.startswith("console."):
                    found = owner(target)
                    if found and found != module:
                        graph[module].add(found)
    return graph


def app_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "console"


def layer_problems(graph: dict[str, set[str]]) -> list[str]:
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = app_of(module), app_of(target)
            if a == b or (a, b) in KNOWN_EXCEPTIONS:
                continue
            if a not in rank or b not in rank:
                problems.append(f"{module} -> {target}: {a if a not in rank else b} has no layer")
            elif rank[b] > rank[a]:
                problems.append(f"{module} -> {target}: {a} is below {b}")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for ts in graph.values() for t in ts}):
        if node not in index:
            visit(node)
    return found


def _without_exceptions(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        m: {t for t in ts if (app_of(m), app_of(t)) not in KNOWN_EXCEPTIONS}
        for m, ts in graph.items()
    }


def app_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    apps: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if app_of(module) != app_of(target):
                apps[app_of(module)].add(app_of(target))
    return apps


def test_every_app_has_a_layer():
    apps = {p.parent.name for p in (ROOT / "console").glob("*/__init__.py")}
    project = {p.stem for p in (ROOT / "console").glob("*.py") if p.stem != "__init__"}
    declared = [name for layer in LAYERS for name in layer]
    assert len(declared) == len(set(declared))
    assert apps | project == set(declared)


def test_no_import_goes_up_a_layer():
    assert layer_problems(import_graph()) == []


def test_no_cycle_between_apps():
    assert cycles(app_graph(_without_exceptions(import_graph()))) == []


def test_no_cycle_between_modules():
    assert cycles(_without_exceptions(import_graph())) == []


def test_the_known_exceptions_still_exist():
    """An exception no import needs any more is deleted from KNOWN_EXCEPTIONS."""
    apps = app_graph(import_graph())
    for a, b in KNOWN_EXCEPTIONS:
        assert b in apps[a], (a, b)


def test_the_check_sees_imports_inside_functions(tmp_path):
    (tmp_path / "console" / "core").mkdir(parents=True)
    (tmp_path / "console" / "jobs").mkdir()
    for path in ("console/__init__.py", "console/core/__init__.py", "console/jobs/__init__.py"):
        (tmp_path / path).write_text("")
    (tmp_path / "console" / "jobs" / "models.py").write_text("from ..core import errors\n")
    (tmp_path / "console" / "core" / "errors.py").write_text(
        "def f():\n    from console.jobs.models import Job\n"
    )
    graph = import_graph(tmp_path)
    assert graph["console.core.errors"] == {"console.jobs.models"}
    assert graph["console.jobs.models"] == {"console.core.errors"}
    assert layer_problems(graph) == [
        "console.core.errors -> console.jobs.models: core is below jobs"
    ]
    assert cycles(graph) == [["console.core.errors", "console.jobs.models"]]
