"""HTTP request → the event API Gateway (or a Lambda function URL) sends to a function.

Three formats, field for field as AWS documents them:

* HTTP API payload format 2.0 (also what a function URL sends): lower-cased ``headers`` with duplicate
  values comma-joined, ``cookies`` split out of the ``Cookie`` header, ``queryStringParameters``
  comma-joined, ``rawPath``/``rawQueryString`` as received, ``requestContext.http``.
* REST API payload format 1.0: ``headers`` (last value wins) and ``multiValueHeaders``, the same for
  the query string, ``resource``/``path``/``httpMethod``, ``null`` for absent parts. An HTTP API's
  format 1.0 events add ``"version": "1.0"``; a REST API's do not, and carry its stage in
  ``requestContext.path`` (``/Prod/items``) as requests to its execute-api URL do. A REST API passes a
  body as base64 only when its content type is one of the API's binary media types.

Pure code: the caller supplies the request, the matched route, a request id and a clock reading.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qsl

from lamina.local.frontends.routes import DEFAULT_API, DEFAULT_ROUTE_KEY, Api, RouteMatch
from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION

__all__ = [
    "EventContext",
    "HttpRequest",
    "build_event",
    "build_function_url_event",
    "build_v1_event",
    "build_v2_event",
    "format_request_time",
    "is_text_content_type",
    "new_request_id",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_SUBTYPES = ("json", "javascript", "xml", "x-www-form-urlencoded", "graphql", "yaml")


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as received: raw path and query, headers in arrival order, body bytes."""

    method: str
    raw_path: str
    raw_query_string: str = ""
    headers: Sequence[Tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> Optional[str]:
        """The header's values comma-joined (as HTTP folds them), or ``None``."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class EventContext:
    """What API Gateway adds from itself: ids, the account, the clock. Injected so tests are exact."""

    request_id: str
    time_epoch_ms: int
    api_id: str = "lamina"
    account_id: str = DEFAULT_ACCOUNT
    stage: str = "$default"
    stage_variables: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def now(cls, api_id: str = "lamina") -> EventContext:
        return cls(new_request_id(), int(time.time() * 1000), api_id)


def new_request_id() -> str:
    """An id shaped like API Gateway's HTTP API request ids (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(os.urandom(10)).decode()


def format_request_time(epoch_ms: int) -> str:
    """``26/Nov/2026:10:00:00 +0000``: API Gateway's CLF time, English month whatever the locale."""
    t = time.gmtime(epoch_ms / 1000)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def is_text_content_type(content_type: Optional[str]) -> bool:
    """Whether a body of this type is passed as text; anything else is base64 (``isBase64Encoded``)."""
    if not content_type:
        return False
    media = content_type.split(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    if main == "text":
        return True
    return main == "application" and (sub in _TEXT_SUBTYPES or sub.endswith(("+json", "+xml")))


def _body(request: HttpRequest, api: Api = DEFAULT_API) -> tuple[Optional[str], bool]:
    if not request.body:
        return None, False
    if api.is_rest:  # binary media types decide, and everything else is passed as text
        if api.is_binary(request.header("content-type")):
            return base64.b64encode(request.body).decode("ascii"), True
        return request.body.decode("utf-8", errors="replace"), False
    if is_text_content_type(request.header("content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _domain(request: HttpRequest, context: EventContext) -> tuple[str, str]:
    domain = request.header("host") or f"{context.api_id}.execute-api.{DEFAULT_REGION}.amazonaws.com"
    return domain, domain.split(".")[0].split(":")[0]


def _query_lists(raw_query: str) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return params


def build_v2_event(request: HttpRequest, match: RouteMatch, context: EventContext,
                   *, function_url: bool = False) -> Dict[str, Any]:
    """The HTTP API payload format 2.0 event (the function URL event when ``function_url``)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[lname] = f"{headers[lname]},{value}" if lname in headers else value
    domain, prefix = _domain(request, context)
    route_key = DEFAULT_ROUTE_KEY if function_url else match.route.route_key
    event: Dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_lists(request.raw_query_string)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    event["requestContext"] = {
        "accountId": "anonymous" if function_url else context.account_id,
        "apiId": context.api_id,
        "domainName": domain,
        "domainPrefix": prefix,
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": context.request_id,
        "routeKey": route_key,
        "stage": context.stage,
        "time": format_request_time(context.time_epoch_ms),
        "timeEpoch": context.time_epoch_ms,
    }
    body, is_base64 = _body(request)
    if body is not None:
        event["body"] = body
    if match.path_parameters and not function_url:
        event["pathParameters"] = dict(match.path_parameters)
    event["isBase64Encoded"] = is_base64
    if context.stage_variables and not function_url:
        event["stageVariables"] = dict(context.stage_variables)
    return event


def build_function_url_event(request: HttpRequest, match: RouteMatch,
                             context: EventContext) -> Dict[str, Any]:
    """A Lambda function URL's event: format 2.0 with ``$default`` and no path parameters."""
    return build_v2_event(request, match, context, function_url=True)


def build_v1_event(request: HttpRequest, match: RouteMatch, context: EventContext) -> Dict[str, Any]:
    """The REST API (payload format 1.0) proxy event."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    query = _query_lists(request.raw_query_string)
    route = match.route
    resource = "/{proxy+}" if route.is_default else route.path
    path_parameters = dict(match.path_parameters) or None
    if route.is_default:
        path_parameters = {"proxy": request.raw_path.lstrip("/")} if request.raw_path.strip("/") else None
    domain, prefix = _domain(request, context)
    api = route.api
    body, is_base64 = _body(request, api)
    user_agent = request.header("user-agent")
    event: Dict[str, Any] = {} if api.is_rest else {"version": "1.0"}
    event.update({
        "resource": resource,
        "path": request.raw_path,
        "httpMethod": request.method.upper(),
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": dict(context.stage_variables) or None,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": domain,
            "domainPrefix": prefix,
            "extendedRequestId": context.request_id,
            "httpMethod": request.method.upper(),
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{context.stage}{request.raw_path}" if api.is_rest else request.raw_path,
            "protocol": request.protocol,
            "requestId": context.request_id,
            "requestTime": format_request_time(context.time_epoch_ms),
            "requestTimeEpoch": context.time_epoch_ms,
            "resourceId": None,
            "resourcePath": resource,
            "stage": context.stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
    return event


def build_event(request: HttpRequest, match: RouteMatch, context: EventContext) -> Dict[str, Any]:
    """The event in the matched route's payload format."""
    if match.route.payload_format == "1.0":
        return build_v1_event(request, match, context)
    return build_v2_event(request, match, context)


