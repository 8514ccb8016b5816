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
from pathlib import Path
from typing import Optional

from aiohttp import web

from lamina.local.api.control_plane.routes import add_control_plane_routes
from lamina.local.api.control_plane.store import FunctionStore
from lamina.local.api.control_plane.task import function_config
from lamina.local.api.invoke import LOCAL_LAMBDA_KEY
from lamina.local.model.function_config import FunctionConfig
from lamina.local.sandbox import containment
from lamina.local.sandbox.bubblewrap import describe_mode, sandbox_mode

log = logging.getLogger("lamina.control_plane")
DEFAULT_DATA_DIR = Path(".lamina")
STORE_KEY = web.AppKey("lamina.control_plane.store", FunctionStore)


def mount_control_plane(app: web.Application, data_dir: Path = DEFAULT_DATA_DIR,
                        mode: Optional[str] = None,
                        notify: Callable[[str], None] = log.info) -> FunctionStore:
    """Serve the control plane on ``app`` (see :func:`lamina.local.api.app.create_app`) from ``data_dir``."""
    store = FunctionStore(data_dir)
    app[STORE_KEY] = store
    local = app[LOCAL_LAMBDA_KEY]
    registry = local.registry
    mode = mode or sandbox_mode()
    notify("each execution environment's Runtime API answers only that environment's processes, and "
           "each has its own /tmp")
    notify(containment.describe(local.containment))
    notify(describe_mode(mode))
    loop: Optional[asyncio.AbstractEventLoop] = None

    def apply(name: str, config: Optional[FunctionConfig]) -> None:
        if config is None:
            registry.remove(name)
            notify(f"function {name} deleted")
        else:
            registry.put(config)
            notify(f"function {name} deployed ({config.runtime}, {config.handler})")

    def on_change(name: str) -> None:
        # in the control plane's worker thread: merging layers may take a while, keep it off the loop
        record = store.get_function(name)
        config = None if record is None else function_config(record, store, mode)
        if loop is None:
            apply(name, config)
        else:
            loop.call_soon_threadsafe(apply, name, config)

    async def startup(app: web.Application) -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        for record in store.list_functions():
            registry.put(function_config(record, store, mode))

    async def cleanup(app: web.Application) -> None:
        store.close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    add_control_plane_routes(app, store, on_change)
    return store
