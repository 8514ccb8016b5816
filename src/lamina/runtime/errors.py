"""Error documents as Lambda shows them: the body posted to ``/error``, its stack trace, the X-Ray cause.

Shapes follow awslambdaric 4.2.2 exactly: ``{"errorMessage", "errorType", "requestId", "stackTrace"}``
in that order, the stack trace as ``traceback.format_list`` lines of the user's frames only.
``traceback`` is imported only when an error actually happens.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Dict, List, Optional, Tuple

    Frame = Tuple[str, Optional[int], str, Optional[str]]


_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_ASYNCIO_DIR = os.sep + "asyncio" + os.sep


class FaultError(Exception):
    """An error the runtime itself reports, with Lambda's ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, trace: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(message: Optional[str], error_type: Optional[str], stack_trace: Optional[List[str]],
               request_id: Optional[str] = None) -> Dict[str, Any]:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def user_frames(tb: Optional[TracebackType]) -> List[Frame]:
    """The traceback's frames from the first one that is the user's, not lamina's runtime.

    Like awslambdaric, frames of any file whose path contains ``/bootstrap.py`` are trimmed from the
    front too, so stack traces match theirs byte for byte; asyncio's frames in front of an async
    handler's own frames are trimmed as well.
    """
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for index, (filename, _, _, _) in enumerate(frames):
        if filename.startswith(_RUNTIME_DIR) or "/bootstrap.py" in filename or _ASYNCIO_DIR in filename:
            continue
        return frames[index:]
    return frames


def format_frames(frames: List[Frame]) -> List[str]:
    import traceback

    return traceback.format_list(frames)  # type: ignore[arg-type]


def error_from_exception(exc: BaseException, request_id: Optional[str] = None,
                         message: Optional[str] = None) -> Tuple[Dict[str, Any], List[Frame]]:
    """The error body for an exception a handler (or the handler's module) raised, and its frames."""
    frames = user_frames(exc.__traceback__)
    body = make_error(message or str(exc), type(exc).__name__, format_frames(frames), request_id)
    return body, frames


def xray_cause(error_type: str, message: str, frames: List[Frame]) -> Dict[str, Any]:
    stack = [{"label": name, "path": path, "line": line} for path, line, name, _ in frames]
    return {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": message, "type": error_type, "stack": stack}],
        "paths": list(dict.fromkeys(path for path, _, _, _ in frames)),
    }
