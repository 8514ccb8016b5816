"""Lambda service exceptions on the wire: status, ``X-Amzn-ErrorType`` and ``{"Type","Message"}``.

botocore reads the exception name from the header and the message from either ``Message`` or
``message``, so any shape here comes back to boto3 users as the exception AWS would raise.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional

from aiohttp import web

from lamina.runtime import error_types

STATUS: dict[str, int] = {
    error_types.RESOURCE_NOT_FOUND: 404,
    error_types.RESOURCE_CONFLICT: 409,
    error_types.INVALID_PARAMETER_VALUE: 400,
    error_types.INVALID_REQUEST_CONTENT: 400,
    error_types.VALIDATION: 400,
    error_types.PRECONDITION_FAILED: 412,
    error_types.REQUEST_ENTITY_TOO_LARGE: 413,
    error_types.TOO_MANY_REQUESTS: 429,
    error_types.SERVICE: 500,
}


class ServiceError(Exception):
    """A Lambda service exception with AWS's name, HTTP status and message."""

    def __init__(self, error_type: str, message: str, *, status: Optional[int] = None,
                 extra: Optional[Mapping[str, str]] = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.status = status or STATUS.get(error_type, 400)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {**self.extra, "Type": "Server" if self.status >= 500 else "User", "Message": self.message}

    def to_response(self, request_id: str) -> web.Response:
        headers = {"X-Amzn-ErrorType": self.error_type, "x-amzn-RequestId": request_id, **self.headers}
        return web.Response(status=self.status, body=json.dumps(self.body()).encode(),
                            content_type="application/json", headers=headers)


def too_many_requests(reserved: bool) -> ServiceError:
    reason = ("ReservedFunctionConcurrentInvocationLimitExceeded" if reserved
              else "ConcurrentInvocationLimitExceeded")
    return ServiceError(error_types.TOO_MANY_REQUESTS, "Rate Exceeded.", extra={"Reason": reason},
                        headers={"Retry-After": "1"})


def request_too_large(limit: int, operation: str) -> ServiceError:
    return ServiceError(error_types.REQUEST_ENTITY_TOO_LARGE,
                        f"Request must be smaller than {limit} bytes for the {operation} operation")


def invalid_json(detail: str) -> ServiceError:
    message = f"Could not parse request body into json: Could not parse payload into json: {detail}"
    return ServiceError(error_types.INVALID_REQUEST_CONTENT, message)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError(error_types.INVALID_PARAMETER_VALUE, message)
