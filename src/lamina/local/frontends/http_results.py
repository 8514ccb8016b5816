"""A function's result → the HTTP response API Gateway (or a function URL) would send.

Format 2.0 (HTTP API, function URLs) infers a response from a plain result: a JSON value without
``statusCode`` becomes ``200``, ``content-type: application/json`` and that JSON as the body; a string
becomes the body as is. A dict with ``statusCode`` is read as ``statusCode``/``headers``/``cookies``/
``body``/``isBase64Encoded``. Format 1.0 (REST API) infers nothing: ``statusCode`` is required, and
``headers`` merge with ``multiValueHeaders``. A function error or a result that breaks these rules is
answered ``502`` with API Gateway's own body. Pure code.

A REST API (the route's :class:`~lamina.local.frontends.routes.Api`) adds two rules of its own: an answer
without ``Content-Type`` is ``application/json``, and an ``isBase64Encoded`` body is decoded only when
the request's first ``Accept`` type is one of the API's binary media types (otherwise the client gets
the base64 text, as from API Gateway).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from lamina.local.frontends.routes import DEFAULT_API, Api
from lamina.runtime import protocol

__all__ = [
    "HttpResponse",
    "MalformedResultError",
    "PreludeReader",
    "bad_gateway",
    "gateway_error",
    "response_from_result",
    "response_from_v1_result",
    "response_from_v2_result",
    "stream_head",
]

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"  # a streamed body whose prelude names no content type
MAX_PRELUDE_BYTES = 16 * 1024  # the HTTP integration prelude must end this early (API Gateway's rule)


@dataclass(frozen=True)
class HttpResponse:
    """Status, headers (repeatable, in order) and body bytes, ready for any HTTP server to send."""

    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None


class MalformedResultError(ValueError):
    """The function's result is not a response API Gateway can send (it answers 502)."""


def gateway_error(status: int, message: str) -> HttpResponse:
    """An error API Gateway produces itself: ``{"message": "..."}`` as JSON."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", JSON)], body)


def bad_gateway(payload_format: str = "2.0") -> HttpResponse:
    """502 for a failed function or a malformed result; REST APIs spell the message in lower case."""
    return gateway_error(502, "Internal server error" if payload_format == "1.0" else "Internal Server Error")


def _status(result: Mapping[str, Any]) -> int:
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode must be an HTTP status code, got {status!r}")
    return status


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResultError(f"header {name!r} must be a string, got {type(value).__name__}")


def _mapping(result: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = result.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedResultError(f"{key} must be an object")
    return value


def _body(result: Mapping[str, Any], decode: bool = True) -> bytes:
    body = result.get("body")
    encoded = result.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedResultError("isBase64Encoded must be a boolean")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResultError(f"body must be a string, got {type(body).__name__}")
    if encoded and decode:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResultError("body is not valid base64") from exc
    return body.encode("utf-8")


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # too deep for the parser: not JSON
        raise MalformedResultError("the function's result is not JSON") from exc


def response_from_v2_result(payload: bytes) -> HttpResponse:
    """Apply format 2.0's rules to a successful result; raises MalformedResultError."""
    result = _parse(payload)
    if isinstance(result, str):
        return HttpResponse(200, [("content-type", JSON)], result.encode("utf-8"))
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("content-type", JSON)], payload.strip())
    return HttpResponse(_status(result), _v2_headers(result), _body(result))


def _v2_headers(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``headers`` and ``cookies`` (one ``set-cookie`` each) of a 2.0 result or a stream's prelude."""
    headers = [(str(k).lower(), _header_value(str(k), v)) for k, v in _mapping(result, "headers").items()]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResultError("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)
    return headers


def response_from_v1_result(payload: bytes, api: Api = DEFAULT_API,
                            accept: Optional[str] = None) -> HttpResponse:
    """Apply format 1.0's rules (``statusCode`` required) to a successful result (and a REST API's)."""
    result = _parse(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResultError("a REST API proxy result needs a statusCode")
    headers: list[tuple[str, str]] = []
    for name, values in _mapping(result, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise MalformedResultError(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_value(str(name), v)) for v in values)
    present = {(k.lower(), v) for k, v in headers}
    for name, value in _mapping(result, "headers").items():
        pair = (str(name), _header_value(str(name), value))
        if (pair[0].lower(), pair[1]) not in present:
            headers.append(pair)
    if not api.is_rest:
        return HttpResponse(_status(result), headers, _body(result))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", JSON))
    first_accept = (accept or "").split(",")[0].strip() or None
    return HttpResponse(_status(result), headers, _body(result, decode=api.is_binary(first_accept)))


def response_from_result(function_error: Optional[str], payload: bytes, payload_format: str, *,
                         api: Api = DEFAULT_API, accept: Optional[str] = None) -> HttpResponse:
    """The HTTP response for an invocation's outcome, 502 for errors and malformed results."""
    if function_error is not None:
        return bad_gateway(payload_format)
    try:
        if payload_format == "1.0":
            return response_from_v1_result(payload, api, accept)
        return response_from_v2_result(payload)
    except MalformedResultError:
        return bad_gateway(payload_format)


# --- streamed responses (a function URL in RESPONSE_STREAM mode) -----------------------------------


class PreludeReader:
    """Finds the end of an HTTP integration prelude (JSON, then 8 NUL bytes) in a stream's first chunks.

    The prelude may arrive split over several chunks, and the body's first bytes may share a chunk
    with it; :meth:`feed` keeps what it was given until the delimiter shows up.
    """

    def __init__(self, limit: int = MAX_PRELUDE_BYTES) -> None:
        self.limit = limit
        self._seen = bytearray()

    def feed(self, chunk: bytes) -> Optional[tuple[bytes, bytes]]:
        """``(prelude, start of the body)`` once the delimiter arrived, else None (send more).

        Raises MalformedResultError past ``limit`` bytes without a delimiter.
        """
        self._seen += chunk
        end = self._seen.find(protocol.HTTP_INTEGRATION_DELIMITER)
        if end < 0:
            if len(self._seen) > self.limit:
                raise MalformedResultError(f"no HTTP integration prelude in the first {self.limit} bytes")
            return None
        if end > self.limit:
            raise MalformedResultError(f"the HTTP integration prelude is over {self.limit} bytes")
        rest = bytes(self._seen[end + len(protocol.HTTP_INTEGRATION_DELIMITER):])
        return bytes(self._seen[:end]), rest


def stream_head(content_type: str, prelude: Optional[bytes] = None) -> HttpResponse:
    """Status and headers of a streamed response, as a function URL in RESPONSE_STREAM mode sends them.

    With an HTTP integration prelude they are the prelude's ``statusCode`` (200 if absent), ``headers``
    and ``cookies``, with ``application/octet-stream`` when it names no content type. Without one
    (any other content type) the answer is ``200`` and the stream's own content type: the body is the
    function's bytes as they are. Raises MalformedResultError for a prelude that is not such an object.
    """
    if prelude is None:
        return HttpResponse(200, [("content-type", content_type)])
    parsed = _parse(prelude)
    if not isinstance(parsed, dict):
        raise MalformedResultError("the HTTP integration prelude must be a JSON object")
    status = _status(parsed) if "statusCode" in parsed else 200
    headers = _v2_headers(parsed)
    if not any(name == "content-type" for name, _ in headers):
        headers.insert(0, ("content-type", OCTET_STREAM))
    return HttpResponse(status, headers)
