"""The local Lambda runs a function as Lambda would (issue 13): its Runtime API takes what Lambda takes,
its logs belong to their invocation, its runtime is the function's Python with only the function's
packages, it scales as Lambda scales, and it sees the region and credentials botocore resolves."""

from __future__ import annotations

import json
from pathlib import Path

from tests.local.local_helpers import serve_handler


def test_awslambdaric_posts_a_recursion_errors_xray_cause_over_8_kb(tmp_path: Path) -> None:
    with serve_handler("handlers.recurse_forever", tmp_path) as server:
        result = server.invoke(b"{}")
    document = json.loads(result.body)
    assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert document["errorType"] == "RecursionError", document
    assert "maximum recursion depth exceeded" in document["errorMessage"]
