"""The package's shape, as the contributor guide (docs/contributing.md) draws it: layers
whose imports point down only, no import cycle among its modules (counting imports under
``TYPE_CHECKING`` and inside functions), and no module over 400 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "paperbroker"
MAX_LINES = 400
# Modules allowed over MAX_LINES, each with the reason; keep this list short and shrinking.
LONG_MODULES: dict[str, str] = {}

# The layers, top to bottom, as module-name prefixes under ``paperbroker.``; a module may
# import from its own layer and the ones below.  A new module must be given a layer here.
LAYERS: list[tuple[str, ...]] = [
    ("widgets",),
    ("frames", "saving", "results", "sweeps", "serve", "host"),
    ("broker",),
    ("persistence",),
    ("parts",),
    ("simulator",),
    ("core",),
    ("market",),
    ("events", "topics"),
    ("models", "records", "guard", "enums", "errors", "clock", "statetypes", "native"),
]


def layer_of(name: str) -> int | None:
    """The layer of module ``paperbroker.x.y`` (None for the package itself)."""
    if name == "paperbroker":
        return None
    first = name.split(".")[1]
    for depth, prefixes in enumerate(LAYERS):
        if first in prefixes:
            return depth
    raise AssertionError(f"{name} has no layer: add it to LAYERS in tests/test_layout.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # importing a.b.c imports a.b.c's module and each package above it
            parts = candidate.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if prefix in known and prefix != name:
                    found.add(prefix)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    # a package's __init__ runs before any of its modules: importing paperbroker.x.y
    # imports paperbroker and paperbroker.x, which is not a cycle of the code's own making
    for name, deps in graph.items():
        deps.difference_update(p for p in list(deps) if name.startswith(p + "."))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    graph = import_graph()
    # host imports the broker only for its type annotations; it must still count
    assert "paperbroker.broker" in graph["paperbroker.host"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{name} -> {dep}"
        for name, deps in import_graph().items()
        for dep in sorted(deps)
        if (mine := layer_of(name)) is not None and (theirs := layer_of(dep)) is not None and theirs < mine
    ]
    assert not upward, "imports that point up the layers: " + ", ".join(upward)


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_over_400_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES and name not in LONG_MODULES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_package_imports_without_mypy_installed() -> None:
    # paperbroker.native takes mypyc's class decorator from mypy_extensions when mypy is
    # there (bench/compiled.py), and a no-op otherwise: a user's install has no mypy
    code = (
        "import sys; sys.modules['mypy_extensions'] = None\n"
        "import paperbroker as pb\n"
        "class Mine(pb.MarketSource):\n"
        "    def next_tick(self, now_ms): return None\n"
        "print(type(Mine()).__mro__[1].__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "MarketSource"
