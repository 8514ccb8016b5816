"""Functions declared in a project file: ``[tool.lamina.functions.NAME]`` in pyproject.toml, or
``[functions.NAME]`` in lamina.toml, with the same keys as ``lamina serve``'s flags.

```toml
[tool.lamina.functions.hello]
code = "examples/hello"
handler = "app.handler"
timeout = 10
memory = 256
concurrency = 2
max_concurrency = 8    # Lambda Managed Instances: invocations per environment at once
snap_start = true      # SnapStart: init, snapshot, restore
bootstrap = "python -m awslambdaric"   # or a list
env = { STAGE = "local" }
layers = ["layers/common"]
```
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

from lamina.local.model.function_config import (
    MANAGED_INSTANCES_MIN_MEMORY_MB,
    FunctionConfig,
    parse_bootstrap,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10 read TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

PROJECT_FILES = ("lamina.toml", "pyproject.toml")


class ProjectError(ValueError):
    """A project file that cannot be read as lamina functions."""


def find_project_file(start: Path) -> Path | None:
    for name in PROJECT_FILES:
        candidate = start / name
        if candidate.is_file() and _function_tables(_load(candidate)):
            return candidate
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text())
        return document
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path}: {exc}") from None


def _function_tables(document: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = document.get("tool", {}).get("lamina", {})
    return tool.get("functions") or document.get("functions") or {}


def load_functions(path: Path, overrides: Mapping[str, Any] | None = None) -> list[FunctionConfig]:
    """Every function of the project file; paths are relative to the file's directory."""
    base = path.parent
    configs = []
    for name, table in _function_tables(_load(path)).items():
        if not isinstance(table, dict):
            raise ProjectError(f"{path}: functions.{name} must be a table")
        merged = {**table, **(overrides or {})}
        if overrides and "env" in overrides:  # --env adds to the function's variables, not replaces them
            merged["env"] = {**dict(table.get("env", {})), **overrides["env"]}
        configs.append(function_from_table(name, merged, base))
    return configs


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def function_from_table(name: str, table: Mapping[str, Any], base: Path) -> FunctionConfig:
    known = {"code", "handler", "bootstrap", "runtime", "timeout", "memory", "concurrency", "env",
             "layers", "queue", "idle_timeout", "max_concurrency", "snap_start",
             # read by lamina deploy (lamina.project.deploy_settings), ignored here
             "zip", "role", "with_layer", "arch", "endpoint_url", "region", "profile", "create_role",
             "description",
             # read by the front ends (lamina.local.frontends.serve): HTTP routes, async settings
             "routes", "payload_format", "maximum_retry_attempts", "maximum_event_age", "on_failure",
             "on_success"}
    unknown = set(table) - known
    if unknown:
        raise ProjectError(f"function {name}: unknown keys {sorted(unknown)}")
    try:
        return FunctionConfig(
            name=name,
            code_dir=(base / str(table.get("code", "."))).resolve(),
            handler=str(table.get("handler", "")),
            bootstrap=parse_bootstrap(table.get("bootstrap")),
            runtime=table.get("runtime"),
            timeout=float(table.get("timeout", 3.0)),
            memory_mb=int(table.get("memory", MANAGED_INSTANCES_MIN_MEMORY_MB if table.get("max_concurrency")
                                    else 128)),
            max_concurrency=int(table["concurrency"]) if table.get("concurrency") else None,
            environment={str(k): str(v) for k, v in dict(table.get("env", {})).items()},
            layers=tuple((base / str(layer)).resolve() for layer in table.get("layers", ())),
            queue_size=int(table.get("queue", 100)),
            idle_timeout=float(table.get("idle_timeout", 300.0)),
            environment_concurrency=int(table["max_concurrency"]) if table.get("max_concurrency") else None,
            snap_start=_boolean(table.get("snap_start", False)),
        )
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"function {name}: {exc}") from None
