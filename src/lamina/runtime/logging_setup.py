"""Lambda's root logging handler, filter and formatters (text and JSON), as awslambdaric installs them.

Imported only once the function (or a library) imports ``logging``; see :func:`lamina.runtime.logs.install`.
"""

from __future__ import annotations

import json
import logging
import time
import traceback

from lamina.runtime import log_context
from lamina.runtime.log_context import DATETIME_FORMAT, JSON_FRAME_TYPES, TEXT_FRAME_TYPES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from lamina.runtime.log_context import LogSink

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_RESERVED_FIELDS = frozenset({
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
})
# default=str: a value json cannot encode is stringified rather than losing the whole record.
_encode_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def normalised_level(record: logging.LogRecord) -> int:
    return min(50, max(0, record.levelno)) // 10 * 10


class LambdaLoggerHandler(logging.Handler):
    """Writes each formatted record to the log sink (stdout or the telemetry fd)."""

    def __init__(self, log_sink: LogSink, with_frame_type: bool) -> None:
        super().__init__()
        self.log_sink = log_sink
        self.with_frame_type = with_frame_type

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)
        if self.with_frame_type:
            frame_type = (getattr(record, "_frame_type", None)
                          or TEXT_FRAME_TYPES.get(normalised_level(record)))
            self.log_sink.log(msg, frame_type=frame_type)
        else:
            self.log_sink.log(msg)


class LambdaLoggerFilter(logging.Filter):
    """Stamps every record, from any thread, with the request id (and tenant id) of the invocation."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = log_context.current_request_id() or ""
        record.tenant_id = log_context.current_tenant_id()
        return True


class JsonFormatter(logging.Formatter):
    """Lambda's structured log format (``AWS_LAMBDA_LOG_FORMAT=JSON``)."""

    def __init__(self) -> None:
        super().__init__(datefmt=DATETIME_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = normalised_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = JSON_FRAME_TYPES.get(record.levelno, JSON_FRAME_TYPES[0])
        exc_info = record.exc_info
        msg = record.msg
        result: Dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": msg if isinstance(msg, dict) and not record.args else record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
        }
        tenant_id: Optional[str] = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            result["tenantId"] = tenant_id
        result.update(
            (key, value) for key, value in record.__dict__.items()
            if key not in _RESERVED_FIELDS and key not in result
        )
        return _encode_json({k: v for k, v in result.items() if v is not None}) + "\n"


def configure(sink: LogSink, json_format: bool, level: str) -> None:
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    handler = LambdaLoggerHandler(sink, with_frame_type=json_format or bool(level))
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    if level in logging._nameToLevel:
        root.setLevel(level)
    handler.addFilter(LambdaLoggerFilter())
    root.addHandler(handler)
