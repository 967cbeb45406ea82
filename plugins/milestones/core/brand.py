"""The brand: whose name, address, logo, colours and links the customer sees.

One YAML file (setting ``brand_file``, env ``MILESTONES_BRAND_FILE``) read and checked
once when it is loaded; every email, the preference center, its error pages, proofs
and the gallery take their sender from it. Errors name the file, the line and the key,
never guess. Without a file the project's own neutral brand is used (name
"Milestones", no postal address): fine for a look at the outbox, not for sending to
customers (the docs say so; docs/guides/brand.md).

Required: ``name`` (what customers read), ``legal_name``, ``postal_address``,
``sending_domain``. Optional: ``logo`` (``src``, ``width``, ``height``: the image holds
twice those pixels), ``colours`` (``primary``, ``primary_dark``, ``background``),
``signoff`` per language, ``website``, ``privacy_url``, ``help_url``, ``contact_url``,
``utm_source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: The languages a sign-off may be given in (those of the emails).
LANGUAGES = ("en", "fi", "et", "zh")
REQUIRED = ("name", "legal_name", "postal_address", "sending_domain")
OPTIONAL = ("logo", "colours", "signoff", "website", "privacy_url", "help_url", "contact_url", "utm_source",
            "example")
URL_KEYS = ("website", "privacy_url", "help_url", "contact_url")
#: The layout's own colours (templates/layouts/base.html): a brand's replace them.
DEFAULT_COLOURS = {"primary": "#2f5d62", "primary_dark": "#9fd6cf", "background": "#f4f1ec"}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: WCAG AA for normal text: white on the primary colour (buttons), the primary colour on white (headings).
MIN_CONTRAST = 4.5


class BrandError(ValueError):
    """The brand file is missing, not YAML, or a key is missing or wrong (the message says which)."""


@dataclass(frozen=True)
class Logo:
    #: An https URL, or a file name under the templates' ``assets/`` (served by the public app).
    src: str
    #: Shown size in CSS pixels; the image itself has twice these (sharp on high-density screens).
    width: int
    height: int


@dataclass(frozen=True)
class Brand:
    name: str
    legal_name: str
    postal_address: str
    sending_domain: str
    logo: Logo | None = None
    colours: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLOURS))
    signoff: dict[str, str] = field(default_factory=dict)
    website: str = ""
    privacy_url: str = ""
    help_url: str = ""
    contact_url: str = ""
    #: ``utm_source`` of every tracked link.
    utm_source: str = "lifecycle-email"
    #: True for a demonstration brand (the bundled fictional bank): the docs and the summary say so.
    example: bool = False
    #: Where it was read from ("" for the built-in one).
    path: str = ""

    def signoff_for(self, language: str) -> str:
        """The team line under each email in ``language`` (``fi-FI`` -> ``fi``), else the brand's name."""
        lang = language.replace("_", "-").split("-")[0].lower()
        return self.signoff.get(lang) or self.signoff.get("en") or self.name

    def logo_url(self, assets_url: str) -> str:
        """The logo's address: its own https URL, or under the emails' image host."""
        if self.logo is None:
            return ""
        if self.logo.src.startswith("https://"):
            return self.logo.src
        return f"{assets_url.rstrip('/')}/{self.logo.src}"

    def view(self, language: str, assets_url: str) -> dict[str, Any]:
        """What a template sees as ``brand`` (plain values only: templates are sandboxed)."""
        return {
            "name": self.name, "legal_name": self.legal_name, "postal_address": self.postal_address,
            "address_lines": [line.strip() for line in self.postal_address.splitlines() if line.strip()],
            "address_line": ", ".join(line.strip() for line in self.postal_address.splitlines() if line.strip()),
            "sending_domain": self.sending_domain, "signoff": self.signoff_for(language),
            "logo": ({"url": self.logo_url(assets_url), "width": self.logo.width, "height": self.logo.height}
                     if self.logo else None),
            "website": self.website, "privacy_url": self.privacy_url, "help_url": self.help_url,
            "contact_url": self.contact_url,
        }


def default_brand(from_email: str = "hello@milestones.example") -> Brand:
    """The project's own brand, used while no brand file is set (never meant for customers)."""
    domain = from_email.rpartition("@")[2] or "milestones.example"
    return Brand(name="Milestones", legal_name="Milestones", postal_address="", sending_domain=domain)


def _line(node, key: str) -> str:
    """``line N`` of ``key``'s value in the YAML node (1-based), or '' when unknown."""
    if node is None or not hasattr(node, "value") or not isinstance(node.value, list):
        return ""
    for k, v in node.value:
        if getattr(k, "value", None) == key:
            return f"line {v.start_mark.line + 1}, "
    return ""


def _https(value: Any, where: str) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise BrandError(f"{where} must be an https:// URL")
    return text


def _colour(value: Any, where: str) -> str:
    text = str(value or "").strip()
    if not _HEX.match(text):
        raise BrandError(f"{where} must be a colour written #rrggbb")
    return text.lower()


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    x, y = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (x + 0.05) / (y + 0.05)


def _logo(raw: Any, where: str, assets_dir: Path | None) -> Logo:
    if not isinstance(raw, dict) or not raw.get("src"):
        raise BrandError(f"{where} needs src (an https URL or a file in templates/assets), width and height")
    src = str(raw["src"]).strip()
    try:
        width, height = int(raw.get("width")), int(raw.get("height"))
    except (TypeError, ValueError):
        raise BrandError(f"{where}: width and height are the shown size in pixels (whole numbers)") from None
    if not (16 <= width <= 600 and 16 <= height <= 200):
        raise BrandError(f"{where}: width must be 16-600 and height 16-200 (shown pixels)")
    if src.startswith("https://"):
        return Logo(src, width, height)
    if "/" in src or "\\" in src or src.startswith(".") or not _SLUG.match(src.lower()):
        raise BrandError(f"{where}: src is an https URL or a plain file name in templates/assets")
    if assets_dir is not None:
        path = assets_dir / src
        if not path.is_file():
            raise BrandError(f"{where}: no file {path}")
        try:
            from PIL import Image

            with Image.open(path) as image:
                pixels = image.size
        except Exception as exc:  # noqa: BLE001 - any unreadable image is the same error for the user
            raise BrandError(f"{where}: {path} is not an image Pillow can read ({type(exc).__name__})") from None
        if pixels[0] < 2 * width or pixels[1] < 2 * height:
            raise BrandError(f"{where}: {path} is {pixels[0]}x{pixels[1]} pixels; shown at {width}x{height} it "
                             f"needs at least {2 * width}x{2 * height} (2x, sharp on phones)")
    return Logo(src, width, height)


def parse_brand(raw: Any, source: str = "brand", *, node=None, assets_dir: Path | None = None) -> Brand:
    """A :class:`Brand` from the file's mapping; :class:`BrandError` names the key (and line) that is wrong."""
    if not isinstance(raw, dict):
        raise BrandError(f"{source}: expected a mapping of brand keys ({', '.join(REQUIRED)}, ...)")

    def where(key: str) -> str:
        return f"{source}: {_line(node, key)}{key}"

    unknown = sorted(set(map(str, raw)) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise BrandError(f"{source}: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(REQUIRED + OPTIONAL)})")
    missing = [k for k in REQUIRED if not str(raw.get(k) or "").strip()]
    if missing:
        raise BrandError(f"{source}: missing required key(s) {', '.join(missing)}")
    values: dict[str, Any] = {k: str(raw[k]).strip() for k in REQUIRED}
    domain = values["sending_domain"].lower()
    if not _DOMAIN.match(domain):
        raise BrandError(f"{where('sending_domain')} must be a domain name such as mail.example.com")
    values["sending_domain"] = domain
    for key in URL_KEYS:
        if raw.get(key) not in (None, ""):
            values[key] = _https(raw[key], where(key))
    colours = dict(DEFAULT_COLOURS)
    if raw.get("colours") is not None:
        if not isinstance(raw["colours"], dict):
            raise BrandError(f"{where('colours')} must be a mapping of {', '.join(DEFAULT_COLOURS)}")
        for key, value in raw["colours"].items():
            if key not in DEFAULT_COLOURS:
                raise BrandError(f"{where('colours')}: unknown colour {key!r} (known: {', '.join(DEFAULT_COLOURS)})")
            colours[key] = _colour(value, f"{where('colours')}.{key}")
    if contrast(colours["primary"], "#ffffff") < MIN_CONTRAST:
        raise BrandError(f"{where('colours')}.primary: white text on it has contrast "
                         f"{contrast(colours['primary'], '#ffffff'):.1f}:1, below {MIN_CONTRAST}:1; choose a darker one")
    if contrast(colours["primary_dark"], "#1f2526") < MIN_CONTRAST:
        raise BrandError(f"{where('colours')}.primary_dark: on the dark card it has contrast "
                         f"{contrast(colours['primary_dark'], '#1f2526'):.1f}:1, below {MIN_CONTRAST}:1; "
                         "choose a lighter one")
    values["colours"] = colours
    signoff = raw.get("signoff") or {}
    if not isinstance(signoff, dict) or any(k not in LANGUAGES for k in signoff):
        raise BrandError(f"{where('signoff')} must map languages ({', '.join(LANGUAGES)}) to a line of text")
    values["signoff"] = {str(k): " ".join(str(v).split()) for k, v in signoff.items() if str(v or "").strip()}
    if raw.get("logo") is not None:
        values["logo"] = _logo(raw["logo"], where("logo"), assets_dir)
    if raw.get("utm_source") not in (None, ""):
        source_tag = str(raw["utm_source"]).strip().lower()
        if not _SLUG.match(source_tag):
            raise BrandError(f"{where('utm_source')} must be lower-case letters, digits, '-', '_' or '.'")
        values["utm_source"] = source_tag
    values["example"] = bool(raw.get("example"))
    return Brand(path=source if source != "brand" else "", **values)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float, assets_dir: str) -> Brand:
    import yaml

    from milestones.core.yamlload import safe_load

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrandError(f"brand file not found: {path} (setting brand_file, MILESTONES_BRAND_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BrandError(f"brand file {path}: cannot be read ({type(exc).__name__})") from None
    try:
        raw = safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BrandError(f"brand file {path}: not valid YAML{at}") from None
    return parse_brand(raw, path, node=node, assets_dir=Path(assets_dir) if assets_dir else None)


def load_brand(path: Path | str | None, *, templates_dir: Path | str | None = None,
               from_email: str = "hello@milestones.example") -> Brand:
    """The brand in ``path`` (checked; a logo file in ``<templates_dir>/assets`` must exist at 2x),
    or the built-in one when ``path`` is empty."""
    if not path:
        return default_brand(from_email)
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        mtime = 0.0
    assets = str(Path(templates_dir) / "assets") if templates_dir else ""
    return _load(str(p), mtime, assets)


def brand_of(settings) -> Brand:
    """The brand the settings name (``brand_file``), checked."""
    return load_brand(getattr(settings, "brand_file", "") or None, templates_dir=settings.templates_dir,
                      from_email=settings.from_email)
