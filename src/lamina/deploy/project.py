"""Deploy defaults from the project file: ``[tool.lamina.functions.NAME]``.

Looked up in ``lamina.toml`` (where the ``tool.lamina`` prefix is optional) and then ``pyproject.toml``
in the current directory, so ``lamina deploy`` with no options deploys what the project describes::

    [tool.lamina.functions.hello]
    code = "src/hello"
    handler = "app.handler"
    runtime = "provided.al2023"
    with_layer = true
    memory = 256
    env = { LOG_LEVEL = "debug" }
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    import tomli as tomllib

PROJECT_FILES = ("lamina.toml", "pyproject.toml")
KEYS = frozenset({"code", "zip", "handler", "role", "layers", "with_layer", "runtime", "arch", "memory",
                  "timeout", "env", "endpoint_url", "region", "profile", "create_role", "description"})


class ProjectError(Exception):
    """The project file cannot be used (unreadable, unknown keys, ambiguous function)."""


def functions_table(directory: Path) -> tuple[Path | None, dict[str, dict[str, Any]]]:
    """The project file found in ``directory`` and its functions (name → settings)."""
    for filename in PROJECT_FILES:
        path = directory / filename
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProjectError(f"cannot read {path}: {exc}") from None
        table = data.get("tool", {}).get("lamina", {}).get("functions")
        if table is None and filename == "lamina.toml":
            table = data.get("functions")
        if table is not None:
            return path, dict(table)
    return None, {}


def function_defaults(directory: Path, name: str | None) -> tuple[str | None, dict[str, Any]]:
    """The function to deploy and its project settings; the only function when no name is given."""
    path, table = functions_table(directory)
    if name is None:
        if len(table) == 1:
            name = next(iter(table))
        elif len(table) > 1:
            raise ProjectError(f"{path} describes several functions ({', '.join(sorted(table))}): "
                               "name the one to deploy")
    settings = dict(table.get(name, {})) if name else {}
    unknown = sorted(set(settings) - KEYS)
    if unknown:
        raise ProjectError(f"{path}: unknown keys for function {name}: {', '.join(unknown)} "
                           f"(known: {', '.join(sorted(KEYS))})")
    return name, settings
