"""The package's shape, checked: no import cycles inside ``src/drlab`` (module level or inside a function),
no wing imports the top-level CLI, and ``drlab.common`` holds only what two wings share.

The graph is read from the source with :mod:`ast` (every ``import drlab…`` / ``from drlab… import``
anywhere in a file, ``TYPE_CHECKING`` blocks excepted: they never run), not by importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "drlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The drlab module an imported name lives in (``drlab.data.Batches`` → ``drlab.data``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> set[str]:
    """The drlab modules that ``name`` imports, wherever the import statement stands."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            # ``from drlab.train import distributed`` names a module; ``from drlab.data import Batches``
            # names something the package drlab.data defines
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        for target in targets:
            resolved = _resolve(target) if target.startswith("drlab") else None
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def _ancestors(name: str) -> set[str]:
    """A package's ``__init__`` runs before any of its modules: importing a.b.c imports a and a.b."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))} & set(MODULES)


def test_the_graph_is_read() -> None:
    # the checker itself must see real edges, or the tests below could not fail
    assert "drlab.train.trainer" in GRAPH["drlab.train.run"]
    assert "drlab.common.io" in GRAPH["drlab.rl.runs"]


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: every component must be a single module.

    A package's ``__init__`` re-exporting its own modules is not a cycle (its modules import the
    package's siblings directly, never the package).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in GRAPH[node]:
            if child in _ancestors(node):
                continue  # a module naming its own package's __init__: caught by the test below
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert cycles == []


def test_no_module_imports_its_own_package_init() -> None:
    # drlab.data.verify importing ``from drlab.data import X`` would run drlab/data/__init__.py,
    # which imports drlab.data.verify: a cycle that only import order hides
    offenders = {name: sorted(GRAPH[name] & (_ancestors(name) - {"drlab"})) for name in GRAPH}
    offenders = {name: found for name, found in offenders.items() if found}
    assert offenders == {}


def test_no_wing_imports_the_top_level_cli() -> None:
    users = sorted(name for name, deps in GRAPH.items() if "drlab.cli" in deps and name != "drlab.__main__")
    assert users == []


def test_common_holds_only_what_two_wings_share() -> None:
    wings = {"check", "data", "linreg", "models", "rl", "train"}

    def wing(name: str) -> str | None:
        parts = name.split(".")
        return parts[1] if len(parts) > 1 and parts[1] in wings else None

    def users_of(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        # the wings that import it, directly or through another module of drlab.common (folders.py is
        # shared through rundir.py and runfiles.py, which train, rl and linreg import)
        found: set[str] = set()
        for user, deps in GRAPH.items():
            if name not in deps or user in seen:
                continue
            if user.startswith("drlab.common."):
                found |= users_of(user, seen | {name})
            elif wing(user) is not None:
                found.add(wing(user))  # type: ignore[arg-type]
        return found

    lonely = {}
    for name in MODULES:
        if not name.startswith("drlab.common."):
            continue
        users = users_of(name)
        if len(users) < 2:
            lonely[name] = sorted(users)
    assert lonely == {}
