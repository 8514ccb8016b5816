"""Lambda Managed Instances: several invocations at once in one environment (``AWS_LAMBDA_MAX_CONCURRENCY``).

Compatible with awslambdaric 4.x: a DEBUG record announces the worker pool, then N pollers each take
invocations from the Runtime API on their own connection; a failed ``next`` is retried with backoff
and a refused post is logged without killing the loop. Per invocation, the context, the request id in
log records and ``_X_AMZN_TRACE_ID`` belong to that invocation only:

- a synchronous handler runs in N forked worker processes (as awslambdaric does), but the handler is
  imported once, before the fork, so workers share its memory and init runs once;
- an ``async def`` handler runs in this one process: N poller threads feed one event loop, each
  invocation a task with its own context variables (request id, tenant id), which threads started
  within the invocation inherit.
"""

from __future__ import annotations

import os
import sys
import time

from lamina.runtime import log_context
from lamina.runtime.api_client import InvocationRequest, RuntimeAPIClient, RuntimeAPIError
from lamina.runtime.loop import TRACE_ID_ENV, Runtime, fatal

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, List, Optional


NEXT_RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)
WORKER_POOL_EVENT = "runtime_worker_pool_initializing"


class TolerantRuntime(Runtime):
    """A worker's runtime: Runtime API failures are logged and retried instead of ending the process."""

    def next_invocation(self) -> InvocationRequest:
        try:
            return self.client.next_invocation(self.marshaller.release)
        except RuntimeAPIError as first:
            import logging

            logging.warning(f"Initial runtime_client.next() failed: {first}")
            last: RuntimeAPIError = first
            for attempt, delay in enumerate(NEXT_RETRY_DELAYS, start=2):
                time.sleep(delay)
                try:
                    return self.client.next_invocation(self.marshaller.release)
                except RuntimeAPIError as exc:
                    logging.warning(f"Attempt {attempt} failed: {exc}")
                    last = exc
            raise last from None

    def report_post_failure(self, kind: str, exc: RuntimeAPIError) -> None:
        import logging

        logging.warning(f"{exc}: This won't kill the Runtime loop")


def _redirect_output(socket_path: Optional[str]) -> None:
    """LMI gives each worker a socket for its stdout/stderr, so lines of concurrent workers never mix."""
    if not socket_path:
        return
    import socket

    for fd in (1, 2):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(socket_path)
            os.dup2(sock.fileno(), fd)


def _worker_count() -> int:
    return max(1, int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or "1"))


def start(api_address: Optional[str]) -> TolerantRuntime:
    """The runtime, logging set up and the worker pool announced, ready for :func:`serve`."""
    if not api_address:
        fatal("AWS_LAMBDA_RUNTIME_API is not set: run inside Lambda or a Lambda emulator")
    runtime = TolerantRuntime(RuntimeAPIClient(api_address))  # type: ignore[arg-type]
    runtime.start_logging()
    import logging

    workers = _worker_count()
    logging.getLogger().debug({
        "event": WORKER_POOL_EVENT,
        "workerCount": workers,
        "executionEnvironmentMaxConcurrency": workers,
    })
    return runtime


def serve(runtime: TolerantRuntime, handler_name: Optional[str], api_address: str) -> None:
    """Init once, then serve with N forked workers (or N pollers of one event loop, for async)."""
    if not handler_name:
        fatal("Handler not set: pass it as the first argument or set _HANDLER")
    runtime.init(handler_name)  # type: ignore[arg-type]
    if _is_async(runtime.handler):
        run_async_pollers(runtime, api_address, _worker_count())
    else:
        run_forked_workers(runtime, api_address, _worker_count())


def main(handler_name: Optional[str], api_address: Optional[str]) -> None:
    serve(start(api_address), handler_name, api_address)  # type: ignore[arg-type]


def _is_async(handler: Any) -> bool:
    function = handler if hasattr(handler, "__code__") else type(handler).__dict__.get("__call__")
    code = getattr(function, "__code__", None)
    return bool(code is not None and code.co_flags & 0x80)  # CO_COROUTINE


def run_forked_workers(runtime: TolerantRuntime, api_address: str, workers: int) -> None:
    socket_path = os.environ.get("_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET")
    sys.stdout.flush()
    children: List[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # worker: its own connection, its own loop
            try:
                _redirect_output(socket_path)
                runtime.client = RuntimeAPIClient(api_address)
                runtime.run()
            finally:
                os._exit(1)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    # Unlike awslambdaric, say so (and fail) when every worker died: the environment cannot serve.
    if statuses and all(status != 0 for status in statuses):
        fatal("every multi-concurrency worker exited")


def run_async_pollers(runtime: TolerantRuntime, api_address: str, workers: int) -> None:
    """N threads poll ``next``; each invocation runs as a task on the one event loop of this process."""
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runtime._event_loop = loop
    log_context.use_task_context()
    _make_trace_id_per_task()
    _threads_inherit_invocation()

    def poller() -> None:
        worker = PollerRuntime(RuntimeAPIClient(api_address), runtime.marshaller)
        worker.sink, worker.handler, worker.json_format = runtime.sink, runtime.handler, runtime.json_format
        worker.streaming, worker._takes_stream = runtime.streaming, runtime._takes_stream
        worker._event_loop = loop
        worker.trace_id_per_task = True
        worker.pipeline_next = True  # this thread alone polls on the worker's client
        while True:
            try:
                invocation = worker.next_invocation()
            except RuntimeAPIError as exc:
                fatal(f"LAMBDA_RUNTIME Failed to get next invocation: {exc}", from_thread=True)
            if worker.streaming is not None:  # chunks go out from this thread as the loop makes them
                worker.current = invocation
                worker.enter(invocation)
                worker.handle_streaming(invocation)
                continue
            outcome = asyncio.run_coroutine_threadsafe(worker.outcome_async(invocation), loop).result()
            worker.deliver(invocation, outcome)

    for index in range(workers):
        threading.Thread(target=poller, name=f"lamina-poller-{index}", daemon=True).start()
    loop.run_forever()


class PollerRuntime(TolerantRuntime):
    """A poller thread's runtime: coroutines run on the shared loop (in another thread), each as a
    task that carries this invocation's request id, tenant and trace id."""

    current: Optional[InvocationRequest] = None

    def run_coroutine(self, coroutine: Any) -> Any:
        import asyncio

        invocation = self.current

        async def in_invocation() -> Any:
            if invocation is not None:
                self.enter(invocation)
            return await coroutine

        return asyncio.run_coroutine_threadsafe(in_invocation(), self._event_loop).result()


def _make_trace_id_per_task() -> None:
    """Give each concurrent invocation its own ``_X_AMZN_TRACE_ID`` in one shared process.

    X-Ray and botocore read the trace id from the environment; with many invocations in flight in one
    process, ``os.environ`` answers that one key from the running task's context instead.
    """
    environ = os.environ
    if isinstance(environ, _PerInvocationEnviron):
        return
    os.environ = _PerInvocationEnviron(  # noqa: B003  (the same data: the environment is unchanged)
        environ._data, environ.encodekey, environ.decodekey,  # type: ignore[attr-defined]
        environ.encodevalue, environ.decodevalue)


def _threads_inherit_invocation() -> None:
    """A thread started within an invocation logs that invocation's request id (and sees its trace id).

    Context variables do not follow a new thread on their own (before Python 3.14's
    ``thread_inherit_context``): each thread started here runs in a copy of its starter's context.
    A pool thread keeps the context of the invocation that started it.
    """
    import contextvars
    import threading

    start = threading.Thread.start
    if getattr(start, "__lamina_inherits__", False):
        return

    def start_in_starters_context(self: threading.Thread) -> None:
        context = contextvars.copy_context()
        run = self.run
        self.run = lambda: context.run(run)  # type: ignore[method-assign]
        start(self)

    start_in_starters_context.__lamina_inherits__ = True  # type: ignore[attr-defined]
    threading.Thread.start = start_in_starters_context  # type: ignore[method-assign]


class _PerInvocationEnviron(os._Environ[str]):
    def __getitem__(self, key: str) -> str:
        if key == TRACE_ID_ENV:
            value = log_context.current_task_trace_id()
            if value is None:
                raise KeyError(key)
            return value
        return super().__getitem__(key)


__all__ = ["main", "serve", "start"]
