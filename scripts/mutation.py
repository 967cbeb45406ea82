"""Mutation testing of the modules that decide who is contacted and what happens to an email.

    make mutation                      # every module below, one after another, then the scores
    .venv/bin/python scripts/mutation.py --only milestones.decide.policy [--jobs N]
    .venv/bin/python scripts/mutation.py --report   # the scores of the runs so far, per module
    .venv/bin/python scripts/mutation.py --list     # the modules and how each is mutated

Runs mutmut (pinned in pyproject.toml, configured in its ``[tool.mutmut]`` section). The
decision modules in ``WHOLE`` are mutated whole (every function and method); the two that are
mostly I/O (``CHOSEN``: the pipeline's glue, the libcurl transport) in their deciding functions
only. Each module is a run of its own (``--only``; ``make mutation`` runs them in turn), so a
2-core machine is never asked for the whole project at once, and a run can be resumed module
by module. Then it prints the score per module and every surviving mutant. Exit code 1 when a
module's score is under ``GOAL`` or a module was not run. Survivors that no test can kill
(equivalent mutants) are listed with their reason in docs/design/testing.md.

Each run starts one PostgreSQL server (tests/pg.py) and names it to every mutant's tests in
``$MILESTONES_TEST_POSTGRES``: the tests of what only PostgreSQL runs (row and advisory locks,
the driver's placeholders) each take a fresh database of it instead of starting a server.

mutmut derives a mutant's module name from its file path and only knows ``src/``-style
layouts; this package lives in ``plugins/milestones`` (Airflow's plugins folder), so the
two places where mutmut maps paths to modules are told that ``plugins/`` is a source root.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.95
SEP = "\u01c1"  # mutmut's class-name separator in mutant names

#: The decision modules, mutated whole.
WHOLE: list[str] = [
    "milestones.decide.policy",
    "milestones.decide.preferences",
    "milestones.detect.events",
    "milestones.ingest.rules",        # validation: the rules as data,
    "milestones.ingest.checks",       # their value checks (time zones, ...),
    "milestones.ingest.dates",        # date parsing,
    "milestones.ingest.prepare",      # the helper columns GX checks,
    "milestones.ingest.verdict",      # and the gate's verdict
    "milestones.ingest.profiles",
    "milestones.core.links",
    "milestones.core.config",
    "milestones.public.csrf",
    "milestones.public.bodies",
    "milestones.measure.feedback",
    "milestones.measure.uplift",
    "milestones.measure.attribution",
    "milestones.deliver.delivery",
    "milestones.deliver.ledger",
    "milestones.render.rendering",
    "milestones.render.names",
]
#: Mostly I/O: only the functions that decide (mutmut's mangled names).
CHOSEN: dict[str, list[str]] = {
    "milestones.pipeline": ["x_policy_for", "x_circuit_breaker", "x_decide_stage"],
    # The outcome mapping: HTTP status / exception -> accepted, retried, pending, failed, unknown.
    "milestones.deliver.sendgrid_transport": [f"x{SEP}SendGridTransport{SEP}_verdict",
                                              f"x{SEP}SendGridTransport{SEP}_wait", f"x{SEP}_Slot{SEP}_prereq",
                                              f"x{SEP}_Loop{SEP}_end", "x__header", "x__short"],
}
MODULES = [*WHOLE, *CHOSEN]
#: Mutants no test can kill: they behave as the original on every input the code can get
#: (docs/design/testing.md says why, one by one). Shown, and left out of the score.
EQUIVALENT: dict[str, str] = {
    "milestones.decide.policy.x_decide__mutmut_75": "zip(strict=None): two columns of one frame have one length",
    "milestones.decide.policy.x_decide__mutmut_78": "zip without strict: as above",
    "milestones.decide.policy.x_decide__mutmut_83": "zip(strict=False): as above",
    "milestones.decide.policy.x_decide__mutmut_130": "addresses as a str array instead of objects: np.isin compares "
    "the same strings",
    "milestones.decide.policy.x_decide__mutmut_132": "as above",
    "milestones.decide.policy.x_decide__mutmut_213": "a float mask of ones: apply() makes every mask boolean",
    "milestones.decide.policy.x_decide__mutmut_215": "as above",
    "milestones.decide.policy.x_decide__mutmut_243": "fillna(None) leaves unranked types NaN, which sort last as "
    "len(priority) does",
    "milestones.decide.policy.x_in_holdout__mutmut_1": "share < 0 instead of <= 0: with share 0, hash < 0 is False too",
    "milestones.decide.policy.x_in_holdout__mutmut_10": "int.from_bytes is big-endian by default",
    "milestones.decide.policy.x_in_holdout__mutmut_17": "<= share: differs only when a 64-bit hash over 2**64 equals "
    "the share exactly",
    "milestones.public.csrf.x_valid__mutmut_3": "rpartition: a tag has no '.', so a value with two is refused either way",
    "milestones.public.csrf.x_valid__mutmut_5": "'XXXX' for a missing value: not digits, refused either way",
    "milestones.public.csrf.x__mac__mutmut_12": "rstrip('XX=XX'): differs only for a tag ending in X, and issue/valid agree",
    "milestones.public.csrf.x_same_site__mutmut_41": "Host default 'XXXX': differs only without a Host header",
    "milestones.public.csrf.x__origin__mutmut_5": "upper() instead of lower(): both origins compared go through it",
    "milestones.public.csrf.x__origin__mutmut_7": "'XXXX' for no host: the public URL always has one, so no match "
    "either way",
    "milestones.public.csrf.x__origin__mutmut_9": "another marker for a bad port: still matches no valid public URL",
    "milestones.public.bodies.x_read_capped__mutmut_4": "header names are case-insensitive in Starlette",
    "milestones.public.bodies.x_read_form__mutmut_20": "as above, for Content-Type",
    "milestones.public.bodies.x_read_form__mutmut_21": "'XXXX' for no Content-Type: not multipart either, read as "
    "urlencoded alike",
    "milestones.public.bodies.x_read_form__mutmut_25": "bytes after the closing boundary are the epilogue, which "
    "the parser ignores",
    "milestones.public.bodies.x_read_form__mutmut_36": "no part can exceed the limit: the whole body is already "
    "capped at it",
    "milestones.public.bodies.x_read_form__mutmut_77": "codec names are case-insensitive",
    f"milestones.measure.uplift.x{SEP}Comparison{SEP}row__mutmut_31": "the extra None for verdict is overwritten",
    "milestones.measure.uplift.x_verdict__mutmut_6": "p < 0.05 never holds with equal rates (z = 0, p = 1)",
    "milestones.measure.uplift.x_verdict__mutmut_40": "needed == n2 exactly: a float equality no data reaches",
    "milestones.measure.uplift.x__round_up__mutmut_3": "100 is already two significant figures",
    "milestones.measure.uplift.x__round_up__mutmut_4": "as above",
    "milestones.measure.uplift.x_table__mutmut_42": "NaN instead of 0.0 in a column that is summed: sum skips NaN",
    "milestones.measure.uplift.x_table__mutmut_44": "as above",
    "milestones.measure.uplift.x_table__mutmut_51": "as above",
    "milestones.measure.uplift.x_table__mutmut_53": "as above",
    "milestones.measure.uplift.x_table__mutmut_103": "groupby sorts by default",
    "milestones.measure.uplift.x_table__mutmut_113": "the sum of an empty frame is the zero row",
    "milestones.core.config.x_load_settings__mutmut_9": "the settings file read in the locale's encoding: UTF-8 "
    "wherever this runs (Python coerces the C locale to UTF-8)",
    "milestones.core.config.x_load_settings__mutmut_11": "as above",
    "milestones.core.config.x_load_settings__mutmut_13": "codec names are case-insensitive",
    "milestones.ingest.checks.x_invalid_emails__mutmut_24": "a null bound disables the fast path: the fast path only decides which addresses skip email-validator; one it no longer takes is asked of email-validator, which gives the same verdict",
    "milestones.ingest.checks.x_invalid_emails__mutmut_25": "as above",
    "milestones.ingest.checks.x_invalid_emails__mutmut_29": "a 65-character local part on the fast path: email-validator 2.4 accepts it too",
    "milestones.ingest.checks.x_invalid_emails__mutmut_30": "a null bound disables the fast path: the fast path only decides which addresses skip email-validator; one it no longer takes is asked of email-validator, which gives the same verdict",
    "milestones.ingest.checks.x_invalid_emails__mutmut_31": "as above",
    "milestones.ingest.checks.x_invalid_emails__mutmut_38": "the good domains as string instead of large_string: is_in casts",
    "milestones.ingest.checks.x_invalid_emails__mutmut_40": "as above",
    "milestones.ingest.checks.x_invalid_emails__mutmut_41": "no good domains: the fast path only decides which addresses skip email-validator; one it no longer takes is asked of email-validator, which gives the same verdict",
    "milestones.ingest.checks.x_invalid_emails__mutmut_43": "as above",
    "milestones.ingest.checks.x_invalid_emails__mutmut_46": "a null fast flag is not true: the address goes to email-validator, as when false",
    "milestones.ingest.checks.x_invalid_emails__mutmut_72": "a null verdict is not true: keep_where treats it as false",
    "milestones.ingest.checks.x_invalid_emails__mutmut_87": "the verdict is never null there, and a missing address "
    "stays missing",
    "milestones.ingest.checks.x_invalid_emails__mutmut_57": "never null there: a domain that matched is never null, "
    "and a missing one is not in the set (false, not null)",
    "milestones.ingest.checks.x_text_problems__mutmut_77": "case_when gives the literal the other branch's type "
    "(large_string; the test checks the type)",
    "milestones.ingest.checks.x_text_problems__mutmut_79": "as above",
    "milestones.ingest.checks.x_non_ascii_emails__mutmut_4": "a missing address stays missing whatever its ASCII flag",
    "milestones.ingest.checks.x_non_ascii_emails__mutmut_8": "as above",
    "milestones.ingest.checks.x_text_problems__mutmut_3": "a missing value's plain flag: missing values are never judged, either way",
    "milestones.ingest.checks.x_text_problems__mutmut_16": "as above",
    "milestones.ingest.checks.x_text_problems__mutmut_49": "a null blank flag is not true: case_when falls through as for false",
    "milestones.ingest.checks.x_text_problems__mutmut_64": "case_when reads the struct's fields by position, not by name",
    "milestones.ingest.checks.x_text_problems__mutmut_66": "as above",
    "milestones.ingest.checks.x_text_problems__mutmut_67": "as above",
    "milestones.ingest.checks.x_text_problems__mutmut_68": "as above",
    "milestones.ingest.checks.x_text_problems__mutmut_69": "as above",
    "milestones.ingest.checks.x_keep_where__mutmut_3": "a null of no type: if_else casts it to the values' type",
    "milestones.ingest.checks.x_keep_where__mutmut_8": "a null mask: if_else gives null, as for false",
    "milestones.ingest.checks.x_keep_where__mutmut_12": "a null of no type: as above",
    "milestones.ingest.checks.x_keep_where__mutmut_14": "as above",
    "milestones.ingest.prepare.xǁPreparedǁcolumn__mutmut_1": "waits for every pending helper, not only the one asked for: the same columns, later",
    "milestones.ingest.prepare.xǁPreparedǁ_for_gx__mutmut_5": "no helper as categories: GX reads the same values (tested with GX in test_validation.py), slower",
    "milestones.ingest.prepare.xǁPreparedǁ_for_gx__mutmut_8": "helpers left in chunks: the same values",
    "milestones.ingest.prepare.xǁPreparedǁ_for_gx__mutmut_9": "raw columns made one chunk too: the same values",
    "milestones.ingest.prepare.xǁPreparedǁ_for_gx__mutmut_11": "as above",
    "milestones.ingest.prepare.x__date_helpers__mutmut_9": "the placeholder texts as string instead of large_string: is_in casts",
    "milestones.ingest.prepare.x__date_helpers__mutmut_11": "as above",
    "milestones.ingest.prepare.x__date_helpers__mutmut_32": "a bound as a timestamp[us] scalar: Arrow compares across units",
    "milestones.ingest.prepare.x__date_helpers__mutmut_34": "as above",
    "milestones.ingest.prepare.x__date_helpers__mutmut_48": "no DATE_BOUNDS entry has an upper bound of 0 years (None, 2, 60, 20)",
    "milestones.ingest.prepare.x_prepare__mutmut_86": "the ambiguous ids computed again from this chunk's ids instead of taken: the same ids",
    "milestones.ingest.prepare.x_normalise__mutmut_6": "zip(strict=None): a table's names and columns have one length",
    "milestones.ingest.prepare.x_normalise__mutmut_9": "as above",
    "milestones.ingest.prepare.x_normalise__mutmut_10": "as above",
    "milestones.ingest.prepare.x_normalise__mutmut_12": "a present column looked up again by name: the same column",
    "milestones.ingest.prepare.x_normalise__mutmut_16": "only absent names reach _column, which gives them a null column either way",
    "milestones.ingest.prepare.x_normalise__mutmut_28": "the true literals as string instead of large_string: is_in casts",
    "milestones.ingest.prepare.x_normalise__mutmut_30": "as above",
    "milestones.ingest.prepare.x_normalise__mutmut_38": "zip(strict=None): the two sequences zipped have one length",
    "milestones.ingest.prepare.x_normalise__mutmut_41": "as above",
    "milestones.ingest.prepare.x_normalise__mutmut_48": "as above",
    "milestones.core.links.x__b64__mutmut_7": "codec names are case-insensitive",
    "milestones.core.links.x__unb64__mutmut_5": "a token of 1,025 characters is refused either way (by its MAC); the cap only bounds the work",
    "milestones.core.links.x__unb64__mutmut_17": "padding to len % 4 instead of -len % 4: Python's decoder accepts the surplus '=' and refuses a length of 4n+1 either way",
    "milestones.core.links.x__mac__mutmut_10": "hash names are case-insensitive",
    "milestones.core.links.x__xor_stream__mutmut_17": "the block counter packed signed: the same bytes for every counter below 2**31",
    "milestones.core.links.x__xor_stream__mutmut_19": "hash names are case-insensitive",
    "milestones.core.links.x__xor_stream__mutmut_33": "int.from_bytes is big-endian by default",
    "milestones.core.links.x__xor_stream__mutmut_39": "as above",
    "milestones.core.links.x__from_connection__mutmut_27": "extra is a non-empty text there (an empty one became {} "
    "a line above)",
    "milestones.core.links.x__xor_stream__mutmut_28": "int.to_bytes is big-endian by default",
    "milestones.core.links.x_sign__mutmut_7": "a naive local now has the same timestamp as an aware UTC now",
    "milestones.core.links.x_sign_view__mutmut_10": "the empty language dropped: it is sign's default",
    "milestones.core.links.x_url__mutmut_8": "'X' is in quote's safe set already (letters are never quoted)",
    "milestones.deliver.ledger.xǁLedgerǁstep__mutmut_42": "the message of a line no path reaches (the loop returns or raises first)",
    "milestones.deliver.ledger.xǁLedgerǁstep__mutmut_43": "as above",
    "milestones.deliver.ledger.xǁLedgerǁstep__mutmut_44": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_33": "a step of 1 instead of CHUNK: overlapping windows of idempotent statements (ON CONFLICT DO NOTHING, WHERE state = ...), the same rows, quadratically slower",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_90": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_136": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_158": "as above",
    "milestones.deliver.ledger.xǁLedgerǁstates__mutmut_17": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_74": "'+STATE': SQLite's column names are case-insensitive",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_79": "'STATE' on PostgreSQL: it folds unquoted names to "
    "lower case",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_52": "bind_processor(None): the timestamp types of SQLite "
    "and psycopg build their processor without reading the dialect (SQLAlchemy 2)",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_9": "SQL keywords and identifiers in another case: SQLite reads them alike",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_10": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_12": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_24": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_25": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_13": "the trigger never found: it is made again, with the same text (idempotent)",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_14": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_15": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_17": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_18": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_19": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_20": "as above",
    "milestones.decide.preferences.x_ensure_erasure_path__mutmut_21": "as above",
    "milestones.decide.preferences.x_pause_until__mutmut_25": "the message of a line no path reaches",
    "milestones.decide.preferences.x_pause_until__mutmut_26": "as above",
    "milestones.decide.preferences.x_pause_until__mutmut_27": "as above",
    "milestones.decide.preferences.xǁPreferencesǁpolicy_view__mutmut_22": "the SQL prefilter loads more rows; Python decides who is opted out",
    "milestones.decide.preferences.xǁPreferencesǁpolicy_view__mutmut_23": "as above, for pauses",
    "milestones.measure.uplift.x_compute__mutmut_17": "every column of the outcomes read instead of the three used: "
    "the same values, more memory",
    "milestones.measure.uplift.x_compute__mutmut_20": "as above",
    "milestones.ingest.dates.x_parse_dates__mutmut_7": "the dictionary's type is the column's type: inferred alike",
    "milestones.ingest.dates.x_parse_dates__mutmut_9": "as above",
    "milestones.ingest.dates.x_parse_exact__mutmut_50": "the day sliced to the end: the format regex already "
    "requires exactly 10 characters",
    "milestones.ingest.dates.x_parse_exact__mutmut_53": "as above",
    "milestones.ingest.dates.x_parse_exact__mutmut_55": "sliced to 11: as above",
    "milestones.ingest.dates.x_parse_exact__mutmut_61": "year 1 as a timestamp[us] scalar: Arrow compares across units",
    "milestones.ingest.dates.x_parse_exact__mutmut_63": "as above",
    "milestones.ingest.dates.x_ns_range__mutmut_3": "a bound as a timestamp[us] scalar: same instant, the result is "
    "cast to ns",
    "milestones.ingest.dates.x_ns_range__mutmut_5": "as above",
    "milestones.ingest.dates.x_ns_range__mutmut_20": "as above",
    "milestones.ingest.dates.x_ns_range__mutmut_22": "as above",
    "milestones.ingest.dates.x_ns_range__mutmut_38": "skip_nulls=None is Arrow's False (a null stays null: tested)",
    "milestones.ingest.dates.x_ns_range__mutmut_44": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_14": "np.arange is int64 by default on 64-bit Linux",
    "milestones.measure.attribution.x_attribute__mutmut_16": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_29": "Arrow infers date32 from datetime64[D]",
    "milestones.measure.attribution.x_attribute__mutmut_31": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_60": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_62": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_70": "pa.array infers double from the float64 values "
    "(or int64, summed into the float64 result all the same)",
    "milestones.measure.attribution.x_attribute__mutmut_72": "as above",
    "milestones.measure.attribution.x_attribute__mutmut_89": "a left join adds events without a conversion, whose "
    "null day the window filter drops",
    "milestones.measure.attribution.x_attribute__mutmut_150": "np.zeros is float64 by default",
    "milestones.measure.attribution.x_attribute__mutmut_152": "as above",
    "milestones.measure.feedback.x_verify_signature__mutmut_21": "datetime.now(None).timestamp(): a naive local "
    "time, which timestamp() reads as local time again: the same instant in any zone",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_66": "= instead of +=: each call counts into a fresh "
    "Counter, where rejected is set once",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_93": "= instead of +=: stored is set once per fresh "
    "Counter, as above",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_77": "ON CONFLICT DO NOTHING without a target: "
    "dedupe_key is the table's only key, so any conflict is a conflict on it",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_159": "= instead of +=: suppressed is set once per "
    "fresh Counter, as above",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_189": "= instead of +=: unsubscribed, as above",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_221": "= instead of +=: settled, as above",
    "milestones.measure.feedback.xǁFeedbackǁ_ingest__mutmut_204": "RETURNING NULL: still one row per email "
    "settled, and only their number is used",
    "milestones.measure.feedback.x__dedupe_key__mutmut_23": "sort_keys on a list of checked strings and numbers "
    "(event_row refuses anything else first): there are no keys to sort",
    "milestones.measure.feedback.x__dedupe_key__mutmut_25": "as above",
    "milestones.measure.feedback.x__dedupe_key__mutmut_41": "as above",
    "milestones.measure.feedback.x_event_row__mutmut_28": "an integer sg_event_id checked as the text 'None': parsed "
    "integers have at most 40 digits (longer ones are refused first), so its own text passes the 1-100 check too",
    "milestones.measure.feedback.x_event_row__mutmut_41": "codec names are case-insensitive",
    "milestones.measure.feedback.x_event_row__mutmut_51": "a 12-digit timestamp is past 2100: refused with the same "
    "reason whether or not it is turned into a number first",
    "milestones.measure.feedback.x_event_row__mutmut_52": "as above, for 13 digits",
    "milestones.measure.feedback.xǁFeedbackǁ__init____mutmut_13": "Preferences ignores its URL when given an engine",
    "milestones.render.rendering.x__fmt_locale__mutmut_5": "babel_locale answers English for a language it does not know (and for "
    "none)",
    "milestones.render.rendering.x__fmt_locale__mutmut_8": "as above",
    "milestones.render.rendering.x__fmt_locale__mutmut_9": "as above",
    "milestones.render.rendering.x__check_tag_positions__mutmut_1": "the inert words standing for tags are letters and digits: no character "
    "reference splits one, whether or not the parser converts references",
    "milestones.render.rendering.x__check_tag_positions__mutmut_2": "as above",
    "milestones.render.rendering.x__charset_first__mutmut_23": "the pattern is matched ignoring case",
    "milestones.render.rendering.x_inline_source__mutmut_38": "the inliner's output holds one <style> (it merges the at-rules it keeps), "
    "so replacing the first or every one is the same",
    "milestones.render.rendering.x_inline_source__mutmut_44": "as above",
    "milestones.render.rendering.xǁInliningLoaderǁlayout_css__mutmut_2": "FileSystemLoader.get_source does not use the environment",
    "milestones.render.rendering.xǁInliningLoaderǁget_source__mutmut_2": "as above",
    "milestones.render.rendering.xǁInliningLoaderǁget_source__mutmut_20": "as above (layout_css only hands it on)",
    "milestones.render.rendering.x__bytecode_cache__mutmut_3": "another constant in the cache files' names: still one name per shape of "
    "compiled code; only which files are used changes (they are compiled once again)",
    "milestones.render.rendering.x__bytecode_cache__mutmut_4": "as above",
    "milestones.render.rendering.x_make_environment__mutmut_16": "auto_reload=None is false, as False",
    "milestones.render.rendering.x_make_environment__mutmut_25": "default_for_string=None is false: strings are not escaped, as with False",
    "milestones.render.rendering.x_make_environment__mutmut_29": "select_autoescape lowercases the extensions it is given",
    "milestones.render.rendering.xǁRendererǁbranded__mutmut_24": "an event type without an action gets the action 'XXXX': not an https URL "
    "nor a path, so no button, as with none",
    "milestones.render.rendering.x__language__mutmut_1": "both languages compared are upper-cased alike, as they were lower-cased alike",
    "milestones.render.rendering.xǁRendererǁtemplates__mutmut_1": "a default variant 'XXXX' has no folder: the base templates, as with none "
    "(render always passes one)",
    "milestones.render.rendering.x__as_date__mutmut_7": "what reaches it with a .date() (pandas and NumPy timestamps are datetimes, caught "
    "above) also starts with its ISO date as text, which the last line reads",
    "milestones.render.rendering.x__as_date__mutmut_11": "as above",
    "milestones.render.rendering.x__as_date__mutmut_12": "as above",
    "milestones.render.rendering.x_make_environment__mutmut_26": "select_autoescape's default extensions are html, htm and xml: the "
    "templates are .html (escaped either way) and .txt",
    "milestones.render.rendering.xǁRendererǁbranded__mutmut_21": "no action as None or as '': action_url gives no button for either",
    "milestones.render.rendering.xǁRendererǁbranded__mutmut_23": "as above",
    "milestones.render.rendering.xǁRendererǁrender__mutmut_16": "the base asked for as a variant 'XXXX', which has no folder: the base "
    "templates all the same",
    "milestones.deliver.delivery.x__parse_connection__mutmut_43": "no host: None or '' both give the default base URL below",
    "milestones.deliver.delivery.x__parse_connection__mutmut_51": "an https connection missing from the tuple falls to the default, https",
    "milestones.deliver.delivery.x__parse_connection__mutmut_52": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_7": "a transport without the attribute is not recoverable: None is false, as False",
    "milestones.deliver.delivery.x_recover__mutmut_5": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_107": "with every row registered the slice to register is empty",
    "milestones.deliver.delivery.x_deliver__mutmut_29": "timing only: when the loop stops to gather answers before its next commit; the "
    "same emails are claimed (never more than the window), sent and recorded, in more or fewer commits",
    "milestones.deliver.delivery.x_deliver__mutmut_30": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_31": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_32": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_33": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_51": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_52": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_53": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_54": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_55": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_56": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_57": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_59": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_60": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_62": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_63": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_74": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_75": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_76": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_77": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_78": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_79": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_82": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_84": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_90": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_91": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_93": "as above: answers not taken early are taken by the next gather",
    "milestones.deliver.delivery.x_deliver__mutmut_106": "with every row registered the slice to register is empty",
    "milestones.deliver.delivery.x_deliver__mutmut_109": "the next rows registered one step earlier: the same rows, in another commit",
    "milestones.deliver.delivery.x_deliver__mutmut_157": "HELD_NAMES names every state a held key can have: the default is never used",
    "milestones.deliver.delivery.x_deliver__mutmut_159": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_160": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_161": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_177": "a stopped loop's pool holds at most the window's claimed sends: waiting for them "
    "or cancelling the queued ones changes when it returns, not the ledger (they stay sending, in doubt)",
    "milestones.deliver.delivery.x_deliver__mutmut_178": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_179": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_180": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_181": "as above",
    "milestones.deliver.delivery.x_deliver__mutmut_182": "as above",
    "milestones.deliver.delivery.x__starter__mutmut_26": "a second thread for a concurrency of one: the window still hands it one send at a "
    "time",
    "milestones.deliver.delivery.x_encoded_words__mutmut_24": "codec names are case-insensitive",
    "milestones.deliver.delivery.x_encoded_words__mutmut_26": "as above",
    "milestones.deliver.delivery.x__base64_lines__mutmut_5": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_86": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_93": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_102": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_108": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_75": "MIME header names and media types are case-insensitive (RFC 2045 5.1, RFC 5322 "
    "1.2.2): every reader takes the part the same",
    "milestones.deliver.delivery.x_build_mime__mutmut_78": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_91": "as above",
    "milestones.deliver.delivery.x_build_mime__mutmut_100": "as above",
    "milestones.deliver.delivery.x__date_header__mutmut_3": "the header formatted again every time: the same text, more slowly",
    "milestones.deliver.delivery.x__date_header__mutmut_6": "formatdate(None) reads the same clock, in the same second",
    "milestones.deliver.delivery.x__date_header__mutmut_8": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_23": "the lock wait is also set by PRAGMA busy_timeout on every SQLite "
    "connection",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_24": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ__init____mutmut_25": "as above",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_111": "the outcomes' rows written in another order inside one transaction: the same "
    "rows (the key order only keeps PostgreSQL's row locks in one order, which the PostgreSQL tests exercise)",
    "milestones.deliver.ledger.xǁLedgerǁ_step__mutmut_113": "as above",
    "milestones.deliver.ledger.xǁLedgerǁstates__mutmut_25": "batches of 501 overlapping by one key: the same states read",
    "milestones.deliver.ledger.xǁLedgerǁrecipients_of__mutmut_8": "an email links at most one other customer (register takes one "
    "partner_id): one row has one order",
    "milestones.decide.preferences.x_make_engine__mutmut_29": "the busy timeout is also set by PRAGMA on every connection, and SQLAlchemy 2 "
    "passes check_same_thread=False for a file database itself",
    "milestones.decide.preferences.x_make_engine__mutmut_32": "as above",
    "milestones.decide.preferences.x_make_engine__mutmut_36": "as above (the PRAGMA sets 30 s whatever the argument)",
    "milestones.decide.preferences.xǁPreferencesǁ_lock__mutmut_7": "batches starting at every id instead of every 500th: the same rows read, "
    "many times over",
    "milestones.decide.preferences.xǁPreferencesǁ_lock__mutmut_15": "batches of 501 overlapping by one id: the same rows read",
    "milestones.decide.preferences.xǁPreferencesǁ_lock__mutmut_34": "the advisory lock's SELECT in lower case: SQL "
    "keywords are case-insensitive in PostgreSQL",
    "milestones.decide.preferences.xǁPreferencesǁapply_in__mutmut_124": "_write takes each row's time from its state, never its now argument",
    "milestones.pipeline.x_policy_for__mutmut_51": "the key is only read for an erased customer: with none erased "
    "its value is never used",
    "milestones.pipeline.x_circuit_breaker__mutmut_8": "run records of one folder sort the same by path as by name",
    "milestones.pipeline.x_circuit_breaker__mutmut_10": "as above",
    "milestones.pipeline.x_circuit_breaker__mutmut_12": "globbing a folder that does not exist finds nothing, as the "
    "empty list does",
    "milestones.pipeline.x_circuit_breaker__mutmut_19": "records are named by their date and read in name order: "
    "after the first on or after the day every later one is too, so stopping skips the same ones",
    "milestones.deliver.sendgrid_transport.x__header__mutmut_16": "codec names are case-insensitive",
    "milestones.deliver.sendgrid_transport.xǁ_Loopǁ_end__mutmut_18": "a freed slot's job is never read until the "
    "slot takes its next job",
    "milestones.ingest.profiles.x__column__mutmut_244": "bool(None) is False, as the default False",
    "milestones.ingest.profiles.x__column__mutmut_246": "as above",
    "milestones.ingest.profiles.x__column__mutmut_281": "as above",
    "milestones.ingest.profiles.x__column__mutmut_283": "as above",
    "milestones.ingest.profiles.x_parse_profile__mutmut_94": "as above",
    "milestones.ingest.profiles.x_mapped_column__mutmut_4": "the profile's name only enters the reasons of unreadable values, which mapped_column drops (the values alone)",
    "milestones.ingest.profiles.x_parse_profile__mutmut_96": "as above",
    "milestones.ingest.profiles.x_parse_profile__mutmut_24": "the default encoding is lower-cased on the next call",
    "milestones.ingest.profiles.x__column__mutmut_189": "a mapping that is not a dict is dropped: None or '' are "
    "both no map",
    "milestones.ingest.profiles.x_parse_profile__mutmut_27": "an unknown encoding's canonical name: None, '' or "
    "'XXXX' are none of the allowed ones",
    "milestones.ingest.profiles.x_parse_profile__mutmut_28": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_98": "a reason of 32-bit string type: Arrow casts it where it "
    "meets the other reasons, the same text",
    "milestones.ingest.profiles.x__transform__mutmut_100": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_103": "a null of no type or another string type: Arrow casts "
    "it to the reasons' type",
    "milestones.ingest.profiles.x__transform__mutmut_107": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_109": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_3": "the thread pool's size and thread names: the same columns, "
    "mapped faster or slower",
    "milestones.ingest.profiles.x_apply__mutmut_4": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_5": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_6": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_7": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_8": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_9": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_10": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_29": "zip over the profile's columns and their own results: one "
    "length by construction",
    "milestones.ingest.profiles.x_apply__mutmut_32": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_33": "as above",
    "milestones.ingest.profiles.x_apply__mutmut_39": "pa.table({}) and pa.table of no columns are the same empty "
    "table",
    "milestones.ingest.profiles.x_apply__mutmut_41": "a profile maps the required contract columns (parse_profile "
    "refuses one that does not): the empty branch is never taken",
    "milestones.ingest.profiles.x__source_column__mutmut_5": "Arrow's string types: large_string is inferred from "
    "the array, or the 32-bit and 64-bit string types meet and Arrow casts one to the other: the same text",
    "milestones.ingest.profiles.x__source_column__mutmut_7": "as above",
    "milestones.ingest.profiles.x__empty_to_null__mutmut_10": "a null of no type or another string type: Arrow "
    "casts it to the column's type",
    "milestones.ingest.profiles.x__empty_to_null__mutmut_15": "as above",
    "milestones.ingest.profiles.x__empty_to_null__mutmut_17": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_11": "the default filled in as string or large_string: Arrow "
    "casts it to the column's type",
    "milestones.ingest.profiles.x__transform__mutmut_13": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_16": "the map's keys and targets as 32-bit strings: the same "
    "text matched and put in",
    "milestones.ingest.profiles.x__transform__mutmut_18": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_22": "as above",
    "milestones.ingest.profiles.x__transform__mutmut_24": "as above",
    "milestones.ingest.profiles.x__by_distinct__mutmut_6": "as above",
    "milestones.ingest.profiles.x__by_distinct__mutmut_8": "as above",
    "milestones.ingest.profiles.x__by_distinct__mutmut_12": "as above",
    "milestones.ingest.profiles.x__by_distinct__mutmut_14": "as above",
    "milestones.ingest.profiles.x__parse_date__mutmut_34": "the lower bound as a timestamp of Arrow's own unit: the "
    "same instant compared",
    "milestones.ingest.profiles.x__parse_date__mutmut_36": "as above",
    "milestones.ingest.profiles.x__parse_date__mutmut_60": "a null of no type or another string type: Arrow casts "
    "it to the column's type",
    "milestones.ingest.profiles.x__parse_date__mutmut_64": "as above",
    "milestones.ingest.profiles.x__parse_date__mutmut_66": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_58": "as above, a null timestamp",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_66": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_68": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_120": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_124": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_126": "as above",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_151": "a UTC instant cast without its zone keeps UTC's "
    "wall time: the same text",
    "milestones.ingest.profiles.x__parse_datetime__mutmut_153": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_9": "the literals as 32-bit strings: is_in matches the "
    "same text",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_11": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_18": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_20": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_32": "a null of no type or another string type: Arrow "
    "casts it to the column's type",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_33": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_35": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_43": "as above, for the answers true and false",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_45": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_48": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_53": "as above",
    "milestones.ingest.profiles.x__parse_boolean__mutmut_55": "as above",
    "milestones.detect.events.x_event_keys__mutmut_16": "the event types hashed as object text either way "
    "(to_numpy(dtype=object) below)",
    "milestones.detect.events.x_event_keys__mutmut_18": "as above",
    "milestones.detect.events.x_event_keys__mutmut_32": "the concatenated text column gives the same Python strings "
    "to hash_array",
    "milestones.detect.events.x_event_keys__mutmut_36": "categorize only factorises duplicates before hashing "
    "(pandas: faster, same hashes)",
    "milestones.detect.events.x_event_keys__mutmut_39": "as above",
    "milestones.detect.events.x_event_keys__mutmut_40": "as above",
    "milestones.detect.events.x_local_dates__mutmut_15": "a date becomes datetime64[D] without the unit given",
    "milestones.detect.events.x_local_dates__mutmut_23": "np.unique groups the zone names the same from an object or "
    "a string array",
    "milestones.detect.events.x_local_dates__mutmut_38": "a date becomes datetime64[D] without the unit given",
    "milestones.detect.events.x__month_day__mutmut_13": "astype(None) is float64: the same whole numbers, compared "
    "and later cast to int64",
    "milestones.detect.events.x__month_day__mutmut_18": "as above",
    "milestones.detect.events.x__month_day__mutmut_22": "as above",
    "milestones.detect.events.x__uniform__mutmut_1": "no shared date: every customer's own date is compared, the same "
    "answer more slowly",
    "milestones.detect.events.x__uniform__mutmut_5": "as above (today != today[0] is never true at 0)",
    "milestones.detect.events.x__annual__mutmut_20": "as above",
    "milestones.detect.events.x__annual__mutmut_32": "a unitless timedelta64 subtracted from datetime64[D] counts "
    "days",
    "milestones.detect.events.x__on_date__mutmut_2": "the dates kept in their stored unit compare and convert to the "
    "same days",
    "milestones.detect.events.x__on_date__mutmut_17": "a unitless timedelta64 subtracted from datetime64[D] counts "
    "days",
    "milestones.detect.events.x__change__mutmut_22": "a missing count now stays missing and the comparison is filled "
    "false, as 0 > a validated (never negative) count is",
    "milestones.detect.events.x__change__mutmut_33": "flatnonzero reads the same booleans from an object array",
    "milestones.detect.events.x__change__mutmut_34": "hit never holds a missing value (isin, notna and filled "
    "comparisons), so its fill is unused",
    "milestones.detect.events.x__change__mutmut_35": "as above",
    "milestones.detect.events.x__aligned__mutmut_7": "Arrow infers string from the validated text column",
    "milestones.detect.events.x__aligned__mutmut_8": "from_pandas only turns NaN into null, and ids are never missing "
    "(validated)",
    "milestones.detect.events.x__aligned__mutmut_10": "Arrow infers string from the validated text column",
    "milestones.detect.events.x__aligned__mutmut_11": "from_pandas only turns NaN into null, and ids are never "
    "missing (validated)",
    "milestones.detect.events.x__aligned__mutmut_14": "as above",
    "milestones.detect.events.x__aligned__mutmut_16": "Arrow infers string from the validated text column",
    "milestones.detect.events.x__aligned__mutmut_17": "from_pandas only turns NaN into null, and ids are never "
    "missing (validated)",
    "milestones.detect.events.x__aligned__mutmut_19": "Arrow infers string from the validated text column",
    "milestones.detect.events.x__aligned__mutmut_20": "from_pandas only turns NaN into null, and ids are never "
    "missing (validated)",
    "milestones.detect.events.x__aligned__mutmut_23": "as above",
    "milestones.detect.events.x__aligned__mutmut_25": "no nulls are left to copy: the zero-copy request is met either "
    "way",
    "milestones.detect.events.x__aligned__mutmut_26": "new customers become NaN instead of -1: still not >= 0, so "
    "they drop out the same",
    "milestones.detect.events.x__aligned__mutmut_28": "-2 is not >= 0 either: new customers drop out the same",
    "milestones.detect.events.x__aligned__mutmut_29": "no nulls are left: the int32 positions convert without a copy",
    "milestones.detect.events.x__aligned__mutmut_35": "an extra 'index' column on the aligned frames, which only "
    "named columns are read from",
    "milestones.detect.events.x__aligned__mutmut_37": "as above",
    "milestones.detect.events.x__aligned__mutmut_39": "as above",
    "milestones.detect.events.x__aligned__mutmut_41": "as above",
    "milestones.detect.events.x_detect_events__mutmut_22": "as above, on the snapshot (no contract column is named "
    "'index')",
    "milestones.detect.events.x_detect_events__mutmut_23": "as above",
    "milestones.detect.events.x_detect_events__mutmut_46": "as above, on the previous snapshot",
    "milestones.detect.events.x_detect_events__mutmut_47": "as above",
    "milestones.detect.events.x_detect_events__mutmut_98": "repeated index labels: every later step assigns NumPy "
    "arrays by position, and the result's index is reset",
    "milestones.detect.events.x_detect_events__mutmut_100": "as above",
    "milestones.detect.events.x_detect_events__mutmut_101": "as above",
    "milestones.detect.events.x_detect_events__mutmut_103": "pandas already stores day-precision dates as "
    "datetime64[s]; the misnamed column is not among the columns returned",
    "milestones.detect.events.x_detect_events__mutmut_104": "as above",
    "milestones.detect.events.x_detect_events__mutmut_152": "the columns are put in EVENT_COLUMNS' order at the end",
    "milestones.detect.events.x_detect_events__mutmut_194": "every rule's years are int64 already; the misnamed "
    "column is not returned",
    "milestones.detect.events.x_detect_events__mutmut_195": "as above",
    "milestones.detect.events.x_detect_events__mutmut_202": "every rule's milestones are int64 already; the misnamed "
    "column is not returned",
    "milestones.detect.events.x_detect_events__mutmut_203": "as above",
}


def patterns(module: str) -> list[str]:
    if module in CHOSEN:
        return [f"{module}.{func}__mutmut_*" for func in CHOSEN[module]]
    return [f"{module}.x*__mutmut_*"]


def module_of(name: str) -> str:
    """``milestones.decide.policy.x_decide__mutmut_3`` -> ``milestones.decide.policy``."""
    return name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]


def _patch_mutmut() -> None:
    """Treat ``plugins/`` as a source root, like mutmut's own ``src/``."""
    import mutmut.__main__ as cli
    import mutmut.utils.format_utils as names

    strip = names.strip_prefix

    def strip_prefix(s: str, *, prefix: str, strict: bool = False) -> str:
        if prefix == "src." and s.startswith("plugins."):
            return s[len("plugins."):]
        return strip(s, prefix=prefix, strict=strict)

    names.strip_prefix = strip_prefix
    setup = cli.setup_source_paths

    def setup_source_paths() -> None:
        setup()
        sys.path.insert(0, str(ROOT / "mutants" / "plugins"))
        # The editable install points at the original plugins/: it must not win.
        sys.path[:] = [p for p in sys.path if Path(p).resolve() != ROOT / "plugins"]

    cli.setup_source_paths = setup_source_paths


def show(name: str) -> str:
    """The change a mutant makes, as a diff of its function against the original."""
    import difflib
    import re

    module, _, func = name.rpartition(".")
    base = func.rpartition("__mutmut_")[0]
    source = (ROOT / "mutants" / "plugins" / Path(*module.split("."))).with_suffix(".py").read_text()

    def body(fn: str) -> list[str]:
        lines = source.splitlines()
        start = next((i for i, line in enumerate(lines)
                      if re.match(rf"\s*(?:async )?def {re.escape(fn)}\(", line)), None)
        if start is None:
            return []
        indent = len(lines[start]) - len(lines[start].lstrip())
        end = next((j for j in range(start + 1, len(lines))
                    if lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) <= indent
                    and not lines[j].lstrip().startswith((")", "]", "}"))), len(lines))
        return [line[indent:] for line in lines[start + 1:end]]

    orig, mutant = body(base + "__mutmut_orig"), body(func)
    return "\n".join(line for line in difflib.unified_diff(orig, mutant, name, name + " (mutant)", n=0,
                                                           lineterm="") if not line.startswith("@@"))


STATUS = {1: "killed", 3: "killed", 0: "survived", None: "not checked", 33: "no tests", 5: "no tests",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}


def results() -> dict[str, dict[str, str]]:
    """module -> {mutant: status} of every wanted mutant mutmut has generated."""
    out: dict[str, dict[str, str]] = {m: {} for m in MODULES}
    for meta in sorted((ROOT / "mutants" / "plugins" / "milestones").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            module = module_of(name)
            if module in out and any(fnmatch.fnmatch(name, p) for p in patterns(module)):
                out[module][name] = STATUS.get(code, "suspicious")
    return out


def report(only: list[str] | None = None) -> int:
    failed = False
    survivors: list[str] = []
    print(f"{'module':40} {'mutants':>7} {'run':>5} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} "
          f"{'equiv.':>6} score")
    for module, found in results().items():
        if only and module not in only:
            continue
        found = {n: ("equivalent" if n in EQUIVALENT and st == "survived" else st) for n, st in found.items()}
        c = Counter(found.values())
        total = sum(c.values()) - c["equivalent"]
        run = total - c["not checked"]
        if not run:
            print(f"{module:40} {total:7} (not run)")
            failed = True
            continue
        caught = c["killed"] + c["timeout"]
        score = caught / run  # of the mutants run; "no tests" count as not caught
        failed |= score < GOAL or run < total
        print(f"{module:40} {total:7} {run:5} {c['killed']:6} {c['timeout']:7} {c['survived']:8} {c['no tests']:8} "
              f"{c['equivalent']:6} {score:.1%}")
        survivors += [n for n, status in found.items() if status in ("survived", "no tests", "suspicious")]
    print("\nsurvivors (`scripts/mutation.py --show NAME` prints the change):")
    for name in survivors:
        print("  ", name)
    return 1 if failed else 0


def run(module: str, jobs: int, survivors: bool = False) -> int:
    """One module's mutants (or only those that survived its last run), in this process
    (mutmut keeps global state: one module a process)."""
    names = patterns(module)
    if survivors:
        names = [n for n, status in results()[module].items() if status in ("survived", "no tests")
                 and n not in EQUIVALENT]
        if not names:
            return 0
    _patch_mutmut()
    import mutmut.__main__ as cli

    with _shared_postgres():
        try:
            cli.cli(["run", "--max-children", str(jobs), *names], standalone_mode=False)
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


@contextlib.contextmanager
def _shared_postgres():
    """One PostgreSQL server for the whole run, named to the tests by ``$MILESTONES_TEST_POSTGRES``.

    mutmut runs every mutant's tests as a pytest session of its own (forked from one that
    collected them), so a server started by a session fixture would start again for each
    mutant; with the variable set, each test only creates a database on this server
    (``postgres_url`` in tests/conftest.py). A server already named by the variable is used as is."""
    if os.environ.get("MILESTONES_TEST_POSTGRES"):
        yield
        return
    # tests/pg.py loaded by path: importing the package ``tests`` here would make the mutants'
    # pytest sessions (in mutants/) find this checkout's tests instead of their copy.
    spec = importlib.util.spec_from_file_location("_milestones_test_pg", ROOT / "tests" / "pg.py")
    pg = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pg)
    with pg.postgres_cluster() as server:
        os.environ[pg.SHARED_SERVER] = server.url
        try:
            yield
        finally:
            os.environ.pop(pg.SHARED_SERVER, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", action="store_true", help="only print the scores of the runs so far")
    parser.add_argument("--only", help="these modules, comma separated, e.g. milestones.decide.policy")
    parser.add_argument("--list", action="store_true", help="the modules and how each is mutated")
    parser.add_argument("--show", nargs="+", metavar="MUTANT", help="print what these mutants change")
    parser.add_argument("--survivors", action="store_true",
                        help="run again only the mutants that survived (after adding tests)")
    args = parser.parse_args()
    if args.show:
        print("\n\n".join(show(name) for name in args.show))
        return 0
    if args.list:
        for module in MODULES:
            print(f"{module:40} {'functions: ' + ', '.join(CHOSEN[module]) if module in CHOSEN else 'whole module'}")
        return 0
    only = [m.strip() for m in args.only.split(",")] if args.only else MODULES
    unknown = [m for m in only if m not in MODULES]
    if unknown:
        parser.error(f"not a mutated module: {', '.join(unknown)} (see --list)")
    if not args.report:
        for module in only:
            print(f"== {module}", flush=True)
            if len(only) == 1:
                code = run(module, args.jobs, args.survivors)
            else:  # a fresh process per module
                code = subprocess.call([sys.executable, __file__, "--only", module, "--jobs", str(args.jobs),
                                        "--run-only", *(["--survivors"] if args.survivors else [])])
            if code:
                print(f"mutmut stopped on {module} (exit {code})", file=sys.stderr)
                return code
    return report(None if args.only is None else only)


if __name__ == "__main__" and "--run-only" in sys.argv:  # one module, no report (make mutation's children)
    sys.exit(run(sys.argv[sys.argv.index("--only") + 1], int(sys.argv[sys.argv.index("--jobs") + 1]),
                 "--survivors" in sys.argv))


if __name__ == "__main__":
    sys.exit(main())
