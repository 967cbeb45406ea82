"""SendGrid Event Webhook receiver of the public app: ``POST /webhook/sendgrid``.

403 for a bad or stale signature, 413 for a body over ``webhook_max_bytes``, 400 for
anything that is not a JSON list of events (nothing is stored then).  A malformed
event inside a good batch is recorded as rejected and the rest are stored, so
SendGrid's retries never fail forever.  Verifying, parsing and storing run in the app's
writer process (:mod:`milestones.public.writer_process`; with ``writer_process`` off, storing
runs on its database writer thread, :mod:`milestones.public.writer`) a chunk at a time, so a
large batch never stalls other requests.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from milestones.measure.feedback import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_delivery
from milestones.public.bodies import read_capped
from milestones.public.writer_process import WriterProcess, WriterStopped


def add_webhook(app: FastAPI, public) -> None:
    settings = public.settings

    @app.post("/webhook/sendgrid")
    async def sendgrid_events(request: Request) -> Response:
        body = await read_capped(request, settings.webhook_max_bytes)
        if body is None:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not settings.webhook_public_key:
            return JSONResponse({"error": "webhook verification key not configured"}, status_code=503)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if isinstance(public.writer, WriterProcess):  # verified, parsed and stored there
            try:
                status, answer = await public.writer.webhook(signature, timestamp, body)
            except WriterStopped:
                return JSONResponse({"error": "the database writer stopped; retry"}, status_code=503)
            return JSONResponse(answer, status_code=status)
        status, events = parse_delivery(settings.webhook_public_key, signature, timestamp, body,
                                        replay_window=settings.webhook_replay_seconds)
        if status != 200:
            return JSONResponse(events, status_code=status)
        counts = await public.writer.events(events)
        return JSONResponse(dict(counts))
