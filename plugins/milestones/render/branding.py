"""What the brand adds to every email: its colours, the layout's words, tagged links.

* :func:`recolour` puts the brand's colours in place of the layout's own (done once,
  when a template's source is loaded: nothing per email).
* :func:`words` are the shared layout's words (``templates/layouts/words.yaml``) in a language.
* :func:`tag` adds the UTM parameters to a link (every link but preferences and
  unsubscribe): ``utm_source`` (the brand's), ``utm_medium=email``, ``utm_campaign`` (the
  event type), ``utm_content`` (the A/B variant). An existing query string and fragment
  are kept; a UTM parameter the link already had is replaced. Nothing about the customer
  is ever added to a URL.
* :func:`links` are the footer's links: website, privacy, help, contact (then the email's view link).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from milestones.core.brand import DEFAULT_COLOURS, Brand

WORDS_FILE = "layouts/words.yaml"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
#: The footer's links in order (brand attribute, word key); the email's view link comes last.
FOOTER_LINKS = (("website", "website"), ("privacy_url", "privacy"), ("help_url", "help"),
                ("contact_url", "contact"))


def recolour(source: str, brand: Brand | None) -> str:
    """``source`` with the layout's colours replaced by the brand's (case-insensitive hex)."""
    if brand is None:
        return source
    for key, default in DEFAULT_COLOURS.items():
        wanted = brand.colours.get(key, default)
        if wanted.lower() != default.lower():
            source = source.replace(default, wanted).replace(default.upper(), wanted)
    return source


@lru_cache(maxsize=16)
def _words_file(path: str, mtime: float) -> dict[str, dict[str, str]]:
    from milestones.core.yamlload import safe_load

    with open(path, encoding="utf-8") as fh:
        data = safe_load(fh) or {}
    if not isinstance(data, dict) or "en" not in data:
        raise ValueError(f"{path}: expected a mapping of languages (en first) to words")
    return data


def words(templates_dir: Path | str, language: str) -> dict[str, str]:
    """The layout's words in ``language`` (``fi-FI`` -> ``fi``), English for any word it lacks."""
    path = Path(templates_dir) / WORDS_FILE
    try:
        data = _words_file(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        data = {"en": {}}
    lang = language.replace("_", "-").split("-")[0].lower()
    return {**data.get("en", {}), **data.get(lang, {})}


def tag(url: str, *, source: str, campaign: str, content: str) -> str:
    """``url`` with the UTM parameters (see the module's doc); "" stays ""."""
    if not url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in UTM_KEYS]
    query += [("utm_source", source), ("utm_medium", "email"), ("utm_campaign", campaign),
              ("utm_content", content or "base")]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def action_url(action: str, brand: Brand) -> str:
    """A catalog ``action``: an https URL as it is, a path (``/offers/birthday``) on the brand's
    website; "" when there is none (or a path and no website: the email then has no button)."""
    if not action:
        return ""
    if action.startswith("https://"):
        return action
    if action.startswith("/") and brand.website:
        return urljoin(brand.website.rstrip("/") + "/", action.lstrip("/"))
    return ""


def links(brand: Brand, said: dict[str, str], *, campaign: str, content: str) -> list[tuple[str, str]]:
    """The footer's ``(tagged href, label)`` pairs for the links the brand has."""
    out = []
    for attr, word in FOOTER_LINKS:
        href = getattr(brand, attr)
        if href:
            out.append((tag(href, source=brand.utm_source, campaign=campaign, content=content), said[word]))
    return out


def context(brand: Brand, templates_dir: Path | str, chosen: str, assets_url: str, *, event_type: str,
            variant: str, action: str) -> dict[str, Any]:
    """The brand's part of an email's template context."""
    said = words(templates_dir, chosen)
    content = variant or "base"
    target = action_url(action, brand)
    return {
        "brand": brand.view(chosen, assets_url),
        "words": said,
        "action_url": tag(target, source=brand.utm_source, campaign=event_type, content=content) if target else "",
        "footer_links": links(brand, said, campaign=event_type, content=content),
    }
