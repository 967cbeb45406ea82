"""Delivery: the transports (file outbox, SendGrid) and the exactly-once send loop.

A transport's ``send(message)`` returns an :class:`Outcome`.  The loop in
:func:`deliver` registers the messages in the ledger, claims each one (only one
worker can claim a key) just before it is handed to the transport, with at most
``concurrency`` claimed and unanswered, and records what happened.  Nothing is
sent for a key the ledger already holds in any state other than ``pending``.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import functools
import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from milestones.core.logsafe import mask_email, mask_secrets
from milestones.deliver.ledger import ACCEPTED, FAILED, PENDING, SENDING, UNKNOWN, Ledger

log = logging.getLogger(__name__)

#: Headers the recipient can see beyond the standard ones: the event type and the email's opaque
#: key (a hash: it names no customer). The customer id is never in a header (it travels in
#: SendGrid's custom_args, which recipients do not see).
CUSTOM_HEADERS = {
    "event_type": "X-Milestones-Event",
    "key": "X-Milestones-Key",
}
#: What SendGrid carries back in its webhook events (custom_args: not shown to recipients).
CUSTOM_ARGS = ("customer_id", "event_type", "key")


@dataclass(frozen=True)
class Outcome:
    state: str  # accepted, failed, unknown, or pending (retry later)
    message_id: str | None = None
    error: str | None = None


class Transport(Protocol):
    name: str

    def send(self, message: dict[str, Any]) -> Outcome: ...


#: C0 and C1 control characters, DEL, the Unicode line and paragraph separators, and lone
#: surrogates (no text from a file holds one; they cannot be encoded): none may reach a header.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: Printable ASCII that no reader decodes or splits: anything else is sent as RFC 2047
#: encoded words, so what a reader decodes is exactly the text given (never decoded here).
_PLAIN = re.compile(r"[ -~]*")


def header_text(value: Any) -> str:
    """One header value from data: control characters (:data:`_CONTROL`) become spaces; text
    a reader would take for encoded words (``=?``) or that is not printable ASCII is written
    as UTF-8 encoded words, which decode back to exactly this text. Never decodes anything."""
    text = _CONTROL.sub(" ", str(value))
    if _PLAIN.fullmatch(text) and "=?" not in text and len(text) <= 900:
        return text
    return encoded_words(text)


def encoded_words(text: str) -> str:
    """RFC 2047 ``B`` encoded words for ``text`` (UTF-8), at most 75 characters each, folded
    onto continuation lines; a character is never split between two words. (The email
    package's ``Header`` does the same at 10-20 times the cost: it tries QP and base64.)"""
    words, chunk, size = [], [], 0
    for char in text:
        n = len(char.encode("utf-8"))
        if size + n > 45:  # 45 bytes -> 60 base64 characters + 12 of framing
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def _base64_lines(text: str) -> bytes:
    """``text`` as UTF-8 in base64 lines of 76 characters, each ending in CRLF."""
    data = base64.b64encode(text.encode("utf-8"))
    if not data:
        return b""
    view = memoryview(data)  # slices without copies; one join (2-3x the per-line concatenation)
    return b"\r\n".join([view[i:i + 76] for i in range(0, len(data), 76)]) + b"\r\n"


@functools.lru_cache(maxsize=64)
def _from_header(from_name: str, from_email: str) -> str:
    return email.utils.formataddr((header_text(from_name), from_email))


def message_id(key: str, domain: str) -> str:
    """``<key@domain>``: on the sending domain (a bare or internal right-hand side is a spam sign)."""
    return f"<{header_text(key)}@{domain}>"


def list_unsubscribe(url: str, mailto: str = "") -> str:
    """The List-Unsubscribe value: the one-click https link, then ``mailto:`` when an address is set."""
    value = f"<{header_text(url)}>"
    return f"{value}, <mailto:{header_text(mailto)}?subject=unsubscribe>" if mailto else value


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() or "localhost"


_date_cache: tuple[int, str] = (0, "")


def _date_header() -> str:
    """The Date header of this second (formatted once a second, not once an email)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def build_mime(message: dict[str, Any], *, from_email: str, from_name: str, message_domain: str = "",
               unsubscribe_mailto: str = "") -> bytes:
    """An RFC 5322 multipart/alternative email (text + HTML, UTF-8, base64) for one message row.

    Built from its parts, not through ``email.message``: every header value made from
    data goes through :func:`header_text`, which encodes and never decodes, so no name,
    subject or id can add a header line (an email package round trip decodes encoded
    words, which is how a ``Bcc:`` got in). The headers are exactly these, in this order.
    ``Message-ID`` is on ``message_domain`` (the brand's sending domain; default: the From
    address's domain); no header names the customer.
    """
    address = str(message["email"])
    if _CONTROL.search(address) or not address.isascii():
        raise ValueError("the recipient address contains a control or non-ASCII character")
    key = str(message["key"])
    boundary = f"=_milestones_{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    headers = [
        ("From", _from_header(from_name, from_email)),
        ("To", address),
        ("Subject", header_text(message["subject"])),
        ("Date", _date_header()),
        ("Message-ID", message_id(key, message_domain or domain_of(from_email))),
        ("List-Unsubscribe", list_unsubscribe(message["unsubscribe_url"], unsubscribe_mailto)),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        *((name, header_text(message[field])) for field, name in CUSTOM_HEADERS.items()),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    part = ("--%s\r\nContent-Type: text/%s; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n")
    return b"".join([
        "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii"),
        b"\r\n",
        (part % (boundary, "plain")).encode("ascii"), _base64_lines(message["text"]),
        (part % (boundary, "html")).encode("ascii"), _base64_lines(message["html"]),
        f"--{boundary}--\r\n".encode("ascii"),
    ])


class OutboxTransport:
    """Writes one ``<key>.eml`` per email under ``outbox_dir`` (the embedded default).

    Each file is written under a temporary name and renamed into place, so an email is in
    the outbox whole or not at all: after a crash :meth:`recover` tells from the files
    which claimed emails were written (``recoverable``: nothing stays in doubt).
    """

    name = "outbox"
    recoverable = True

    #: Emails a writer thread takes at a time, and at most this many writer threads: a file
    #: create is a few syscalls and the rest holds the GIL, so more threads (and a future
    #: per email, as the send loop's own pool has) only add switches between them.
    CHUNK = 25
    THREADS = 4

    def __init__(self, outbox_dir: Path, *, from_email: str, from_name: str, message_domain: str = "",
                 unsubscribe_mailto: str = ""):
        self.outbox_dir = Path(outbox_dir)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        self._dir = str(self.outbox_dir)
        self.from_email = from_email
        self.from_name = from_name
        self.message_domain = message_domain
        self.unsubscribe_mailto = unsubscribe_mailto
        self._pool = None
        self._pool_lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.outbox_dir / f"{key}.eml"

    def send(self, message: dict[str, Any]) -> Outcome:
        try:
            data = build_mime(message, from_email=self.from_email, from_name=self.from_name,
                              message_domain=self.message_domain, unsubscribe_mailto=self.unsubscribe_mailto)
        except (ValueError, KeyError) as exc:  # this email cannot be written as it is
            return Outcome(FAILED, error=f"message: {type(exc).__name__}: {exc}")
        key = message["key"]
        # Plain strings, not pathlib: this runs once per email.
        target = os.path.join(self._dir, f"{key}.eml")
        tmp = os.path.join(self._dir, f".{key}.eml.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                view = memoryview(data)
                while view:  # a regular file takes it all in one write, short of a full disk
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:  # disk full, read-only, ...: not written, owed again
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return Outcome(PENDING, error=f"outbox write failed: {type(exc).__name__}: {exc.strerror or exc}")
        return Outcome(ACCEPTED, message_id=f"outbox:{key}")

    def start(self, messages: list[dict[str, Any]], concurrency: int, done) -> None:
        """Write ``messages`` on the outbox's writer threads, :attr:`CHUNK` emails per task, and
        call ``done([(message, outcome), ...])`` once a chunk's files are written (the send
        loop's protocol for a transport with its own ``start``). At most ``min(concurrency,
        THREADS)`` threads."""
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, self.THREADS)),
                                                thread_name_prefix="outbox")
        for i in range(0, len(messages), self.CHUNK):
            self._pool.submit(self._write, messages[i:i + self.CHUNK], done)

    def _write(self, messages: list[dict[str, Any]], done) -> None:
        done([(m, attempt(self, m)) for m in messages])

    def recover(self, keys: list[str]) -> dict[str, str]:
        """For claimed keys a crash left behind: accepted if its file is in the outbox, else pending."""
        for leftover in self.outbox_dir.glob(".*.eml.tmp"):  # a write a crash cut short
            leftover.unlink(missing_ok=True)
        return {key: ACCEPTED if self.path(key).is_file() else PENDING for key in keys}


def sendgrid_payload(message: dict[str, Any], *, from_email: str, from_name: str,
                     sandbox: bool = False, asm_group_id: int | None = None,
                     categories: tuple[str, ...] = ("milestones",), message_domain: str = "",
                     unsubscribe_mailto: str = "") -> dict[str, Any]:
    """The Mail Send v3 JSON body for one email (custom_args per personalization: SendGrid
    returns them in webhook events and never shows them to the recipient)."""
    payload: dict[str, Any] = {
        "personalizations": [{
            "to": [{"email": message["email"]}],
            "custom_args": {k: str(message[k]) for k in CUSTOM_ARGS},
        }],
        "from": {"email": from_email, "name": from_name},
        "subject": message["subject"],
        "content": [
            {"type": "text/plain", "value": message["text"]},
            {"type": "text/html", "value": message["html"]},
        ],
        "categories": list(dict.fromkeys([*categories, str(message["event_type"])]))[:10],
        "headers": {
            "Message-ID": message_id(str(message["key"]), message_domain or domain_of(from_email)),
            "List-Unsubscribe": list_unsubscribe(message["unsubscribe_url"], unsubscribe_mailto),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    if message.get("send_at"):
        payload["send_at"] = int(message["send_at"])
    if asm_group_id:
        payload["asm"] = {"group_id": int(asm_group_id)}
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


#: Threads for a transport without its own ``start`` (the outbox): more only contend for the
#: GIL (benchmarks/outbox.py under load: 64 threads wrote 1,468-1,559 emails/s, 8 wrote 1,788-2,168).
MAX_THREADS = 8
#: How long the send loop may wait for more answers before a ledger commit (see deliver()).
GATHER_SECONDS = 0.002
#: ...and, with nothing left to claim, for the last answers: one commit for them, not one per
#: GATHER_SECONDS (an answer already in is recorded at most this late).
TAIL_SECONDS = 0.5
OUTCOME_NAMES = {ACCEPTED: "sent", FAILED: "failed", UNKNOWN: "unknown", PENDING: "retry_later"}
#: What a key the ledger already held is counted as when this run does not send it.
HELD_NAMES = {ACCEPTED: "already_sent", FAILED: "already_failed", SENDING: "in_doubt", UNKNOWN: "in_doubt",
              "cancelled": "already_cancelled", "expired": "already_expired"}


def deliver(messages: list[dict[str, Any]], transport: Transport, ledger: Ledger,
            concurrency: int = 1, batch_size: int = 500, check=None) -> Counter:
    """Send each message at most once, ``concurrency`` at a time. Returns counts by outcome.

    A send is claimed in the ledger (``pending -> sending``, one winner per key)
    only when it is about to be handed to the transport, and at most
    ``concurrency`` rows of this call are ``sending`` at any moment: each
    ledger transaction records the outcomes that came back and claims as many
    new sends as there are free places. So after a crash (kill -9, disk full)
    at most ``concurrency`` rows are in doubt, and every row that was never
    handed over is still ``pending``. A transport that can tell afterwards what
    it sent (``recoverable``, the outbox: a file exists or not) may have two
    batches claimed (one being written while the next is claimed); its rows left
    ``sending`` by a crash are settled from what it actually wrote (:func:`recover`).

    Each step of the loop is one ledger transaction (:meth:`Ledger.step`): the next
    rows registered, those ``check`` stops closed, the outcomes that came back
    recorded and the freed places claimed, in one commit.

    Keys the ledger already held beyond ``pending`` are not sent again and are
    counted by their state: ``already_sent`` (accepted), ``already_failed``,
    ``in_doubt`` (``sending`` or ``unknown``: maybe sent, never resent blindly).

    A transport with ``start(messages, concurrency, done)`` (SendGrid: one libcurl
    thread, kept-alive connections) calls ``done([(message, outcome), ...])`` from its
    own thread with the sends that ended in one turn of its loop (one wake-up of this
    thread per turn); any other is called from ``min(concurrency, MAX_THREADS)``
    threads (at most ``concurrency`` of its sends claimed and unanswered all the same).

    ``check(messages)`` (:class:`milestones.deliver.recheck.SendCheck`), called just before each
    claim, returns ``{key: (cancelled|expired, reason)}`` for emails that may no longer go:
    those still pending are closed in the ledger with that state and never handed over.
    """
    counts: Counter = Counter()
    recoverable = getattr(transport, "recoverable", False)
    # A recoverable transport (the outbox) may have two batches claimed: one being written while
    # the next is claimed, in one commit per batch. Any other: at most ``concurrency`` claimed and
    # unanswered, the most a crash can leave in doubt.
    window = max(1, 2 * batch_size if recoverable else concurrency)
    step_after = max(1, batch_size if recoverable else window // 2)
    results: queue.SimpleQueue = queue.SimpleQueue()
    start, pool = _starter(transport, concurrency, results.put)
    registered = 0  # messages[:registered] are in the ledger (or go in with this step)
    position = 0  # messages[:position] were claimed (or found held) already
    inflight = 0
    finished: list[dict[str, Any]] = []
    try:
        while position < len(messages) or inflight:
            if inflight and (window - inflight < step_after or position >= len(messages)):
                # Wait for answers: fewer, fuller ledger commits. With emails left to claim:
                # until ``step_after`` places are free (half the window: each commit and its
                # fsync shared by about half a window of emails; a recoverable transport's
                # writers keep a batch meanwhile), or GATHER_SECONDS for any other transport.
                # Nothing left to claim: until every answer is in or TAIL_SECONDS passed.
                tail = position >= len(messages)
                batch = results.get()
                if tail:
                    deadline = time.monotonic() + TAIL_SECONDS
                elif recoverable:
                    deadline = None
                else:
                    deadline = time.monotonic() + GATHER_SECONDS
                while True:
                    finished.extend(_result(m, outcome, transport.name) for m, outcome in batch)
                    inflight -= len(batch)
                    if not inflight or (not tail and window - inflight >= step_after):
                        break
                    try:
                        batch = results.get(timeout=None if deadline is None
                                            else max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
            while True:  # and take whatever else came back meanwhile
                try:
                    batch = results.get_nowait()
                except queue.Empty:
                    break
                finished.extend(_result(m, outcome, transport.name) for m, outcome in batch)
                inflight -= len(batch)
            new: list[dict[str, Any]] = []
            if registered < len(messages) and position + window > registered:
                upto = min(len(messages), max(position + window, registered + batch_size))
                new = [_ledger_row(m, transport.name) for m in messages[registered:upto]]
                registered = upto
            wanted = messages[position:min(position + window - inflight, registered)]
            verdicts = check(wanted) if check is not None and wanted else {}
            # One commit: the new rows, the closed ones, the outcomes, the claims.
            done = ledger.step(register=new, close=verdicts, outcomes=finished, claim=[m["key"] for m in wanted])
            counts.update(done.closed.values())
            counts.update(OUTCOME_NAMES[r["state"]] for r in finished)
            counts.update(HELD_NAMES.get(state, "in_doubt") for state in done.held.values())
            finished = []
            position += len(wanted)
            mine = [m for m in wanted if m["key"] in done.won]
            if mine:
                inflight += len(mine)
                start(mine)
    except BaseException:
        # What already came back is recorded if the ledger still can; what is on the wire
        # stays "sending" (at most ``window`` rows, in doubt).
        try:
            ledger.step(outcomes=finished)
        except Exception:
            log.exception("could not record the outcomes of a stopped delivery")
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return +counts


def _ledger_row(m: dict[str, Any], transport: str) -> dict[str, Any]:
    return {"key": m["key"], "customer_id": m["customer_id"], "event_type": m["event_type"],
            "event_date": str(m["event_date"])[:10], "template_version": m.get("template_version", ""),
            "transport": transport, "partner_id": m.get("partner_id") or ""}


def _result(m: dict[str, Any], outcome: Outcome, transport: str) -> dict[str, Any]:
    if outcome.error:
        outcome = replace(outcome, error=mask_secrets(outcome.error))  # stored and logged: no key
    if outcome.state != ACCEPTED:
        log.warning("email %s to %s: %s (%s)", m["key"], mask_email(m["email"]), outcome.state, outcome.error)
    return {"key": m["key"], "state": outcome.state, "message_id": outcome.message_id,
            "error": outcome.error, "transport": transport}


def attempt(transport: Transport, m: dict[str, Any]) -> Outcome:
    """``transport.send(m)``; an unexpected failure after the claim is ``unknown`` (maybe sent,
    never resent blindly), never an exception that leaves the row unanswered."""
    try:
        return transport.send(m)
    except Exception as exc:  # noqa: BLE001 - recorded as the email's outcome
        return Outcome(UNKNOWN, error=f"{type(exc).__name__}: {exc}")


def _starter(transport: Transport, concurrency: int, done):
    """``start(messages)`` handing sends to the transport, and the thread pool to shut down (or None)."""
    own = getattr(transport, "start", None)
    if own is not None:
        return (lambda batch: own(batch, concurrency, done)), None

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, MAX_THREADS)), thread_name_prefix="send")

    def send(m: dict[str, Any]) -> None:
        done([(m, attempt(transport, m))])

    def start(batch: list[dict[str, Any]]) -> None:
        for m in batch:
            pool.submit(send, m)

    return start, pool


def recover(messages: list[dict[str, Any]], transport: Transport, ledger: Ledger) -> int:
    """Settle rows a crash left ``sending`` from what a ``recoverable`` transport actually wrote.

    Returns how many were settled (``accepted`` when it holds the email, ``pending`` when it
    does not: it was never handed over, or its write never finished).
    """
    if not getattr(transport, "recoverable", False) or not messages:
        return 0
    stuck = [k for k, s in ledger.states(m["key"] for m in messages).items() if s == SENDING]
    if not stuck:
        return 0
    return ledger.settle(transport.recover(stuck), transport=transport.name)


def sendgrid_connection() -> dict[str, str] | None:
    """API key and base URL of the ``sendgrid_default`` connection, or None.

    Read from Airflow when running inside a task, else from the
    ``AIRFLOW_CONN_SENDGRID_DEFAULT`` env var (URI or JSON form), so the CLI
    and the DAGs agree.
    """
    raw = os.environ.get("AIRFLOW_CONN_SENDGRID_DEFAULT")
    if raw:
        return _parse_connection(raw)
    from milestones.core import airflow_conn

    if not airflow_conn.reachable():
        return None  # the command line without Airflow: do not boot it for nothing
    try:
        from airflow.sdk import BaseHook  # only meaningful inside a running task

        conn = BaseHook.get_connection("sendgrid_default")
    except Exception:
        return None
    if not conn.password:
        return None
    host = conn.host or ""
    if host and "://" not in host:
        host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
    return {"api_key": conn.password, "host": host or "https://api.sendgrid.com"}


def _parse_connection(raw: str) -> dict[str, str]:
    from urllib.parse import unquote, urlsplit

    raw = raw.strip()
    if raw.startswith("{"):
        data = json.loads(raw)
        host = data.get("host") or ""
        if host and "://" not in host:
            host = f"{data.get('schema') or 'https'}://{host}" + (f":{data['port']}" if data.get("port") else "")
        key = data.get("password") or ""
    else:
        parts = urlsplit(raw)
        key = unquote(parts.password or "")
        host = ""
        if parts.hostname:
            # conn-type http/https doubles as the scheme of the base URL.
            scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
            host = f"{scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if not key:
        raise ValueError("sendgrid_default connection has no password (the API key)")
    return {"api_key": key, "host": host or "https://api.sendgrid.com"}
