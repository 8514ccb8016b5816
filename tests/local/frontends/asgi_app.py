"""A small raw ASGI application wrapped by Mangum: the framework side of the HTTP front's tests.

It is used in-process (through a fake invoker) and as a real Lambda handler (``asgi_app.handler``)
under the local Lambda, so the same app proves both the event format and the integration.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mangum import Mangum


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/binary":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        await send({"type": "http.response.body", "body": bytes(range(256))})
        return
    status = 404 if path == "/missing" else 200
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    answer = {
        "method": scope["method"],
        "path": path,
        "query": scope["query_string"].decode(),
        "cookie": headers.get("cookie"),
        "x_multi": headers.get("x-multi"),
        "body_b64": base64.b64encode(body).decode(),
        "version": VERSION,
    }
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2"),
        (b"x-app", b"asgi")]})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


VERSION = "one"
handler = Mangum(app, lifespan="off")
