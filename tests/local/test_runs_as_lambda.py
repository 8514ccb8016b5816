"""The local Lambda runs a function as Lambda would (issue 13): its Runtime API takes what Lambda takes,
its logs belong to their invocation, its runtime is the function's Python with only the function's
packages, it scales as Lambda scales, and it sees the region and credentials botocore resolves."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lamina.local.invoke.service import InvocationResult, LocalLambda
from lamina.local.model.function_config import FunctionConfig
from tests.local.local_helpers import FUNCTIONS, RIC, serve_handler


def test_awslambdaric_posts_a_recursion_errors_xray_cause_over_8_kb(tmp_path: Path) -> None:
    with serve_handler("handlers.recurse_forever", tmp_path) as server:
        result = server.invoke(b"{}")
    document = json.loads(result.body)
    assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert document["errorType"] == "RecursionError", document
    assert "maximum recursion depth exceeded" in document["errorMessage"]


def _invoke_all(config: FunctionConfig, payloads: list[bytes]) -> list[InvocationResult]:
    async def scenario() -> list[InvocationResult]:
        async with LocalLambda() as local:
            local.registry.put(config)
            return [await local.invoke(config.name, payload) for payload in payloads]

    return asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.parametrize("bootstrap", [None, tuple(RIC)], ids=["lamina", "awslambdaric"])
def test_a_partial_line_is_flushed_before_end_into_its_own_log_result(
        bootstrap: tuple[str, ...] | None) -> None:
    config = FunctionConfig(name="partial", code_dir=FUNCTIONS, handler="handlers.write_partial",
                            bootstrap=bootstrap)
    results = _invoke_all(config, [b'{"n": 1}', b'{"n": 2, "cr": true}', b'{"n": 3}'])
    for n, result in enumerate(results, 1):
        lines = result.log_tail().decode().splitlines()
        end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId"))
        assert lines[end - 1] == f"partial-{n}", lines
        assert sum(f"partial-{m}" in result.log_tail().decode() for m in (1, 2, 3)) == 1
    # CR as Lambda treats it: only a newline ends a line (a CR inside one stays; CRLF ends one).
    assert "one\rline" in results[1].log_tail().decode().split("\n")
