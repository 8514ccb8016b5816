"""``InvokeWithResponseStream``: the function's response as event-stream messages while it is produced.

``POST /2021-11-15/functions/{name}/response-streaming-invocations`` takes what Invoke takes (but only
``RequestResponse`` and ``DryRun``) and answers ``200`` with ``application/vnd.amazon.eventstream``:
a ``PayloadChunk`` per piece of the response as the runtime sends it, then ``InvokeComplete``, ``{}``
on success or the error (``ErrorCode``, ``ErrorDetails``) and the log tail. A function that does not
stream gets its whole response as one ``PayloadChunk``, as Lambda does. Service errors (unknown
function, throttling, bad parameters) are ordinary Lambda error answers, since they come before the
stream starts.
"""

from __future__ import annotations

import base64
import uuid
from typing import Optional

from aiohttp import ClientConnectionResetError, web

from lamina.local.api import event_stream
from lamina.local.api.invoke import LOCAL_LAMBDA_KEY, parse_invoke
from lamina.local.api.responses import service_error_response
from lamina.local.invoke import streaming as streaming_relay
from lamina.local.invoke.service import DRY_RUN, REQUEST_RESPONSE, InvocationResult
from lamina.local.lifecycle.states import Kind
from lamina.local.model import function_errors
from lamina.local.model.service_errors import ServiceError

STREAM_PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"


def add_routes(app: web.Application) -> None:
    app.router.add_post(STREAM_PATH, invoke_with_response_stream)


async def invoke_with_response_stream(request: web.Request) -> web.StreamResponse:
    request_id = str(uuid.uuid4())
    local = request.app[LOCAL_LAMBDA_KEY]
    result: Optional[InvocationResult] = None
    try:
        call = await parse_invoke(request, (REQUEST_RESPONSE, DRY_RUN))
        if call.invocation_type == DRY_RUN:
            return web.Response(status=204, headers={"x-amzn-RequestId": request_id})
        relay, task = await streaming_relay.start(local, call.name, call.payload, request_id=request_id,
                                                  **call.options)
        if not relay.started:
            result = await task
    except ServiceError as error:
        return service_error_response(error, request_id)
    response = web.StreamResponse(status=200, headers={
        "Content-Type": event_stream.CONTENT_TYPE, "X-Amz-Executed-Version": call.config.version,
        "x-amzn-RequestId": request_id})
    await response.prepare(request)
    if result is None:
        if not await streaming_relay.pump(response, relay, event_stream.payload_chunk):
            await task  # the caller left; the invocation still runs to its end, as on Lambda
            return response
        result = await task
    elif result.kind is Kind.RESPONSE and result.payload:
        await response.write(event_stream.payload_chunk(result.payload))
    log = None
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        log = base64.b64encode(result.log_tail()).decode()
    failure = streaming_relay.failure_of(result, relay)
    if failure is None:
        complete = event_stream.invoke_complete(log_result=log)
    else:
        error_type, document = failure
        complete = event_stream.invoke_complete(error_type, function_errors.error_details(document), log)
    try:
        await response.write(complete)
        await response.write_eof()
    except (ConnectionError, ClientConnectionResetError):
        pass
    return response
