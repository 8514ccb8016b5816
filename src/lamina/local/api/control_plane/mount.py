"""The control plane inside ``lamina serve``: deployed functions become the local Lambda's functions.

At startup every stored function is registered; after each CreateFunction, Update… or DeleteFunction
the function is registered again or removed, which recycles its warm execution environments. The
control plane runs its operations in worker threads, while the registry belongs to the event loop,
so changes are handed to the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from aiohttp import web

from lamina.local.api.control_plane.routes import add_control_plane_routes
from lamina.local.api.control_plane.s3_code import S3CodeSource
from lamina.local.api.control_plane.service import ControlPlane
from lamina.local.api.control_plane.store import ALIAS, FunctionStore
from lamina.local.api.control_plane.task import function_config
from lamina.local.api.invoke import LOCAL_LAMBDA_KEY
from lamina.local.invoke.event_policy import EventInvokeConfig
from lamina.local.invoke.registry import AliasRoute
from lamina.local.model.function_config import FunctionConfig
from lamina.local.sandbox import containment
from lamina.local.sandbox.bubblewrap import describe_mode, sandbox_mode

log = logging.getLogger("lamina.control_plane")
DEFAULT_DATA_DIR = Path(".lamina")
STORE_KEY = web.AppKey("lamina.control_plane.store", FunctionStore)
# Deployed functions' asynchronous invocation settings (PutFunctionEventInvokeConfig), by function name,
# for the durable Event queue (lamina.local.frontends.serve reads it).
EVENT_CONFIGS_KEY = web.AppKey("lamina.control_plane.event_configs", dict)


def mount_control_plane(app: web.Application, data_dir: Path = DEFAULT_DATA_DIR,
                        mode: Optional[str] = None,
                        notify: Callable[[str], None] = log.info,
                        s3_endpoint_url: Optional[str] = None) -> FunctionStore:
    """Serve the control plane on ``app`` (see :func:`lamina.local.api.app.create_app`) from ``data_dir``.

    ``s3_endpoint_url``: where code given as S3 objects is fetched (any S3-compatible endpoint).
    """
    store = FunctionStore(data_dir)
    app[STORE_KEY] = store
    event_configs: dict[str, EventInvokeConfig] = {}
    app[EVENT_CONFIGS_KEY] = event_configs
    local = app[LOCAL_LAMBDA_KEY]
    registry = local.registry
    mode = mode or sandbox_mode()
    notify("each execution environment's Runtime API answers only that environment's processes, and "
           "each has its own /tmp")
    notify(containment.describe(local.containment))
    notify(describe_mode(mode))
    loop: Optional[asyncio.AbstractEventLoop] = None
    code_source = S3CodeSource(s3_endpoint_url) if s3_endpoint_url else None
    plane: Optional[ControlPlane] = None

    def apply(name: str, deployed: Optional[Deployed]) -> None:
        if deployed is None:
            event_configs.pop(name, None)
            if registry.remove(name) is not None:
                notify(f"function {name} deleted")
            return
        if registry.get(name) != deployed.latest:
            registry.put(deployed.latest)
            notify(f"function {name} deployed ({deployed.latest.runtime}, {deployed.latest.handler})")
        registry.publish(name, deployed.versions, deployed.aliases)
        if deployed.event_config is None:
            event_configs.pop(name, None)
        else:
            event_configs[name] = deployed.event_config

    def deployed(name: str) -> Optional[Deployed]:
        # in the control plane's worker thread: merging layers may take a while, keep it off the loop
        record = store.get_function(name)
        if record is None or plane is None:
            return None
        reserved = plane.reserved_concurrency(name)
        limits: dict[str, object] = {"reserved_concurrency": reserved}
        if reserved:
            limits["max_concurrency"] = reserved  # no more environments than the reservation
        versions = {str(v.configuration["Version"]): function_config(v, store, mode, **limits)
                    for v in store.list_versions(name)}
        aliases = {key: AliasRoute(str(config["FunctionVersion"]), dict(
                       (config.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}))
                   for _, key, config in store.list_resources(ALIAS, name)}
        return Deployed(function_config(record, store, mode, **limits), versions, aliases,
                        plane.event_invoke_config(name))

    def on_change(name: str) -> None:
        state = deployed(name)
        if loop is None:
            apply(name, state)
        else:
            loop.call_soon_threadsafe(apply, name, state)

    async def startup(app: web.Application) -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        for record in store.list_functions():
            apply(record.name, deployed(record.name))

    async def cleanup(app: web.Application) -> None:
        store.close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    plane = add_control_plane_routes(app, store, on_change, code_source=code_source)
    return store


@dataclass(frozen=True)
class Deployed:
    """What the local Lambda runs of one deployed function."""

    latest: FunctionConfig
    versions: dict[str, FunctionConfig]
    aliases: dict[str, AliasRoute]
    event_config: Optional[EventInvokeConfig]
