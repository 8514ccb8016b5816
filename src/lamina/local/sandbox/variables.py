"""The environment variables of an execution environment, as Lambda sets them (spec §2).

The host's environment is not inherited, as on Lambda, except what a local machine needs to run
anything at all (``PATH``, ``HOME``, locale) and the caller's AWS credentials, which stand in for the
execution role.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Optional

from lamina.local.model.function_config import FunctionConfig

_PASS_THROUGH = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Lambda points the X-Ray SDKs at a daemon on the sandbox's link-local 169.254.79.129:2000; on this
# machine that address is not local, so traced functions send their UDP segments to loopback, where a
# local X-Ray daemon (or nothing) listens.
XRAY_DAEMON_HOST = "127.0.0.1"
XRAY_DAEMON_PORT = 2000


def log_stream_name(version: str, now: Optional[datetime] = None) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``: one stream per execution environment."""
    day = (now or datetime.now(timezone.utc)).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def _joined(*parts: object) -> str:
    return os.pathsep.join(str(p) for p in parts if p)


def build(config: FunctionConfig, runtime_api: str,
          host: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    host = os.environ if host is None else host
    env = {key: host[key] for key in _PASS_THROUGH + _CREDENTIALS if key in host}
    # Lambda's Python runtimes put each layer's python/lib/python3.X/site-packages and python/ on the path.
    site = f"python/lib/{config.runtime_name}/site-packages"
    layer_python = [path for layer in config.layers for path in (layer / site, layer / "python")]
    layer_bin = [layer / "bin" for layer in config.layers]
    layer_lib = [layer / "lib" for layer in config.layers]
    env.update({
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": str(config.code_dir),
        "LAMBDA_RUNTIME_DIR": str(Path(__file__).resolve().parent.parent / "runtime"),
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(config.version),
        "AWS_LAMBDA_INITIALIZATION_TYPE": config.initialization_type,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"{XRAY_DAEMON_HOST}:{XRAY_DAEMON_PORT}",
        "_AWS_XRAY_DAEMON_ADDRESS": XRAY_DAEMON_HOST,
        "_AWS_XRAY_DAEMON_PORT": str(XRAY_DAEMON_PORT),
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": _joined(*layer_bin, env.get("PATH", "/usr/local/bin:/usr/bin:/bin")),
    })
    if config.code_bootstrap() is None and config.runtime_name.startswith("python"):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{config.runtime_name}"
        if layer_python:
            env["PYTHONPATH"] = _joined(*layer_python)
    if config.environment_concurrency:
        # Managed instances: N pollers in one environment, and logs in JSON only (each line names its
        # request id, which is how concurrent invocations' lines are told apart).
        env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(config.environment_concurrency)
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    if layer_lib:
        env["LD_LIBRARY_PATH"] = _joined(*layer_lib, config.code_dir / "lib")
    env.update(config.environment)
    return env


# What only the runtime sees: Lambda gives extensions the function's variables without these, nor any
# whose name begins with an underscore (AWS's emulator lists the same).
RUNTIME_ONLY = ("_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
                "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_XRAY_CONTEXT_MISSING")


def for_extensions(env: Mapping[str, str], keep: tuple[str, ...] = ()) -> dict[str, str]:
    """An extension's variables: the environment's, less the runtime's own (``keep``: lamina's markers)."""
    return {key: value for key, value in env.items()
            if key in keep or (key not in RUNTIME_ONLY and not key.startswith("_"))}
