"""The ``context`` argument a handler receives, attribute for attribute as awslambdaric builds it."""

from __future__ import annotations

import os
import sys
import time

from lamina.runtime import error_types
from lamina.runtime.errors import FaultError

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Dict, Optional


W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, identity_id: Optional[str] = None, pool_id: Optional[str] = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    __slots__ = ["app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id"]

    def __init__(self, fields: Dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}([installation_id={self.installation_id},"  # type: ignore[attr-defined]
                f"app_title={self.app_title},"  # type: ignore[attr-defined]
                f"app_version_name={self.app_version_name},"  # type: ignore[attr-defined]
                f"app_version_code={self.app_version_code},"  # type: ignore[attr-defined]
                f"app_package_name={self.app_package_name}])")  # type: ignore[attr-defined]


class ClientContext:
    __slots__ = ["client", "custom", "env"]

    def __init__(self, fields: Dict[str, Any]) -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = None if client is None else Client(client)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}([custom={self.custom},env={self.env},client={self.client}])"


def parse_json_header(value: str, name: str) -> Any:
    from lamina.runtime import fastjson

    try:
        return fastjson.loads_stdlib_errors(value)
    except Exception as exc:
        raise FaultError(error_types.CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {exc}") from None


class LambdaContext:
    """What a handler learns about its invocation and function."""

    def __init__(self, request_id: str, client_context: Optional[Dict[str, Any]],
                 cognito_identity: Optional[Dict[str, Any]], deadline_ms: int,
                 invoked_function_arn: Optional[str] = None, tenant_id: Optional[str] = None) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = _pop_w3c(client_context)
        self.client_context = None if client_context is None else ClientContext(client_context)
        self.identity = CognitoIdentity()
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def w3c(self) -> Dict[str, str]:
        """The W3C trace context (``traceparent``, ``tracestate``, ``baggage``) the caller sent."""
        return dict(self._w3c_fields)

    def log(self, msg: Any) -> None:
        import logging

        for handler in logging.getLogger().handlers:
            sink = getattr(handler, "log_sink", None)
            if sink is not None:
                sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


def _pop_w3c(client_context: Optional[Dict[str, Any]]) -> Dict[str, str]:
    if not isinstance(client_context, dict) or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in W3C_ALLOWED_FIELDS if isinstance(raw.get(key), str)}


def make_context(request_id: str, client_context_json: Optional[str], cognito_json: Optional[str],
                 deadline_ms: int, function_arn: Optional[str], tenant_id: Optional[str]) -> LambdaContext:
    client_context = parse_json_header(client_context_json, "Client Context") if client_context_json else None
    cognito = parse_json_header(cognito_json, "Cognito Identity") if cognito_json else None
    return LambdaContext(request_id, client_context, cognito, deadline_ms, function_arn, tenant_id)
