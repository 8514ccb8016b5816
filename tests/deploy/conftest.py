"""Servers for the deploy tests: lamina's control plane in a thread, moto's server, boto3 clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import boto3
import pytest
from aiohttp import web
from botocore.config import Config

from lamina.local.api.access import access_config
from lamina.local.api.control_plane.routes import add_control_plane_routes
from lamina.local.api.control_plane.store import FunctionStore
from lamina.local.api.middleware import install_access
from tests.conftest import free_port, sigv4_headers, wait_for_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and no user AWS config: tests never reach a real account."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


class ControlPlaneServer:
    """lamina's control plane on 127.0.0.1 in a background thread; restartable on the same data dir."""

    def __init__(self, data_dir: Path, storage_limit: int | None = None) -> None:
        self.data_dir = data_dir
        self.storage_limit = storage_limit
        self.changes: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._store: FunctionStore | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        self._store = (FunctionStore(self.data_dir) if self.storage_limit is None
                       else FunctionStore(self.data_dir, self.storage_limit))
        app = web.Application()
        install_access(app, access_config("127.0.0.1", self.port))  # lamina serve's rules
        add_control_plane_routes(app, self._store, self.changes.append)
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._loop, self._runner = loop, runner
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()
        assert self._store is not None
        self._store.close()
        self._loop = None

    def signed(self, method: str, path: str, body: bytes = b"") -> urllib.request.Request:
        """A hand-made request to ``path``, signed as boto3 signs (unsigned writes are refused)."""
        url = f"{self.url}{path}"
        return urllib.request.Request(url, data=body or None, method=method,
                                      headers=sigv4_headers(method, url, body))

    def client(self, service: str = "lambda", validate: bool = True) -> Any:
        """A boto3 client; ``validate=False`` sends values botocore would refuse, to test the server."""
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 1}, parameter_validation=validate))


class Server(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """``server`` started, and stopped however the test using it ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[ControlPlaneServer]:
    with running(ControlPlaneServer(tmp_path / "data")) as server:
        yield server


@pytest.fixture
def moto_server_factory() -> Iterator[Callable[[], str]]:
    """Start moto's server (Lambda, IAM…) on 127.0.0.1 when called, after env tweaks; stop it after."""
    from moto.server import ThreadedMotoServer

    servers: list[ThreadedMotoServer] = []

    def start() -> str:
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        servers.append(server)
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        # moto's backends are global to this process: start every test from an empty account
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)
        return url

    yield start
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


def cli_env() -> dict[str, str]:
    """Environment for the AWS CLI in a subprocess: fake credentials, no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env
