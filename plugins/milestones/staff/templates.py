"""A template's page for marketing: what changed since the last approval, its history, and actions.

``/templates/<name>/`` shows, for the base template and each A/B variant: whether its
current content is approved, what changed since the last approved version (subject,
preheader and body text per language, rendered for a sample customer), and every
approved version (content hash, who, when, note). Approvers (the auth manager's answer,
:func:`milestones.staff.access.may_approve`) also see the forms: approve with a note, roll
back to an approved version (which then needs an approval itself), promote or retire an
A/B variant. Everyone else sees no form, and a POST from them is refused with 403.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from milestones.core.config import load_settings

router = APIRouter(prefix="/templates")

CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top}pre{white-space:pre-wrap;margin:0;font:inherit;max-width:900px}
del{background:#ffe1e1;color:#8a1c1c}ins{background:#dcf5dc;color:#14532d;text-decoration:underline}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}.muted{color:#666}
form{display:inline-block;margin:.3em 0}details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
section.arm{border-top:1px solid #ddd;margin-top:1.2em}input[type=text]{width:24em}"""


def page(title: str, body: str) -> str:
    e = html.escape
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f'<body><p><a href="../../gallery/">All templates</a></p>{body}</body></html>')


def _form(action: str, fields: dict[str, str], label: str, note: bool = True) -> str:
    e = html.escape
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in fields.items())
    text = ('<label>Note <input type="text" name="note" placeholder="what changed, why"></label> '
            if note else "")
    return f'<form method="post" action="{e(action)}" class="{e(action)}">{hidden}{text}<button type="submit">' \
           f"{e(label)}</button></form>"


def _arm(settings, name: str, arm: str, approver: bool) -> str:
    from milestones.render import changes, history
    from milestones.render.catalog import load_catalog

    e = html.escape
    catalog = load_catalog(settings.templates_dir)
    status = catalog.status(name, arm)
    entry = catalog.entry(name)
    title = "Base template" if arm == "base" else f"A/B variant {arm} ({entry.variants[arm].share:.0%} of customers)"
    if status.approved:
        state = (f'<p class="ok" id="state-{e(arm)}">Approved: this is what customers get (approved by '
                 f"{e(status.approval.by)} at {e(status.approval.at)}).</p>")
    else:
        why = "never approved" if status.approval is None else "changed since the last approval"
        state = (f'<p class="bad" id="state-{e(arm)}">Not approved ({why}): customers get no {e(name)} email '
                 f"{'of this variant ' if arm != 'base' else ''}until it is approved.</p>")
    base, found = changes.compare(settings.templates_dir, name, arm)
    against = (f"the version approved by {e(base.by)} at {e(base.at)}" if base else "the last approval")
    diff = changes.to_html(found)
    actions = ""
    if approver and not status.approved:
        actions += _form("approve", {"variant": arm}, "Approve this version")
    if approver and arm != "base":
        if status.approved:
            actions += _form("promote", {"variant": arm}, f"Promote variant {arm} to the base template")
        actions += _form("retire", {"variant": arm}, f"Retire variant {arm} (stop sending it)")
    rows = []
    for a in history.approvals(settings.templates_dir, name, arm):
        current = a.hash == status.current_hash
        roll = ""
        if approver and not current and history.kept(settings.templates_dir, name, a.hash):
            roll = _form("rollback", {"variant": arm, "to": a.hash}, "Roll back to this version", note=False)
        kind = "promoted from variant " + a.detail if a.action == "promote" else "approved"
        rows.append(f"<tr><td><code>{e(history.short(a.hash))}</code>{' (current)' if current else ''}</td>"
                    f"<td>{e(kind)}</td><td>{e(a.by)}</td><td>{e(a.at)}</td><td>{e(a.note)}</td><td>{roll}</td></tr>")
    if status.approval and not any(status.approval.hash == a.hash for a in
                                   history.approvals(settings.templates_dir, name, arm)):
        rows.append(f"<tr><td><code>{e(history.short(status.approval.hash))}</code></td><td>approved</td>"
                    f"<td>{e(status.approval.by)}</td><td>{e(status.approval.at)}</td>"
                    f'<td class="muted">approved before the history started: no copy kept</td><td></td></tr>')
    versions = ("<table><thead><tr><th>Version</th><th>What</th><th>Who</th><th>When (UTC)</th><th>Note</th>"
                f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows
                else "<p>No approved version yet.</p>")
    return (f'<section class="arm" id="arm-{e(arm)}"><h2>{e(title)}</h2>{state}{actions}'
            f"<h3>What changed since {against}</h3>{diff}<h3>Approved versions</h3>{versions}</section>")


def _events(settings, name: str) -> str:
    from milestones.render import history

    e = html.escape
    rows = [f"<tr><td>{e(x.at)}</td><td>{e(x.action)}{(' ' + e(x.variant)) if x.variant != 'base' else ''}</td>"
            f"<td>{e(x.by)}</td><td><code>{e(history.short(x.hash))}</code></td><td>{e(x.note)}</td></tr>"
            for x in reversed(history.entries(settings.templates_dir, name))]
    if not rows:
        return ""
    return ("<details><summary>Everything done to this template</summary><table><thead><tr><th>When (UTC)</th>"
            "<th>Action</th><th>Who</th><th>Version</th><th>Note</th></tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table></details>")


def template_page(name: str, request: Request, message: str = "") -> str:
    from milestones.render.catalog import CatalogError, load_catalog
    from milestones.render.history import keep_approved
    from milestones.staff.access import may_approve, staff_name

    settings = load_settings()
    keep_approved(settings.templates_dir)
    try:
        entry = load_catalog(settings.templates_dir).entry(name)
    except CatalogError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    e = html.escape
    approver = may_approve(request)
    who = (f"You are logged in as {e(staff_name(request))}: "
           + ("you may approve, roll back, promote and retire." if approver
              else "you can read everything here; approving needs the approver role."))
    arms = "".join(_arm(settings, name, arm, approver) for arm in ["base", *entry.variants])
    shown = f'<p id="result" class="ok">{e(message)}</p>' if message else ""
    return page(f"{name} template", f"<h1>{e(name)}</h1>{shown}<p class=\"muted\">{who}</p>"
                                    f"<p>{e(entry.description)} Owner: {e(entry.owner)}.</p>{arms}"
                                    f"{_events(settings, name)}")


@router.get("/{name}/", response_class=HTMLResponse)
def show(name: str, request: Request) -> str:
    return template_page(name, request)


async def _act(request: Request, name: str, do) -> HTMLResponse:
    from milestones.render.catalog import CatalogError
    from milestones.staff.access import require_approver, staff_name

    refused = require_approver(request)
    if refused:
        return HTMLResponse(page("Refused", f'<h1>Refused</h1><p id="result">{html.escape(refused)}</p>'), 403)
    form: dict[str, Any] = dict(await request.form())
    settings = load_settings()
    try:
        message = do(settings, staff_name(request), {k: str(v) for k, v in form.items()})
    except CatalogError as exc:
        return HTMLResponse(page("Not done", f'<h1>Not done</h1><p id="result" class="bad">{html.escape(str(exc))}</p>'
                                             f'<p><a href="./">Back to {html.escape(name)}</a></p>'), 409)
    return HTMLResponse(template_page(name, request, message))


@router.post("/{name}/approve", response_class=HTMLResponse)
async def approve(name: str, request: Request) -> HTMLResponse:
    from milestones.render.templatecheck import approve as approve_checked

    def do(settings, by, form):
        variant = form.get("variant") or "base"
        a = approve_checked(settings.templates_dir, name, by, variant=variant, note=form.get("note", ""),
                            default_locale=settings.default_locale)
        return f"{name}{'' if variant == 'base' else ' variant ' + variant} approved by {a.by} at {a.at}."

    return await _act(request, name, do)


@router.post("/{name}/rollback", response_class=HTMLResponse)
async def rollback(name: str, request: Request) -> HTMLResponse:
    from milestones.render import history

    def do(settings, by, form):
        entry = history.rollback(settings.templates_dir, name, form.get("to", ""), by,
                                 variant=form.get("variant") or "base", note=form.get("note", ""))
        return (f"{name} rolled back to version {history.short(entry.detail)} by {by}: it needs an approval "
                f"before it is sent.")

    return await _act(request, name, do)


@router.post("/{name}/promote", response_class=HTMLResponse)
async def promote(name: str, request: Request) -> HTMLResponse:
    from milestones.render import promotion

    def do(settings, by, form):
        entry = promotion.promote(settings.templates_dir, name, form.get("variant", ""), by,
                                  note=form.get("note", ""), default_locale=settings.default_locale)
        return f"A/B variant {entry.detail} is now the base of {name} (approved by {by})."

    return await _act(request, name, do)


@router.post("/{name}/retire", response_class=HTMLResponse)
async def retire(name: str, request: Request) -> HTMLResponse:
    from milestones.render import promotion

    def do(settings, by, form):
        entry = promotion.retire(settings.templates_dir, name, form.get("variant", ""), by, note=form.get("note", ""))
        return f"A/B variant {entry.variant} of {name} retired by {by}: it is no longer sent."

    return await _act(request, name, do)
