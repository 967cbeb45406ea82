"""The public app's database writer in its own process (the default; ``writer_process``).

In one process the webhook's CPU (signature, JSON, checking and inserting a batch of 1,000
events: tens of milliseconds) and the customers' requests share one core and one GIL, and
every one-click POST waits behind it. So ``milestones serve`` starts one writer process
(``multiprocessing``, ``spawn``) that does all of the app's writing: it runs the same
:class:`~milestones.public.writer.Writer` (group commit; customers' changes queued behind a
webhook chunk share that chunk's transaction), and verifies and parses webhook bodies on a
thread of its own. The server process only answers HTTP: it sends each customer's change
(a small tuple) and each webhook body through pipes and awaits the reply, which comes back
once the transaction committed, so nothing acknowledged is lost. One writer also keeps
SQLite's single write lock uncontended (two writing processes took turns through its
busy handler's sleeps: one-click p99 0.5-4.9 s while batches were stored).

If the writer process dies, the requests it held answer 500/503 (SendGrid retries,
de-duplicated by event id) and the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import pickle
import threading
from typing import Any

from milestones.public.writer import Reply, call_soon, settle

log = logging.getLogger(__name__)


class WriterStopped(RuntimeError):
    """The writer process ended before it answered."""


class WriterProcess:
    """The server's side: ``choice`` and ``webhook`` send work to the writer process and await its reply."""

    def __init__(self, url: str, asm_group_id: int, public_key: str, replay_window: float):
        self._args = (url, asm_group_id, public_key, replay_window)
        self._lock = threading.Lock()
        self._send_hook = threading.Lock()
        self._ids = itertools.count()
        self._pending: dict[int, tuple[Any, asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._outbox: list[tuple[int, Any]] = []
        self._process = None
        self._closed = False
        with self._lock:
            self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        jobs_r, jobs_w = ctx.Pipe(duplex=False)
        hooks_r, hooks_w = ctx.Pipe(duplex=False)
        answers_r, answers_w = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_serve, args=(jobs_r, hooks_r, answers_w, *self._args),
                              name="milestones-writer", daemon=True)
        process.start()
        for end in (jobs_r, hooks_r, answers_w):
            end.close()
        self._process, self._jobs, self._hooks, self._outbox = process, jobs_w, hooks_w, []
        threading.Thread(target=self._read, args=(answers_r, process), name="milestones-writer-replies",
                         daemon=True).start()

    def _read(self, answers, process) -> None:
        """Thread: settle each reply's request (one hop to the event loop per batch); when the
        process ends, fail what it still held."""
        try:
            while True:
                batch = [(self._pending.pop(job_id, None), result, error)
                         for job_id, result, error in answers.recv()]
                by_loop: dict[Any, list] = {}
                for entry, result, error in batch:
                    if entry is not None:
                        by_loop.setdefault(entry[1], []).append((entry[2], result, error))
                for loop, items in by_loop.items():
                    call_soon(loop, _settle, items)
        except (EOFError, OSError):
            pass
        answers.close()
        with self._lock:
            lost = [i for i, (owner, _, _) in self._pending.items() if owner is process]
            if self._process is process:
                self._process = None
        if lost and not self._closed:
            log.error("the database writer process stopped with %d requests unanswered", len(lost))
        self._fail(lost)

    def _fail(self, job_ids) -> None:
        for job_id in job_ids:
            entry = self._pending.pop(job_id, None)
            if entry is not None:
                call_soon(entry[1], _settle, [(entry[2], None, WriterStopped("the database writer process stopped"))])

    def _register(self) -> tuple[int, Any, asyncio.Future]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        job_id = next(self._ids)
        with self._lock:
            if self._closed:
                raise WriterStopped("the server is shutting down")
            if self._process is None:
                self._start()
            self._pending[job_id] = (self._process, loop, future)
            return job_id, (self._jobs, self._hooks), future

    def _send(self, pipe, job_ids: list[int], message: Any) -> None:
        try:
            pipe.send(message)
        except (OSError, ValueError):  # the process is gone
            self._fail(job_ids)

    def _flush_jobs(self) -> None:
        """Send the customers' changes queued during one turn of the event loop, in one message."""
        batch, self._outbox = self._outbox, []
        self._send(self._jobs, [job_id for job_id, _ in batch], batch)

    async def choice(self, customer_id: str, change, source: str, email: str | None = None,
                     proof: dict[str, str] | None = None) -> list[dict]:
        """Apply one customer's change (with its consent proof); the history rows recorded (as :meth:`Writer.choice`)."""
        job_id, _, future = self._register()
        self._outbox.append((job_id, (customer_id, change, source, email, proof)))
        if len(self._outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush_jobs)
        return await future

    async def webhook(self, signature: str, timestamp: str, body: bytes) -> tuple[int, Any]:
        """Verify, parse and store one webhook delivery; ``(status, answer)``."""
        job_id, (_, hooks), future = self._register()

        def send():  # a large body: sent from a thread, never blocking the event loop
            with self._send_hook:
                self._send(hooks, [job_id], (job_id, signature, timestamp, body))

        await asyncio.get_running_loop().run_in_executor(None, send)
        return await future

    def close(self) -> None:
        """Let the writer finish what it holds, then stop it."""
        with self._lock:
            self._closed, process = True, self._process
        if process is None:
            return
        try:
            self._jobs.send(None)
        except (OSError, ValueError):
            pass
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
        for pipe in (self._jobs, self._hooks):
            pipe.close()


def _settle(items: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, result, error in items:
        settle(future, result, error)


# --- the writer process ----------------------------------------------------------------------------

def _portable(error: BaseException) -> BaseException:
    """The error as it can travel back to the server (the type's name kept when it cannot be pickled)."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - e.g. driver errors with unpicklable arguments
        return RuntimeError(f"{type(error).__name__}: {error}")


def _serve(jobs, hooks, answers, url: str, asm_group_id: int, public_key: str, replay_window: float) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops the writer in order

    from milestones.decide.preferences import Preferences
    from milestones.measure.feedback import Feedback, parse_delivery
    from milestones.public.writer import Writer

    sending = threading.Lock()
    replies: list[tuple[int, Any, BaseException | None]] = []  # filled and flushed by the writer thread

    def send(items) -> None:
        with sending:
            answers.send(items)

    def flush() -> None:
        if replies:
            items = replies[:]
            replies.clear()
            send(items)

    def reply_to(job_id: int, wrap=None) -> Reply:
        def reply(result: Any, error: BaseException | None) -> None:
            if error is not None:
                replies.append((job_id, None, _portable(error)))
            else:
                replies.append((job_id, wrap(result) if wrap else result, None))

        return reply

    # The webhook's tables are opened (and created on a new database) at the first delivery, as in
    # the server process: creating them at start raced a pipeline run creating the ledger's tables.
    writer = Writer(Preferences(url), lambda: Feedback(url, asm_group_id=asm_group_id), flush)

    def webhooks() -> None:  # verify and parse here, off the writer thread
        while True:
            try:
                job_id, signature, timestamp, body = hooks.recv()
            except (EOFError, OSError):
                return
            status, events = parse_delivery(public_key, signature, timestamp, body, replay_window=replay_window)
            if status != 200:
                send([(job_id, (status, events), None)])
            else:
                writer.put("events", events, reply_to(job_id, lambda counts: (200, dict(counts))))

    threading.Thread(target=webhooks, name="milestones-webhook-parser", daemon=True).start()
    while True:
        try:
            message = jobs.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        for job_id, payload in message:  # the customers' changes of one turn of the server's loop
            writer.put("choice", payload, reply_to(job_id))
    writer.close()  # everything queued is written and answered first
    answers.close()
