"""The template catalog: which templates exist, who owns them, which content is approved.

``templates/catalog.yaml`` lists each template (one per event type) with its
locales, its owner and its approval: the content hash that was approved, by
whom and when.  A template may be sent to customers only while the hash of its
current files equals the approved hash; any edit (a word in one locale, the
shared layout) makes it unapproved until someone runs ``milestones approve``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATALOG_FILE = "catalog.yaml"
#: Folders under the templates directory that are shared by every template.
SHARED_DIRS = ("layouts",)
NOT_APPROVED = "template_not_approved"
#: The base template, as an A/B arm (``milestones.render.variants.BASE``).
BASE = "base"
VARIANT_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"

_HEADER = """\
# Email template catalog (owned by marketing; see README "Templates (for marketing)").
# Each template is sent to customers only while its files hash to `approved.hash`.
# Record an approval with:  milestones approve <name> --by "<your name>"
"""


class CatalogError(Exception):
    """The catalog file is missing, malformed, or names an unknown template."""


@dataclass
class Approval:
    hash: str
    by: str
    at: str


@dataclass
class Variant:
    """An A/B variant of a template: its files in ``<template>/variants/<name>/``, its share, its approval."""

    name: str
    share: float
    description: str = ""
    approved: Approval | None = None


@dataclass
class TemplateEntry:
    name: str
    event_type: str
    locales: list[str]
    owner: str
    description: str = ""
    approved: Approval | None = None
    #: A/B variants (``milestones.render.variants``); customers outside them get the base template.
    variants: dict[str, Variant] = field(default_factory=dict)
    #: The email's main action (its button): an https URL, or a path on the brand's website
    #: (``/offers/birthday``); empty: no button.
    action: str = ""

    def approval_of(self, variant: str | None) -> Approval | None:
        return self.variant(variant).approved if variant and variant != BASE else self.approved

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            known = ", ".join([BASE, *self.variants])
            raise CatalogError(f"template {self.name!r} has no variant {name!r} (known: {known})") from None


@dataclass
class Catalog:
    path: Path
    default_locale: str = "en"
    #: Base URL of the hosted images the emails show (https).
    assets_url: str = ""
    templates: dict[str, TemplateEntry] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def entry(self, name: str) -> TemplateEntry:
        try:
            return self.templates[name]
        except KeyError:
            raise CatalogError(f"no template {name!r} in {self.path} (known: {', '.join(sorted(self.templates))})") from None

    def for_event(self, event_type: str) -> TemplateEntry | None:
        """The template that serves ``event_type`` (None when the catalog has none)."""
        for entry in self.templates.values():
            if entry.event_type == event_type:
                return entry
        return None

    def status(self, name: str, variant: str | None = None) -> ApprovalStatus:
        """Whether template ``name``'s (or its A/B ``variant``'s) current files are the approved ones."""
        entry = self.entry(name)
        if variant and variant != BASE:
            entry.variant(variant)
            label = f"{name}/{variant}"
        else:
            variant, label = None, name
        return ApprovalStatus(label, content_hash(self.root, name, variant), entry.approval_of(variant))

    def approve(self, name: str, by: str, at: dt.datetime | None = None, variant: str | None = None) -> Approval:
        """Record that ``by`` approved the current content of ``name`` (or of its ``variant``); saves the file."""
        if not by.strip():
            raise CatalogError("approve: --by must name a person")
        entry = self.entry(name)
        variant = None if variant in (None, "", BASE) else variant
        at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        approval = Approval(content_hash(self.root, name, variant), by.strip(), at.isoformat().replace("+00:00", "Z"))
        if variant:
            entry.variant(variant).approved = approval
        else:
            entry.approved = approval
        self.save()
        return approval

    def save(self) -> None:
        import yaml

        data = {
            "default_locale": self.default_locale,
            "assets_url": self.assets_url,
            "templates": {
                e.name: {
                    "event_type": e.event_type,
                    "description": e.description,
                    "owner": e.owner,
                    "locales": list(e.locales),
                    **({"action": e.action} if e.action else {}),
                    "approved": _approval_data(e.approved),
                    **({"variants": {v.name: {"share": v.share, "description": v.description,
                                              "approved": _approval_data(v.approved)}
                                     for v in e.variants.values()}} if e.variants else {}),
                }
                for e in self.templates.values()
            },
        }
        text = _HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)


def _approval_data(approval: Approval | None) -> dict[str, str] | None:
    return None if approval is None else {"hash": approval.hash, "by": approval.by, "at": approval.at}


@dataclass(frozen=True)
class ApprovalStatus:
    name: str
    current_hash: str
    approval: Approval | None

    @property
    def approved(self) -> bool:
        return self.approval is not None and self.approval.hash == self.current_hash

    def message(self) -> str:
        """One line for the run summary and the gallery."""
        if self.approved:
            return f"template {self.name!r} approved by {self.approval.by} at {self.approval.at}"
        if self.approval is None:
            why = "has never been approved"
        else:
            why = (f"changed since {self.approval.by} approved it at {self.approval.at} "
                   f"(approved {self.approval.hash[:19]}, now {self.current_hash[:19]})")
        template, _, variant = self.name.partition("/")
        command = f"milestones approve {template}" + (f" --variant {variant}" if variant else "")
        return (f"template {self.name!r} {why}: its emails are not sent; review it with "
                f"`milestones preview` (or the gallery in the Airflow UI) and run `{command} --by NAME`")


def template_files(templates_dir: Path, name: str, variant: str | None = None) -> list[Path]:
    """Every file whose content a customer can see in template ``name``'s emails (of A/B ``variant``).

    The base template's files exclude ``variants/``; a variant's are the base's plus its own.
    """
    root = Path(templates_dir)
    own = root / name
    if not own.is_dir():
        raise CatalogError(f"template {name!r}: no folder {own}")
    files = sorted(p for p in own.rglob("*") if p.is_file() and p.relative_to(own).parts[0] != "variants")
    if variant:
        mine = own / "variants" / variant
        if not mine.is_dir():
            raise CatalogError(f"template {name!r}: no folder {mine} for variant {variant!r}")
        files += sorted(p for p in mine.rglob("*") if p.is_file())
    for shared in SHARED_DIRS:
        files += sorted(p for p in (root / shared).rglob("*") if p.is_file())
    return files


def content_hash(templates_dir: Path, name: str, variant: str | None = None) -> str:
    """``sha256:<hex>`` over the template's own files and the shared layouts (names and bytes)."""
    root = Path(templates_dir)
    digest = hashlib.sha256()
    for path in template_files(root, name, variant):
        # Relative name first, with a separator, so moving bytes between files changes the hash.
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return "sha256:" + digest.hexdigest()


def load_catalog(templates_dir: Path | str) -> Catalog:
    """Read ``<templates_dir>/catalog.yaml``; raises :class:`CatalogError` with the reason."""
    import yaml

    from milestones.core.yamlload import safe_load

    path = Path(templates_dir) / CATALOG_FILE
    try:
        raw = safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise CatalogError(f"template catalog not found: {path}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("templates"), dict):
        raise CatalogError(f"{path}: expected a mapping with a 'templates' mapping")
    catalog = Catalog(path=path, default_locale=str(raw.get("default_locale") or "en"),
                      assets_url=str(raw.get("assets_url") or ""))
    for name, item in raw["templates"].items():
        catalog.templates[str(name)] = _entry(path, str(name), item)
    return catalog


def _entry(path: Path, name: str, item: Any) -> TemplateEntry:
    if not isinstance(item, dict):
        raise CatalogError(f"{path}: template {name!r} must be a mapping")
    missing = [k for k in ("event_type", "locales", "owner") if not item.get(k)]
    if missing:
        raise CatalogError(f"{path}: template {name!r} lacks {', '.join(missing)}")
    approved = _approval(path, name, item.get("approved"))
    action = str(item.get("action") or "").strip()
    if action and not (action.startswith("https://") or (action.startswith("/") and not action.startswith("//"))):
        raise CatalogError(f"{path}: template {name!r}: 'action' is an https:// URL or a path on the brand's "
                           "website starting with /")
    return TemplateEntry(name=name, event_type=str(item["event_type"]), locales=[str(x) for x in item["locales"]],
                         owner=str(item["owner"]), description=str(item.get("description") or ""),
                         approved=approved, variants=_variants(path, name, item.get("variants")), action=action)


def _approval(path: Path, label: str, approved: Any) -> Approval | None:
    if approved is None:
        return None
    if not isinstance(approved, dict) or not all(approved.get(k) for k in ("hash", "by", "at")):
        raise CatalogError(f"{path}: template {label!r}: 'approved' needs hash, by and at")
    return Approval(str(approved["hash"]), str(approved["by"]), str(approved["at"]))


def _variants(path: Path, name: str, raw: Any) -> dict[str, Variant]:
    """The A/B variants of template ``name``: names, shares (0 < share, sum <= 1), approvals."""
    import re

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: template {name!r}: 'variants' must be a mapping of name -> share")
    out = {}
    for key, item in raw.items():
        label = f"{name}/{key}"
        if not re.match(VARIANT_NAME, str(key)) or key == BASE:
            raise CatalogError(f"{path}: template {label!r}: a variant name is lower-case letters, digits, - or _ "
                               f"(and not {BASE!r})")
        item = item if isinstance(item, dict) else {}
        try:
            share = float(item.get("share"))
        except (TypeError, ValueError):
            share = -1.0
        if not 0 < share <= 1:
            raise CatalogError(f"{path}: template {label!r}: 'share' must be a number above 0 and at most 1")
        out[str(key)] = Variant(str(key), share, str(item.get("description") or ""),
                                _approval(path, label, item.get("approved")))
    if sum(v.share for v in out.values()) > 1 + 1e-9:
        raise CatalogError(f"{path}: template {name!r}: the variants' shares add up to more than 1")
    return out


def approval_gate(templates_dir: Path | str):
    """``gate(event_type, variant)`` -> None when its emails may be sent, else the reason (one line).

    Hashes are computed once per event type per gate, so build one gate per batch:
    an approval or an edit between batches is seen by the next one.
    """
    try:
        catalog = load_catalog(templates_dir)
    except CatalogError as exc:
        failure = f"{exc}: no template is approved, nothing is sent"
        return lambda event_type, variant=BASE: failure
    reasons: dict[tuple[str, str], str | None] = {}

    def gate(event_type: str, variant: str = BASE) -> str | None:
        key = (event_type, variant or BASE)
        if key not in reasons:
            entry = catalog.for_event(event_type)
            if entry is None:
                reasons[key] = f"no template for event {event_type!r} in {catalog.path}"
            else:
                try:
                    status = catalog.status(entry.name, variant)
                    reasons[key] = None if status.approved else status.message()
                except CatalogError as exc:
                    reasons[key] = str(exc)
        return reasons[key]

    return gate
