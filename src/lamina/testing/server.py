"""The local Lambda of a test session, on an event loop thread of its own.

:class:`LambdaTestServer` runs a :class:`~lamina.local.server.LocalServer` (what ``lamina serve`` runs)
on ``127.0.0.1`` at free ports, in a thread, so tests call it over HTTP as boto3 calls Lambda, while
changing a function's configuration for one test (:meth:`LambdaTestServer.override`) goes straight to
the local Lambda's registry, which recycles that function's environments and no other's. Stopping it
stops every execution environment and every process they started.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import errno
import json
import socket
import threading
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from lamina.local.api.access import access_config
from lamina.local.model.function_config import FunctionConfig
from lamina.local.server import LocalServer
from lamina.testing.project import ServedProject
from lamina.testing.recording import RecordingSink

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

__all__ = ["InvokeResult", "LambdaTestServer", "PortInUse"]

T = TypeVar("T")
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_FREE_PORT_ATTEMPTS = 5
# Lambda's longest function timeout, plus a margin: a read timeout of the client must never be what
# ends an invocation (nor one a debugger holds at a breakpoint).
CLIENT_READ_TIMEOUT = 900 + 60
# Short names of the configuration a test may change, as in a project file's tables.
_CONFIG_NAMES = {"memory": "memory_mb", "env": "environment"}
_CONFIG_FIELDS = frozenset(f.name for f in fields(FunctionConfig)) - {"name"}


class PortInUse(Exception):
    """The port the local Lambda was told to listen on is taken."""


@dataclass(frozen=True)
class InvokeResult:
    """One synchronous invocation as a test sees it."""

    payload: Any  # the function's answer parsed as JSON; the raw bytes when it is not JSON
    function_error: Optional[str]  # X-Amz-Function-Error ("Unhandled"), None when the function succeeded
    logs: list[str] = field(default_factory=list)  # the invocation's log lines, START … REPORT
    status_code: int = 200
    request_id: str = ""
    raw: bytes = b""

    @property
    def error_type(self) -> Optional[str]:
        """The failed invocation's ``errorType`` (``Runtime.ImportModuleError``, ``ValueError``, …)."""
        if self.function_error is None or not isinstance(self.payload, dict):
            return None
        value = self.payload.get("errorType")
        return value if isinstance(value, str) else None


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now (another process may still take it: retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class LambdaTestServer:
    """The local Lambda serving a project for a test session."""

    def __init__(self, project: ServedProject, data_dir: Path, port: int = 0,
                 http: Optional[bool] = None) -> None:
        self.project = project
        self.sink = RecordingSink()
        self._data_dir = data_dir
        self._fixed_port = port  # 0: any free port
        self._http = project.has_routes if http is None else http
        self.port = 0
        self.http_port: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[LocalServer] = None
        self._stop: Optional[asyncio.Event] = None
        self._client: Optional[LambdaClient] = None

    # --- addresses ---------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The Lambda API (Invoke, the control plane): boto3's and the AWS CLI's ``--endpoint-url``."""
        return f"http://{HOST}:{self.port}"

    @property
    def http_url(self) -> Optional[str]:
        """The HTTP front (API Gateway / function URL events) when the project has routes."""
        return None if self.http_port is None else f"http://{HOST}:{self.http_port}"

    # --- start and stop ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving at free ports (or the fixed one); :class:`PortInUse` when it is taken."""
        attempts = 1 if self._fixed_port else _FREE_PORT_ATTEMPTS
        for attempt in range(attempts):
            try:
                self._start_once(self._fixed_port or free_port(), free_port() if self._http else None)
                return
            except OSError as exc:
                taken = exc.errno == errno.EADDRINUSE
                if not taken or attempt == attempts - 1:
                    if taken and self._fixed_port:
                        raise PortInUse(f"lamina: cannot listen on {HOST}:{self._fixed_port} (lamina_port): "
                                        f"the port is in use") from None
                    raise

    def _start_once(self, port: int, http_port: Optional[int]) -> None:
        self.port, self.http_port = port, http_port
        frontends = self.project.frontends
        frontends.http_port = http_port
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[LocalServer] = concurrent.futures.Future()
        stop = asyncio.Event()

        async def serve() -> None:
            # made on its loop: the local Lambda's servers belong to the loop they are made on
            server = LocalServer(self.project.functions, host=HOST, port=port, data_dir=self._data_dir,
                                 sink=self.sink, frontends=frontends, access=access_config(HOST, port))
            try:
                await server.start()
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(server)
            try:
                await stop.wait()
            finally:
                await server.stop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="lamina-serve", daemon=True)
        thread.start()
        try:
            server = started.result(START_TIMEOUT)
        except BaseException:
            thread.join(STOP_TIMEOUT)
            raise
        self._loop, self._thread, self._server, self._stop = loop, thread, server, stop

    def stop(self) -> None:
        """Stop serving: every execution environment ends, with every process it started."""
        loop, thread, stop = self._loop, self._thread, self._stop
        self._loop = self._thread = self._server = self._stop = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if loop is None or thread is None or stop is None:
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT)

    # --- calling it --------------------------------------------------------------------------------

    def client(self) -> LambdaClient:
        """A boto3 Lambda client of this server (test credentials, no retries, no read timeout)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(aws_access_key_id="lamina", aws_secret_access_key="lamina",
                                            region_name="us-east-1")
            config = Config(retries={"total_max_attempts": 1}, connect_timeout=10,
                            read_timeout=CLIENT_READ_TIMEOUT)
            self._client = session.client("lambda", endpoint_url=self.endpoint_url, config=config)
        return self._client

    def invoke(self, name: str, event: Any = None, *, qualifier: Optional[str] = None,
               client_context: Optional[Mapping[str, Any]] = None,
               invocation_type: str = "RequestResponse") -> InvokeResult:
        """Invoke ``name`` with ``event`` (JSON-serialisable; ``{}`` when None) through the Invoke API."""
        params: dict[str, Any] = {"FunctionName": name, "InvocationType": invocation_type,
                                  "Payload": json.dumps({} if event is None else event).encode()}
        if qualifier is not None:
            params["Qualifier"] = qualifier
        if client_context is not None:
            params["ClientContext"] = base64.b64encode(json.dumps(dict(client_context)).encode()).decode()
        mark = self.sink.mark()
        response = self.client().invoke(**params)
        raw = response["Payload"].read() if "Payload" in response else b""
        request_id = response["ResponseMetadata"].get("RequestId", "")
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return InvokeResult(payload=payload, function_error=response.get("FunctionError"),
                            logs=self.sink.invocation_lines(mark, name, request_id),
                            status_code=response["StatusCode"], request_id=request_id, raw=raw)

    @contextlib.contextmanager
    def override(self, name: str, **changes: Any) -> Iterator[FunctionConfig]:
        """Serve ``name`` with changed configuration inside the block, then as before.

        ``env={...}`` adds to (or replaces some of) the function's variables; other keys are the
        configuration's (``timeout``, ``memory``, ``handler``, …). Only this function's environments
        are recycled, on entry and on exit.
        """
        original = self._call(self._get(name))
        changed = _changed(original, changes)
        self._call(self._put(changed))
        try:
            yield changed
        finally:
            if self._loop is not None:
                self._call(self._put(original))

    async def _get(self, name: str) -> FunctionConfig:
        assert self._server is not None
        config = self._server.local.registry.get(name)
        if config is None:
            served = ", ".join(sorted(c.name for c in self._server.local.registry)) or "none"
            raise LookupError(f"lamina: no function named {name!r} (served: {served})")
        return config

    async def _put(self, config: FunctionConfig) -> None:
        assert self._server is not None
        self._server.local.registry.put(config)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("lamina: the local Lambda is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(STOP_TIMEOUT)


def _changed(config: FunctionConfig, changes: Mapping[str, Any]) -> FunctionConfig:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        target = _CONFIG_NAMES.get(key, key)
        if target not in _CONFIG_FIELDS:
            raise TypeError(f"lamina: {key!r} is not a function setting (env, timeout, memory, handler, …)")
        if key == "env":
            value = {**config.environment, **{str(k): str(v) for k, v in dict(value).items()}}
        values[target] = value
    return config.with_changes(**values)
