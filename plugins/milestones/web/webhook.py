"""SendGrid Event Webhook receiver: POST /webhook/sendgrid.

403 for a bad or stale signature, 413 for a body over ``webhook_max_bytes``,
400 for anything that is not a JSON list of events; in those cases nothing is
stored. The verification key is SendGrid's public key (base64 DER), from the
``MILESTONES_WEBHOOK_PUBLIC_KEY`` setting.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from milestones.config import load_settings
from milestones.feedback import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    Feedback,
    verify_signature,
)

router = APIRouter()


@router.post("/webhook/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    settings = load_settings()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.webhook_max_bytes:
        return JSONResponse({"error": "body too large"}, status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.webhook_max_bytes:
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
    except ValueError:
        return JSONResponse({"error": "malformed JSON"}, status_code=400)
    if not isinstance(events, list):
        return JSONResponse({"error": "expected a JSON list of events"}, status_code=400)
    counts = Feedback(settings.ledger_database_url).ingest(events)
    return JSONResponse(dict(counts))
