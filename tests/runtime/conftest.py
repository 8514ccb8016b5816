"""Fixtures for runtime tests: a stub Runtime API, and runtime processes stopped at teardown."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from tests.runtime.runtime_process import Runtime
from tests.runtime.stub_api import StubRuntimeAPI


@pytest.fixture
def api() -> Iterator[StubRuntimeAPI]:
    with StubRuntimeAPI() as stub:
        yield stub


@pytest.fixture
def runtimes() -> Iterator[List[Runtime]]:
    started: List[Runtime] = []
    yield started
    for runtime in started:
        runtime.close()
