"""Reading a runtime's request body under a size limit, without holding more than the limit."""

from __future__ import annotations

from aiohttp import web


async def read_body(request: web.BaseRequest, limit: int, truncate: bool = False) -> tuple[bytes, int]:
    """The request body and its full size. Over ``limit``, the body is dropped (empty), or cut to
    ``limit`` bytes with ``truncate`` (as AWS's emulator does to invocation payloads)."""
    length = request.content_length
    if length is not None and length <= limit:
        return await request.content.readexactly(length) if length else b"", length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        kept = max(0, min(len(chunk), limit - size))
        if kept:
            chunks.append(chunk[:kept])
        size += len(chunk)
    return (b"".join(chunks) if size <= limit or truncate else b""), size
