"""The error documents Lambda itself writes when an invocation fails outside the handler.

A handler's own exception reaches the caller as the runtime posted it; everything else (a timeout, a
runtime that exits, an out-of-memory kill, a response over the limit) gets a document the Lambda
service composes. They are built here, in one place, so the Invoke API, the emulator's fixed path and
the log lines all say the same thing. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
import signal
from typing import Optional

from lamina.runtime import error_types, protocol

# Go's names for signals: Lambda's control plane is written in Go and prints ProcessState strings.
_GO_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGINT: "interrupt",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGILL: "illegal instruction",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock",
    signal.SIGTRAP: "trace/breakpoint trap",
}

# Error types Lambda keeps as posted; others collapse to Runtime.Unknown / Function.Unknown.
_ERROR_TYPE_PATTERN = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


def document(error_type: str, message: str) -> bytes:
    """The compact JSON body Lambda uses for its own errors (errorType first, as AWS sends it)."""
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def exit_description(returncode: int) -> str:
    """How Lambda words a process's end: ``exit status 3`` or ``signal: killed`` (Go's wording)."""
    if returncode < 0:
        signum = -returncode
        try:
            name = _GO_SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}")
        except ValueError:
            name = f"signal {signum}"
        return f"signal: {name}"
    return f"exit status {returncode}"


def timeout_message(timeout: float) -> str:
    return f"Task timed out after {timeout:.2f} seconds"


def timed_out(request_id: str, timeout: float) -> bytes:
    message = f"RequestId: {request_id} Error: {timeout_message(timeout)}"
    return document(error_types.SANDBOX_TIMEDOUT, message)


def exited_message(returncode: int) -> str:
    if returncode == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {exit_description(returncode)}"


def runtime_exited(request_id: str, returncode: int) -> bytes:
    return document(error_types.EXIT_ERROR, f"RequestId: {request_id} Error: {exited_message(returncode)}")


def out_of_memory(request_id: str) -> bytes:
    """Lambda kills the sandbox (SIGKILL) and names the cause in the error type."""
    return document(error_types.OUT_OF_MEMORY,
                    f"RequestId: {request_id} Error: Runtime exited with error: signal: killed")


def response_too_large() -> bytes:
    return document(error_types.RESPONSE_SIZE_TOO_LARGE,
                    "Response payload size exceeded maximum allowed payload size "
                    f"({protocol.MAX_SYNC_RESPONSE} bytes).")


def normalize_error_body(body: bytes, content_type: Optional[str]) -> bytes:
    """Strip ``errorCause`` from an error posted as ``…error.cause+json``, as Lambda does.

    Any other body passes through untouched: Lambda forwards what the runtime posted.
    """
    if content_type is None or not content_type.startswith(protocol.CONTENT_TYPE_ERROR_CAUSE):
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    kept = {key: parsed[key] for key in ("errorMessage", "errorType", "stackTrace") if key in parsed}
    return json.dumps(kept, separators=(",", ":")).encode()


def error_type_of(header: Optional[str], body: bytes) -> str:
    """The error type the REPORT line and metrics carry: the header, else the body's ``errorType``,
    as Lambda keeps it: ``Runtime.X`` / ``Function.X``, anything else is ``Runtime.Unknown``."""
    candidate = header
    if not candidate:
        try:
            parsed = json.loads(body)
            candidate = parsed.get("errorType") if isinstance(parsed, dict) else None
        except ValueError:
            candidate = None
    if not candidate:
        return error_types.UNKNOWN
    if _ERROR_TYPE_PATTERN.fullmatch(candidate):
        return candidate
    return "Function.Unknown" if candidate.startswith("Function.") else error_types.UNKNOWN


def error_details(document: bytes) -> str:
    """``ErrorDetails`` of ``InvokeComplete``: the error's message, else the whole document."""
    try:
        parsed = json.loads(document)
    except ValueError:
        return document.decode(errors="replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return document.decode(errors="replace")
