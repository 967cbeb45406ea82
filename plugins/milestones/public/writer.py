"""One database writer thread for the public app, with group commit.

It runs in the app's writer process (:mod:`milestones.public.writer_process`, the default) or,
with ``writer_process`` off, in the server process.  The event loop never touches the database.  Customers' changes (one-click, page) queue
here; the writer takes everything queued and applies it in one transaction (one commit,
one fsync for many customers), then answers each request.  Webhook deliveries are stored
a chunk at a time, and the customer changes queued by the end of a chunk are applied in
that chunk's transaction (one fsync for both), so a large batch never holds small
requests back for longer than one chunk and its commit.

A request is answered only after its transaction committed: nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milestones.core.logsafe import safe_error

log = logging.getLogger(__name__)

#: Most customer changes applied in one transaction.
GROUP = 500
#: Webhook events stored per transaction (customers waiting by then share its commit)...
CHUNK = 200
#: ...and per transaction while customers' changes are coming in, so they wait for only a few
#: milliseconds of chunk work (benchmarks/serve.py, load 4.4-5.9, chunks of 200 always: one-click
#: p99 81 ms while batches were stored; 100: 78 ms; 50: 50 ms). Chunks of 50 always halved what
#: the webhook stores alone (benchmarks/webhook.py: 5,626 events/s instead of 10,472).
BUSY_CHUNK = 50
#: Seconds without a customer's change after which chunks are CHUNK again.
QUIET = 1.0


#: How a job is answered: ``reply(result, error)``, called on the writer thread.
Reply = Callable[[Any, "BaseException | None"], None]


@dataclass
class _Job:
    kind: str  # "choice" or "events"
    payload: Any
    reply: Reply


def settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    """Give a request its result or error (on the future's event loop), unless it was already given up."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """``fn(*args)`` on ``loop`` from another thread; nothing once the loop is gone (shutting down)."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the loop is closed
        pass


def settle_later(loop: asyncio.AbstractEventLoop, future: asyncio.Future) -> Reply:
    """A reply that settles ``future`` on its event loop."""
    return lambda result, error: call_soon(loop, settle, future, result, error)


class Writer:
    """``flush`` is called after each transaction's replies (a writer process sends them then, together)."""

    def __init__(self, store, feedback_factory, flush: Callable[[], None] | None = None):
        self.store = store
        self._flush = flush or (lambda: None)
        self._feedback_factory = feedback_factory
        self._feedback = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._last_choice = -QUIET  # when a customer's change last came in (time.monotonic)
        self._thread = threading.Thread(target=self._run, name="milestones-db-writer", daemon=True)
        self._thread.start()

    @property
    def feedback(self):
        if self._feedback is None:
            self._feedback = self._feedback_factory()
        return self._feedback

    def put(self, kind: str, payload: Any, reply: Reply) -> None:
        """Queue a job (``"choice"`` or ``"events"``); ``reply`` gets its result or error."""
        self._queue.put(_Job(kind, payload, reply))

    async def _submit(self, kind: str, payload: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.put(kind, payload, settle_later(loop, future))
        return await future

    async def choice(self, customer_id: str, change, source: str, email: str | None = None,
                     proof: dict[str, str] | None = None) -> list[dict]:
        """Apply one customer's change (with its consent proof); returns the history rows recorded."""
        return await self._submit("choice", (customer_id, change, source, email, proof))

    async def events(self, events: list[Any]) -> Counter:
        """Store one webhook delivery; returns its counts."""
        return await self._submit("events", events)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    # --- the thread ---------------------------------------------------------------------------

    @staticmethod
    def _answer(job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        job.reply(result, error)

    def _sort(self, job: _Job, choices: list[_Job], hooks: list[_Job]) -> None:
        """A customer's change to ``choices`` (noting when one came in), a delivery to ``hooks``."""
        if job.kind == "choice":
            choices.append(job)
            self._last_choice = time.monotonic()
        else:
            hooks.append(job)

    def _answer_each(self, jobs: list[_Job], results: list[Any]) -> None:
        """Answer each job with its result, then flush the replies together."""
        for job, result in zip(jobs, results, strict=True):
            self._answer(job, result)
        self._flush()

    def _take(self, first: _Job | None, choices: list[_Job], hooks: list[_Job]) -> bool:
        """Sort ``first`` and everything queued behind it; False once closed."""
        job = first
        while True:
            if job is None:
                return False
            self._sort(job, choices, hooks)
            if len(choices) >= GROUP:
                return True
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return True

    def _apply_choices(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            results = self.store.apply_many([j.payload for j in jobs])
        except Exception:  # one bad request must not fail the others: apply them one by one
            for job in jobs:
                try:
                    self._answer(job, self.store.apply_many([job.payload])[0])
                except Exception as exc:  # noqa: BLE001 - handed to the request
                    self._answer(job, error=exc)
            self._flush()
        else:
            self._answer_each(jobs, results)

    def _drain(self, hooks: list[_Job]) -> tuple[list[_Job], bool]:
        """Customers' changes queued now (webhook deliveries join ``hooks``); False once closed."""
        pending: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return pending, True
            if job is None:
                return pending, False
            self._sort(job, pending, hooks)

    def _store_chunk(self, events: list[Any], hooks: list[_Job]) -> tuple[Counter, bool]:
        """One chunk of a delivery and the customers' changes waiting by then, in one transaction
        (one fsync for both); each customer is answered after that commit."""
        feedback = self.feedback
        pending: list[_Job] = []
        running, results = True, None
        try:
            with feedback.engine.begin() as conn:
                counts = feedback.ingest_in(conn, events)
                pending, running = self._drain(hooks)
                if pending:
                    try:
                        with conn.begin_nested():  # a bad change must not cost the chunk
                            results = self.store.apply_in(conn, [j.payload for j in pending])
                    except Exception:  # noqa: BLE001 - applied on their own below
                        results = None
        except BaseException:
            self._apply_choices(pending)  # drained: never left unanswered
            raise
        if results is None:
            self._apply_choices(pending)
        else:
            self._answer_each(pending, results)
        return counts, running

    def _run(self) -> None:
        running = True
        while running:
            choices: list[_Job] = []
            hooks: list[_Job] = []
            running = self._take(self._queue.get(), choices, hooks)
            self._apply_choices(choices)
            for hook in hooks:
                try:
                    counts: Counter = Counter()
                    events, i = hook.payload, 0
                    while i < len(events):
                        size = BUSY_CHUNK if time.monotonic() - self._last_choice < QUIET else CHUNK
                        done, still = self._store_chunk(events[i:i + size], hooks)
                        counts.update(done)
                        running = running and still
                        i += size
                    self._answer(hook, +counts)
                except Exception as exc:  # noqa: BLE001 - the request answers 500; SendGrid retries
                    # Never the traceback: a driver's error text can hold the chunk's rows.
                    log.error("storing a webhook delivery failed: %s", safe_error(exc))
                    self._answer(hook, error=exc)
                self._flush()
