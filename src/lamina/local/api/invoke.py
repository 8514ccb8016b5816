"""The Invoke API as boto3 and the AWS CLI speak it, and AWS's emulator's fixed path.

``POST /2015-03-31/functions/{name}/invocations`` follows AWS: function failures are ``200`` with
``X-Amz-Function-Error``, service failures carry ``X-Amzn-ErrorType``. The emulator's fixed path
(``/2015-03-31/functions/function/invocations``) answers as AWS's emulator does (``502`` on a crash,
plain-text timeouts, invocation type ignored) so scripts written against it keep working; a signed
request there (an AWS SDK or the CLI, which send ``Authorization``) gets AWS's answers instead,
because such a client came for the real Invoke API of a function named ``function``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from aiohttp import web

from lamina.local.api.responses import service_error_parts, service_error_response
from lamina.local.invoke import streaming as streaming_relay
from lamina.local.invoke.service import DRY_RUN, EVENT, REQUEST_RESPONSE, InvocationResult, LocalLambda
from lamina.local.lifecycle.states import Kind
from lamina.local.model import names, payloads, service_errors
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.service_errors import ServiceError
from lamina.local.runtime_api.bodies import read_body
from lamina.local.runtime_api.relay import StreamRelay
from lamina.runtime import error_types, protocol

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
EMULATOR_PATH = "/2015-03-31/functions/function/invocations"
LOCAL_LAMBDA_KEY: web.AppKey[LocalLambda] = web.AppKey("local_lambda", LocalLambda)
INVOCATION_TYPES = (REQUEST_RESPONSE, EVENT, DRY_RUN)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", EMULATOR_PATH, emulator_invoke)
    app.router.add_post(INVOKE_PATH, invoke)


def _lambda(request: web.Request) -> LocalLambda:
    return request.app[LOCAL_LAMBDA_KEY]


def _client_context(header: Optional[str]) -> Optional[str]:
    """Decode ``X-Amz-Client-Context`` (base64 JSON) into what the runtime receives."""
    if header is None:
        return None
    if len(header) > protocol.MAX_CLIENT_CONTEXT:
        raise service_errors.invalid_parameter(
            f"Client context must be at most {protocol.MAX_CLIENT_CONTEXT} bytes when base64 encoded.")
    try:
        decoded = base64.b64decode(header, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise ServiceError(error_types.INVALID_REQUEST_CONTENT,
                           "Client context must be a valid Base64-encoded JSON object.") from None
    return decoded


def _trace_id() -> str:
    """An X-Ray trace header as Lambda passes one to every invocation when the caller sent none."""
    return (f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};"
            "Sampled=0")


async def invoke(request: web.Request) -> web.StreamResponse:
    """AWS's ``Invoke`` operation."""
    request_id = str(uuid.uuid4())
    try:
        return await _invoke(request, request_id)
    except ServiceError as error:
        return service_error_response(error, request_id)


@dataclass(frozen=True)
class InvokeRequest:
    """An Invoke call, validated: what to run and the options the invocation gets."""

    name: str
    config: FunctionConfig
    invocation_type: str
    payload: bytes
    options: dict[str, Any]


async def parse_invoke(request: web.Request, invocation_types: tuple[str, ...]) -> InvokeRequest:
    """Validate an Invoke (or InvokeWithResponseStream) call as Lambda does, in Lambda's order."""
    head = invoke_head(_lambda(request), request.match_info["name"], request.query.get("Qualifier"),
                       request.headers, invocation_types)
    payload, size = await read_body(request.content.iter_any(), request.content_length, head.limit)
    return invoke_call(head, payload, size, request.headers)


@dataclass(frozen=True)
class InvokeHead:
    """What an Invoke call's path, query and headers name, checked before its body is read."""

    name: str
    qualifier: Optional[str]
    config: FunctionConfig
    invocation_type: str
    limit: int  # the largest payload the invocation type takes


def invoke_head(local: LocalLambda, name: str, qualifier_member: Optional[str], headers: Mapping[str, str],
                invocation_types: tuple[str, ...]) -> InvokeHead:
    """The checks of an Invoke call that come before its payload, in Lambda's order (ServiceError)."""
    names.parse_function_name(name, namespaced=True)  # AWS's ValidationException before anything else
    qualifier = names.parse_qualifier(qualifier_member)
    sent = headers.get("X-Amz-Invocation-Type")
    invocation_type = REQUEST_RESPONSE if sent is None else sent
    if invocation_type not in invocation_types:
        raise ServiceError(error_types.INVALID_PARAMETER_VALUE,
                           f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           f"[{', '.join(invocation_types)}]")
    config = local.registry.resolve(name, qualifier)
    limit = protocol.MAX_ASYNC_REQUEST if invocation_type == EVENT else protocol.MAX_SYNC_REQUEST
    return InvokeHead(name, qualifier, config, invocation_type, limit)


def invoke_call(head: InvokeHead, payload: bytes, size: int, headers: Mapping[str, str]) -> InvokeRequest:
    """The call whole, once its payload (``size`` bytes, kept up to the limit) is read (ServiceError)."""
    if size > head.limit:
        raise service_errors.request_too_large(head.limit, "InvokeFunction")
    payload = payload or b"{}"  # Lambda hands an empty invocation an empty JSON object
    payloads.parse_json(payload)
    client_context = _client_context(headers.get("X-Amz-Client-Context"))
    options = {
        "qualifier": head.qualifier, "client_context": client_context,
        "tenant_id": headers.get("X-Amz-Tenant-Id"),
        "trace_id": headers.get("X-Amzn-Trace-Id") or _trace_id(),
        "log": headers.get("X-Amz-Log-Type") == "Tail",
    }
    return InvokeRequest(head.name, head.config, head.invocation_type, payload, options)


async def _invoke(request: web.Request, request_id: str) -> web.StreamResponse:
    call = await parse_invoke(request, INVOCATION_TYPES)
    tail = request.headers.get("X-Amz-Log-Type") == "Tail"
    answer = await invoke_answer(_lambda(request), call, request_id, tail)
    if isinstance(answer, Streamed):
        return await streaming_relay.stream_out(request, answer.relay, answer.task, answer.headers)
    status, body, headers = answer
    return web.Response(status=status, body=body or None, headers=headers)


@dataclass(frozen=True)
class Streamed:
    """An Invoke whose function streams its response: the bytes come through ``relay`` while ``task``
    runs; ``headers`` are the answer's (the server writes it chunked, how it ended in its trailers)."""

    relay: StreamRelay
    task: asyncio.Task[InvocationResult]
    headers: dict[str, str]


async def invoke_answer(local: LocalLambda, call: InvokeRequest, request_id: str,
                        tail: bool) -> Union[tuple[int, bytes, dict[str, str]], Streamed]:
    """What an Invoke call answers (status, body, headers), or its stream: the one implementation
    behind this module's route and the Invoke API's lean front."""
    if call.invocation_type == DRY_RUN:
        return 204, b"", {"x-amzn-RequestId": request_id}
    if call.invocation_type == EVENT:
        local.invoke_in_background(call.name, call.payload, request_id=request_id, **call.options)
        return 202, b"", {"x-amzn-RequestId": request_id}
    headers = {"X-Amz-Executed-Version": call.config.version, "x-amzn-RequestId": request_id}
    # A streamed response is relayed as it is produced; anything else comes back whole.
    relay, task = await streaming_relay.start(local, call.name, call.payload, request_id=request_id,
                                              **call.options)
    if relay.started:
        return Streamed(relay, task, headers)
    return invoke_parts(await task, headers, tail)


def invoke_parts(result: InvocationResult, headers: dict[str, str],
                 tail: bool) -> tuple[int, bytes, dict[str, str]]:
    """A synchronous Invoke's buffered answer as Lambda renders it: status, body, headers."""
    headers["Content-Type"] = protocol.CONTENT_TYPE_JSON
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if tail:
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail()).decode()
    return 200, result.payload, headers


async def emulator_invoke(request: web.Request) -> web.StreamResponse:
    """AWS's emulator's fixed path, for the default function, with the emulator's answers."""
    if "Authorization" in request.headers:
        request.match_info["name"] = "function"
        return await invoke(request)
    local = _lambda(request)
    config = local.registry.default()
    if config is None:
        return web.Response(status=404, text="404 page not found")
    payload, _ = await read_body(request.content.iter_any(), request.content_length,  # cut, as the emulator
                                 protocol.MAX_SYNC_RESPONSE, truncate=True)
    status, body, headers = await emulator_answer(local, config, payload, request.headers)
    return web.Response(status=status, body=body, headers=headers)


async def emulator_answer(local: LocalLambda, config: FunctionConfig, payload: bytes,
                          headers: Mapping[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """An unsigned call of the emulator's path to ``config`` (the registry's default function), run and
    rendered as AWS's emulator answers it (status, body, headers): the one implementation behind this
    module's route and the Invoke API's lean front."""
    try:
        payloads.check_depth(payload)  # passed on unparsed, but never deeper than a runtime can parse
    except ServiceError as error:
        return service_error_parts(error, str(uuid.uuid4()))
    header = headers.get("X-Amz-Client-Context")
    client_context = None
    if header is not None:
        try:
            client_context = base64.b64decode(header).decode()
        except (binascii.Error, UnicodeDecodeError):
            return 500, b"Internal Server Error", {"Content-Type": "text/plain; charset=utf-8"}
    try:
        result = await local.invoke(config.name, payload, client_context=client_context,
                                    tenant_id=headers.get("X-Amz-Tenant-Id"), log=False)
    except ServiceError as error:
        return service_error_parts(error, str(uuid.uuid4()))
    return emulator_parts(result)


_BAD_GATEWAY = (Kind.EXIT, Kind.INIT_ERROR, Kind.OUT_OF_MEMORY)  # the emulator's 502s


def emulator_parts(result: InvocationResult) -> tuple[int, bytes, dict[str, str]]:
    """Render a result as AWS's emulator does (spec §3.1): status, body, headers."""
    kind = result.kind
    if kind is Kind.TIMEOUT:
        body = f"Task timed out after {result.function.timeout:.2f} seconds".encode()
        return 200, body, {"Content-Type": "text/plain; charset=utf-8"}
    status = 502 if kind in _BAD_GATEWAY else 200
    return status, result.payload, {"Content-Type": _sniff(result.payload)}


def _sniff(body: bytes) -> str:
    """Go's content sniffing, as far as Lambda payloads go: text or binary."""
    try:
        body.decode()
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain; charset=utf-8"
