"""Extracts from object storage: list, wait until settled, claim exactly once, fetch.

The inbox may be a URL (setting ``inbox_url``): ``s3://bucket/prefix/``,
``gs://bucket/prefix/``, ``file:///abs/path/`` or any scheme Airflow's
:class:`~airflow.sdk.ObjectStoragePath` has a filesystem for, with the
credentials of an Airflow connection (``inbox_conn_id``).  Extracts are named
``customers_YYYY-MM-DD.(csv|parquet)`` (or ``outcomes_...``) directly under the prefix.

Claiming one extract (``claim_next``), for the object version ``V`` (size and
ETag / generation / modification time) of ``<prefix>/<name>``:

1. **claim**: exclusive create (``O_CREAT | O_EXCL``) of the marker
   ``received/.claims/<key>.<gen>.json`` where ``key`` hashes URL and ``V``.
   Exactly one claimer creates it; every other claimer skips the object.
   ``received/`` is under ``data_dir``, which every triggerer and worker shares
   anyway (tasks read the claimed file from there).
2. **copy**: stream the object in chunks of ``CHUNK`` bytes (never whole in
   memory) into ``received/.<key>.<gen>.part``, fsync it, then check that the
   object still has version ``V`` and that the byte count is its size.
3. **publish**: hard-link the part file to ``received/<name>`` (exclusive: an
   existing file is never overwritten; a name delivered again goes to
   ``received/<key12>/<name>``, keeping the name the snapshot date is read from),
   then record ``published`` and the path in the marker.
4. **archive**: move the object out of the listed prefix, to
   ``<prefix>/received/<name>`` (``<prefix>/received/<key12>/<name>`` when taken),
   and record ``archived`` in the marker.
5. the trigger yields the local path.

What a crash between the steps leaves behind, and what happens next:

* during 1-2 (marker ``claimed``, object still in the inbox): nothing is lost,
  the object stays where it was.  The next poll on the same host sees that the
  owner process is gone (its pid is not running, or runs a process started
  later) and takes the claim over with the next generation ``<key>.<gen+1>.json``
  (again an exclusive create: one winner), starting the copy afresh.  A claim
  owned by another host is never taken over automatically (that host may only be
  slow): the watcher logs it once it is older than ``STUCK_AFTER``, and an
  operator who knows that host is gone deletes the marker to have it retried.
  An error that is not a crash (network, permission, the object changing while
  copied) releases the claim at once: the marker and part file are deleted and
  the next poll tries again.
* between publishing and recording it: the linked file is never announced;
  a takeover publishes the same extract again, under ``received/<key12>/``, and
  only that one is announced, so the extract is processed once.
* after 3 (marker ``published``): the extract is already handed over; later
  polls see the marker and only retry the archive move, never announce again.
  An archive move that fails (e.g. read-only credentials) leaves the object in
  place, where the marker keeps it from being processed twice; a warning is
  logged at every poll.
* between 4 and 5: the event is lost with the process, as with the local inbox;
  the file is in ``received/`` and the log names it: trigger the ingest DAG with
  the ``extract`` param (or ``milestones run --extract``) to process it.

A new upload under the same name is a new version, hence a new key and a new
delivery, exactly as for the local inbox.

Everything heavy (``airflow.sdk``, fsspec, s3fs, boto) is imported inside the
functions: DAG parsing never pays for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from milestones.core import storage
from milestones.core.contract import INBOX_PATTERN

if TYPE_CHECKING:  # pragma: no cover
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: Bytes read from the object store at once (memory stays at about this, whatever the size).
CHUNK = 8 * 1024 * 1024
#: A claim from another host that has not been published after this long is logged as stuck.
STUCK_AFTER = dt.timedelta(hours=1)
#: Where the claimed object goes, under the inbox prefix.
ARCHIVE = "received"
LOCAL_SCHEMES = ("file", "local")


class SourceError(Exception):
    """An extract URL that cannot be read: one clear line for the user."""


class SourceMissing(SourceError):
    """Nothing to read at the URL (no such file, object or bucket): the file gate's "missing"."""


@dataclass(frozen=True)
class RemoteExtract:
    """One candidate extract as the listing shows it."""

    url: str
    name: str
    size: int
    version: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.url}\n{self.size}\n{self.version}".encode()).hexdigest()[:32]


def is_url(value: str | os.PathLike[str]) -> bool:
    """``s3://b/k`` and ``file:///p`` are URLs; ``/p`` and ``C:\\p`` are not."""
    scheme = urlsplit(str(value)).scheme
    return len(scheme) > 1 and "://" in str(value)


def storage_path(url: str, conn_id: str | None = None) -> ObjectStoragePath:
    """``url`` as an :class:`~airflow.sdk.ObjectStoragePath` using connection ``conn_id``.

    Local schemes take no connection.
    """
    from airflow.sdk import ObjectStoragePath

    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        if parts.netloc not in ("", "localhost"):
            raise SourceError(f"{url}: a file URL names an absolute path: file:///{parts.netloc}{parts.path}")
        return ObjectStoragePath(url)
    try:
        return ObjectStoragePath(url, conn_id=conn_id or None)
    except ValueError as exc:  # unknown scheme
        raise SourceError(f"{url}: {exc}") from None


def _url(path: ObjectStoragePath, fs_path: str | None = None) -> str:
    """A URL without the connection id (which ``str(ObjectStoragePath)`` would include)."""
    where = path.path if fs_path is None else fs_path
    if path.protocol in LOCAL_SCHEMES:
        return f"file://{where}"
    return f"{path.protocol}://{where.lstrip('/')}"


def _version(info: dict[str, Any]) -> str:
    """What changes when an object is rewritten: ETag / generation, and modification time."""
    tag = info.get("ETag") or info.get("etag") or info.get("generation") or info.get("version_id") or ""
    when = (info.get("LastModified") or info.get("last_modified") or info.get("updated")
            or info.get("mtime") or info.get("created") or "")
    if isinstance(when, dt.datetime):
        when = when.isoformat()
    return f"{str(tag).strip(chr(34))}@{when}"


def _explain(url: str, exc: BaseException) -> SourceError:
    if isinstance(exc, FileNotFoundError):
        detail = str(exc)
        what = "no such bucket" if "bucket" in detail.lower() else "no such object"
        return SourceMissing(f"{url}: {what}")
    if isinstance(exc, PermissionError):
        return SourceError(f"{url}: access denied")
    return SourceError(f"{url}: {type(exc).__name__}: {exc}")


def list_extracts(url: str, conn_id: str | None = None) -> list[RemoteExtract]:
    """Extracts directly under ``url`` (not in sub-prefixes), oldest date first."""
    root = storage_path(url, conn_id)
    fs = root.fs
    with contextlib.suppress(Exception):
        fs.invalidate_cache(root.path)  # s3fs caches listings; every poll must see the bucket as it is
    try:
        entries = fs.ls(root.path, detail=True)
    except FileNotFoundError as exc:
        # In a bucket a prefix exists only while objects are under it: empty, not missing.
        if root.protocol in LOCAL_SCHEMES or not root.bucket or not fs.exists(root.bucket):
            raise _explain(url, exc) from exc
        entries = []
    except PermissionError as exc:
        raise _explain(url, exc) from exc
    found = []
    for info in entries:
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info.get("type") != "file" or not INBOX_PATTERN.match(name):
            continue
        if info.get("islink"):  # a file:// inbox: a symbolic link is never claimed nor copied
            log.warning("inbox: %s is a symbolic link: refused, not claimed", name)
            continue
        found.append(RemoteExtract(url=_url(root, info["name"]), name=name, size=int(info.get("size") or 0),
                                   version=_version(info)))
    return sorted(found, key=lambda e: e.name)


# --- the local side: markers, part files, publishing ----------------------------------------

def _process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _owner_is_gone(owner: dict[str, Any]) -> bool:
    """True only when certain: same host, and the pid runs no process or a later one."""
    if owner.get("host") != socket.gethostname():
        return False
    pid = int(owner.get("pid") or 0)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    start = _process_start(pid)
    return start is not None and owner.get("start") is not None and start != owner["start"]


class Claims:
    """The markers under ``received/.claims``: who owns which object version, and how far."""

    def __init__(self, received: Path):
        self.received = Path(received)
        self.root = self.received / ".claims"

    def marker(self, key: str, gen: int) -> Path:
        return self.root / f"{key}.{gen}.json"

    def part(self, key: str, gen: int) -> Path:
        return self.received / f".{key}.{gen}.part"

    def latest(self, key: str) -> tuple[int, dict[str, Any]] | None:
        """Highest generation of ``key`` and its record (None if never claimed)."""
        gens = []
        for p in self.root.glob(f"{key}.*.json"):
            with contextlib.suppress(ValueError):
                gens.append(int(p.name.split(".")[1]))
        for gen in sorted(gens, reverse=True):
            try:
                return gen, json.loads(self.marker(key, gen).read_text(encoding="utf-8") or "{}")
            except FileNotFoundError:  # released meanwhile
                continue
            except ValueError:  # being written by its creator: claimed, owner alive
                return gen, {"state": "claimed", "owner": {}}
        return None

    def create(self, key: str, gen: int, record: dict[str, Any]) -> bool:
        """Exclusive create: True for exactly one caller per (key, gen)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.marker(key, gen), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, sort_keys=True)
        return True

    def update(self, key: str, gen: int, **changes: Any) -> None:
        path = self.marker(key, gen)
        record = json.loads(path.read_text(encoding="utf-8"))
        record.update(changes)
        storage.write_json(record, path)

    def release(self, key: str, gen: int) -> None:
        for path in (self.part(key, gen), self.marker(key, gen)):
            path.unlink(missing_ok=True)


def _copy_to(path: ObjectStoragePath, target: Path) -> int:
    """Stream ``path`` into ``target`` chunk by chunk; fsync; return the bytes written."""
    written = 0
    with path.fs.open(path.path, "rb", block_size=CHUNK) as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
            written += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return written


def _publish(part: Path, received: Path, name: str, key: str) -> Path:
    """Hard-link ``part`` to ``received/<name>``, else ``received/<key12>/<name>``; never overwrite."""
    for target in (received / name, received / key[:12] / name):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(part, target)
        except FileExistsError:
            continue
        part.unlink()
        return target
    raise FileExistsError(f"{received / key[:12] / name} exists already")


def _archive(path: ObjectStoragePath, name: str, key: str) -> str | None:
    """Move the object to ``<prefix>/received/``; None if it is gone already (moved by another)."""
    fs = path.fs
    prefix = path.path.rsplit("/", 1)[0]
    target = f"{prefix}/{ARCHIVE}/{name}"
    if fs.exists(target):
        target = f"{prefix}/{ARCHIVE}/{key[:12]}/{name}"
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)  # a no-op on object stores
    try:
        fs.mv(path.path, target)
    except FileNotFoundError:
        if fs.exists(path.path):
            raise
        return None  # moved by another claimer finishing the same archive
    with contextlib.suppress(Exception):
        fs.invalidate_cache(prefix)
    return _url(path, target)


def _finish_archive(extract: RemoteExtract, conn_id: str | None, claims: Claims, key: str, gen: int) -> None:
    """Move an already published extract out of the inbox (retried at every poll until done)."""
    try:
        archived = _archive(storage_path(extract.url, conn_id), extract.name, key)
    except Exception as exc:  # noqa: BLE001 - the marker keeps it from being processed twice
        log.warning("extract %s is processed but could not be moved out of the inbox: %s", extract.url, exc)
        return
    with contextlib.suppress(FileNotFoundError):
        claims.update(key, gen, state="archived", archived_to=archived)
    if archived:
        log.info("moved %s to %s", extract.url, archived)


def claim(extract: RemoteExtract, conn_id: str | None, received: Path) -> Path | None:
    """Claim one listed extract; its local path for exactly one caller, else None."""
    received = Path(received)
    claims = Claims(received)
    key = extract.key
    latest = claims.latest(key)
    if latest is None:
        gen = 0
    else:
        gen, record = latest
        state = record.get("state")
        if state in ("published", "archived"):
            _finish_archive(extract, conn_id, claims, key, gen)
            return None
        owner = record.get("owner") or {}
        if not _owner_is_gone(owner):
            _warn_if_stuck(claims.marker(key, gen), extract, owner)
            return None
        log.warning("taking over the claim of %s from %s (process gone)", extract.url, owner)
        claims.part(key, gen).unlink(missing_ok=True)
        gen += 1
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not claims.create(key, gen, {"state": "claimed", "url": extract.url, "size": extract.size,
                                    "version": extract.version, "owner": _owner(), "at": now}):
        return None  # another claimer won
    part = claims.part(key, gen)
    try:
        source = storage_path(extract.url, conn_id)
        written = _copy_to(source, part)
        now_version = _version(source.fs.info(source.path))
        if written != extract.size or now_version != extract.version:
            raise SourceError(f"{extract.url} changed while it was copied; trying again later")
        target = _publish(part, received, extract.name, key)
    except Exception as exc:
        claims.release(key, gen)
        log.warning("could not claim %s: %s", extract.url, exc)
        return None
    claims.update(key, gen, state="published", path=str(target))
    _finish_archive(extract, conn_id, claims, key, gen)
    return target


def _warn_if_stuck(marker: Path, extract: RemoteExtract, owner: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        age = dt.datetime.now().timestamp() - marker.stat().st_mtime
        if age > STUCK_AFTER.total_seconds():
            log.warning("extract %s was claimed by %s %.0f min ago and never published; if that "
                        "process is gone for good, delete %s to have it claimed again",
                        extract.url, owner, age / 60, marker)


def claim_next(url: str, conn_id: str | None, received: Path,
               settled: dict[str, tuple[int, str]]) -> tuple[Path, str] | None:
    """Claim the oldest settled extract under ``url``: (local path, object URL), or None.

    ``settled`` remembers each object's size and version between polls: an object
    is claimed only once both were the same at two polls in a row.
    """
    listed = list_extracts(url, conn_id)
    seen = {e.url for e in listed}
    for gone in set(settled) - seen:
        del settled[gone]
    for extract in listed:
        signature = (extract.size, extract.version)
        if settled.get(extract.url) != signature:
            settled[extract.url] = signature
            continue
        claimed = claim(extract, conn_id, received)
        if claimed is not None:
            settled.pop(extract.url, None)
            return claimed, extract.url
    return None


def local_file(extract: Path | str, data_dir: Path | str, conn_id: str | None = None) -> Path:
    """``extract`` as a local file: a path as it is, a URL fetched (:func:`fetch`)."""
    return fetch(str(extract), data_dir, conn_id) if is_url(extract) else Path(extract)


def fetch(url: str, data_dir: Path | str, conn_id: str | None = None) -> Path:
    """A local copy of the extract at ``url`` under ``data_dir/received/`` (for the CLI and params).

    ``file://`` URLs are read in place.  The object is not moved: fetching is
    reading, claiming is the watcher's job.
    """
    path = storage_path(url, conn_id)
    if path.protocol in LOCAL_SCHEMES:
        local = Path(path.path)
        if not local.is_file():
            raise SourceMissing(f"{url}: no such file")
        return local
    try:
        info = path.fs.info(path.path)
    except (FileNotFoundError, PermissionError) as exc:
        raise _explain(url, exc) from exc
    if info.get("type") != "file":
        raise SourceMissing(f"{url}: not an object (a prefix?)")
    extract = RemoteExtract(url=url, name=path.name, size=int(info.get("size") or 0), version=_version(info))
    received = Path(data_dir) / "received"
    cached = received / extract.key[:12] / extract.name
    if cached.is_file() and cached.stat().st_size == extract.size:
        return cached  # this very version was fetched before
    received.mkdir(parents=True, exist_ok=True)
    part = received / f".{extract.key}.{os.getpid()}.fetch.part"
    try:
        written = _copy_to(path, part)
        if written != extract.size:
            raise SourceError(f"{url}: read {written} bytes of {extract.size}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, cached)
    except (FileNotFoundError, PermissionError) as exc:
        raise _explain(url, exc) from exc
    finally:
        part.unlink(missing_ok=True)
    return cached
