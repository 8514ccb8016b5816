"""The event-stream framing on its own: byte layout, checksums, and botocore's own parser agreeing."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer

from lamina.local.api import event_stream


def test_payload_chunk_has_lambdas_layout_and_checksums() -> None:
    message = event_stream.payload_chunk(b"hello ")
    total, headers_length, prelude_crc = struct.unpack(">III", message[:12])
    assert total == len(message)
    assert prelude_crc == zlib.crc32(message[:8])
    assert struct.unpack(">I", message[-4:])[0] == zlib.crc32(message[:-4])
    assert message[12 + headers_length:-4] == b"hello "


def test_botocore_parses_payload_chunks_and_invoke_complete() -> None:
    parser = EventStreamBuffer()
    parser.add_data(event_stream.payload_chunk(b"abc") + event_stream.invoke_complete("ValueError", "boom"))
    first, second = list(parser)
    assert first.headers == {":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
                             ":message-type": "event"}
    assert first.payload == b"abc"
    assert second.headers[":event-type"] == "InvokeComplete"
    assert json.loads(second.payload) == {"ErrorCode": "ValueError", "ErrorDetails": "boom"}


def test_invoke_complete_on_success_is_an_empty_object() -> None:
    (message,), rest = event_stream.decode(event_stream.invoke_complete())
    assert rest == b""
    assert message.payload == b"{}"


def test_decode_keeps_an_incomplete_message_for_later() -> None:
    whole = event_stream.payload_chunk(b"x" * 100)
    messages, rest = event_stream.decode(whole + whole[:30])
    assert [m.payload for m in messages] == [b"x" * 100]
    assert rest == whole[:30]


def test_decode_rejects_a_corrupted_message() -> None:
    damaged = bytearray(event_stream.payload_chunk(b"data"))
    damaged[-6] ^= 0xFF
    with pytest.raises(event_stream.EventStreamError):
        event_stream.decode(bytes(damaged))
