"""The rooms of the package and the one way their imports point (docs/architecture.md).

Read from the source with ``ast``: every ``import`` counts, those inside functions too, so a lazy import
cannot hide an arrow that points the wrong way.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "modelcollapse"

# Lower imports nothing above it. Rooms of one rank (models, workflows) do not import each other.
RANK = {
    "_rng": 0,
    "registry": 1,
    "data": 1,
    "theory": 1,
    "sources": 2,
    "models": 3,
    "workflows": 3,
    "selection": 4,
    "metrics": 4,
    "downstream": 4,
    "store": 5,
    "run": 6,
    "analysis": 7,
    "report": 8,
    "trackers": 8,
    "cli": 9,
    "__init__": 10,
    "__main__": 10,
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("modelcollapse", *parts)).removesuffix(".__init__")
        out[name] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its file."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in found if m in known and m != name}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_room() -> None:
    assert {room(m) for m in modules()} <= set(RANK)


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_point_down(name: str) -> None:
    here = room(name)
    wrong = []
    for target in sorted(imports(name, modules()[name])):
        there = room(target)
        if there == here:
            continue
        if RANK[there] > RANK[here] or (RANK[there] == RANK[here] and there != here):
            wrong.append(f"{target} ({there}, rank {RANK[there]})")
    assert not wrong, f"{name} ({here}, rank {RANK[here]}) imports upwards or sideways: {wrong}"


def test_no_import_cycle_between_modules() -> None:
    graph = {name: imports(name, path) for name, path in modules().items()}
    for name, targets in graph.items():  # a package's __init__ re-exports its modules: not an arrow back
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_theory_is_pure() -> None:
    """Closed forms depend on numpy, scipy and the standard library only, never on simulation code."""
    allowed = {"numpy", "scipy", "__future__", *sys.stdlib_module_names}
    for path in (PACKAGE / "theory").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for n in names:
                top = n.split(".")[0]
                assert top in allowed or n.startswith("modelcollapse.theory"), f"{path.name} imports {n}"


def test_importing_the_package_stays_light() -> None:
    """Neither PyTorch nor scikit-learn is imported to validate a config (they load when a model needs them)."""
    import subprocess

    code = (
        "import sys, modelcollapse as mc\n"
        "mc.load({'name': 'x', 'source': {'kind': 'gaussian'}, 'model': {'kind': 'gaussian'},"
        " 'samples_per_generation': 5, 'workflow': ['replace'], 'generations': 2, 'replicates': 1})\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'ray', 'duckdb') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
