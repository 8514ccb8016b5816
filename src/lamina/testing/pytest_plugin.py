"""lamina's pytest plugin (entry point ``pytest11``: ``lamina``): the local Lambda as fixtures.

- ``lamina_serve`` (session scope; once per worker under pytest-xdist): the project at pytest's
  rootdir served on 127.0.0.1 at free ports (:class:`~lamina.testing.server.LambdaTestServer`).
- ``lambda_client``: ``lamina_serve.client()``, a boto3 Lambda client of it.
- ``invoke``: ``lamina_serve.invoke``, ``invoke(name, event, **options)`` → :class:`InvokeResult`.
- ``@pytest.mark.lamina_config(name, env={...}, timeout=..., ...)``: that function's configuration for
  one test (``lamina_serve.override`` as a marker); other functions keep their environments.
- A failed test's report gets the local Lambda's log lines written during it ("Captured lamina log").

Ini options ``lamina_template`` (a SAM/CDK template instead of the project file; also
``--lamina-template``) and ``lamina_port`` (a fixed port instead of a free one; also ``--lamina-port``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import pytest

if TYPE_CHECKING:  # imported when a test asks for the local Lambda: pytest starts as fast without it
    from lamina.testing.server import InvokeResult, LambdaTestServer

__all__ = ["invoke", "lambda_client", "lamina_serve"]

_SERVER = pytest.StashKey["LambdaTestServer"]()
_MARK = pytest.StashKey[int]()
_ReportWrapper = Generator[None, pytest.TestReport, pytest.TestReport]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lamina", "the local Lambda (lamina)")
    group.addoption("--lamina-template", default=None, metavar="PATH",
                    help="Serve this SAM/CDK template instead of the rootdir's project file.")
    group.addoption("--lamina-port", default=None, type=int, metavar="PORT",
                    help="Serve the Lambda API on this port instead of a free one.")
    parser.addini("lamina_template", "SAM/CDK template to serve (relative to the rootdir)", default="")
    parser.addini("lamina_port", "port of the Lambda API (default: a free port)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lamina_config(name, env=None, **settings): serve function NAME "
                                       "with these variables or settings during the test")


def _setting(config: pytest.Config, option: str, ini: str) -> Optional[str]:
    value = config.getoption(option)
    if value is None:
        value = config.getini(ini) or None
    return None if value is None else str(value)


@pytest.fixture(scope="session")
def lamina_serve(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaTestServer]:
    """The local Lambda serving the rootdir's project for the whole session (each xdist worker's own)."""
    from lamina.testing.project import NothingToServe, served_project
    from lamina.testing.server import LambdaTestServer, PortInUse

    config = request.config
    template = _setting(config, "lamina_template", "lamina_template")
    port = _setting(config, "lamina_port", "lamina_port")
    data_dir = tmp_path_factory.mktemp("lamina")
    warnings: list[str] = []
    try:
        project = served_project(config.rootpath, Path(template) if template else None, data_dir,
                                 warnings.append)
        server = LambdaTestServer(project, data_dir, port=int(port) if port else 0)
        server.start()
    except (NothingToServe, PortInUse) as exc:
        pytest.fail(str(exc), pytrace=False)
    config.stash[_SERVER] = server
    try:
        yield server
    finally:
        del config.stash[_SERVER]
        server.stop()


@pytest.fixture(scope="session")
def lambda_client(lamina_serve: LambdaTestServer) -> Any:
    """A boto3 Lambda client of the session's local Lambda."""
    return lamina_serve.client()


@pytest.fixture
def invoke(lamina_serve: LambdaTestServer) -> Callable[..., InvokeResult]:
    """``invoke(name, event, **options)``: one synchronous invocation, its payload, error and logs."""
    return lamina_serve.invoke


@pytest.fixture(autouse=True)
def _lamina_config(request: pytest.FixtureRequest) -> Iterator[None]:
    markers = list(request.node.iter_markers("lamina_config"))
    if not markers:
        yield
        return
    server: LambdaTestServer = request.getfixturevalue("lamina_serve")
    with ExitStack() as stack:
        for marker in reversed(markers):  # the closest marker applies last
            if len(marker.args) != 1:
                raise pytest.UsageError("lamina_config takes one function name: "
                                        "@pytest.mark.lamina_config('name', env={...})")
            stack.enter_context(server.override(marker.args[0], **marker.kwargs))
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    server = item.config.stash.get(_SERVER, None)
    item.stash[_MARK] = server.sink.mark() if server is not None else 0
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> _ReportWrapper:
    report = yield
    server = item.config.stash.get(_SERVER, None)
    if report.failed and server is not None and _MARK in item.stash:
        logged = server.sink.render(item.stash[_MARK])
        if logged:
            report.sections.append((f"Captured lamina log {report.when}", logged))
    return report
