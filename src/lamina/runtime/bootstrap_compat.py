"""awslambdaric's ``bootstrap`` module, as the integrations that patch the runtime look for it.

Sentry's ``AwsLambdaIntegration`` (and tools built the same way) find awslambdaric's ``bootstrap``
through ``sys.modules["__main__"].bootstrap`` and wrap its ``handle_event_request`` and the
``LambdaRuntimeClient`` methods that post results (``post_invocation_result``,
``post_invocation_error``, ``post_init_error``). Under lamina, ``__main__.bootstrap`` is this module,
created the first time anything asks for it (nobody asking costs nothing). From then on the loop hands
each invocation to ``handle_event_request`` looked up here, and every post goes through
``LambdaRuntimeClient`` looked up here, exactly where awslambdaric calls them, so patches take effect
and wrappers see the same arguments and the same stack.
"""

from __future__ import annotations

from lamina.runtime import log_context, logs
from lamina.runtime.api_client import RuntimeAPIClient, RuntimeAPIError
from lamina.runtime.context import make_context
from lamina.runtime.errors import make_error
from lamina.runtime.loop import Runtime
from lamina.runtime.protocol import MAX_XRAY_CAUSE

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Union

    from lamina.runtime.log_context import LogSink


class LambdaRuntimeClient:
    """awslambdaric's runtime client: the same method names and arguments, on lamina's connection."""

    marshaller: Any = None  # class-level and overridable, as in awslambdaric; set when attached

    def __init__(self, lambda_runtime_address: str, use_thread_for_polling_next: bool = False,
                 runtime: Optional[Runtime] = None) -> None:
        self.lambda_runtime_address = lambda_runtime_address
        self.use_thread_for_polling_next = use_thread_for_polling_next
        self.runtime = runtime or Runtime(RuntimeAPIClient(lambda_runtime_address))
        if LambdaRuntimeClient.marshaller is None:
            LambdaRuntimeClient.marshaller = self.runtime.marshaller

    def wait_next_invocation(self) -> Any:
        return self.runtime.client.next_invocation()

    def post_invocation_result(self, invoke_id: str, result_data: Union[bytes, str],
                               content_type: str = "application/json",
                               invocation_id: Optional[str] = None) -> None:
        body = result_data if isinstance(result_data, bytes) else result_data.encode("utf-8")
        try:
            self.runtime.client.post_response(invoke_id, body, content_type, invocation_id)
        except RuntimeAPIError as exc:
            self.runtime.report_post_failure("success", exc)

    def post_invocation_error(self, invoke_id: str, error_response_data: str, xray_fault: str,
                              invocation_id: Optional[str] = None) -> None:
        if len(xray_fault.encode("utf-8")) >= MAX_XRAY_CAUSE:
            xray_fault = ""
        try:
            self.runtime.client.post_error(invoke_id, error_response_data.encode("utf-8"), xray_fault,
                                           invocation_id)
        except RuntimeAPIError as exc:
            self.runtime.report_post_failure("error", exc)

    def post_init_error(self, error_response_data: Dict[str, Any],
                        error_type_override: Optional[str] = None) -> None:
        """Report an init error (raises :class:`RuntimeAPIError` when the Runtime API refuses it)."""
        body = self.runtime.to_json(error_response_data).encode("utf-8")
        self.runtime.client.post_init_error(body, error_type_override or error_response_data["errorType"])

    def restore_next(self) -> None:
        self.runtime.client.restore_next()

    def report_restore_error(self, restore_error_data: Dict[str, Any]) -> None:
        from lamina.runtime import error_types

        body = self.runtime.to_json(restore_error_data).encode("utf-8")
        self.runtime.client.post_restore_error(body, error_types.AFTER_RESTORE_ERROR)


def handle_event_request(lambda_runtime_client: LambdaRuntimeClient, request_handler: Callable[..., Any],
                         invoke_id: str, event_body: bytes, content_type: Optional[str],
                         client_context_json: Optional[str], cognito_identity_json: Optional[str],
                         invoked_function_arn: Optional[str], epoch_deadline_time_in_ms: int,
                         tenant_id: Optional[str], log_sink: LogSink,
                         invocation_id: Optional[str] = None) -> None:
    """One invocation, as awslambdaric runs it: context, event, handler, then one post."""
    runtime = lambda_runtime_client.runtime
    marshaller = lambda_runtime_client.marshaller
    try:
        lambda_context = make_context(invoke_id, client_context_json, cognito_identity_json,
                                      epoch_deadline_time_in_ms, invoked_function_arn, tenant_id)
        event = marshaller.unmarshal_request(event_body, content_type)
        response = request_handler(event, lambda_context)
        if type(response).__name__ == "coroutine" and hasattr(response, "send"):
            response = runtime.run_coroutine(response)
        result, result_content_type = marshaller.marshal_response(response)
    except Exception as exc:
        outcome = runtime.failure(exc, invoke_id)
        error = outcome.error or {}
        logs.log_error(error, log_sink, runtime.json_format, runtime.to_json)
        lambda_runtime_client.post_invocation_error(invoke_id, runtime.to_json(error),
                                                    runtime.to_json(outcome.cause or {}), invocation_id)
        return
    lambda_runtime_client.post_invocation_result(invoke_id, result, result_content_type, invocation_id)


def to_json(obj: Any) -> str:
    from lamina.runtime.marshalling import Marshaller

    return Marshaller().to_json(obj)


def attach(runtime: Runtime) -> Any:
    """Make this module the one the runtime routes invocations and posts through; return it."""
    import sys

    module = sys.modules[__name__]
    if runtime.bootstrap is None:
        runtime.bootstrap_client = LambdaRuntimeClient(runtime.client.address, runtime=runtime)
        runtime.bootstrap = module
    return module


def __getattr__(name: str) -> Any:
    """awslambdaric's per-invocation globals, read from lamina's."""
    if name == "_GLOBAL_AWS_REQUEST_ID":
        return log_context.current_request_id()
    if name == "_GLOBAL_TENANT_ID":
        return log_context.current_tenant_id()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LambdaRuntimeClient", "attach", "handle_event_request", "make_error", "to_json"]
