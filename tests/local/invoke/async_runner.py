"""A stand-in for ``lamina serve`` in the crash test: the Invoke API's Event path on the durable queue.

``python async_runner.py DATA_DIR PORT OUT BLOCK``: accepts ``POST /2015-03-31/functions/NAME/invocations``
with ``X-Amz-Invocation-Type: Event`` (202 after the event is on disk). Its function appends the
event's ``n`` to OUT, or hangs while the file BLOCK exists (so a kill -9 catches events mid-run).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from aiohttp import web

from lamina.local.invoke.event_worker import AsyncInvoker
from lamina.local.invoke.invoker import InvokeResult


async def main(data_dir: Path, port: int, out: Path, block: Path) -> None:
    async def function(name: str, payload: bytes, request_id: str) -> InvokeResult:
        while block.exists():
            await asyncio.sleep(0.05)
        with open(out, "a") as handle:
            handle.write(f"{json.loads(payload)['n']}\n")
            handle.flush()
            os.fsync(handle.fileno())
        return None, b"null"

    invoker = AsyncInvoker(data_dir / "events.sqlite3", function, concurrency=2, retry_delays=(0.01, 0.02))

    async def invoke(request: web.Request) -> web.Response:
        request_id = invoker.enqueue(request.match_info["name"], await request.read())
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})

    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await invoker.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
