"""Destination records for asynchronous invocations, in Lambda's format, written to local places.

Lambda sends an on-failure (or on-success) destination a JSON record: ``version``, ``timestamp``,
``requestContext`` (``requestId``, ``functionArn``, ``condition``, ``approximateInvokeCount``),
``requestPayload``, ``responseContext`` and ``responsePayload``. Locally the destination is a
JSON-lines file (one record per line) or a directory (one ``.json`` file per record).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional

__all__ = ["SUCCESS", "destination_record", "write_record"]

SUCCESS = "Success"
_LINE_FILE_SUFFIXES = (".jsonl", ".ndjson")


def _timestamp(epoch: float) -> str:
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


def _json_or_text(payload: Optional[bytes]) -> Any:
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return payload.decode("utf-8", errors="replace")


def destination_record(*, request_id: str, function_arn: str, condition: str, invoke_count: int,
                       request_payload: bytes, response_payload: Optional[bytes],
                       function_error: Optional[str], executed_version: str = "$LATEST",
                       now: Optional[float] = None) -> Dict[str, Any]:
    """The record Lambda sends to a destination. ``response_payload`` None: the function never ran."""
    record: Dict[str, Any] = {
        "version": "1.0",
        "timestamp": _timestamp(time.time() if now is None else now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if response_payload is not None:
        context: Dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
        if function_error is not None:
            context["functionError"] = function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(response_payload)
    return record


def write_record(destination: str, record: Dict[str, Any]) -> Path:
    """Append to a JSON-lines file (``*.jsonl``), or add one ``.json`` file to a directory (else)."""
    path = Path(destination)
    data = json.dumps(record, separators=(",", ":"))
    if path.suffix not in _LINE_FILE_SUFFIXES:
        path.mkdir(parents=True, exist_ok=True)
        stamp = record["timestamp"].replace(":", "")
        target = path / f"{stamp}-{record['requestContext']['requestId']}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(data)
        os.replace(tmp, target)  # readers never see half a record
        return target
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(data + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path
