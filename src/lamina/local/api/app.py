"""The ``lamina serve`` application: the Invoke API in front of a :class:`LocalLambda`.

Other services of the local Lambda (the control plane, streaming invocations, HTTP front ends) add
their routes to the application :func:`create_app` returns, before it starts, and reach the
service through ``app[LOCAL_LAMBDA_KEY]``.
"""

from __future__ import annotations

from typing import AsyncIterator, Optional

from aiohttp import web

from lamina.local.api import invoke as invoke_api
from lamina.local.api import invoke_stream as streaming_invoke
from lamina.local.api.access import AccessConfig
from lamina.local.api.front import ServingApp, serve_front
from lamina.local.api.invoke import LOCAL_LAMBDA_KEY
from lamina.local.api.middleware import install_access
from lamina.local.invoke.service import LocalLambda
from lamina.local.runtime_api.connection_limits import ConnectionLimits
from lamina.runtime import protocol

__all__ = ["LOCAL_LAMBDA_KEY", "create_app", "run_app"]


def create_app(local: LocalLambda, access: Optional[AccessConfig] = None) -> web.Application:
    """An aiohttp application serving ``local``; starts and stops it with the application.

    ``access``: who may call it (:mod:`lamina.local.api.access`); ``lamina serve`` always gives it.
    """
    # Bodies are read as streams with their own limits; this only lifts aiohttp's 1 MB default.
    app = web.Application(client_max_size=protocol.MAX_SYNC_REQUEST + 1)
    app[LOCAL_LAMBDA_KEY] = local
    if access is not None:
        install_access(app, access)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await local.start()
        yield
        await local.close()

    app.cleanup_ctx.append(lifecycle)
    invoke_api.add_routes(app)
    streaming_invoke.add_routes(app)
    return app


async def run_app(app: web.Application, host: str, port: int,
                  limits: Optional[ConnectionLimits] = None) -> ServingApp:
    """Start serving ``app`` on ``host:port`` behind the lean front (:mod:`lamina.local.api.front`); the
    caller cleans the returned :class:`ServingApp` up.

    Connections are bounded (header timeout, count: :mod:`lamina.local.runtime_api.connection_limits`).
    """
    return await serve_front(app, host, port, limits or ConnectionLimits.from_environment())
