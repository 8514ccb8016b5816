"""The one call every front end makes into the local Lambda, as a type.

Front ends never import the environment pool: they receive an ``Invoker``, an async callable that runs
one synchronous invocation and answers ``(function_error, body)`` — ``function_error`` is ``None`` on
success, else the value Lambda puts in ``X-Amz-Function-Error`` (``"Unhandled"``). Service errors
(unknown function, payload too large, throttling) are raised as :class:`InvokeServiceError`, carrying
the Invoke API's HTTP status and exception name, so a front end can answer as AWS's would.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Callable, Optional, Tuple

InvokeResult = Tuple[Optional[str], bytes]
Invoker = Callable[[str, bytes], Awaitable[InvokeResult]]
# The async path passes the request id too: an Event invocation keeps the id its 202 announced
# across every attempt, as Lambda's does.
EventInvoker = Callable[[str, bytes, str], Awaitable[InvokeResult]]


class InvokeServiceError(Exception):
    """The Invoke API refused the invocation (``ResourceNotFoundException``, ``TooManyRequests…``)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message
