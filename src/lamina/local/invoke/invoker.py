"""The one call every front end makes into the local Lambda, as a type.

Front ends never import the environment pool: they receive an ``Invoker``, an async callable that runs
one synchronous invocation and answers ``(function_error, body)`` — ``function_error`` is ``None`` on
success, else the value Lambda puts in ``X-Amz-Function-Error`` (``"Unhandled"``). Service errors
(unknown function, payload too large, throttling) are raised as
:class:`~lamina.local.model.service_errors.ServiceError`, carrying the Invoke API's HTTP status and
exception name, so a front end can answer as AWS's would.

A function that streams its response (``@lamina.streaming``) answers a :class:`StreamedResponse`
instead, as soon as its first byte arrives, so the HTTP front can relay it as a function URL in
``RESPONSE_STREAM`` mode does rather than wait for the whole body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Tuple, Union

InvokeResult = Tuple[Optional[str], bytes]


@dataclass(frozen=True)
class StreamedResponse:
    """A response the function is still streaming: its content type, its chunks, then its outcome."""

    content_type: str
    chunks: AsyncIterator[bytes]  # as the runtime sends them; ends when the stream ends or is cut
    # Awaited after the chunks: None on success, else the error type (a mid-stream error, the
    # streamed-response limit, a timeout), which can no longer change the status already sent.
    outcome: Callable[[], Awaitable[Optional[str]]]
    abandon: Callable[[], None]  # the client left: drop the rest (the invocation still runs to its end)


class Invoker(Protocol):
    """``invoke(function_name, payload, tenant_id=None)``: one synchronous invocation."""

    def __call__(self, function_name: str, payload: bytes, *,
                 tenant_id: Optional[str] = None) -> Awaitable[Union[InvokeResult, StreamedResponse]]: ...



# The async path passes the request id too: an Event invocation keeps the id its 202 announced
# across every attempt, as Lambda's does.
EventInvoker = Callable[[str, bytes, str], Awaitable[InvokeResult]]

