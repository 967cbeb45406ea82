"""Request bodies read with a cap: the public app faces the internet, so nothing it
reads may grow without bound (uvicorn itself sets no limit on a body)."""

from __future__ import annotations

from starlette.requests import Request


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` bytes: a declared
    Content-Length over the limit is refused before reading, and a body streamed without one
    is read no further than the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)
