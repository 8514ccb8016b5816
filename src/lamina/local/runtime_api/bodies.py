"""Reading a request body under a size limit, without holding more than the limit.

Shared by the Runtime API's server (:class:`~lamina.local.runtime_api.http1.Request`) and the aiohttp
Invoke API: each passes its body as an async iterator of pieces with the declared length.
"""

from __future__ import annotations

from typing import AsyncIterator, Optional


async def read_body(pieces: AsyncIterator[bytes], length: Optional[int], limit: int,
                    truncate: bool = False) -> tuple[bytes, int]:
    """The body and its full size. Over ``limit``, the body is dropped (empty), or cut to ``limit``
    bytes with ``truncate`` (as AWS's emulator does to invocation payloads)."""
    chunks: list[bytes] = []
    size = 0
    if length is not None and length <= limit:  # all of it is kept: no counting per piece
        async for chunk in pieces:
            chunks.append(chunk)
        return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), length
    async for chunk in pieces:
        kept = max(0, min(len(chunk), limit - size))
        if kept:
            chunks.append(chunk[:kept] if kept < len(chunk) else chunk)
        size += len(chunk)
    return (b"".join(chunks) if size <= limit or truncate else b""), size
