"""Deploy defaults from the project file: ``[tool.lamina.functions.NAME]``, as ``lamina serve`` reads it.

The same table ``lamina serve`` reads (see :mod:`lamina.project.functions`), so one description of a function
serves it locally and deploys it. Deploy adds its own keys::

    [tool.lamina.functions.hello]
    code = "hello"                 # shared with serve
    handler = "app.handler"        # shared with serve
    memory = 256                   # shared with serve
    env = { STAGE = "dev" }        # shared with serve
    layers = ["layers/common", "arn:aws:lambda:…:layer:x:3"]   # directories are published as layers
    runtime = "provided.al2023"
    role = "arn:aws:iam::123456789012:role/hello"
    with_layer = true

Paths are relative to the project file's directory, as for ``lamina serve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lamina.project.functions import ProjectError, _function_tables, _load, find_project_file

__all__ = ["DEPLOY_KEYS", "SERVE_ONLY_KEYS", "ProjectError", "function_defaults"]

DEPLOY_KEYS = frozenset({"code", "zip", "handler", "role", "layers", "with_layer", "runtime", "arch",
                         "memory", "timeout", "env", "endpoint_url", "region", "profile", "create_role",
                         "description"})
SERVE_ONLY_KEYS = frozenset({"bootstrap", "concurrency", "queue", "idle_timeout"})
PATH_KEYS = ("code", "zip")


def function_defaults(directory: Path, name: str | None) -> tuple[str | None, dict[str, Any]]:
    """The function to deploy and its project settings; the only function when no name is given."""
    path = find_project_file(directory)
    if path is None:
        return name, {}
    table = dict(_function_tables(_load(path)))
    if name is None:
        if len(table) == 1:
            name = next(iter(table))
        elif len(table) > 1:
            raise ProjectError(f"{path} describes several functions ({', '.join(sorted(table))}): "
                               "name the one to deploy")
    settings = dict(table.get(name, {})) if name else {}
    unknown = sorted(set(settings) - DEPLOY_KEYS - SERVE_ONLY_KEYS)
    if unknown:
        raise ProjectError(f"{path}: unknown keys for function {name}: {', '.join(unknown)}")
    for key in PATH_KEYS:
        if key in settings:
            settings[key] = str(path.parent / str(settings[key]))
    settings["layers"] = [layer if str(layer).startswith("arn:") else str(path.parent / str(layer))
                          for layer in settings.get("layers", [])]
    return name, {key: value for key, value in settings.items() if key in DEPLOY_KEYS}
