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
from typing import Any, Dict, List, Optional, Tuple, Union

from lamina.local.frontends.routes import InvalidRouteError, Route
from lamina.local.invoke.event_policy import EventInvokeConfig
from lamina.local.model.function_config import FunctionConfig, parse_bootstrap
from lamina.local.model.names import DEFAULT_REGION
from lamina.project.errors import TemplateError
from lamina.project.functions import ASYNC, HTTP, function_tables, keys_read_by

__all__ = ["FRONTEND_KEYS", "FrontendOptions", "TemplateFunctions", "TemplateSource", "event_configs",
           "frontend_options", "functions_from_template"]

# Project-file keys the front ends read from [tool.lamina.functions.NAME] (lamina.project.functions).
FRONTEND_KEYS = keys_read_by(HTTP, ASYNC)
_ASYNC_KEYS = keys_read_by(ASYNC)


@dataclass(frozen=True)
class TemplateSource:
    """Where a served application comes from: its templates and what ``sam local`` users pass with them."""

    paths: Tuple[Path, ...]
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    region: str = DEFAULT_REGION
    env_vars: Optional[Path] = None  # SAM's --env-vars JSON file

    @classmethod
    def of(cls, template: Union[Path, TemplateSource]) -> TemplateSource:
        return template if isinstance(template, TemplateSource) else cls((Path(template),))

    @property
    def watched(self) -> Tuple[Path, ...]:
        """The files whose edits reload the application (templates and the --env-vars file)."""
        return self.paths + ((self.env_vars,) if self.env_vars is not None else ())


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
    template: Optional[TemplateSource] = None  # watched with the code: edits reload functions and routes
    overrides: Dict[str, Any] = field(default_factory=dict)  # FunctionConfig changes from the flags
    cors_origins: List[str] = field(default_factory=list)  # the HTTP front's CORS ("*": any origin)
    allow_hosts: List[str] = field(default_factory=list)  # Host names answered besides the loopback ones
    aliases: Dict[str, str] = field(default_factory=dict)  # a template's logical ids → served names
    warned: List[str] = field(default_factory=list)  # the template's warnings, shown at start-up
    eager: bool = False  # start an environment of every function at start-up (sam's --warm-containers EAGER)


@dataclass
class TemplateFunctions:
    """A SAM template as the local Lambda serves it."""

    functions: List[FunctionConfig]
    routes: List[Route]
    event_configs: Dict[str, EventInvokeConfig]
    warnings: List[str]
    aliases: Dict[str, str] = field(default_factory=dict)  # logical id → served name


def functions_from_template(template: Union[Path, TemplateSource],
                            overrides: Optional[Mapping[str, Any]] = None) -> TemplateFunctions:
    """Function configs, routes and async settings from SAM/CloudFormation templates; raises TemplateError."""
    source = TemplateSource.of(template)
    from lamina.project.overrides import load_env_vars  # template readers (YAML, intrinsics): only
    from lamina.project.sam import load_templates  # for a template, not on every serve's start

    env_vars = load_env_vars(source.env_vars) if source.env_vars is not None else None
    app = load_templates(source.paths, source.parameter_overrides, source.region, env_vars)
    changes = dict(overrides or {})
    extra_environment = changes.pop("environment", {})  # --env adds to the template's variables
    functions = []
    for sam in app.functions:
        config = FunctionConfig(name=sam.name, code_dir=sam.code_dir, handler=sam.handler,
                                runtime=sam.runtime, memory_mb=sam.memory_size, timeout=sam.timeout,
                                environment={**sam.environment, **extra_environment}, layers=sam.layers,
                                tenant_isolation=sam.tenant_isolation, region=source.region,
                                reserved_concurrency=sam.reserved_concurrency)
        functions.append(config.with_changes(**changes) if changes else config)
    event_configs = {f.name: f.event_invoke_config for f in app.functions if f.event_invoke_config}
    return TemplateFunctions(functions, app.routes, event_configs, app.warnings, app.aliases)


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


def frontend_options(options: FrontendOptions, *, template: Union[Path, TemplateSource, None] = None,
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
    source = TemplateSource.of(template)
    label = ", ".join(str(p) for p in source.paths)
    try:
        served = functions_from_template(source, changes)
    except (TemplateError, InvalidRouteError) as exc:
        raise TemplateError(f"{label}: {exc}") from None
    options.template, options.overrides = source, changes
    for warning in dict.fromkeys(served.warnings):  # each once
        warn(f"lamina: {source.paths[0].name}: {warning}")
    if not served.functions:
        raise TemplateError(f"{label}: no AWS::Serverless::Function or AWS::Lambda::Function that lamina can "
                            "serve")
    options.routes = served.routes
    options.aliases = served.aliases
    options.warned = list(dict.fromkeys(served.warnings))
    options.event_configs.update(served.event_configs)
    return served.functions


def event_configs(options: FrontendOptions) -> Dict[str, EventInvokeConfig]:
    """Async settings per function: the template's, overridden by the project file's."""
    configs = dict(options.event_configs)
    for name, table in options.tables.items():
        if _ASYNC_KEYS & set(table):
            configs[name] = EventInvokeConfig.from_project(dict(table))
    return configs
