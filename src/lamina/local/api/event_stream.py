"""AWS's binary event-stream framing (``application/vnd.amazon.eventstream``), as sans-I/O code.

``InvokeWithResponseStream`` answers with a sequence of these messages: ``PayloadChunk`` events carrying
the function's bytes as they are produced, then one ``InvokeComplete``. boto3 (botocore's
``EventStream``) parses them, so the framing must be exact: each message is

    total length (u32 BE) | headers length (u32 BE) | CRC32 of those 8 bytes (u32 BE)
    | headers | payload | CRC32 of everything before it (u32 BE)

and each header is ``u8 name length, name, type 7 (string), u16 BE value length, value``. Only string
headers are written, because Lambda only sends those. :func:`decode` reads the same framing back, so
tests can check what a client would see without a client.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Mapping, Optional

CONTENT_TYPE = "application/vnd.amazon.eventstream"
PAYLOAD_CHUNK = "PayloadChunk"
INVOKE_COMPLETE = "InvokeComplete"

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_OVERHEAD = _PRELUDE.size + 2 * _CRC.size  # prelude, prelude CRC, message CRC


class EventStreamError(ValueError):
    """Bytes that are not a valid event-stream message (bad length or checksum)."""


@dataclass(frozen=True)
class Message:
    headers: Mapping[str, str]
    payload: bytes


def _encode_headers(headers: Mapping[str, str]) -> bytes:
    parts = []
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        parts.append(struct.pack(">B", len(raw_name)) + raw_name
                     + struct.pack(">BH", _STRING, len(raw_value)) + raw_value)
    return b"".join(parts)


def encode(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One complete message."""
    encoded_headers = _encode_headers(headers)
    prelude = _PRELUDE.pack(_OVERHEAD + len(encoded_headers) + len(payload), len(encoded_headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + encoded_headers
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + payload + _CRC.pack(crc)


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """An event message with the three headers Lambda puts on every one."""
    return encode({":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
                  payload)


def payload_chunk(data: bytes) -> bytes:
    return event(PAYLOAD_CHUNK, data, "application/octet-stream")


def invoke_complete(error_code: Optional[str] = None, error_details: Optional[str] = None,
                    log_result: Optional[str] = None) -> bytes:
    """The last event: ``{}`` on success, else the error (and the log tail when asked for)."""
    body = {key: value for key, value in
            (("ErrorCode", error_code), ("ErrorDetails", error_details), ("LogResult", log_result))
            if value is not None}
    return event(INVOKE_COMPLETE, json.dumps(body, separators=(",", ":")).encode(), "application/json")


def _decode_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    offset = 0
    while offset < len(raw):
        name_length = raw[offset]
        name = raw[offset + 1:offset + 1 + name_length].decode()
        offset += 1 + name_length
        kind, value_length = struct.unpack_from(">BH", raw, offset)
        if kind != _STRING:
            raise EventStreamError(f"header {name!r} has type {kind}; only strings are supported")
        offset += 3
        headers[name] = raw[offset:offset + value_length].decode()
        offset += value_length
    return headers


def decode(buffer: bytes) -> tuple[list[Message], bytes]:
    """The complete messages at the start of ``buffer``, and the bytes left over."""
    messages = []
    view = memoryview(buffer)
    while len(view) >= _PRELUDE.size + _CRC.size:
        total, headers_length = _PRELUDE.unpack_from(view)
        (prelude_crc,) = _CRC.unpack_from(view, _PRELUDE.size)
        if zlib.crc32(view[:_PRELUDE.size]) != prelude_crc:
            raise EventStreamError("prelude checksum mismatch")
        if total < _OVERHEAD + headers_length:
            raise EventStreamError(f"message length {total} is shorter than its headers")
        if len(view) < total:
            break
        (message_crc,) = _CRC.unpack_from(view, total - _CRC.size)
        if zlib.crc32(view[:total - _CRC.size]) != message_crc:
            raise EventStreamError("message checksum mismatch")
        start = _PRELUDE.size + _CRC.size
        headers = _decode_headers(bytes(view[start:start + headers_length]))
        messages.append(Message(headers, bytes(view[start + headers_length:total - _CRC.size])))
        view = view[total:]
    return messages, bytes(view)
