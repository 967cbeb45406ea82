"""Template history: every approved version kept, who approved it when and why, and the way back.

Each approval (``milestones approve``, the gallery's Approve button) keeps a copy of what
was approved under ``<templates>/history/<template>/<version>/`` (the template's own
folder, its A/B variants included, and the shared layouts) and appends one line to
``<templates>/history/<template>/log.jsonl``: the action, the content hash, the A/B
variant, who, when, the note, and the ledger's version of each locale (the 16-character
``template_version`` every email row carries), so ``milestones why`` and the results can
name the approval behind an email.

A rollback copies an approved version's files back over the template's own files (the
base's, or one variant's). It is never an approval: unless the restored content is the
one currently approved, the template's emails wait until an approver approves it again.
Promoting a winning A/B variant and retiring a losing one are recorded here as well.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from milestones.render.catalog import BASE, SHARED_DIRS, CatalogError, content_hash, load_catalog

HISTORY_DIR = "history"
LOG = "log.jsonl"


@dataclass
class Entry:
    """One line of a template's history."""

    action: str  # approve | rollback | promote | retire | replaced
    template: str
    hash: str
    by: str
    at: str
    variant: str = BASE
    note: str = ""
    #: The ledger's ``template_version`` per locale of this content.
    versions: dict[str, str] = field(default_factory=dict)
    #: rollback: the hash rolled back to; promote/retire: the variant concerned.
    detail: str = ""

    @property
    def version(self) -> str:
        """The folder name of the kept files (the hash's first 16 hex digits)."""
        return version_of(self.hash)


def version_of(content: str) -> str:
    return content.split(":", 1)[-1][:16]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def root(templates_dir: Path | str, template: str) -> Path:
    return Path(templates_dir) / HISTORY_DIR / template


def ledger_versions(templates_dir: Path | str, template: str) -> dict[str, str]:
    """The ``template_version`` the ledger records for each locale of ``template``'s current files."""
    from milestones.render.rendering import template_version

    catalog = load_catalog(templates_dir)
    entry = catalog.entry(template)
    out = {}
    for locale in entry.locales:
        try:  # the uncached function: files may have changed since this process last hashed them
            out[locale] = template_version.__wrapped__(str(templates_dir), entry.event_type, locale)
        except OSError:
            continue
    return out


def entries(templates_dir: Path | str, template: str) -> list[Entry]:
    """The template's history, oldest first."""
    log = root(templates_dir, template) / LOG
    if not log.is_file():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(Entry(**json.loads(line)))
    return out


def approvals(templates_dir: Path | str, template: str, variant: str = BASE) -> list[Entry]:
    """Every approved version of ``template`` (or of its A/B ``variant``), newest first."""
    return [e for e in reversed(entries(templates_dir, template))
            if e.action in ("approve", "promote") and e.variant == (variant or BASE)]


def _append(templates_dir: Path | str, entry: Entry) -> Entry:
    folder = root(templates_dir, entry.template)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(entry), ensure_ascii=False, sort_keys=True) + "\n")
    return entry


def keep(templates_dir: Path | str, template: str, content: str) -> Path:
    """Copy the template's folder and the shared layouts to ``history/<template>/<version>/``."""
    src = Path(templates_dir)
    target = root(src, template) / version_of(content)
    if target.is_dir():
        return target
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src / template, tmp / template)
    for shared in SHARED_DIRS:
        if (src / shared).is_dir():
            shutil.copytree(src / shared, tmp / shared)
    shutil.copy2(src / "catalog.yaml", tmp / "catalog.yaml")
    tmp.replace(target)
    return target


def kept(templates_dir: Path | str, template: str, content: str) -> Path | None:
    """The folder of a kept version (None when its files were not kept: approved before the history)."""
    folder = root(templates_dir, template) / version_of(content)
    return folder if folder.is_dir() else None


def record_approval(templates_dir: Path | str, template: str, approval, *, variant: str | None = None,
                    note: str = "", action: str = "approve", detail: str = "") -> Entry:
    """Keep the approved files and log the approval (called right after the catalog recorded it)."""
    keep(templates_dir, template, approval.hash)
    return _append(templates_dir, Entry(action, template, approval.hash, approval.by, approval.at,
                                        variant or BASE, note.strip(), ledger_versions(templates_dir, template),
                                        detail))


def keep_approved(templates_dir: Path | str) -> int:
    """Keep every template and A/B variant whose current files are the approved ones but have no
    copy yet (approved before the history, or with ``milestones approve`` of an older version), so
    that the next edit can be compared with them and rolled back. Called whenever the UI builds the
    gallery or shows a template; a read-only templates folder keeps nothing."""
    try:
        catalog = load_catalog(templates_dir)
    except CatalogError:
        return 0
    count = 0
    for entry in catalog.templates.values():
        for arm in [BASE, *entry.variants]:
            try:
                status = catalog.status(entry.name, arm)
                if status.approved and kept(templates_dir, entry.name, status.current_hash) is None:
                    record_approval(templates_dir, entry.name, status.approval, variant=arm,
                                    note="kept as approved when first seen by the history")
                    count += 1
            except (CatalogError, OSError):
                continue
    return count


def _own_files(folder: Path, variant: str) -> list[Path]:
    """A template folder's own files of the base (variants/ excluded) or of one variant."""
    if variant and variant != BASE:
        mine = folder / "variants" / variant
        return sorted(p for p in mine.rglob("*") if p.is_file()) if mine.is_dir() else []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).parts[0] != "variants")


def rollback(templates_dir: Path | str, template: str, to: str, by: str, *, variant: str = BASE,
             note: str = "") -> Entry:
    """Restore the approved version whose hash starts with ``to`` (base or one ``variant``); logged.

    Needs an approval afterwards unless the restored content is the one approved now.
    """
    if not by.strip():
        raise CatalogError("rollback: name the person")
    variant = variant or BASE
    target = next((e for e in approvals(templates_dir, template, variant)
                   if e.hash == to or e.hash.split(":", 1)[-1].startswith(to.split(":", 1)[-1])), None)
    folder = kept(templates_dir, template, target.hash) if target else None
    if target is None or folder is None:
        raise CatalogError(f"template {template!r}: no kept approved version {to!r} to roll back to")
    live = Path(templates_dir) / template
    before = content_hash(templates_dir, template, None if variant == BASE else variant)
    keep(templates_dir, template, before)  # the way back from the rollback
    for path in _own_files(live, variant):
        path.unlink()
    for path in _own_files(folder / template, variant):
        dest = live / path.relative_to(folder / template)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    now = content_hash(templates_dir, template, None if variant == BASE else variant)
    return _append(templates_dir, Entry("rollback", template, now, by.strip(), _now(), variant, note.strip(),
                                        ledger_versions(templates_dir, template), target.hash))


def by_ledger_version(templates_dir: Path | str) -> dict[str, Entry]:
    """``{template_version: the approval it came from}`` over every template's history."""
    out: dict[str, Entry] = {}
    base = Path(templates_dir) / HISTORY_DIR
    if not base.is_dir():
        return out
    for folder in sorted(base.iterdir()):
        for entry in entries(templates_dir, folder.name):
            if entry.action in ("approve", "promote"):
                for version in entry.versions.values():
                    out[version] = entry  # a later approval of the same content wins
    return out


def short(content: str) -> str:
    """A hash as people read it: its first 12 hex digits."""
    return content.split(":", 1)[-1][:12]


def as_dict(entry: Entry) -> dict[str, Any]:
    return asdict(entry)
