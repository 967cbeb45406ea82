"""No real send links to a reserved example domain.

Until ``public_url`` is set, links and images point at ``https://milestones.example``
(a reserved domain, RFC 2606): fine for the file outbox and dry runs, which nobody
receives, but a real send would deliver broken images and dead unsubscribe links.
:func:`check_real_send` refuses a SendGrid send while the settings or the rendered
messages still point there, with one line naming the setting to set.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

#: Reserved names (RFC 2606 and RFC 6761): nobody can receive mail links there.
RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost")
RESERVED_NAMES = {"example", "invalid", "test", "localhost", "example.com", "example.net", "example.org"}
_LINK = re.compile(r"""(?:src|href)\s*=\s*["']https?://([^/"'?#:]+)""", re.IGNORECASE)
#: Every reserved host holds one of these words (in ASCII letters, any case): a body without
#: any of them links to no reserved host, and is not searched for links at all.
_ANY_RESERVED_WORD = "example|invalid|test|localhost"


class PlaceholderLinks(ValueError):
    """A real send would carry links to a reserved example domain."""


def reserved(host: str) -> bool:
    host = (host or "").lower().rstrip(".")
    return host in RESERVED_NAMES or host.endswith(RESERVED_SUFFIXES) or \
        host.endswith((".example.com", ".example.net", ".example.org"))


def _may_link_reserved(bodies) -> list[str]:
    """The bodies holding a reserved word somewhere (Arrow's RE2 kernel, in C++): only they
    can link to a reserved host, so only they are searched for links, in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bodies = pa.array(bodies, type=pa.large_string())
    return bodies.filter(pc.match_substring_regex(bodies, _ANY_RESERVED_WORD, ignore_case=True)).to_pylist()


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def check_real_send(settings, messages: Any = None, *, day: str = "") -> None:
    """Raise :class:`PlaceholderLinks` when emails would link to a reserved domain."""
    from milestones.render.catalog import CatalogError, load_catalog

    if reserved(_host(settings.public_base)) and not (settings.unsubscribe_url and settings.assets_url):
        raise PlaceholderLinks(
            f"emails would link to {settings.public_base} (a reserved example domain: broken images, dead "
            "unsubscribe links): set MILESTONES_PUBLIC_URL to the public address of `milestones serve`")
    assets = settings.assets_base
    if assets is None:
        try:
            assets = load_catalog(settings.templates_dir).assets_url or ""
        except CatalogError:
            assets = ""
    for name, url in (("MILESTONES_UNSUBSCRIBE_URL", settings.unsubscribe_base), ("MILESTONES_ASSETS_URL", assets)):
        if url and reserved(_host(url)):
            raise PlaceholderLinks(f"emails would link to {url} (a reserved example domain): set {name} "
                                   "(or MILESTONES_PUBLIC_URL) to a real public address")
    if messages is None or len(messages) == 0:
        return
    hosts = set(messages["unsubscribe_url"].map(_host))
    for html in _may_link_reserved(messages["html"]):
        hosts.update(_LINK.findall(html))
    bad = sorted(h for h in hosts if reserved(h))
    if bad:
        raise PlaceholderLinks(
            f"the emails of {day or 'this day'} were rendered with links to {', '.join(bad)} (a reserved example "
            "domain): set MILESTONES_PUBLIC_URL, render the day again, then send")
