"""The Extensions API and the Telemetry/Logs subscription endpoints, on each environment's Runtime API.

``POST /2020-01-01/extension/register``, ``GET /2020-01-01/extension/event/next``, ``POST
/2020-01-01/extension/init/error`` and ``.../exit/error``, ``PUT /2022-07-01/telemetry`` and ``PUT
/2020-08-15/logs``. Handlers only move bytes and headers: the decisions are the environment's
extensions' (:mod:`lamina.local.lifecycle.extensions`, :mod:`lamina.local.lifecycle.telemetry`).
"""

from __future__ import annotations

import uuid
from typing import Optional, Protocol, Union

from lamina.local.lifecycle.extensions import EventReady, Registered
from lamina.local.lifecycle.states import Reply
from lamina.local.lifecycle.telemetry import LOGS_API, TELEMETRY_API
from lamina.local.runtime_api.bodies import read_body
from lamina.local.runtime_api.http1 import Request, Response

PATH_REGISTER = "/2020-01-01/extension/register"
PATH_EVENT_NEXT = "/2020-01-01/extension/event/next"
PATH_INIT_ERROR = "/2020-01-01/extension/init/error"
PATH_EXIT_ERROR = "/2020-01-01/extension/exit/error"
PATH_TELEMETRY = "/2022-07-01/telemetry"
PATH_LOGS = "/2020-08-15/logs"
PATHS = (PATH_REGISTER, PATH_EVENT_NEXT, PATH_INIT_ERROR, PATH_EXIT_ERROR, PATH_TELEMETRY, PATH_LOGS)

HEADER_NAME = "Lambda-Extension-Name"
HEADER_IDENTIFIER = "Lambda-Extension-Identifier"
HEADER_ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
HEADER_ACCEPT_FEATURE = "Lambda-Extension-Accept-Feature"
HEADER_EVENT_IDENTIFIER = "Lambda-Extension-Event-Identifier"
MAX_BODY = 1024 * 1024


class ExtensionsApiHandler(Protocol):
    """What an environment answers to its extensions (implemented by its ExtensionHost)."""

    def on_register(self, name: Optional[str], body: bytes, features: Optional[str]) -> Registered: ...

    async def on_event_next(self, identifier: Optional[str]) -> Union[EventReady, Reply]: ...

    def on_extension_error(self, identifier: Optional[str], error_type: Optional[str], *,
                           exiting: bool) -> Reply: ...

    def on_subscribe(self, identifier: Optional[str], api: str, body: bytes) -> Reply: ...


def _reply(reply: Reply, headers: Optional[dict[str, str]] = None) -> Response:
    return Response(reply.status, reply.body, headers=headers)


async def _body(request: Request) -> bytes:
    return (await read_body(request.chunks(), request.content_length, MAX_BODY))[0]


async def handle(handler: ExtensionsApiHandler, request: Request) -> Response:
    """Answer one Extensions API or subscription request (its path is one of :data:`PATHS`)."""
    path, method, headers = request.path, request.method, request.headers
    identifier = headers.get(HEADER_IDENTIFIER)
    if method == "POST" and path == PATH_REGISTER:
        body = await _body(request)
        registered = handler.on_register(headers.get(HEADER_NAME), body, headers.get(HEADER_ACCEPT_FEATURE))
        extra = {HEADER_IDENTIFIER: registered.identifier} if registered.identifier else None
        return _reply(registered.reply, extra)
    if method == "GET" and path == PATH_EVENT_NEXT:
        answer = await handler.on_event_next(identifier)
        if isinstance(answer, Reply):
            return _reply(answer)
        return Response(200, answer.body, headers={HEADER_EVENT_IDENTIFIER: str(uuid.uuid4())})
    if method == "POST" and path in (PATH_INIT_ERROR, PATH_EXIT_ERROR):
        await _body(request)  # the error document is for the logs only
        return _reply(handler.on_extension_error(identifier, headers.get(HEADER_ERROR_TYPE),
                                                 exiting=path == PATH_EXIT_ERROR))
    if method == "PUT" and path in (PATH_TELEMETRY, PATH_LOGS):
        body = await _body(request)
        return _reply(handler.on_subscribe(identifier, TELEMETRY_API if path == PATH_TELEMETRY else LOGS_API,
                                           body))
    return Response.text(405, "405 method not allowed\n")
