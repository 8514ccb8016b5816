"""Under load, every caller gets exactly its own answer: 1,000 concurrent invocations through serve.

Bounded in count and time, on 127.0.0.1 only. The function echoes its event and its request id, so
a mixed-up answer (another caller's event, another invocation's id) cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from tests.conftest import sigv4_headers
from tests.local.local_helpers import FUNCTIONS, lamina_serve

CALLERS = 1000


def _project(tmp_path: Path) -> Path:
    (tmp_path / "lamina.toml").write_text(
        f'[functions.echo]\ncode = "{FUNCTIONS}"\nhandler = "handlers.echo_with_id"\n'
        f"timeout = 60\nconcurrency = 16\nqueue = {CALLERS}\n")
    return tmp_path


async def _invoke_all(port: int) -> list[tuple[int, dict[str, object], str]]:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/echo/invocations"
    timeout = aiohttp.ClientTimeout(total=240)
    connector = aiohttp.TCPConnector(limit=CALLERS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call(n: int) -> tuple[int, dict[str, object], str]:
            body = json.dumps({"caller": n}).encode()
            async with session.post(url, data=body, headers=sigv4_headers("POST", url, body)) as answer:
                return answer.status, json.loads(await answer.read()), answer.headers["x-amzn-RequestId"]

        return await asyncio.gather(*(call(n) for n in range(CALLERS)))


def test_1000_concurrent_invocations_each_get_exactly_their_own_answer(tmp_path: Path) -> None:
    with lamina_serve(["--no-watch"], tmp_path, cwd=_project(tmp_path)) as server:
        answers = asyncio.run(_invoke_all(server.port))
        assert server.invoke(b'{"after": true}', name="echo").status == 200  # and it keeps serving
    assert [status for status, _, _ in answers] == [200] * CALLERS
    assert [body["event"] for _, body, _ in answers] == [{"caller": n} for n in range(CALLERS)]
    assert all(body["request_id"] == request_id for _, body, request_id in answers)
    assert len({request_id for _, _, request_id in answers}) == CALLERS
