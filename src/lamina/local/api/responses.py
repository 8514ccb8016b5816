"""Lambda's service exceptions on the wire: status, ``X-Amzn-ErrorType`` and ``{"Type","Message"}``.

The one rendering of :class:`~lamina.local.model.service_errors.ServiceError` for every HTTP API of the
local Lambda (Invoke, InvokeWithResponseStream, the control plane).
"""

from __future__ import annotations

import json

from aiohttp import web

from lamina.local.model.service_errors import ServiceError


def service_error_response(error: ServiceError, request_id: str) -> web.Response:
    headers = {"X-Amzn-ErrorType": error.error_type, "x-amzn-RequestId": request_id, **error.headers}
    return web.Response(status=error.status, body=json.dumps(error.body()).encode(),
                        content_type="application/json", headers=headers)
