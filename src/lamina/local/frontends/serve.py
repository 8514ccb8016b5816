"""The front ends inside ``lamina serve``: one call wires them into the serve application.

:func:`install_frontends` adds, around the Invoke API application, the durable Event queue (the
local Lambda hands it every ``Event`` invocation), the HTTP front on its own port, and hot reload of
code directories; :func:`functions_from_template` turns a SAM template into the local Lambda's
function configurations. The local Lambda is reached only through :func:`local_invoker` (its invoke
core) and the registry (re-putting a config is how a function's environments are recycled).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import click
from aiohttp import web
from watchfiles import awatch

from ..config import FunctionConfig, parse_bootstrap
from ..logsink import LogSink
from ..service import LocalLambda
from ..service_errors import ServiceError
from .async_policy import AWS_RETRY_DELAYS, EventInvokeConfig
from .async_queue import default_queue_path
from .async_worker import AsyncInvoker
from .http_server import create_http_app, start_http_server
from .invoker import Invoker, InvokeResult, InvokeServiceError
from .reload import watch_code
from .routes import PAYLOAD_FORMATS, InvalidRouteError, Route, RouteTable, parse_route, routes_from_functions
from .sam import TemplateError, load_template

__all__ = ["FRONTEND_KEYS", "FrontendOptions", "TemplateFunctions", "frontend_options",
           "functions_from_template", "install_frontends", "local_invoker"]

# Project-file keys the front ends read from [tool.lamina.functions.NAME].
FRONTEND_KEYS = frozenset({"routes", "payload_format", "maximum_retry_attempts", "maximum_event_age",
                           "on_failure", "on_success"})
_ASYNC_KEYS = frozenset({"maximum_retry_attempts", "maximum_event_age", "on_failure", "on_success"})
ASYNC_POLLERS = 16  # cheap tasks; each function's own concurrency bounds its share
RETRY_DELAYS_ENV = "LAMINA_ASYNC_RETRY_DELAYS"  # e.g. "0.05,0.1": Lambda's 60,120 s, shortened for tests
log = logging.getLogger("lamina.frontends")


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
    overrides = overrides or {}
    functions = []
    for sam in app.functions:
        config = FunctionConfig(name=sam.name, code_dir=sam.code_dir, handler=sam.handler,
                                runtime=sam.runtime, memory_mb=sam.memory_size, timeout=sam.timeout,
                                environment=sam.environment, layers=sam.layers)
        functions.append(config.with_changes(**overrides) if overrides else config)
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


def frontend_options(options: FrontendOptions, *, template: Optional[Path] = None,
                     project: Optional[Path] = None,
                     overrides: Optional[Mapping[str, Any]] = None) -> List[FunctionConfig]:
    """Fill ``options`` from a SAM template (returning its functions) or a project file's tables.

    For the command line: template problems become usage errors, warnings go to stderr.
    """
    if project is not None:
        from ..project import _function_tables, _load

        tables = _function_tables(_load(project))
        options.tables = {name: _destinations_under(table, project.parent)
                          for name, table in tables.items() if isinstance(table, dict)}
    if template is None:
        return []
    renamed = {"memory": "memory_mb", "concurrency": "max_concurrency"}
    changes = {renamed.get(k, k): v for k, v in (overrides or {}).items()}
    if "bootstrap" in changes:
        changes["bootstrap"] = parse_bootstrap(changes["bootstrap"])
    try:
        served = functions_from_template(template, changes)
    except (TemplateError, InvalidRouteError) as exc:
        raise click.UsageError(f"{template}: {exc}") from None
    options.template, options.overrides = template, changes
    for warning in served.warnings:
        click.echo(f"lamina: {template.name}: {warning}", err=True)
    if not served.functions:
        raise click.UsageError(f"{template}: no AWS::Serverless::Function that lamina can serve")
    options.routes = served.routes
    options.event_configs.update(served.event_configs)
    return served.functions


def local_invoker(local: LocalLambda, *, asynchronous: bool = False) -> Invoker:
    """The local Lambda's invoke core as the front ends' Invoker (service errors re-raised as theirs)."""

    async def invoke(function_name: str, payload: bytes) -> InvokeResult:
        try:
            result = await local.invoke(function_name, payload, asynchronous=asynchronous)
        except ServiceError as exc:
            raise InvokeServiceError(exc.status, exc.error_type, exc.message) from None
        return result.function_error, result.payload

    return invoke


def _event_configs(options: FrontendOptions) -> Dict[str, EventInvokeConfig]:
    configs = dict(options.event_configs)
    for name, table in options.tables.items():
        if _ASYNC_KEYS & set(table):
            configs[name] = EventInvokeConfig.from_project(dict(table))
    return configs


def _concurrency(local: LocalLambda, name: str) -> int:
    config = local.registry.get(name)
    return config.concurrency if config is not None else 0


def _retry_delays() -> Sequence[float]:
    value = os.environ.get(RETRY_DELAYS_ENV)
    if not value:
        return AWS_RETRY_DELAYS
    return tuple(float(part) for part in value.split(","))


def _route_table(names: List[str], options: FrontendOptions) -> RouteTable:
    if options.routes:
        routes = options.routes
        if options.payload_format:
            routes = [parse_route(r.route_key, r.function_name, options.payload_format) for r in routes]
        return RouteTable(routes)
    tables: Dict[str, Dict[str, Any]] = {name: dict(options.tables.get(name, {})) for name in names}
    if options.payload_format:
        for table in tables.values():
            table["payload_format"] = options.payload_format
    return routes_from_functions(tables, default_function=names[0] if len(names) == 1 else None)


class Frontends:
    """The front ends of one ``lamina serve``, started and stopped with its application."""

    def __init__(self, local: LocalLambda, options: FrontendOptions, sink: Optional[LogSink] = None) -> None:
        self.local = local
        self.options = options
        self.sink = sink
        self._event_configs = _event_configs(options)  # mutated in place when a template reloads
        self._template_names = {config.name for config in local.registry} if options.template else set()
        self._template_watcher: Optional[asyncio.Task[None]] = None
        self.async_invoker = AsyncInvoker(
            default_queue_path(options.data_dir), local_invoker(local, asynchronous=True),
            configs=self._event_configs, retry_delays=_retry_delays(),
            region=local.registry.region, account=local.registry.account,
            functions=lambda: [config.name for config in local.registry],
            capacity=lambda name: _concurrency(local, name), concurrency=ASYNC_POLLERS)
        self._http: Optional[web.AppRunner] = None
        self._table: Optional[RouteTable] = None
        self._stop_watch = asyncio.Event()
        self._watcher: Optional[asyncio.Task[None]] = None

    def _say(self, line: str) -> None:
        if self.sink is not None:
            self.sink.write("lamina", line)
        else:
            log.info("%s", line)

    def accept_event(self, function_name: str, payload: bytes, qualifier: Optional[str],
                     request_id: Optional[str]) -> str:
        """The local Lambda's Event path: on disk before the 202."""
        try:
            return self.async_invoker.enqueue(function_name, payload, qualifier, request_id)
        except InvokeServiceError as exc:
            raise ServiceError(exc.error_type, exc.message, status=exc.status) from None

    async def start(self) -> None:
        table = None
        if self.options.http_port is not None:
            try:
                table = _route_table([config.name for config in self.local.registry], self.options)
            except InvalidRouteError as exc:  # the command line reports it (exit status 2)
                raise click.UsageError(str(exc)) from None
        await self.async_invoker.start()
        self.local.event_acceptor = self.accept_event
        self._table = table
        if table is not None and self.options.http_port is not None:
            app = create_http_app(table, local_invoker(self.local))
            self._http = await start_http_server(app, self.options.host, self.options.http_port)
            for route in table.routes:
                self._say(f"http://{self.options.host}:{self.options.http_port} {route.route_key} -> "
                          f"{route.function_name} (payload {route.payload_format})")
        if self.options.watch:
            dirs = {config.name: config.code_dir for config in self.local.registry}
            if dirs:
                self._watcher = asyncio.get_running_loop().create_task(self._watch(dirs))
            if self.options.template is not None:
                self._template_watcher = asyncio.get_running_loop().create_task(self._watch_template())

    async def _watch(self, dirs: Dict[str, Path]) -> None:
        try:
            await watch_code(dirs, self.recycle, stop_event=self._stop_watch)
        except Exception as exc:  # e.g. the OS's limit of watches: serving goes on without reload
            self._say(f"hot reload stopped: {exc}")

    async def _watch_template(self) -> None:
        template = self.options.template
        assert template is not None
        try:
            # the directory, not the file: editors save by replacing the file, which ends a file watch
            target = template.resolve()
            async for _ in awatch(target.parent, watch_filter=lambda _c, path: Path(path) == target,
                                  recursive=False, debounce=50, step=20, stop_event=self._stop_watch):
                self.reload_template()
        except Exception as exc:
            self._say(f"template reload stopped: {exc}")

    def reload_template(self) -> None:
        """Serve the template as it is now: changed functions recycle, routes and settings follow.

        A template that no longer reads (a half-saved edit) is reported and the running set kept.
        """
        template = self.options.template
        assert template is not None
        try:
            served = functions_from_template(template, self.options.overrides)
            candidate = dataclasses.replace(self.options, routes=served.routes)
            routes = _route_table([config.name for config in served.functions], candidate).routes
            if self._table is not None:
                self._table.replace(routes)
        except (TemplateError, InvalidRouteError) as exc:
            self._say(f"{template.name}: not reloaded: {exc}")
            return
        names = {config.name for config in served.functions}
        for config in served.functions:
            if self.local.registry.get(config.name) != config:
                self.local.registry.put(config)
        for gone in self._template_names - names:  # deployed functions are not the template's to remove
            self.local.registry.remove(gone)
        self._template_names = names
        self.options.routes = served.routes
        self._event_configs.clear()
        self._event_configs.update(_event_configs(self.options))
        self._event_configs.update(served.event_configs)
        self._say(f"{template.name}: reloaded ({len(served.functions)} functions, "
                  f"{len(served.routes)} routes)")

    def recycle(self, function_name: str) -> None:
        """Fresh environments for the next invocation; running ones finish first (the pool retires)."""
        config = self.local.registry.get(function_name)
        if config is not None:
            self._say(f"{function_name}: code changed, next invocation is a cold start")
            self.local.registry.put(config)

    async def close(self) -> None:
        self.local.event_acceptor = None
        self._stop_watch.set()
        for watcher in (self._watcher, self._template_watcher):
            if watcher is not None:
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(watcher, 5)
        if self._http is not None:
            await self._http.cleanup()
        await self.async_invoker.close()


FRONTENDS_KEY: web.AppKey[Frontends] = web.AppKey("frontends", Frontends)


def install_frontends(app: web.Application, local: LocalLambda, options: FrontendOptions,
                      sink: Optional[LogSink] = None) -> Frontends:
    """Start the front ends after the local Lambda starts, stop them before it stops."""
    if options.payload_format is not None and options.payload_format not in PAYLOAD_FORMATS:
        raise InvalidRouteError(f"Invalid payload format version {options.payload_format!r}: use 1.0 or 2.0")
    frontends = Frontends(local, options, sink)
    app[FRONTENDS_KEY] = frontends

    async def started(app: web.Application) -> None:
        await frontends.start()

    async def stopping(app: web.Application) -> None:
        await frontends.close()

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return frontends
