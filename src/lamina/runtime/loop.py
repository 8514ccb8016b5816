"""The runtime's life: init (load the handler), then invocations one after another until shutdown.

Init errors are posted to ``/runtime/init/error`` and end the process (exit 1), exactly as awslambdaric
does; invocation errors are posted to ``/error`` and the loop goes on. Beyond awslambdaric: ``async
def`` handlers run on one event loop kept for the life of the environment, and SIGTERM ends the
process cleanly, after the invocation in flight (if any) has posted its result.
"""

from __future__ import annotations

import os
import sys
import time

from lamina.runtime import log_context, logs
from lamina.runtime.api_client import InvocationRequest, RuntimeAPIClient, RuntimeAPIError
from lamina.runtime.context import make_context
from lamina.runtime.errors import FaultError, error_from_exception, make_error, xray_cause
from lamina.runtime.handler import load_handler
from lamina.runtime.marshalling import Marshaller
from lamina.runtime.protocol import MAX_XRAY_CAUSE

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

    from lamina.runtime.context import LambdaContext
    from lamina.runtime.handler import Handler


UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
    "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
    "managed runtimes, runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the runtime version in the "
    "INIT_START log entry. If this error correlates with a change in the runtime version, you may be able "
    "to mitigate this error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)
PREVIEW_RUNTIME_ENVS = frozenset({"AWS_Lambda_python3.15"})
TRACE_ID_ENV = "_X_AMZN_TRACE_ID"


class Outcome:
    """What an invocation produced: a response body, or an error document and its X-Ray cause."""

    __slots__ = ("body", "cause", "content_type", "error")

    def __init__(self, body: bytes, content_type: str, error: Optional[Dict[str, Any]],
                 cause: Optional[Dict[str, Any]]) -> None:
        self.body = body
        self.content_type = content_type
        self.error = error
        self.cause = cause


class Runtime:
    """One execution environment's runtime: its Runtime API client, handler, marshaller and log sink."""

    def __init__(self, client: RuntimeAPIClient, marshaller: Optional[Marshaller] = None) -> None:
        self.client = client
        self.marshaller = marshaller or Marshaller()
        self.json_format = logs.json_format_requested()
        self.sink: Any = None
        self.handler: Optional[Handler] = None
        self._event_loop: Any = None
        self._busy = False
        self._stop_requested = False
        # Set by loops that ask for the next event right after each result: the request for it then
        # goes out with the result (RuntimeAPIClient.post_response). Never for a result posted by
        # code that does not poll next on this client, or an event would go to no one.
        self.pipeline_next = False
        self.streaming: Optional[Dict[str, Any]] = None
        self._takes_stream = False
        self.trace_id_per_task = False  # concurrent invocations in one process: see concurrency.py
        # awslambdaric's ``bootstrap`` module and runtime client, once an integration asked for them
        # (see bootstrap_compat.py): from then on invocations and posts go through them.
        self.bootstrap: Any = None
        self.bootstrap_client: Any = None

    # -- init --------------------------------------------------------------------------------------

    def start_logging(self) -> None:
        sys.stdout = logs.Unbuffered(sys.stdout)
        sys.stderr = logs.Unbuffered(sys.stderr)
        self.sink = logs.create_log_sink(self.json_format).__enter__()
        sink, json_format, level = self.sink, self.json_format, logs.level_from_env()

        def configure() -> None:
            from lamina.runtime import logging_setup

            logging_setup.configure(sink, json_format, level)

        logs.install(configure)

    def init(self, handler_name: str) -> None:
        """Load the handler; on failure report the init error and exit, as Lambda expects."""
        _warn_if_preview_runtime()
        error = None
        try:
            self.handler = load_handler(handler_name)
        except FaultError as fault:
            error = make_error(fault.message, fault.error_type, fault.trace)
        except Exception as exc:
            error = error_from_exception(exc)[0]
        if error is not None:  # reported outside the except block, as awslambdaric does (and Sentry expects)
            self.fail_init(error)
        self.streaming = getattr(self.handler, "__lamina_streaming__", None)
        if self.streaming is not None:
            from lamina.runtime.streaming import takes_stream

            self._takes_stream = takes_stream(self.handler)
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            from lamina.runtime import snapstart

            snapstart.run_hooks(self)

    def fail_init(self, error: Dict[str, Any], error_type: Optional[str] = None, exit_code: int = 1) -> None:
        import logging

        logging.warning(UNHANDLED_EXCEPTION_WARNING)
        self.log_error(error)
        try:
            if self.bootstrap is not None:
                self.bootstrap.LambdaRuntimeClient.post_init_error(self.bootstrap_client, error, error_type)
            else:
                self.client.post_init_error(self.to_json(error).encode("utf-8"),
                                            error_type or error["errorType"])
        except RuntimeAPIError as exc:
            fatal(f"could not report the init error: {exc}")
        sys.exit(exit_code)

    # -- invocations -------------------------------------------------------------------------------

    def run(self) -> None:
        """Poll for invocations and answer each, until the process is told to stop.

        The handler runs as deep in the stack as under awslambdaric (``run`` -> ``handle`` -> handler,
        theirs ``run`` -> ``handle_event_request`` -> handler), so recursion limits hit alike.
        """
        _install_sigterm(self)
        self.pipeline_next = True
        while True:
            try:
                invocation = self.next_invocation()
            except RuntimeAPIError as exc:
                fatal(f"LAMBDA_RUNTIME Failed to get next invocation: {exc}")
            self._busy = True
            self.enter(invocation)
            bootstrap = self.bootstrap
            if bootstrap is None or self.streaming is not None:
                self.handle(invocation)
            else:  # looked up on every invocation, as awslambdaric does: patches take effect at once
                bootstrap.handle_event_request(
                    self.bootstrap_client, self.handler, invocation.request_id, invocation.body,
                    invocation.content_type, invocation.client_context, invocation.cognito_identity,
                    invocation.function_arn, invocation.deadline_ms, invocation.tenant_id, self.sink,
                    invocation.invocation_id)
            self._busy = False
            if self._stop_requested:
                sys.exit(0)

    def next_invocation(self) -> InvocationRequest:
        return self.client.next_invocation(self.marshaller.release)

    def handle(self, invocation: InvocationRequest) -> None:
        """Run one invocation (its ids already set by :meth:`enter`) and post its result or error."""
        if self.streaming is not None:
            self.handle_streaming(invocation)
            return
        try:
            context, event = self.prepare(invocation)
            result = self.handler(event, context)  # type: ignore[misc]
            if type(result).__name__ == "coroutine" and hasattr(result, "send"):
                result = self.run_coroutine(result)
            outcome = self.success(result)
        except Exception as exc:
            outcome = self.failure(exc, invocation.request_id)
        self.deliver(invocation, outcome)

    def handle_streaming(self, invocation: InvocationRequest) -> None:
        """Run one invocation of a streaming handler, sending each chunk as the handler produces it."""
        from lamina.runtime import streaming

        sender = streaming.StreamSender(self.client, invocation.request_id, invocation.invocation_id,
                                        self.streaming["content_type"])  # type: ignore[index]
        error = None
        try:
            context, event = self.prepare(invocation)
            if self._takes_stream:
                result = self.handler(event, context, streaming.ResponseStream(sender))  # type: ignore[misc,call-arg]
            else:
                result = self.handler(event, context)  # type: ignore[misc]
            if type(result).__name__ == "coroutine" and hasattr(result, "send"):
                result = self.run_coroutine(result)
            streaming.pump(sender, result, self.run_coroutine, lambda value: self.success(value).body)
        except Exception as exc:
            outcome = self.failure(exc, invocation.request_id)
            if not sender.started:  # nothing sent yet: an ordinary error
                self.post_error(invocation, outcome.error or {}, outcome.cause or {})
                return
            error = outcome.error
            self.log_error(error or {})
        try:
            status, body = sender.finish(error, self.to_json)
        except RuntimeAPIError as exc:
            self.report_post_failure("success", exc)
            return
        if status != 202:
            self.report_post_failure("success", RuntimeAPIError(sender.client._stream_path, status, body))

    async def outcome_async(self, invocation: InvocationRequest) -> Outcome:
        """The outcome of one invocation of an async handler, run as a task on the event loop."""
        self.enter(invocation)
        try:
            context, event = self.prepare(invocation)
            result = self.handler(event, context)  # type: ignore[misc]
            if type(result).__name__ == "coroutine" and hasattr(result, "send"):
                result = await result
            return self.success(result)
        except Exception as exc:
            return self.failure(exc, invocation.request_id)

    def enter(self, invocation: InvocationRequest) -> None:
        """Make the invocation's request id, tenant and trace id the current ones: for the whole
        process (every thread), or only for this task when invocations run side by side."""
        if self.trace_id_per_task:
            log_context.enter_task(invocation.request_id, invocation.tenant_id, invocation.trace_id)
            return
        log_context.request_id = invocation.request_id
        log_context.tenant_id = invocation.tenant_id
        if invocation.trace_id is not None:
            os.environ[TRACE_ID_ENV] = invocation.trace_id
        else:
            os.environ.pop(TRACE_ID_ENV, None)

    def prepare(self, invocation: InvocationRequest) -> Tuple[LambdaContext, Any]:
        context = make_context(invocation.request_id, invocation.client_context, invocation.cognito_identity,
                               invocation.deadline_ms, invocation.function_arn, invocation.tenant_id)
        return context, self.marshaller.unmarshal_request(invocation.body, invocation.content_type)

    def success(self, result: Any) -> Outcome:
        body, content_type = self.marshaller.marshal_response(result)
        return Outcome(body, content_type, None, None)

    def failure(self, exc: Exception, request_id: str) -> Outcome:
        if isinstance(exc, FaultError):
            error = make_error(exc.message, exc.error_type, exc.trace, request_id)
            return Outcome(b"", "", error, _validation_cause(exc.message))
        error, frames = error_from_exception(exc, request_id)
        return Outcome(b"", "", error, xray_cause(type(exc).__name__, str(exc), frames))

    def deliver(self, invocation: InvocationRequest, outcome: Outcome) -> None:
        if outcome.error is not None:
            self.post_error(invocation, outcome.error, outcome.cause or {})
            return
        try:
            self.client.post_response(invocation.request_id, outcome.body, outcome.content_type,
                                      invocation.invocation_id, self._next_follows())
        except RuntimeAPIError as exc:
            self.report_post_failure("success", exc)

    def post_error(self, invocation: InvocationRequest, error: Dict[str, Any], cause: Dict[str, Any]) -> None:
        self.log_error(error)
        cause_json = self.to_json(cause)
        if len(cause_json.encode("utf-8")) >= MAX_XRAY_CAUSE:
            cause_json = ""
        try:
            self.client.post_error(invocation.request_id, self.to_json(error).encode("utf-8"), cause_json,
                                   invocation.invocation_id, then_next=self._next_follows())
        except RuntimeAPIError as exc:
            self.report_post_failure("error", exc)

    def _next_follows(self) -> bool:
        """Whether this result's post may carry the request for the next event (not when stopping)."""
        return self.pipeline_next and not self._stop_requested

    def report_post_failure(self, kind: str, exc: RuntimeAPIError) -> None:
        """The Runtime API refused a result (e.g. 413 too large): say so as awslambdaric does, and exit."""
        if exc.status:
            line = (f"[ERROR] [{int(time.time() * 1000)}] LAMBDA_RUNTIME Failed to post handler {kind} "
                    f"response. Http response code: {exc.status}. {exc.body.decode('utf-8', 'replace')}\n")
            logs._write_stdout(line)
        fatal(f"Failed to post invocation {'response' if kind == 'success' else 'error'}: {exc}")

    def run_coroutine(self, coroutine: Any) -> Any:
        """Run an async handler's coroutine on the environment's one event loop."""
        loop = self._event_loop
        if loop is None:
            loop = self._event_loop = _environment_event_loop()
        return loop.run_until_complete(coroutine)

    # -- helpers -----------------------------------------------------------------------------------

    def to_json(self, obj: Any) -> str:
        return self.marshaller.to_json(obj)

    def log_error(self, error: Dict[str, Any]) -> None:
        logs.log_error(error, self.sink, self.json_format, self.to_json)

    def request_stop(self) -> None:
        """SIGTERM: stop now if idle, else as soon as the invocation in flight has been answered."""
        if not self._busy:
            sys.exit(0)
        self._stop_requested = True


def _validation_cause(message: str) -> Dict[str, Any]:
    return {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": message, "type": "LambdaValidationError", "stack": []}],
        "paths": [],
    }


def _environment_event_loop() -> Any:
    """The event loop async handlers run on: one created (or set) at init is reused, else a new one."""
    import asyncio
    import warnings

    loop = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


def _install_sigterm(runtime: Runtime) -> None:
    import _signal  # type: ignore[import-not-found]  # `signal` builds enums: slower to import

    if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:  # the function's own handler wins
        _signal.signal(_signal.SIGTERM, lambda signum, frame: runtime.request_stop())


def _warn_if_preview_runtime() -> None:
    if os.environ.get("LAMBDA_DISABLE_PREVIEW_WARN", ""):
        return
    if os.environ.get("AWS_EXECUTION_ENV", "") in PREVIEW_RUNTIME_ENVS:
        import logging

        link = ("https://docs.amazonaws.cn/lambda/latest/dg/lambda-runtimes.html"
                if os.environ.get("AWS_REGION", "").startswith("cn-")
                else "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html")
        logging.warning(
            "LAMBDA_WARNING: This is a preview runtime version and should not be used for production "
            f"workloads. For further information and to provide feedback, see {link}\r"
        )


def fatal(message: str, from_thread: bool = False) -> None:
    """A one-line error naming the cause, then exit 1: the runtime never hangs or dies silently.

    From a thread other than the main one, ``sys.exit`` would end only that thread: the process goes.
    """
    try:
        sys.stderr.write(f"lamina.runtime: {message}\n")
        sys.stderr.flush()
    except (ValueError, OSError):
        os.write(2, f"lamina.runtime: {message}\n".encode("utf-8", "replace"))
    if from_thread:
        sys.stdout.flush()
        os._exit(1)
    sys.exit(1)


def start(handler_name: Optional[str], api_address: Optional[str]) -> Runtime:
    """The runtime, logging set up, ready for :meth:`Runtime.init` (the handler name is checked)."""
    if not api_address:
        fatal("AWS_LAMBDA_RUNTIME_API is not set: run inside Lambda or a Lambda emulator")
    client = RuntimeAPIClient(api_address)  # type: ignore[arg-type]
    runtime = Runtime(client)
    runtime.start_logging()
    if not handler_name:
        runtime.fail_init(make_error("Handler not set: pass it as the first argument or set _HANDLER",
                                     "Runtime.MalformedHandlerName", None))
    return runtime


def main(handler_name: Optional[str], api_address: Optional[str]) -> None:
    runtime = start(handler_name, api_address)
    runtime.init(handler_name)  # type: ignore[arg-type]
    runtime.run()


__all__ = ["Runtime", "main", "start"]
