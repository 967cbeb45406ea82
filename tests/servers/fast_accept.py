"""A minimal Mail Send stand-in for throughput runs: uvicorn (httptools), 202 for every POST.

Counts requests per email key in memory and reports them at GET /counts, so the
benchmark can check nothing was lost or sent twice.
"""

from __future__ import annotations

import json
from collections import Counter

counts: Counter = Counter()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    if scope["method"] == "GET":
        payload = json.dumps({"requests": sum(counts.values()), "keys": len(counts),
                              "max_per_key": max(counts.values(), default=0)})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload.encode()})
        return
    # The key without a full JSON parse: this server must not be the bottleneck.
    # (compact or spaced JSON: the plain client sends '"key": "', ours '"key":"').
    start = body.index(b'"', body.index(b'"key":') + 6) + 1
    key = body[start:body.index(b'"', start)].decode()
    counts[key] += 1
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"x-message-id", f"m-{key}".encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
