"""Contact policy: who is contacted, applied in one place, one recorded reason per event.

Rules run in this order, and the first that matches decides: erased (a customer whose
personal data was erased on request, recognised by keyed hashes of the id and address), deceased,
the customer's current state (``sensitive: marital_status widowed``, ``implausible_age``:
:mod:`milestones.decide.sensitive`, from the rules' data), the customer's own choices from the
preference center (unsubscribed, unsubscribed_address,
opted_out_of_type, paused: they win over ``marketing_opt_in = true`` in a
later extract, since the CRM lags behind the customer), no_opt_in, suppressed, sunset (optional, off by default), stale, quiet_day, holdout, frequency_cap,
lower_priority_same_day (one email per customer and day, by priority), then one per inbox
(same_inbox_same_day; a couple's shared anniversary is one email: couple_shared_email,
:mod:`milestones.decide.inbox`);
and every event gets a row in the decisions file, sent or not, so
``milestones why`` can always explain it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SEND = "send"
SKIP = "skip"
#: When several events fall on a customer together, one email: the highest priority wins.
DEFAULT_PRIORITY = (
    "retirement",
    "marriage",
    "new_child",
    "graduation",
    "birthday",
    "wedding_anniversary",
    "customer_anniversary",
)

@dataclass(frozen=True)
class PolicyView:
    """The customers' own choices the policy applies (see :mod:`milestones.decide.preferences`)."""

    unsubscribed: frozenset[str] = frozenset()
    opted_out: dict[str, frozenset[str]] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()
    #: Addresses (inbox form: :func:`milestones.ingest.identity.inbox`) whose owner unsubscribed:
    #: every record carrying one is stopped (RFC 8058: the inbox owner asked to stop).
    unsubscribed_inboxes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    priority: tuple[str, ...] = DEFAULT_PRIORITY
    holdout_share: float = 0.0
    holdout_salt: str = "milestones-holdout-v1"
    quiet_dates: frozenset[dt.date] = frozenset()
    #: Addresses (lower case) that unsubscribed, bounced or reported spam.
    suppressed: frozenset[str] = frozenset()
    #: Customers already sent a milestone email within the frequency cap.
    recently_contacted: frozenset[str] = field(default_factory=frozenset)
    #: The customers' own choices (preference center, one-click, webhook, CRM import).
    preferences: PolicyView = field(default_factory=PolicyView)
    #: Customers the sunset rule stops (no open or click in ``sunset_months``).
    sunset: frozenset[str] = frozenset()
    #: Keyed hashes (:mod:`milestones.core.pseudonym`) of erased customers' ids and addresses...
    erased: frozenset[str] = frozenset()
    #: ...and the key they were made with.
    erased_key: bytes = b""


def in_holdout(customer_id: str, share: float, salt: str) -> bool:
    """Stable membership: the same customer is in (or out) of the holdout on every run."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{salt}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def decide(events: pd.DataFrame, snapshot: pd.DataFrame, policy: Policy | None = None,
           *, as_of: dt.date | None = None, rules=None) -> pd.DataFrame:
    """Return ``events`` with ``decision`` (send/skip) and ``reason`` columns."""
    import numpy as np
    import pandas as pd

    from milestones.decide.inbox import one_per_inbox
    from milestones.decide.sensitive import life_reasons
    from milestones.detect.events import load_rules
    from milestones.ingest.identity import inbox, inboxes

    policy = policy or Policy()
    wedding = ["wedding_date"] if "wedding_date" in snapshot.columns else []
    people = snapshot.set_index("customer_id")[["marketing_opt_in", "deceased", "email", *wedding]]
    out = events.join(people, on="customer_id")
    boxes = inboxes(out["email"])
    reason = np.full(len(out), "", dtype=object)

    def apply(mask, why):
        mask = np.asarray(mask, dtype=bool) & (reason == "")
        reason[mask] = why

    if policy.erased:
        from milestones.core.pseudonym import keyed_hash

        apply([keyed_hash(policy.erased_key, "customer_id", c) in policy.erased
               or (isinstance(e, str) and keyed_hash(policy.erased_key, "email", e) in policy.erased)
               for c, e in zip(out["customer_id"], out["email"], strict=True)], "erased")
    apply(out["deceased"].fillna(False), "deceased")
    life = life_reasons(out, snapshot, rules if rules is not None else load_rules())
    reason[reason == ""] = life[reason == ""]
    chosen = policy.preferences
    apply(out["customer_id"].isin(chosen.unsubscribed), "unsubscribed")
    if chosen.unsubscribed_inboxes:
        apply(np.isin(np.array(boxes, dtype=object), list(chosen.unsubscribed_inboxes)), "unsubscribed_address")
    if chosen.opted_out:
        pairs = {f"{cid}\x1f{t}" for cid, types in chosen.opted_out.items() for t in types}
        apply((out["customer_id"].astype(str) + "\x1f" + out["event_type"].astype(str)).isin(pairs),
              "opted_out_of_type")
    apply(out["customer_id"].isin(chosen.paused), "paused")
    apply(~out["marketing_opt_in"].fillna(False).astype(bool), "no_opt_in")
    suppressed = {inbox(a) for a in policy.suppressed}
    apply([b in suppressed for b in boxes], "suppressed")
    apply(out["customer_id"].isin(policy.sunset), "sunset")
    if "stale" in out.columns:  # found by a catch-up run, too late to be welcome
        apply(out["stale"].fillna(False), "stale")
    if as_of is not None and as_of in policy.quiet_dates:
        apply(np.ones(len(out), dtype=bool), "quiet_day")
    ids = out["customer_id"].to_numpy()
    apply([in_holdout(c, policy.holdout_share, policy.holdout_salt) for c in ids], "holdout")
    apply(out["customer_id"].isin(policy.recently_contacted), "frequency_cap")
    rank = out["event_type"].map({t: i for i, t in enumerate(policy.priority)}).fillna(len(policy.priority))
    candidates = out.assign(_rank=rank.to_numpy(), _ok=(reason == ""))
    best = (candidates[candidates["_ok"]].sort_values(["customer_id", "_rank", "event_date"])
            .drop_duplicates("customer_id")["key"])
    apply((reason == "") & ~out["key"].isin(best).to_numpy(), "lower_priority_same_day")
    partner, shared = one_per_inbox(out, reason, rank.to_numpy(), boxes, out[wedding[0]] if wedding else None)
    out["decision"] = np.where(reason == "", SEND, SKIP)
    out["reason"] = reason
    out["partner_id"] = pd.array(partner, dtype="string")
    out["shared_key"] = pd.array(shared, dtype="string")
    return out.drop(columns=["marketing_opt_in", "deceased", "email", *wedding])
