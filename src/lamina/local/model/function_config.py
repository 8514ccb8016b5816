"""What a local function is: its code, handler, runtime command and limits (Lambda's configuration).

A :class:`FunctionConfig` is immutable; changing a function means registering a new config, which
recycles the function's execution environments (see :mod:`lamina.local.invoke.registry`).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Optional, Sequence

from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION, LATEST, function_arn
from lamina.runtime import protocol

# Lambda's default account concurrency: environments of one function at most, with no other limit.
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# Lambda Managed Instances' smallest function size (their environments run several invocations).
MANAGED_INSTANCES_MIN_MEMORY_MB = 2048


def default_bootstrap() -> tuple[str, ...]:
    """lamina's runtime on the interpreter running lamina."""
    return (sys.executable, "-m", "lamina.runtime")


@dataclass(frozen=True)
class FunctionConfig:
    """One function of the local Lambda."""

    name: str
    code_dir: Path
    handler: str = ""
    # The command that starts the runtime. None: ``bootstrap`` in the code directory if executable,
    # else lamina's runtime. The handler is appended as the last argument (not to a code-dir bootstrap,
    # which Lambda runs without arguments).
    bootstrap: Optional[tuple[str, ...]] = None
    runtime: Optional[str] = None
    memory_mb: int = 128
    timeout: float = 3.0
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[Path, ...] = ()
    max_concurrency: Optional[int] = None  # --concurrency, a local cap; None: as Lambda scales
    # PutFunctionConcurrency: the invocations this function may run at once (0: every one is
    # throttled); None: no reservation, the account's unreserved concurrency applies.
    reserved_concurrency: Optional[int] = None
    # Lambda Managed Instances: invocations one environment runs at once (AWS_LAMBDA_MAX_CONCURRENCY);
    # None: one at a time, as on-demand Lambda.
    environment_concurrency: Optional[int] = None
    snap_start: bool = False  # init, snapshot, restore (lamina.local.lifecycle.snapstart)
    tenant_isolation: bool = False  # TenancyConfig PER_TENANT: each invocation must name a tenant
    queue_size: int = 100  # invocations waiting for an environment before 429
    idle_timeout: float = 300.0  # seconds a warm environment is kept
    init_timeout: float = protocol.INIT_TIMEOUT_SECONDS
    # How the environment sees Lambda's filesystem: "path" (the code where it is, a private TMPDIR) or
    # "bwrap" (bubblewrap: /var/task, /opt, a private /tmp of ephemeral_storage_mb; see
    # lamina.local.sandbox.bubblewrap), with opt_dir the merged layers shown at /opt.
    sandbox: str = "path"
    opt_dir: Optional[Path] = None
    ephemeral_storage_mb: int = 512
    # A debugger on the runtime (lamina.local.environments.debugger): debugpy listening on this port of
    # 127.0.0.1, or pdb on this terminal for breakpoint(); either suspends the timeout while it holds.
    debug_port: Optional[int] = None
    debug_terminal: Optional[str] = None
    version: str = LATEST
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.name, self.account)

    @property
    def concurrency(self) -> int:
        if self.environment_concurrency:  # one managed instance unless told otherwise
            return self.max_concurrency or 1
        limits = [n for n in (self.max_concurrency, self.reserved_concurrency) if n is not None]
        return min(limits) if limits else DEFAULT_ACCOUNT_CONCURRENCY

    @property
    def initialization_type(self) -> str:
        """``AWS_LAMBDA_INITIALIZATION_TYPE`` of this function's environments."""
        if self.environment_concurrency:
            return "lambda-managed-instances"
        return "snap-start" if self.snap_start else "on-demand"

    def code_bootstrap(self) -> Optional[Path]:
        """An executable ``bootstrap`` in the code, which runs unless a command or a ``python3.X``
        runtime is configured (Lambda's Python runtimes never run the code's bootstrap)."""
        candidate = self.code_dir / "bootstrap"
        if (self.bootstrap is None and not (self.runtime or "").startswith("python")
                and candidate.is_file() and os.access(candidate, os.X_OK)):
            return candidate
        return None

    @property
    def lamina_runtime(self) -> bool:
        """Whether lamina's runtime runs the handler (no command configured, no code bootstrap)."""
        return self.bootstrap is None and self.code_bootstrap() is None

    @property
    def python_version(self) -> Optional[str]:
        """``3.12`` for ``python3.12`` (the interpreter version it needs); None for ``provided.*``."""
        name = self.runtime_name
        return name[len("python"):] if name.startswith("python3.") else None

    def command(self) -> list[str]:
        """argv of the runtime process."""
        own = self.code_bootstrap()
        if own is not None:
            return [str(own)]
        base = list(self.bootstrap) if self.bootstrap is not None else list(default_bootstrap())
        return [*base, self.handler] if self.handler else base

    @property
    def runtime_name(self) -> str:
        """Lambda's runtime identifier: ``python3.11`` or ``provided.al2023`` for a custom bootstrap."""
        if self.runtime:
            return self.runtime
        if self.code_bootstrap() is not None:
            return "provided.al2023"
        return f"python{sys.version_info.major}.{sys.version_info.minor}"

    def with_changes(self, **changes: object) -> FunctionConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_bootstrap(value: Optional[str | Sequence[str]]) -> Optional[tuple[str, ...]]:
    """``--bootstrap "python -m awslambdaric"`` or a list from a project file, as argv."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(part) for part in value)


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``K=V`` pairs from the command line."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        env[key] = value
    return env
