"""A deployed function as the local Lambda runs it: its code as ``/var/task``, its layers as ``/opt``.

The control plane keeps a function's zip unpacked and its layers merged into one directory per layer
combination under the data directory (hard links, so no bytes are copied); this turns that record into
the local Lambda's :class:`~lamina.local.model.function_config.FunctionConfig` for the sandbox mode in
force (:mod:`~lamina.local.sandbox.bubblewrap`). A ``provided.*`` runtime starts ``bootstrap`` from the
code, else from the layers, as Lambda does; a ``python3.x`` runtime starts lamina's runtime with the
handler.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Optional

from lamina.local.api.control_plane.store import Code, FunctionRecord, FunctionStore, layers_key
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.names import LATEST
from lamina.local.sandbox.bubblewrap import OPT, TASK_ROOT, layer_paths, sandbox_mode

# Runs "$0" with no arguments: the local Lambda appends the handler to a configured bootstrap, but
# Lambda starts a custom runtime's bootstrap without any.
_EXEC_WITHOUT_ARGUMENTS = ("/bin/sh", "-c", 'exec "$0"')


def function_config(record: FunctionRecord, store: FunctionStore, mode: Optional[str] = None,
                    **overrides: object) -> FunctionConfig:
    """The local Lambda's configuration for a deployed function (``overrides`` set pool limits etc.)."""
    mode = mode or sandbox_mode()
    configuration = record.configuration
    code_dir = store.code_dir(record.code.sha256_hex)
    opt = merged_opt(store, record.layers)
    runtime = str(configuration.get("Runtime") or "")
    environment = {**_logging_variables(configuration.get("LoggingConfig") or {}),
                   **((configuration.get("Environment") or {}).get("Variables") or {})}
    bootstrap = _bootstrap(runtime, code_dir, opt, mode)
    if mode == "bwrap":
        paths = layer_paths(runtime, TASK_ROOT, OPT) if opt is not None else {}
        environment = {"LAMBDA_TASK_ROOT": TASK_ROOT, **paths, **environment}
    elif opt is not None:
        environment = {**layer_paths(runtime, str(code_dir), str(opt)), **environment}
    arn_parts = str(configuration["FunctionArn"]).split(":")
    config = FunctionConfig(
        name=record.name, code_dir=code_dir, handler=str(configuration.get("Handler") or ""),
        bootstrap=bootstrap, runtime=runtime or None, memory_mb=int(configuration.get("MemorySize", 128)),
        timeout=float(configuration.get("Timeout", 3)), environment=environment,
        layers=() if opt is None or mode == "bwrap" else (opt,), region=arn_parts[3], account=arn_parts[4],
        sandbox=mode, opt_dir=opt if mode == "bwrap" else None,
        ephemeral_storage_mb=int((configuration.get("EphemeralStorage") or {}).get("Size", 512)),
        version=str(configuration.get("Version") or LATEST))
    return config.with_changes(**overrides) if overrides else config


def _logging_variables(logging_config: dict[str, str]) -> dict[str, str]:
    """``AWS_LAMBDA_LOG_FORMAT``/``AWS_LAMBDA_LOG_LEVEL``, which Lambda derives from LoggingConfig."""
    if logging_config.get("LogFormat") != "JSON":
        return {"AWS_LAMBDA_LOG_FORMAT": "Text"}
    return {"AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": logging_config.get("ApplicationLogLevel", "INFO")}


def _bootstrap(runtime: str, code_dir: Path, opt: Optional[Path], mode: str) -> Optional[tuple[str, ...]]:
    if not runtime.startswith("provided"):
        return None  # lamina's runtime, on the function's python3.X (lamina.local.sandbox.python_runtime)
    found = _find_bootstrap(code_dir, opt)
    if found is None:
        # Lambda fails the init the same way: Runtime.InvalidEntrypoint at the first invoke
        return (*_EXEC_WITHOUT_ARGUMENTS, str(code_dir / "bootstrap"))
    if mode == "bwrap":
        found = Path(TASK_ROOT if found.parent == code_dir else OPT) / "bootstrap"
    return (*_EXEC_WITHOUT_ARGUMENTS, str(found))


def _find_bootstrap(code_dir: Path, opt: Optional[Path]) -> Optional[Path]:
    """``/var/task/bootstrap``, then ``/opt/bootstrap``: Lambda's order for custom runtimes."""
    for directory in (code_dir, opt):
        if directory is not None and (directory / "bootstrap").is_file():
            return directory / "bootstrap"
    return None


def merged_opt(store: FunctionStore, layers: list[Code]) -> Optional[Path]:
    """One directory with the layers' trees merged in order, built once per layer combination."""
    if not layers:
        return None
    target = store.opt_root / layers_key(layers)
    if target.is_dir():
        return target
    staging = store.tmp_root / f"opt-{uuid.uuid4().hex}"
    try:
        for layer in layers:
            shutil.copytree(store.code_dir(layer.sha256_hex), staging, symlinks=True,
                            copy_function=_link_or_copy, dirs_exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # another thread built it first: theirs is identical
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _link_or_copy(src: str, dst: str) -> None:
    if os.path.lexists(dst):
        os.unlink(dst)  # a later layer replaces an earlier layer's file, as in /opt
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
