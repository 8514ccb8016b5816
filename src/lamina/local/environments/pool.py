"""The execution environments of one function: warm reuse, cold starts, a concurrency limit and a queue.

Up to ``concurrency`` environments run at once; an invocation that finds none idle starts a new one
(a cold start) while the limit allows, else waits in a bounded queue, else is throttled as Lambda
throttles (``TooManyRequestsException``). Asynchronous (``Event``) invocations wait without bound,
since Lambda queues them internally instead of refusing them.

A managed-instances function's environments (:mod:`~lamina.local.environments.managed`) are shared:
an invocation goes to any environment with room (up to ``AWS_LAMBDA_MAX_CONCURRENCY`` at once), and
a busy one stays in use instead of going back to an idle list.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Optional, Union

from lamina.local.environments.account import AccountConcurrency
from lamina.local.environments.environment import ExecutionEnvironment
from lamina.local.environments.logsink import LogSink
from lamina.local.environments.process import EnvironmentLost, InvocationRecord
from lamina.local.environments.turns import Turns
from lamina.local.lifecycle.states import Invocation
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.service_errors import too_many_requests
from lamina.local.runtime_api.server import RuntimeApiServer
from lamina.local.sandbox import memory
from lamina.local.sandbox.containment import Containment
from lamina.local.sandbox.python_runtime import PythonRuntimes

if TYPE_CHECKING:  # imported when a function shares environments (managed instances), not before
    from lamina.local.environments.managed import ManagedEnvironment

Environment = Union[ExecutionEnvironment, "ManagedEnvironment"]
# Memory a new environment is assumed to need before one of the function's has been measured (a
# Python runtime's resident size), and what is left to the machine beyond it.
ENVIRONMENT_FOOTPRINT = 32 * 1024 * 1024
MEMORY_RESERVE = 128 * 1024 * 1024


class FunctionPool:
    """Environments for one :class:`FunctionConfig`."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 containment: Containment, python: Optional[PythonRuntimes] = None,
                 account: Optional[AccountConcurrency] = None) -> None:
        self.config = config
        # A function without reserved concurrency draws from the account's unreserved concurrency.
        self._account = account if config.reserved_concurrency is None else None
        self._containment = containment
        self._python = python
        self.shared = bool(config.environment_concurrency)  # managed instances
        self._server = server
        self._sink = sink
        self._idle: list[Environment] = []  # most recently used last: warmest first out
        self._environments: set[Environment] = set()
        self._slots = config.concurrency * (config.environment_concurrency or 1)
        self._starting = asyncio.Lock()  # shared environments: invocations arriving together share one
        self._waiters = Turns()
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()

    @property
    def environments(self) -> frozenset[Environment]:
        return frozenset(self._environments)

    async def invoke(self, invocation: Invocation, *, wait_unbounded: bool = False) -> InvocationRecord:
        """Run ``invocation`` on a warm or new environment; raises 429 when throttled."""
        await self._acquire_slot(wait_unbounded)
        try:
            if self._account is not None:
                await self._account.acquire(wait_unbounded)
        except BaseException:
            self._release_slot()
            raise
        try:
            while True:
                environment = await self._environment()
                try:
                    return await environment.run(invocation)
                except EnvironmentLost:
                    continue  # it died idle; a new environment (a cold start) takes the invocation
                finally:
                    self._put_back(environment)
        finally:
            if self._account is not None:
                self._account.release()
            self._release_slot()

    async def prewarm(self) -> None:
        """Start one environment now, kept idle for the first invocation (``lamina serve --eager``)."""
        self._put_back(await self._new_environment())

    async def close(self) -> None:
        """Stop every environment; busy ones are killed (used on config change and shutdown)."""
        self._closed = True
        self._waiters.cancel_all()
        await asyncio.gather(*(env.process.stop() for env in list(self._environments)))
        self._idle.clear()

    async def retire(self) -> None:
        """Stop idle environments now and busy ones when they finish (a new config takes over)."""
        self._closed = True
        idle, self._idle = self._idle, []
        if self.shared:
            from lamina.local.environments.managed import ManagedEnvironment

            idle = [env for env in self._environments if isinstance(env, ManagedEnvironment) and not env.busy]
        await asyncio.gather(*(env.process.stop() for env in idle))

    async def reap_idle(self, now: Optional[float] = None) -> None:
        """Stop environments idle for longer than the function's idle timeout."""
        now = time.monotonic() if now is None else now
        expired = [env for env in self._idle if now - env.last_used > self.config.idle_timeout]
        for env in expired:
            self._idle.remove(env)
        await asyncio.gather(*(env.process.stop() for env in expired))

    def check_memory(self) -> None:
        for env in list(self._environments):
            env.process.check_memory()

    # --- internals -------------------------------------------------------------------------------

    async def _acquire_slot(self, wait_unbounded: bool) -> None:
        if self._slots > 0 and not self._waiters:
            self._slots -= 1
            return
        # --concurrency (and a managed instance's room) is a local cap with a queue in front of it; at
        # its reserved (or the account's) concurrency Lambda throttles a synchronous invocation at once.
        cap, reserved = self.config.max_concurrency, self.config.reserved_concurrency
        queued = self.shared or (cap is not None and (reserved is None or cap < reserved))
        if not wait_unbounded and (not queued or len(self._waiters) >= self.config.queue_size):
            raise too_many_requests(reserved=queued or reserved is not None)
        await self._waiters.wait(give_back=self._release_slot)

    def _release_slot(self) -> None:
        if not self._waiters.hand_over():  # the slot passes straight to the next waiter
            self._slots += 1

    async def _environment(self) -> Environment:
        if self.shared:
            async with self._starting:
                for shared in self._environments:
                    if shared.available:
                        return shared
                return await self._new_environment()
        while self._idle:
            env = self._idle.pop()
            if env.available:
                return env
        return await self._new_environment()

    async def _new_environment(self) -> Environment:
        self._check_memory_for_one_more()
        env: Environment
        if self.shared:
            from lamina.local.environments.managed import ManagedEnvironment

            env = ManagedEnvironment(self.config, self._server, self._sink, self._containment,
                                     on_exit=self._forget, python=self._python)
        else:
            env = ExecutionEnvironment(self.config, self._server, self._sink, self._containment,
                                       on_exit=self._forget, python=self._python)
        self._environments.add(env)
        await env.process.start()
        return env

    def _check_memory_for_one_more(self) -> None:
        """Refuse (429) to start an environment the machine has no memory left for, and say so: Lambda
        has the memory of every environment it starts; this machine may not."""
        free = memory.available()
        peak = max((env.process.peak_memory for env in self._environments), default=0)
        needed = max(peak, ENVIRONMENT_FOOTPRINT) + MEMORY_RESERVE
        if free is None or free >= needed:
            return
        self._sink.write("lamina", f"not starting another execution environment of {self.config.name}: "
                                   f"{memory.to_mb(free)} MB of memory available, one needs about "
                                   f"{memory.to_mb(needed)} MB ({len(self._environments)} running); "
                                   "invocations beyond them are throttled")
        raise too_many_requests(reserved=False)

    def _put_back(self, env: Environment) -> None:
        if self.shared and not isinstance(env, ExecutionEnvironment):  # a ManagedEnvironment
            if env.process.alive and not (self._closed and not env.busy):
                return  # it stays shared; idle reaping does not apply to managed instances
        elif not (self._closed or not env.available):
            self._idle.append(env)
            return
        if env.process.alive:
            task = asyncio.get_running_loop().create_task(env.process.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _forget(self, env: Environment) -> None:
        self._environments.discard(env)
        if env in self._idle:
            self._idle.remove(env)
