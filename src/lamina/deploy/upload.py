"""Upload progress for boto3 calls that carry a zip (CreateFunction, UpdateFunctionCode, PublishLayerVersion).

botocore sends a Lambda request as one JSON body. Just before it is sent (``before-send``), the body is
swapped for a reader over the same bytes that reports how much has been read, so urllib3 streams it
and the caller sees the bytes go out. The signature covers the bytes, not the object, so it stays
valid; ``seek`` lets botocore rewind the body for a retry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

MIN_SIZE = 256 * 1024  # below this an upload is instant: no progress display
OPERATIONS = ("CreateFunction", "UpdateFunctionCode", "PublishLayerVersion")

Advance = Callable[[int, int], None]  # (bytes sent so far, total)


class ProgressBody:
    """A file-like view of ``data`` that calls ``advance(sent, total)`` as it is read."""

    def __init__(self, data: bytes, advance: Advance) -> None:
        self._data = data
        self._position = 0
        self._advance = advance

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else min(len(self._data), self._position + size)
        chunk = self._data[self._position:end]
        self._position = end
        self._advance(self._position, len(self._data))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = offset if whence == 0 else len(self._data) + offset if whence == 2 else \
            self._position + offset
        return self._position

    def tell(self) -> int:
        return self._position


@contextlib.contextmanager
def upload_progress(client: Any, advance: Advance) -> Iterator[None]:
    """Report the upload of every large request ``client`` sends while the block runs."""

    def wrap(request: Any, **_: Any) -> None:
        body = request.body
        if isinstance(body, (bytes, bytearray)) and len(body) >= MIN_SIZE:
            request.body = ProgressBody(bytes(body), advance)

    events = [f"before-send.lambda.{operation}" for operation in OPERATIONS]
    for event in events:
        client.meta.events.register(event, wrap, unique_id=f"lamina-progress-{event}")
    try:
        yield
    finally:
        for event in events:
            client.meta.events.unregister(event, unique_id=f"lamina-progress-{event}")
