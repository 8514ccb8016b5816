"""The front ends inside ``lamina serve``: one call wires them into the serve application.

:func:`install_frontends` adds, around the Invoke API application, the HTTP front on its own port
and hot reload of code directories and of a SAM template (what to serve is read in
:mod:`~lamina.local.frontends.options`), and opens the local Lambda's durable Event queue with the
functions' async settings. The local
Lambda is reached only through :func:`local_invoker` (its invoke core) and the registry (re-putting
a config is how a function's environments are recycled).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web
from watchfiles import awatch

from lamina.local.api.access import access_config
from lamina.local.api.control_plane.mount import EVENT_CONFIGS_KEY
from lamina.local.api.control_plane.routes import CONTROL_PLANE_KEY
from lamina.local.api.control_plane.service import ControlPlane
from lamina.local.environments.logsink import LogSink
from lamina.local.frontends.http_server import create_http_app, start_http_server
from lamina.local.frontends.options import (
    FRONTEND_KEYS,
    FrontendOptions,
    event_configs,
    frontend_options,
    functions_from_template,
)
from lamina.local.frontends.reload import watch_code
from lamina.local.frontends.routes import (
    PAYLOAD_FORMATS,
    InvalidRouteError,
    RouteTable,
    routes_from_functions,
)
from lamina.local.invoke import streaming as streaming_relay
from lamina.local.invoke.event_policy import AWS_RETRY_DELAYS, EventInvokeConfig
from lamina.local.invoke.invoker import Invoker, InvokeResult, StreamedResponse
from lamina.local.invoke.service import LocalLambda
from lamina.project.errors import TemplateError

# FrontendOptions and frontend_options are re-exported: lamina serve imports them from here.
__all__ = ["FRONTEND_KEYS", "FrontendOptions", "Frontends", "frontend_options", "install_frontends",
           "local_invoker"]

FUNCTION_URL = "url"  # --http-format url: function URL events ($default, no path parameters)
RETRY_DELAYS_ENV = "LAMINA_ASYNC_RETRY_DELAYS"  # e.g. "0.05,0.1": Lambda's 60,120 s, shortened for tests
log = logging.getLogger("lamina.frontends")


def local_invoker(local: LocalLambda) -> Invoker:
    """The local Lambda as the HTTP front's Invoker (a synchronous invocation, throttled when busy).

    It passes a relay (the invoke core's :mod:`~lamina.local.invoke.streaming`), so a function that
    streams answers a :class:`StreamedResponse` at its first byte, as ``InvokeWithResponseStream``
    serves a function URL in ``RESPONSE_STREAM`` mode; any other function answers its whole result.
    """

    async def invoke(function_name: str, payload: bytes, *,
                     tenant_id: Optional[str] = None) -> InvokeResult | StreamedResponse:
        relay, task = await streaming_relay.start(local, function_name, payload, tenant_id=tenant_id)
        if not relay.started:
            result = await task
            return result.function_error, result.payload

        async def outcome() -> Optional[str]:
            failure = streaming_relay.failure_of(await task, relay)
            return None if failure is None else failure[0]

        return StreamedResponse(relay.content_type, relay.chunks(), outcome, relay.abandon)

    return invoke


def _retry_delays() -> Sequence[float]:
    value = os.environ.get(RETRY_DELAYS_ENV)
    if not value:
        return AWS_RETRY_DELAYS
    return tuple(float(part) for part in value.split(","))


def _route_table(names: List[str], options: FrontendOptions) -> RouteTable:
    # a function URL's events are format 2.0 with the $default route
    forced = "2.0" if options.payload_format == FUNCTION_URL else options.payload_format
    if options.routes:
        routes = options.routes
        if forced:
            routes = [r if r.mock else dataclasses.replace(r, payload_format=forced) for r in routes]
        return RouteTable(routes)
    tables: Dict[str, Dict[str, Any]] = {name: dict(options.tables.get(name, {})) for name in names}
    if forced:
        for table in tables.values():
            table["payload_format"] = forced
    return routes_from_functions(tables, default_function=names[0] if len(names) == 1 else None)


class Frontends:
    """The front ends of one ``lamina serve``, started and stopped with its application."""

    def __init__(self, local: LocalLambda, options: FrontendOptions, sink: Optional[LogSink] = None) -> None:
        self.local = local
        self.options = options
        self.sink = sink
        self._event_configs = event_configs(options)  # mutated in place when a template reloads
        # Event invoke configs put through the control plane (PutFunctionEventInvokeConfig): the
        # control plane's mapping, kept current by it, when one is mounted.
        self.control_plane_configs: Dict[str, EventInvokeConfig] = {}
        # Function URL configs put through the control plane (CreateFunctionUrlConfig), if one is mounted.
        self.control_plane: Optional[ControlPlane] = None
        self._template_names = {config.name for config in local.registry} if options.template else set()
        self._warned = set(options.warned)  # template warnings already shown: each is said once
        self._template_watcher: Optional[asyncio.Task[None]] = None
        self._http: Optional[web.AppRunner] = None
        self._table: Optional[RouteTable] = None
        self._stop_watch = asyncio.Event()
        self._watcher: Optional[asyncio.Task[None]] = None
        self._prewarm: Optional[asyncio.Task[None]] = None

    def function_urls(self) -> Dict[str, Tuple[str, Optional[str]]]:
        """url id → (function, qualifier) of every function URL the control plane has configured."""
        if self.control_plane is None:
            return {}
        return {url_id: (name, qualifier)
                for url_id, (name, qualifier, _) in self.control_plane.function_urls().items()}

    def _event_config(self, function_name: str) -> EventInvokeConfig:
        """A deployed function's event invoke config (the control plane's), else the project's."""
        return (self.control_plane_configs.get(function_name) or self._event_configs.get(function_name)
                or EventInvokeConfig())

    def _say(self, line: str) -> None:
        if self.sink is not None:
            self.sink.write("lamina", line)
        else:
            log.info("%s", line)

    async def start(self) -> None:
        self.local.registry.set_aliases(self.options.aliases)
        await self.local.open_event_queue(self.options.data_dir, self._event_config,
                                          retry_delays=_retry_delays())
        table = None
        if self.options.http_port is not None:
            # an InvalidRouteError goes to the command line, which reports it (exit status 2)
            names = [config.name for config in self.local.registry]
            # With nothing but deployed functions, the front serves their function URLs (and routes
            # a reloaded template adds): no route yet is no error.
            table = _route_table(names, self.options) if names or self.options.routes else RouteTable([])
        self._table = table
        if table is not None and self.options.http_port is not None:
            app = create_http_app(table, local_invoker(self.local),
                                  function_url=self.options.payload_format == FUNCTION_URL,
                                  cors_origins=self.options.cors_origins, function_urls=self.function_urls,
                                  hosts=access_config(self.options.host, self.options.http_port,
                                                      allow_hosts=self.options.allow_hosts))
            self._http = await start_http_server(app, self.options.host, self.options.http_port)
            for route in table.routes:
                if route.mock is not None:
                    continue
                self._say(f"http://{self.options.host}:{self.options.http_port} {route.route_key} -> "
                          f"{route.function_name} (payload {route.payload_format})")
        if self.options.watch:
            dirs = {config.name: config.code_dir for config in self.local.registry}
            if dirs:
                self._watcher = asyncio.get_running_loop().create_task(self._watch(dirs))
            if self.options.template is not None:
                self._template_watcher = asyncio.get_running_loop().create_task(self._watch_template())
        if self.options.eager:
            self._prewarm = asyncio.get_running_loop().create_task(self._start_environments())

    async def _start_environments(self) -> None:
        """``--eager``: an execution environment of every function starts now, not at its first call."""
        async def one(name: str) -> None:
            try:
                await self.local.prewarm(name)
            except Exception as exc:  # an init failure shows again at the first invocation
                self._say(f"{name}: eager start failed: {exc}")

        await asyncio.gather(*(one(config.name) for config in self.local.registry))

    async def _watch(self, dirs: Dict[str, Path]) -> None:
        try:
            await watch_code(dirs, self.recycle, stop_event=self._stop_watch)
        except Exception as exc:  # e.g. the OS's limit of watches: serving goes on without reload
            self._say(f"hot reload stopped: {exc}")

    async def _watch_template(self) -> None:
        source = self.options.template
        assert source is not None
        try:
            # the directories, not the files: editors save by replacing the file, which ends a file watch
            targets = {path.resolve() for path in source.watched}
            async for _ in awatch(*sorted({str(t.parent) for t in targets}),
                                  watch_filter=lambda _c, path: Path(path) in targets,
                                  recursive=False, debounce=50, step=20, stop_event=self._stop_watch):
                self.reload_template()
        except Exception as exc:
            self._say(f"template reload stopped: {exc}")

    def reload_template(self) -> None:
        """Serve the template as it is now: changed functions recycle, routes and settings follow.

        A template that no longer reads (a half-saved edit) is reported and the running set kept.
        """
        source = self.options.template
        assert source is not None
        label = source.paths[0].name
        try:
            served = functions_from_template(source, self.options.overrides)
            if self._table is not None:  # without --http there are no routes to check or swap
                candidate = dataclasses.replace(self.options, routes=served.routes)
                self._table.replace(_route_table([c.name for c in served.functions], candidate).routes)
        except (TemplateError, InvalidRouteError) as exc:
            self._say(f"{label}: not reloaded: {exc}")
            return
        for warning in dict.fromkeys(served.warnings):
            if warning not in self._warned:
                self._warned.add(warning)
                self._say(f"{label}: {warning}")
        self.local.registry.set_aliases(served.aliases)
        self.options.aliases = served.aliases
        names = {config.name for config in served.functions}
        for config in served.functions:
            if self.local.registry.get(config.name) != config:
                self.local.registry.put(config)
        for gone in self._template_names - names:  # deployed functions are not the template's to remove
            self.local.registry.remove(gone)
        self._template_names = names
        self.options.routes = served.routes
        self._event_configs.clear()
        self._event_configs.update(event_configs(self.options))
        self._event_configs.update(served.event_configs)
        self._say(f"{label}: reloaded ({len(served.functions)} functions, "
                  f"{len(served.routes)} routes)")

    def recycle(self, function_name: str) -> None:
        """Fresh environments for the next invocation; running ones finish first (the pool retires)."""
        config = self.local.registry.get(function_name)
        if config is not None:
            self._say(f"{function_name}: code changed, next invocation is a cold start")
            self.local.registry.put(config)

    async def close(self) -> None:
        self._stop_watch.set()
        if self._prewarm is not None and not self._prewarm.done():
            self._prewarm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prewarm
        for watcher in (self._watcher, self._template_watcher):
            if watcher is not None:
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(watcher, 5)
        if self._http is not None:
            await self._http.cleanup()


FRONTENDS_KEY: web.AppKey[Frontends] = web.AppKey("frontends", Frontends)


def install_frontends(app: web.Application, local: LocalLambda, options: FrontendOptions,
                      sink: Optional[LogSink] = None) -> Frontends:
    """Start the front ends after the local Lambda starts, stop them before it stops."""
    if options.payload_format not in (None, FUNCTION_URL, *PAYLOAD_FORMATS):
        raise InvalidRouteError(f"Invalid payload format version {options.payload_format!r}: "
                                f"use 1.0, 2.0 or {FUNCTION_URL}")
    frontends = Frontends(local, options, sink)
    if EVENT_CONFIGS_KEY in app:
        frontends.control_plane_configs = app[EVENT_CONFIGS_KEY]
    if CONTROL_PLANE_KEY in app:
        frontends.control_plane = app[CONTROL_PLANE_KEY]
    app[FRONTENDS_KEY] = frontends

    async def started(app: web.Application) -> None:
        await frontends.start()

    async def stopping(app: web.Application) -> None:
        await frontends.close()

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return frontends
