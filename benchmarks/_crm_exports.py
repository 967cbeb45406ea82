"""Large CRM-shaped exports for the benchmarks: the extracts of ``_extracts`` as a CRM writes them.

``salesforce_csv`` writes the same customers (and the same ~1% bad rows) as
``_extracts.write_csv`` in the shape of a Salesforce Contact export: API field names,
18-character ids, ``CreatedDate`` as ``2015-03-03T10:00:00.000+0000``, the opt-out
flag ``HasOptedOutOfEmail`` (the inverse of consent), every field quoted, and the
extra columns a real export carries (ignored by the profile). Vectorised (numpy).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import _extracts
import numpy as np
import pandas as pd


def salesforce_frame(contract: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(contract)
    numbers = np.arange(n)
    ids = np.char.add(np.char.add("0035g0000", np.char.zfill(numbers.astype(str), 6)), "AAW")
    seconds = rng.integers(0, 86400, n).astype("timedelta64[s]")
    clock = np.char.partition(np.datetime_as_string(np.datetime64(0, "s") + seconds), "T")[:, 2]
    created = np.char.add(np.char.add(np.char.add(contract["customer_since"].to_numpy(str), "T"), clock),
                          ".000+0000")
    opt_in = contract["marketing_opt_in"].to_numpy(str)
    opted_out = np.where(np.isin(opt_in, ["true", "yes", "1"]), "false",
                         np.where(opt_in == "maybe", "maybe", "true"))
    return pd.DataFrame({
        "Id": ids,
        "FirstName": contract["first_name"].to_numpy(),
        "LastName": contract["last_name"].to_numpy(),
        "Email": contract["email"].to_numpy(),
        "Birthdate": contract["date_of_birth"].to_numpy(),
        "CreatedDate": created,
        "LastModifiedDate": "2026-11-22T06:00:00.000+0000",
        "HasOptedOutOfEmail": opted_out,
        "AccountId": np.char.add("0015g00000", np.char.zfill((numbers % 977).astype(str), 5)),
        "Title": rng.choice(np.array(["", "Engineer", "Buyer", "Director of Operations"]), n),
        "Phone": np.char.add("+1 415 555 ", np.char.zfill((numbers % 10000).astype(str), 4)),
        "MailingCountry": rng.choice(np.array(["United States", "Finland", "Estonia", "China"]), n),
        "LeadSource": rng.choice(np.array(["Web", "Phone Inquiry", "Partner Referral", ""]), n),
        "IsDeleted": "false",
    })


def salesforce_csv(n: int, out_dir: Path, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 1) -> Path:
    """The ``n``-customer extract of ``_extracts.write_csv`` as a Salesforce Contact export."""
    import csv

    path = Path(out_dir) / "salesforce" / f"customers_{as_of}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        salesforce_frame(_extracts.frame(n, as_of, seed)).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    return path
