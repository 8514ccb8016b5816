"""Lambda's service exceptions on the wire: status, ``X-Amzn-ErrorType`` and ``{"Type","Message"}``.

The one rendering of :class:`~lamina.local.model.service_errors.ServiceError` for every HTTP API of the
local Lambda (Invoke, InvokeWithResponseStream, the control plane).
"""

from __future__ import annotations

import json

from aiohttp import web

from lamina.local.model.service_errors import ServiceError


def service_error_parts(error: ServiceError, request_id: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers (the content type included) of ``error``, for any HTTP server."""
    headers = {"Content-Type": "application/json", "X-Amzn-ErrorType": error.error_type,
               "x-amzn-RequestId": request_id, **error.headers}
    return error.status, json.dumps(error.body()).encode(), headers


def service_error_response(error: ServiceError, request_id: str) -> web.Response:
    status, body, headers = service_error_parts(error, request_id)
    return web.Response(status=status, body=body, headers=headers)
