"""What ``lamina serve``'s flags, project file and SAM template ask of the front ends.

:class:`FrontendOptions` gathers it; :func:`frontend_options` fills it for the command line (a SAM
template also yields the functions to serve, via :func:`functions_from_template`). Reading only: the
running parts are in :mod:`lamina.local.frontends.serve`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from lamina.local.frontends.routes import InvalidRouteError, Route
from lamina.local.invoke.event_policy import EventInvokeConfig
from lamina.local.model.function_config import FunctionConfig, parse_bootstrap
from lamina.project.errors import TemplateError
from lamina.project.functions import ASYNC, HTTP, function_tables, keys_read_by
from lamina.project.sam import load_template

__all__ = ["FRONTEND_KEYS", "FrontendOptions", "TemplateFunctions", "event_configs", "frontend_options",
           "functions_from_template"]

# Project-file keys the front ends read from [tool.lamina.functions.NAME] (lamina.project.functions).
FRONTEND_KEYS = keys_read_by(HTTP, ASYNC)
_ASYNC_KEYS = keys_read_by(ASYNC)


@dataclass
class FrontendOptions:
    """What ``lamina serve``'s flags and the project file ask of the front ends."""

    host: str = "127.0.0.1"
    http_port: Optional[int] = None
    payload_format: Optional[str] = None  # None: per route (2.0 unless the route says otherwise)
    watch: bool = True
    data_dir: Path = Path(".lamina")
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # project function tables
    routes: List[Route] = field(default_factory=list)  # from a template
    event_configs: Dict[str, EventInvokeConfig] = field(default_factory=dict)
    template: Optional[Path] = None  # watched with the code: edits reload the functions and routes
    overrides: Dict[str, Any] = field(default_factory=dict)  # FunctionConfig changes from the flags
    cors_origins: List[str] = field(default_factory=list)  # the HTTP front's CORS ("*": any origin)


@dataclass
class TemplateFunctions:
    """A SAM template as the local Lambda serves it."""

    functions: List[FunctionConfig]
    routes: List[Route]
    event_configs: Dict[str, EventInvokeConfig]
    warnings: List[str]


def functions_from_template(path: Path, overrides: Optional[Mapping[str, Any]] = None) -> TemplateFunctions:
    """Function configs, routes and async settings from a SAM template; raises TemplateError."""
    app = load_template(path)
    changes = dict(overrides or {})
    extra_environment = changes.pop("environment", {})  # --env adds to the template's variables
    functions = []
    for sam in app.functions:
        config = FunctionConfig(name=sam.name, code_dir=sam.code_dir, handler=sam.handler,
                                runtime=sam.runtime, memory_mb=sam.memory_size, timeout=sam.timeout,
                                environment={**sam.environment, **extra_environment}, layers=sam.layers)
        functions.append(config.with_changes(**changes) if changes else config)
    event_configs = {f.name: f.event_invoke_config for f in app.functions if f.event_invoke_config}
    return TemplateFunctions(functions, app.routes, event_configs, app.warnings)


def _destinations_under(table: Mapping[str, Any], base: Path) -> Dict[str, Any]:
    """Destination paths are relative to the project file, as code directories are."""
    resolved = dict(table)
    for key in ("on_failure", "on_success"):
        value = resolved.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            resolved[key] = str(base / value) + ("/" if value.endswith("/") else "")
    return resolved


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def frontend_options(options: FrontendOptions, *, template: Optional[Path] = None,
                     project: Optional[Path] = None, overrides: Optional[Mapping[str, Any]] = None,
                     warn: Callable[[str], None] = _to_stderr) -> List[FunctionConfig]:
    """Fill ``options`` from a SAM template (returning its functions) or a project file's tables.

    A template that cannot be served raises :class:`TemplateError` naming it; its warnings go to ``warn``.
    """
    if project is not None:
        tables = function_tables(project)
        options.tables = {name: _destinations_under(table, project.parent)
                          for name, table in tables.items() if isinstance(table, dict)}
    if template is None:
        return []
    # The flags' names (as in a project file) → FunctionConfig's fields.
    renamed = {"memory": "memory_mb", "concurrency": "max_concurrency",
               "max_concurrency": "environment_concurrency", "env": "environment"}
    changes = {renamed.get(k, k): v for k, v in (overrides or {}).items()}
    if "bootstrap" in changes:
        changes["bootstrap"] = parse_bootstrap(changes["bootstrap"])
    try:
        served = functions_from_template(template, changes)
    except (TemplateError, InvalidRouteError) as exc:
        raise TemplateError(f"{template}: {exc}") from None
    options.template, options.overrides = template, changes
    for warning in served.warnings:
        warn(f"lamina: {template.name}: {warning}")
    if not served.functions:
        raise TemplateError(f"{template}: no AWS::Serverless::Function that lamina can serve")
    options.routes = served.routes
    options.event_configs.update(served.event_configs)
    return served.functions


def event_configs(options: FrontendOptions) -> Dict[str, EventInvokeConfig]:
    """Async settings per function: the template's, overridden by the project file's."""
    configs = dict(options.event_configs)
    for name, table in options.tables.items():
        if _ASYNC_KEYS & set(table):
            configs[name] = EventInvokeConfig.from_project(dict(table))
    return configs
