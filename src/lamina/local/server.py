"""One ``lamina serve``: the Invoke API and control plane on ``host:port`` around a :class:`LocalLambda`,
with the front ends (HTTP, the durable Event queue, hot reload) when they are asked for.

``lamina serve`` runs one on its main thread until a signal; the pytest plugin
(:mod:`lamina.testing`) runs one on a thread of its own for a test session. Both start and stop it the
same way, so what a test suite exercises is what ``lamina serve`` serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from lamina.local.environments.logsink import LogSink
from lamina.local.invoke.registry import FunctionRegistry
from lamina.local.invoke.service import LocalLambda
from lamina.local.model.function_config import DEFAULT_ACCOUNT_CONCURRENCY, FunctionConfig
from lamina.local.sandbox.python_runtime import PythonRuntimes

if TYPE_CHECKING:
    from lamina.local.api.front import ServingApp

__all__ = ["LocalServer"]


class LocalServer:
    """The local Lambda's HTTP side for a set of functions; :meth:`start`, then :meth:`stop`."""

    def __init__(self, functions: Sequence[FunctionConfig], *, host: str, port: int, data_dir: Path,
                 sink: LogSink, frontends: Any = None, access: Any = None,
                 notify: Optional[Callable[[str], None]] = None, region: Optional[str] = None,
                 s3_endpoint_url: Optional[str] = None, python: Optional[PythonRuntimes] = None,
                 account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY) -> None:
        self.host = host
        self.port = port
        self.local = LocalLambda(registry=FunctionRegistry(region=region) if region else None, sink=sink,
                                 python=python, account_concurrency=account_concurrency)
        for config in functions:
            self.local.registry.put(config)
        self._data_dir = data_dir
        self._frontends = frontends  # lamina.local.frontends.serve.FrontendOptions, or None
        self._access = access  # lamina.local.api.access.AccessConfig, or None
        self._sink = sink
        self._notify = notify or (lambda line: sink.write("lamina", line))
        self._s3_endpoint_url = s3_endpoint_url  # where S3 code is fetched from, if anywhere
        self._runner: Optional[ServingApp] = None

    async def start(self) -> None:
        """Listen on ``host:port`` (``OSError`` if it cannot) and start the local Lambda."""
        from lamina.local.api.app import create_app, run_app
        from lamina.local.api.control_plane.mount import mount_control_plane

        app = create_app(self.local, self._access)
        mount_control_plane(app, self._data_dir, notify=self._notify, s3_endpoint_url=self._s3_endpoint_url)
        if self._frontends is not None:  # HTTP front, durable Event queue, hot reload
            from lamina.local.frontends.serve import install_frontends

            install_frontends(app, self.local, self._frontends, self._sink)
        try:
            self._runner = await run_app(app, self.host, self.port)
        except OSError:
            await self.local.close()  # the application started it; nothing will clean it up
            raise

    async def stop(self) -> None:
        """Stop serving; every execution environment is stopped with every process it started."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
