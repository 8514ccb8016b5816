"""Functions declared in a project file: ``[tool.lamina.functions.NAME]`` in pyproject.toml, or
``[functions.NAME]`` in lamina.toml. One table describes a function for ``lamina serve`` and for
``lamina deploy``; :data:`KEYS` is its one schema, and each command reads the keys that are its own.

```toml
[tool.lamina.functions.hello]
code = "examples/hello"
handler = "app.handler"
timeout = 10
memory = 256
concurrency = 2                        # lamina serve: environments at most, here
reserved_concurrency = 10              # Lambda's reserved concurrency (ReservedConcurrentExecutions)
max_concurrency = 8    # Lambda Managed Instances: invocations per environment at once
snap_start = true      # SnapStart: init, snapshot, restore
bootstrap = "python -m awslambdaric"   # or a list
env = { STAGE = "local" }
layers = ["layers/common", "arn:aws:lambda:…:layer:x:3"]   # deploy publishes directories as layers
routes = ["GET /hello"]                # the HTTP front of lamina serve
runtime = "provided.al2023"            # lamina deploy
role = "arn:aws:iam::…:role/hello"     # lamina deploy
s3_bucket = "my-artifacts"             # lamina deploy: zips through S3 (past 50 MiB)
```

Paths (``code``, ``zip``, ``layers``) are relative to the project file's directory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.local.model.function_config import (
    MANAGED_INSTANCES_MIN_MEMORY_MB,
    FunctionConfig,
    parse_bootstrap,
)
from lamina.project.errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10 read TOML with the tomli backport
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = ["ASYNC", "DEPLOY", "HTTP", "KEYS", "PROJECT_FILES", "SERVE", "Key", "ProjectError",
           "deploy_settings", "find_project_file", "function_from_table", "function_tables",
           "keys_read_by", "load_functions"]

PROJECT_FILES = ("lamina.toml", "pyproject.toml")

# Who reads a key: the local Lambda (a FunctionConfig), lamina deploy, and lamina serve's front ends
# (the HTTP front, and the durable Event path's retries and destinations).
SERVE, DEPLOY, HTTP, ASYNC = "serve", "deploy", "http", "async"


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _variables(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value).items()}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value]


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Key:
    """One key of a function table: who reads it, and how its TOML value is read (its type)."""

    readers: frozenset[str]
    parse: Callable[[Any], Any]
    path: bool = False  # relative to the project file's directory


def _key(*readers: str, parse: Callable[[Any], Any] = str, path: bool = False) -> Key:
    return Key(frozenset(readers), parse, path)


KEYS: Mapping[str, Key] = {
    "code": _key(SERVE, DEPLOY, path=True),
    "handler": _key(SERVE, DEPLOY),
    "runtime": _key(SERVE, DEPLOY),
    "timeout": _key(SERVE, DEPLOY, parse=float),
    "memory": _key(SERVE, DEPLOY, parse=int),
    "env": _key(SERVE, DEPLOY, parse=_variables),
    "layers": _key(SERVE, DEPLOY, parse=_strings, path=True),
    "bootstrap": _key(SERVE, parse=parse_bootstrap),  # a command line, or a list of arguments
    "concurrency": _key(SERVE, parse=int),
    "reserved_concurrency": _key(SERVE, parse=int),  # ReservedConcurrentExecutions
    "max_concurrency": _key(SERVE, parse=int),
    "snap_start": _key(SERVE, parse=_boolean),
    "queue": _key(SERVE, parse=int),
    "idle_timeout": _key(SERVE, parse=float),
    "zip": _key(DEPLOY, path=True),
    "role": _key(DEPLOY),
    "with_layer": _key(DEPLOY, parse=_boolean),
    "arch": _key(DEPLOY),
    "endpoint_url": _key(DEPLOY),
    "region": _key(DEPLOY),
    "profile": _key(DEPLOY),
    "create_role": _key(DEPLOY, parse=_boolean),
    "description": _key(DEPLOY),
    "s3_bucket": _key(DEPLOY),  # zips go through this bucket (past the 50 MiB of a direct upload)
    # the front ends check these themselves (a route key, a payload format, a destination)
    "routes": _key(HTTP, parse=_as_is),
    "payload_format": _key(HTTP),
    "maximum_retry_attempts": _key(ASYNC, parse=_as_is),
    "maximum_event_age": _key(ASYNC, parse=_as_is),
    "on_failure": _key(ASYNC),
    "on_success": _key(ASYNC),
}


def keys_read_by(*readers: str) -> frozenset[str]:
    """The keys any of ``readers`` reads."""
    return frozenset(name for name, key in KEYS.items() if key.readers & set(readers))


def _parsed(name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """``table`` with each value read as its key says; unknown keys and bad values are ProjectErrors."""
    unknown = set(table) - set(KEYS)
    if unknown:
        raise ProjectError(f"function {name}: unknown keys {sorted(unknown)}")
    try:
        return {key: KEYS[key].parse(value) for key, value in table.items()}
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"function {name}: {exc}") from None


def find_project_file(start: Path) -> Path | None:
    for name in PROJECT_FILES:
        candidate = start / name
        if candidate.is_file() and function_tables(candidate):
            return candidate
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text())
        return document
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path}: {exc}") from None


def function_tables(path: Path) -> dict[str, Any]:
    """The project file's function tables, by name, as written."""
    document = _load(path)
    tool = document.get("tool", {}).get("lamina", {})
    return dict(tool.get("functions") or document.get("functions") or {})


def load_functions(path: Path, overrides: Mapping[str, Any] | None = None) -> list[FunctionConfig]:
    """Every function of the project file; paths are relative to the file's directory."""
    base = path.parent
    configs = []
    for name, table in function_tables(path).items():
        if not isinstance(table, dict):
            raise ProjectError(f"{path}: functions.{name} must be a table")
        merged = {**table, **(overrides or {})}
        if overrides and "env" in overrides:  # --env adds to the function's variables, not replaces them
            merged["env"] = {**dict(table.get("env", {})), **overrides["env"]}
        configs.append(function_from_table(name, merged, base))
    return configs


def function_from_table(name: str, table: Mapping[str, Any], base: Path) -> FunctionConfig:
    """The local Lambda's configuration of one function table (the keys :data:`SERVE` reads)."""
    values = _parsed(name, table)
    try:
        return FunctionConfig(
            name=name,
            code_dir=(base / values.get("code", ".")).resolve(),
            handler=values.get("handler", ""),
            bootstrap=values.get("bootstrap"),
            runtime=values.get("runtime"),
            timeout=values.get("timeout", 3.0),
            memory_mb=values.get("memory", MANAGED_INSTANCES_MIN_MEMORY_MB if values.get("max_concurrency")
                                 else 128),
            max_concurrency=values.get("concurrency") or None,
            reserved_concurrency=values.get("reserved_concurrency"),
            environment=values.get("env", {}),
            layers=tuple((base / layer).resolve() for layer in values.get("layers", ())),
            queue_size=values.get("queue", 100),
            idle_timeout=values.get("idle_timeout", 300.0),
            environment_concurrency=values.get("max_concurrency") or None,
            snap_start=values.get("snap_start", False),
        )
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"function {name}: {exc}") from None


def deploy_settings(directory: Path, name: str | None) -> tuple[str | None, dict[str, Any]]:
    """The function to deploy and the keys :data:`DEPLOY` reads of its table, paths made absolute.

    With no name, the only function of the project file; keys for serve and the front ends are
    accepted and left out.
    """
    path = find_project_file(directory)
    if path is None:
        return name, {}
    tables = function_tables(path)
    if name is None:
        if len(tables) == 1:
            name = next(iter(tables))
        elif len(tables) > 1:
            raise ProjectError(f"{path} describes several functions ({', '.join(sorted(tables))}): "
                               "name the one to deploy")
    if not name or name not in tables:
        return name, {}
    settings = {key: value for key, value in _parsed(name, tables[name]).items()
                if DEPLOY in KEYS[key].readers}
    for key in settings.keys() & {key for key, spec in KEYS.items() if spec.path}:
        settings[key] = _under(path.parent, settings[key])
    settings.setdefault("layers", [])
    return name, settings


def _under(base: Path, value: Any) -> Any:
    """A path (or each path of a list) relative to ``base``; layer ARNs stay as they are."""
    if isinstance(value, list):
        return [_under(base, item) for item in value]
    return value if str(value).startswith("arn:") else str(base / value)
