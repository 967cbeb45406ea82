"""How a customer is named in an email, per language (``display_name`` in templates).

Chinese puts the family name first with no space (``last_name`` + ``first_name``:
李 + 娜 -> 李娜); a CRM that keeps the whole name in ``first_name`` (李娜, family
name empty or already its first character) is used as it is.  Finnish, Estonian
and English use the first name, which the templates place where no case ending
is needed; so does Chinese for a name not written in Chinese characters
(Bob O'Brien is "Bob").  A missing or blank name gives ``""``: templates then greet without a
name ("Hello," / "Hei!" / "Tere!" / "您好！"), never with a dangling comma.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Languages that write the family name first, without a space.
FAMILY_NAME_FIRST = frozenset({"zh", "ja", "ko"})


def _clean(value: object) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    return " ".join(str(value).split())


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=65536)
def _display_name(first: str, last: str, language: str) -> str:
    if language in FAMILY_NAME_FIRST and first and _HAN.search(first + last):
        return first if not last or first.startswith(last) else f"{last}{first}"
    return first


def display_name(first_name: object, last_name: object, language: str) -> str:
    """The name a greeting uses in ``language`` (``""`` when there is none)."""
    return _display_name(_clean(first_name), _clean(last_name), language.split("-")[0].lower())


#: How two names are joined in a greeting, per language (a couple greeted in one email).
JOINS = {"en": " and ", "fi": " ja ", "et": " ja ", "zh": "和", "ja": "と", "ko": " 그리고 "}


def couple_name(one: dict, other: dict, language: str) -> str:
    """Both names of a couple, each as :func:`display_name` writes it, joined the language's way:
    "Anna and Mikko", "Anna ja Mikko", "王芳和李明". One name missing: the other alone."""
    lang = language.split("-")[0].lower()
    names = [n for n in (display_name(p.get("first_name"), p.get("last_name"), lang) for p in (one, other)) if n]
    return JOINS.get(lang, " & ").join(names)
