"""Where a function's logs go, in awslambdaric's formats: stdout, or telemetry frames on a file descriptor.

The ``logging`` module costs several milliseconds to import, and many functions never use it. So the
root handler awslambdaric installs up front is installed here at the moment ``logging`` is first
imported (by the function, a library, or the runtime's own error path), through a one-shot import
hook. The function cannot tell the difference: by the time ``import logging`` returns, the Lambda
handler, filter, formatter and level are in place.
"""

from __future__ import annotations

import os
import sys
import time

from lamina.runtime.log_context import DATETIME_FORMAT, DEFAULT_FRAME_TYPE, JSON_FRAME_TYPES, TEXT_FRAME_TYPES

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, TextIO

    from lamina.runtime.log_context import LogSink


ERROR_LINE_TERMINATOR = "\r"
ERROR_INDENT = "\u00a0"  # NO-BREAK SPACE: keeps a stack trace's indentation visible in CloudWatch


def json_format_requested(environ: Any = None) -> bool:
    value = (environ or os.environ).get("AWS_LAMBDA_LOG_FORMAT") or ""
    return bool(value.upper() == "JSON")


def level_from_env(environ: Any = None) -> str:
    """``AWS_LAMBDA_LOG_LEVEL`` as awslambdaric reads it: ``TRACE`` means DEBUG, then upper-cased."""
    value = (environ or os.environ).get("AWS_LAMBDA_LOG_LEVEL")
    if value is None:
        return ""
    return ("DEBUG" if value == "TRACE" else value).upper()


class Unbuffered:
    """Flushes after every write, so a function's output is never held back when the process dies."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.stream, attr)

    def __enter__(self) -> Unbuffered:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def write(self, msg: str) -> int:
        written = self.stream.write(msg)
        self.stream.flush()
        return written

    def writelines(self, msgs: List[str]) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


def _write_stdout(text: str) -> None:
    """Write the runtime's own lines to stdout; if the function closed or broke stdout, to the real fd 1.

    An error report must never be lost because a handler did something odd with ``sys.stdout``.
    """
    try:
        sys.stdout.write(text)
    except (ValueError, OSError, AttributeError):
        try:
            os.write(1, text.encode("utf-8", "replace"))
        except OSError:
            pass


class StandardLogSink:
    """Log records and error reports as text on stdout (what Lambda captures from the process)."""

    def __enter__(self) -> StandardLogSink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def log(self, msg: str, frame_type: Optional[bytes] = None) -> None:
        _write_stdout(msg)

    def log_error(self, lines: List[str]) -> None:
        _write_stdout(ERROR_LINE_TERMINATOR.join(lines) + "\n")


class FramedTelemetryLogSink:
    """Lambda's telemetry log protocol: ``type u32 | length u32 | timestamp µs u64 | UTF-8 message``.

    Framing keeps multi-line messages (stack traces) one record each in CloudWatch.
    """

    def __init__(self, fd: int, json_format: bool) -> None:
        self.fd = fd
        self._error_frame_type = (JSON_FRAME_TYPES if json_format else TEXT_FRAME_TYPES)[40]
        self.file: Any = None

    def __enter__(self) -> FramedTelemetryLogSink:
        self.file = os.fdopen(self.fd, "wb", 0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def log(self, msg: str, frame_type: Optional[bytes] = None) -> None:
        encoded = msg.encode("utf8")
        header = (frame_type or DEFAULT_FRAME_TYPE) + len(encoded).to_bytes(4, "big")
        self.file.write(header + (time.time_ns() // 1000).to_bytes(8, "big") + encoded)

    def log_error(self, lines: List[str]) -> None:
        self.log("\n".join(lines), frame_type=self._error_frame_type)


def create_log_sink(json_format: bool) -> LogSink:
    fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    if fd is not None:
        return FramedTelemetryLogSink(int(fd), json_format)
    return StandardLogSink()


def _indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return ERROR_INDENT * (len(line) - len(stripped)) + stripped


def log_error(error: Dict[str, Any], sink: LogSink, json_format: bool, to_json: Any) -> None:
    """Report an error document the way awslambdaric does, as one log record."""
    if json_format:
        record = {"timestamp": time.strftime(DATETIME_FORMAT, time.gmtime()), "level": "ERROR", **error}
        sink.log_error([to_json(record)])
        return
    description = "[ERROR]"
    error_type = error.get("errorType")
    if error_type:
        description += " " + error_type
    message = error.get("errorMessage")
    if message:
        if error_type:
            description += ":"
        description += " " + message
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                lines.extend(_indent(line) for line in element.splitlines())
    sink.log_error(lines)


class _ConfigureOnImport:
    """A one-shot import hook: when ``logging`` is first imported, install Lambda's root handler."""

    def __init__(self, configure: Callable[[], None]) -> None:
        self.configure = configure

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        finder = sys.modules["_frozen_importlib_external"].PathFinder
        # The standard library's logging, as awslambdaric (which imports it first) always gets.
        spec = finder.find_spec(name, [os.path.dirname(os.__file__)]) or finder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        configure = self.configure

        def exec_then_configure(module: Any) -> None:
            exec_module(module)
            configure()

        spec.loader.exec_module = exec_then_configure
        return spec


def install(configure: Callable[[], None]) -> None:
    """Run ``configure`` (which sets up Lambda's root handler) now if ``logging`` is already imported,
    else the moment it first is: this module knows when, :mod:`lamina.runtime.logging_setup` knows how."""
    if "logging" in sys.modules:
        configure()
    else:
        sys.meta_path.insert(0, _ConfigureOnImport(configure))
