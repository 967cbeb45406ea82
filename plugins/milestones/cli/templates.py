"""Templates: preview (the gallery), proof (one test email), approve."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from milestones.cli.common import (
    EXIT_OK,
    UserError,
    emit,
    settings_of,
)


def cmd_preview(args: argparse.Namespace) -> int:
    from milestones.core.brand import brand_of
    from milestones.render.preview import write_gallery

    settings = settings_of(args)
    emit(write_gallery(settings.templates_dir, args.out, settings.default_locale, brand=brand_of(settings)))
    return EXIT_OK


def cmd_proof(args: argparse.Namespace) -> int:
    """Send one proof through the configured transport; no ledger entry, no customer send."""
    from milestones import pipeline
    from milestones.core.brand import brand_of
    from milestones.core.logsafe import mask_email
    from milestones.render.catalog import CatalogError, load_catalog
    from milestones.render.preview import proof_message
    from milestones.render.rendering import RenderError

    settings = settings_of(args)
    transport = pipeline.make_transport(settings)
    real = transport.name == "sendgrid"
    if real:  # a proof in a marketer's inbox deserves real images too
        from milestones.render.placeholders import PlaceholderLinks, check_real_send

        try:
            check_real_send(settings)
        except PlaceholderLinks as exc:
            raise UserError(str(exc)) from None
    try:
        message = proof_message(settings.templates_dir, args.template, args.locale, args.to,
                                variant=args.variant, default_locale=settings.default_locale,
                                assets_url=settings.assets_base if real else None,
                                link_base=settings.public_base if real else None, brand=brand_of(settings))
        status = load_catalog(settings.templates_dir).status(args.template)
    except (CatalogError, RenderError) as exc:
        raise UserError(str(exc)) from None
    if message["missing_translation"]:
        print(f"milestones: note: {args.template} has no {args.locale!r} translation; "
              f"the proof uses the fallback locale {message['locale']!r}", file=sys.stderr)
    outcome = transport.send(message)
    emit({"proof": message["key"], "to": mask_email(message["email"]), "transport": transport.name,
           "state": outcome.state, "error": outcome.error, "locale": message["locale"],
           "requested_locale": args.locale,
           "missing_translation": message["missing_translation"], "approved": status.approved,
           "subject": message["subject"]})
    return EXIT_OK if outcome.state == "accepted" else 1


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve templates (or one A/B variant); refused, naming why, when one fails to render or lint."""
    from milestones.render.catalog import CatalogError, load_catalog
    from milestones.render.templatecheck import approve

    settings = settings_of(args)
    try:
        catalog = load_catalog(settings.templates_dir)
        names = list(catalog.templates) if args.all else args.names
        if not names:
            raise UserError("approve: name a template (or --all)")
        if args.variant and len(names) != 1:
            raise UserError("approve: --variant needs exactly one template")
        approvals = {name: approve(settings.templates_dir, name, args.by, variant=args.variant,
                                   default_locale=settings.default_locale, note=args.note) for name in names}
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    emit({name + (f"/{args.variant}" if args.variant else ""): {"hash": a.hash, "by": a.by, "at": a.at}
           for name, a in approvals.items()})
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("preview", cmd_preview, "render every template x locale for sample customers into a static gallery")
    p.add_argument("--out", default=Path("gallery"), type=Path, help="gallery directory (default ./gallery)")

    p = add("proof", cmd_proof, "send one test email of a template (marked as a proof, never in the ledger)")
    p.add_argument("--template", required=True, help="template name from templates/catalog.yaml")
    p.add_argument("--locale", required=True, help="e.g. en, fi, et, zh-CN")
    p.add_argument("--to", required=True, help="address that receives the proof")
    p.add_argument("--variant", help="sample variant, e.g. regular or milestone-50 (default: the last)")
    p.add_argument("--data-dir", type=Path, help="data directory (the outbox lives there)")

    p = add("approve", cmd_approve, "record that PERSON approved the current content of templates")
    p.add_argument("names", nargs="*", metavar="NAME", help="template name(s) from templates/catalog.yaml")
    p.add_argument("--all", action="store_true", help="approve every template in the catalog")
    p.add_argument("--by", required=True, help="who approves (recorded with the content hash and time)")
    p.add_argument("--variant", help="approve this A/B variant of the template (default: the base template)")
    p.add_argument("--note", default="", help="what changed and why (kept in the template's history)")

