"""The runtime's modules form a tree: no import cycles, counting lazy and type-only imports too."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "lamina" / "runtime"


def _imports_of(source: str) -> Set[str]:
    names: Set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "lamina.runtime":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lamina.runtime."):
            names.add(node.module.split(".")[2])  # type: ignore[union-attr]
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[2] for a in node.names if a.name.startswith("lamina.runtime."))
    return names


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    found: List[List[str]] = []
    done: Set[str] = set()

    def visit(module: str, path: List[str]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                found.append([*path[path.index(dep):], dep])
            elif dep not in done:
                visit(dep, [*path, dep])
        done.add(module)

    for module in sorted(graph):
        visit(module, [module])
    return found


def test_runtime_modules_import_each_other_without_cycles() -> None:
    graph = {path.stem: _imports_of(path.read_text()) - {path.stem} for path in RUNTIME.glob("*.py")}
    assert graph["logs"] >= {"log_context"} and graph["logging_setup"] >= {"log_context"}
    assert _cycles(graph) == []
