"""SendGrid Event Webhook receiver of the public app: ``POST /webhook/sendgrid``.

403 for a bad or stale signature, 413 for a body over ``webhook_max_bytes``, 400 for
anything that is not a JSON list of events (nothing is stored then).  A malformed
event inside a good batch is recorded as rejected and the rest are stored, so
SendGrid's retries never fail forever.  Storing runs on the app's database writer thread
(:mod:`milestones.public.writer`) a chunk at a time, so a large batch never stalls other requests.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from milestones.feedback import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify_signature
from milestones.public.bodies import read_capped


def add_webhook(app: FastAPI, public) -> None:
    settings = public.settings

    @app.post("/webhook/sendgrid")
    async def sendgrid_events(request: Request) -> Response:
        body = await read_capped(request, settings.webhook_max_bytes)
        if body is None:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not settings.webhook_public_key:
            return JSONResponse({"error": "webhook verification key not configured"}, status_code=503)
        try:
            verify_signature(settings.webhook_public_key, request.headers.get(SIGNATURE_HEADER, ""),
                             request.headers.get(TIMESTAMP_HEADER, ""), body,
                             replay_window=settings.webhook_replay_seconds)
        except BadSignature as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        try:
            events = json.loads(body)
        except (ValueError, RecursionError):
            return JSONResponse({"error": "malformed JSON"}, status_code=400)
        if not isinstance(events, list):
            return JSONResponse({"error": "expected a JSON list of events"}, status_code=400)
        counts = await public.writer.events(events)
        return JSONResponse(dict(counts))
