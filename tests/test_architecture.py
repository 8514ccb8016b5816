"""The tree's rules, checked on the source: no import cycles, each layer of the local Lambda imports only
the layers below it, only ``lamina.cli`` imports click, and ``lamina.local.model`` does no I/O.

Imports inside ``if TYPE_CHECKING:`` blocks are left out (they never run); lazy imports inside
functions count, since they run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# The local Lambda's layers, lowest first: each may import only those before it.
LAYERS = ("model", "lifecycle", "sandbox", "runtime_api", "environments", "invoke", "api", "frontends")


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if package else parts), package


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, package: bool) -> None:
        self.module, self.package = module, package
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")
            parts = parts if self.package else parts[:-1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        self.found.add(base)
        self.found.update(f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in SRC.rglob("*.py"):
        name, package = _module_name(path)
        visitor = _Imports(name, package)
        visitor.visit(ast.parse(path.read_text()))
        modules[name] = visitor.found
    return {name: {dep for dep in deps if dep in modules and dep != name} | {
        dep for dep in deps if not dep.startswith("lamina")} for name, deps in modules.items()}


GRAPH = _graph()


def _cycles() -> list[list[str]]:
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(GRAPH.get(module, ())):
            if dep in path:
                found.append([*path[path.index(dep):], dep])
            elif dep in GRAPH and dep not in done:
                visit(dep, [*path, dep])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [module])
    return found


def test_no_module_of_lamina_imports_itself_back() -> None:
    assert _cycles() == []


def test_each_layer_of_the_local_lambda_imports_only_the_layers_below_it() -> None:
    wrong = []
    for module, deps in GRAPH.items():
        parts = module.split(".")
        if len(parts) < 3 or parts[:2] != ["lamina", "local"] or parts[2] not in LAYERS:
            continue
        rank = LAYERS.index(parts[2])
        for dep in deps:
            dep_parts = dep.split(".")
            layered = dep_parts[:2] == ["lamina", "local"] and len(dep_parts) > 2 and dep_parts[2] in LAYERS
            if layered and LAYERS.index(dep_parts[2]) > rank:
                wrong.append(f"{module} -> {dep}")
    assert wrong == []


def test_only_the_cli_imports_click() -> None:
    assert sorted(module for module, deps in GRAPH.items()
                  if "click" in deps and not module.startswith("lamina.cli")) == []


def test_the_model_does_no_io() -> None:
    io = {"aiohttp", "asyncio", "subprocess", "socket", "sqlite3"}
    assert sorted(f"{module} -> {dep}" for module, deps in GRAPH.items()
                  if module.startswith("lamina.local.model") for dep in deps if dep.split(".")[0] in io) == []
