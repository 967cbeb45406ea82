"""A/B variants of a template: which customer gets which, by salted hash.

A template in ``templates/catalog.yaml`` may list ``variants``: each with a ``share``
(0-1) of the customers and its own approval. A variant's files live in
``templates/<template>/variants/<name>/`` and override the base template's files of the
same name (say only ``en.subject.txt``); every other file comes from the base template.
Customers not drawn into a variant get the base template, named ``base``.

The draw is stable: the same customer gets the same variant of a template on every
run (a salted SHA-256 of the template and customer id, setting ``variant_salt``), and
held-out customers are assigned the variant they would have received, so uplift can be
measured per variant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

BASE = "base"
VARIANTS_DIR = "variants"


def draw(customer_id: str, template: str, salt: str) -> float:
    """A stable number in [0, 1) for this customer and template."""
    digest = hashlib.sha256(f"{salt}\x1f{template}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(u: float, shares: Sequence[tuple[str, float]]) -> str:
    """The variant whose slice of [0, 1) holds ``u``; ``base`` past the last one."""
    edge = 0.0
    for name, share in shares:
        edge += share
        if u < edge:
            return name
    return BASE


def split(customer_ids: Iterable[str], template: str, shares: Sequence[tuple[str, float]], salt: str) -> np.ndarray:
    """The variant of each customer (``base`` for all when the template has no variants)."""
    import numpy as np

    ids = list(customer_ids)
    if not shares:
        return np.full(len(ids), BASE, dtype=object)
    return np.array([pick(draw(c, template, salt), shares) for c in ids], dtype=object)


def shares_of(entry) -> list[tuple[str, float]]:
    """``[(variant, share), ...]`` of a catalog entry, in catalog order."""
    return [(v.name, v.share) for v in getattr(entry, "variants", {}).values()]


def assigner(settings) -> Callable[[pd.DataFrame], np.ndarray]:
    """``assign(frame)``: the variant of each row's (customer_id, event_type), from the catalog."""
    import numpy as np

    from milestones.render.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings.templates_dir)
    except CatalogError:
        catalog = None

    def assign(frame: pd.DataFrame) -> np.ndarray:
        out = np.full(len(frame), BASE, dtype=object)
        if catalog is None:
            return out
        types = frame["event_type"].to_numpy()
        ids = frame["customer_id"].to_numpy()
        for event_type in set(types):
            entry = catalog.for_event(event_type)
            if entry is None:
                continue
            mask = types == event_type
            out[mask] = split(ids[mask], entry.name, shares_of(entry), settings.variant_salt)
        return out

    return assign
