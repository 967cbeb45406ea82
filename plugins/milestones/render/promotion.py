"""A/B decisions: promote a winning variant to the base template, retire a losing one.

Both are recorded in the template's history (:mod:`milestones.render.history`) and can be
undone: a promotion by rolling the base back to the version kept before it (then approving
it), a retirement by listing the variant in the catalog again (its files stay in place).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from milestones.render import history
from milestones.render.catalog import CatalogError, load_catalog


def _keep_current_base(templates_dir: Path, name: str) -> None:
    """Keep the base as approved now, so that a promotion can be rolled back (also for a template
    approved before the history existed: its approval is logged as it was, by whom and when)."""
    catalog = load_catalog(templates_dir)
    status = catalog.status(name)
    if status.approved and history.kept(templates_dir, name, status.current_hash) is None:
        history.record_approval(templates_dir, name, status.approval,
                                note="kept before an A/B promotion (approved before the history started)")


def promote(templates_dir: Path | str, name: str, variant: str, by: str, *, note: str = "",
            default_locale: str = "en"):
    """Make A/B ``variant``'s files the base template's, approved by ``by`` (it must be approved now)."""
    from milestones.render.templatecheck import problems

    templates_dir = Path(templates_dir)
    if not by.strip():
        raise CatalogError("promote: name the person")
    catalog = load_catalog(templates_dir)
    entry = catalog.entry(name)
    entry.variant(variant)
    if not catalog.status(name, variant).approved:
        raise CatalogError(f"variant {name}/{variant} is not approved in its current form: approve it first")
    _keep_current_base(templates_dir, name)
    mine = templates_dir / name / "variants" / variant
    for path in sorted(p for p in mine.rglob("*") if p.is_file()):
        dest = templates_dir / name / path.relative_to(mine)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    found = problems(templates_dir, name, None, default_locale)
    if found:  # cannot happen for an approved variant, unless the shared layout changed meanwhile
        raise CatalogError(f"{name} with variant {variant} as its base cannot be approved: " + "; ".join(found))
    catalog = load_catalog(templates_dir)
    del catalog.entry(name).variants[variant]
    catalog.save()
    approval = catalog.approve(name, by)
    return history.record_approval(templates_dir, name, approval, note=note or f"A/B variant {variant} promoted",
                                   action="promote", detail=variant)


def retire(templates_dir: Path | str, name: str, variant: str, by: str, *, note: str = "") -> history.Entry:
    """Stop sending A/B ``variant`` (taken out of the catalog; its files stay, kept in the history too)."""
    templates_dir = Path(templates_dir)
    if not by.strip():
        raise CatalogError("retire: name the person")
    catalog = load_catalog(templates_dir)
    entry = catalog.entry(name)
    gone = entry.variant(variant)
    status = catalog.status(name, variant)
    history.keep(templates_dir, name, status.current_hash)
    del entry.variants[variant]
    catalog.save()
    return history._append(templates_dir, history.Entry(
        "retire", name, status.current_hash, by.strip(), history._now(), variant,
        note.strip() or f"A/B variant {variant} retired (share {gone.share:.0%})", {}, variant))
