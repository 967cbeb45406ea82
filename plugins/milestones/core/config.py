"""Settings: one dataclass, filled from defaults, an optional YAML file and env vars.

Precedence (lowest to highest): built-in defaults, ``milestones.yaml`` (path in
``MILESTONES_CONFIG``), environment variables ``MILESTONES_<FIELD>``, explicit
keyword overrides (the CLI's ``--data-dir`` for example).  Every field is listed
in the README's configuration reference.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "MILESTONES_"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: What links point at until ``public_url`` is set (a reserved domain: fine for the outbox, never sent).
PLACEHOLDER_PUBLIC_URL = "https://milestones.example"


@dataclass(frozen=True)
class Settings:
    """Every knob of the pipeline, with its default."""

    #: Root of everything the pipeline writes (snapshots, events, ledger, outbox).
    data_dir: Path = PROJECT_ROOT / "data"
    #: Stage files (snapshots, events, decisions, messages, run records, Data Docs) on object
    #: storage instead of data_dir: s3://bucket/prefix/, gs://...; empty: under data_dir.
    data_url: str = ""
    #: Airflow connection with the credentials for data_url.
    data_conn_id: str = "aws_default"
    #: Where new extracts land; the ingest DAG watches it.
    inbox_dir: Path | None = None
    #: Inbox in object storage instead (s3://bucket/prefix/, gs://..., file:///abs/path/); empty: inbox_dir.
    inbox_url: str = ""
    #: Airflow connection with the credentials for inbox_url (and for extract URLs given to the CLI).
    inbox_conn_id: str = "aws_default"
    #: Extract profile a file is read with (profiles/<name>.yaml): contract, salesforce, hubspot, ...
    extract_profile: str = "contract"
    #: Per file-name prefix profiles: "sf=salesforce,hs=hubspot" reads sf_customers_D.csv as salesforce.
    extract_profile_rules: str = ""
    #: Your own extract profiles (searched before the built-in ones).
    profiles_dir: Path | None = None
    #: Email templates and their catalog.
    templates_dir: Path = PROJECT_ROOT / "templates"
    #: Locale used when a customer has none, and the last fallback for templates.
    default_locale: str = "en"
    #: IANA time zone used when a customer has none.
    default_timezone: str = "UTC"
    #: Local hour (0-23) at which emails are scheduled in the customer's own zone.
    send_hour: int = 9
    #: Where a 29 February birthday is celebrated in common years: "feb28" or "mar1".
    leap_day_rule: str = "feb28"
    #: Catch-up window: events of this many days ending on the run's date are detected
    #: (each once; events older than their type's max_age_days are recorded stale, not sent).
    catch_up_days: int = 1
    #: Ledger database URL (SQLAlchemy); default is SQLite under data_dir.
    ledger_url: str | None = None
    #: Sender shown to customers (with a brand_file set and no from_email: hello@<its sending_domain>).
    from_email: str = "hello@milestones.example"
    #: Sender name shown to customers (with a brand_file set and no from_name: the brand's name).
    from_name: str = "Milestones"
    #: The brand every email, the preference center and the gallery carry (YAML: name, legal_name,
    #: postal_address, sending_domain, logo, colours, sign-offs, links; docs/guides/brand.md).
    #: Empty: the project's own neutral brand, not meant for customers.
    brand_file: str = ""
    #: An address that takes unsubscribe requests by email: added to List-Unsubscribe as a
    #: ``mailto:`` fallback after the one-click https link; empty: the https link alone.
    unsubscribe_mailto: str = ""
    #: Base URL of the public app (``milestones serve``) that emails link to; unsubscribe and
    #: preference links and image URLs derive from it unless set on their own.
    public_url: str = ""
    #: Base of the one-click unsubscribe links (default: ``<public_url>/u``).
    unsubscribe_url: str = ""
    #: Base URL of the email images (default: ``<public_url>/assets``, else the catalog's assets_url).
    assets_url: str = ""
    #: Validation gate: stop if invalid rows exceed this share of the file.
    max_invalid_share: float = 0.05
    #: Validation gate: stop if the row count drops by more than this share.
    max_row_drop_share: float = 0.20
    #: Rows validated at once (GX runs per chunk); peak memory follows it, not the file size.
    validation_chunk_rows: int = 1_000_000
    #: Seconds to connect to SendGrid; each attempt has twice this in all (the official client
    #: has no default).
    send_timeout: float = 10.0
    #: CA certificates (PEM file) to verify SendGrid's (or the egress proxy's) certificate with;
    #: empty: the system store. Proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
    send_ca_bundle: str = ""
    #: Emails per mapped delivery task (each shard is retried on its own).
    delivery_shard_size: int = 1000
    #: Emails sent at once (SendGrid: requests in flight on kept-alive connections, one libcurl
    #: thread; outbox: up to 4 writer threads). Also the bound on emails left in doubt by a crash of one worker.
    send_concurrency: int = 64
    #: Attempts per email for retryable answers (429, 5xx, connection refused).
    send_max_attempts: int = 5
    #: SendGrid unsubscribe group (ASM) id; 0 = none.
    asm_group_id: int = 0
    #: SendGrid categories added to every email (the event type is always added).
    categories: str = "milestones"
    #: At most one milestone email per customer in this many days.
    frequency_cap_days: int = 30
    #: When events fall together, the one email goes to the first of these present.
    priority: str = ("retirement,marriage,new_child,graduation,birthday,wedding_anniversary,"
                     "customer_anniversary")
    #: Share of customers (stable, by salted hash of customer_id) who receive nothing (0-1).
    holdout_share: float = 0.05
    #: Salt of the holdout hash; change it to draw a new holdout group.
    holdout_salt: str = "milestones-holdout-v1"
    #: Outcome that counts as a conversion when measuring uplift (an outcomes extract's `outcome`).
    conversion_outcome: str = "purchase"
    #: A conversion counts for an event when it occurs within this many days from the event's day.
    conversion_window_days: int = 14
    #: Salt of the A/B split of template variants; change it to draw new groups.
    variant_salt: str = "milestones-variants-v1"
    #: Comma-separated dates (YYYY-MM-DD) on which nothing is sent.
    quiet_dates: str = ""
    #: Circuit breaker: hold an event type's sends above this multiple of its trailing median.
    breaker_multiple: float = 3.0
    #: ...once this many earlier runs exist to take the median of...
    breaker_min_history: int = 3
    #: ...and only when more than this many emails would go out.
    breaker_min_sends: int = 50
    #: Soft failures (a ``blocked`` bounce, ``deferred``) of this many different emails to one
    #: address within soft_failure_days suppress it; 0: soft failures never suppress.
    soft_failure_limit: int = 3
    #: The window, in days, in which soft failures are counted.
    soft_failure_days: int = 30
    #: Sunset rule: stop writing to a customer who opened or clicked no email in this many
    #: months (counted from their first accepted email); 0: off.
    sunset_months: int = 0
    #: Retention, in days (0: keep forever); ``milestones retention apply`` and the daily
    #: privacy_retention DAG delete what is older. Validated extracts: snapshots, quarantine,
    #: validation summaries and the received copies (the newest snapshot always stays).
    retain_extract_days: int = 35
    #: Rendered emails: the messages files and the outbox's .eml files.
    retain_messages_days: int = 35
    #: Events and decisions (what ``milestones why`` explains).
    retain_decisions_days: int = 400
    #: Webhook events and rejected webhook payloads (rows of the ledger database).
    retain_webhook_days: int = 180
    #: Run records and approvals.
    retain_runs_days: int = 400
    #: Data Docs pages and their stored validation results.
    retain_docs_days: int = 90
    #: Stored outcomes (uplift and the report read them).
    retain_outcomes_days: int = 400
    #: Preference exports written for the CRM.
    retain_exports_days: int = 35
    #: SendGrid Event Webhook verification key (base64 DER, from SendGrid's settings).
    webhook_public_key: str = ""
    #: Largest webhook request body accepted, in bytes.
    webhook_max_bytes: int = 1_048_576
    #: Seconds a signed webhook request stays valid (replay window).
    webhook_replay_seconds: float = 300.0
    #: ``milestones serve`` writes (customers' changes, webhook batches, verified and parsed there
    #: too) in a separate writer process; false: on a thread of the server process.
    writer_process: bool = True
    #: Dry run: render and record everything, send nothing.
    dry_run: bool = False
    #: SendGrid sandbox mode (the API validates but does not deliver).
    sandbox_mode: bool = False
    #: Read an extract given on the command line even when it is a symbolic link (the inbox never does).
    follow_symlinks: bool = False
    #: Extra keyword options (kept for forward compatibility of YAML files).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inbox(self) -> Path:
        return Path(self.inbox_dir) if self.inbox_dir else Path(self.data_dir) / "inbox"

    @property
    def ledger_database_url(self) -> str:
        if self.ledger_url:
            return self.ledger_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'ledger.sqlite'}"

    @property
    def public_base(self) -> str:
        """The public app's base URL; a placeholder on the reserved example domain when unset."""
        return (self.public_url or PLACEHOLDER_PUBLIC_URL).rstrip("/")

    @property
    def unsubscribe_base(self) -> str:
        return (self.unsubscribe_url or f"{self.public_base}/u").rstrip("/")

    @property
    def preferences_base(self) -> str:
        return f"{self.public_base}/preferences"

    @property
    def view_base(self) -> str:
        """Where an email's web version is served (``milestones serve``: ``GET /v/{token}``)."""
        return f"{self.public_base}/v"

    @property
    def assets_base(self) -> str | None:
        """Where email images are hosted; None: the catalog's ``assets_url``."""
        if self.assets_url:
            return self.assets_url.rstrip("/")
        return f"{self.public_base}/assets" if self.public_url else None

    def __post_init__(self) -> None:
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                bound = ("greater than 0" if low == _TINY else f"at least {low}") if high == math.inf else (
                    f"between {low} and {high}")
                raise ValueError(f"setting {name} must be a number {bound}, not {value!r}")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


#: Numeric settings and their bounds (inclusive), checked when settings are built: a
#: ``send_max_attempts`` of 0 would record every email "gave up after 0 attempts" and never
#: send it; a share of 5 or a negative window would silently turn a rule off.
_TINY = 1e-9
_BOUNDS: tuple[tuple[str, float, float], ...] = (
    ("send_hour", 0, 23), ("catch_up_days", 1, 31),
    ("max_invalid_share", 0, 1), ("max_row_drop_share", 0, 1), ("holdout_share", 0, 1),
    ("validation_chunk_rows", 1, math.inf), ("delivery_shard_size", 1, math.inf),
    ("send_concurrency", 1, math.inf), ("send_max_attempts", 1, math.inf),
    ("send_timeout", _TINY, math.inf), ("webhook_replay_seconds", _TINY, math.inf),
    ("webhook_max_bytes", 1, math.inf), ("asm_group_id", 0, math.inf),
    ("frequency_cap_days", 0, math.inf), ("conversion_window_days", 0, math.inf),
    ("breaker_multiple", _TINY, math.inf), ("breaker_min_history", 0, math.inf),
    ("breaker_min_sends", 0, math.inf),
    *((f"retain_{c}_days", 0, 36500) for c in ("extract", "messages", "decisions", "webhook", "runs", "docs",
                                                  "outcomes", "exports")),
    ("soft_failure_limit", 0, math.inf), ("soft_failure_days", 1, 3660), ("sunset_months", 0, 120),
)


def _coerce(value: str, target: Any) -> Any:
    """Turn an environment string into the type of the field's default."""
    if isinstance(target, bool):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if isinstance(target, int):
        return int(value)
    if isinstance(target, float):
        return float(value)
    return value  # text, paths (made Path by load_settings) and settings without a default


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` from defaults, YAML file, environment and overrides."""
    base = Settings()
    values: dict[str, Any] = {}
    config_file = os.environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        from milestones.core.yamlload import safe_load

        with open(config_file, encoding="utf-8") as fh:
            loaded = safe_load(fh) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_file}: expected a mapping of settings")
        values.update(loaded)
    for f in fields(Settings):
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        if env is not None and f.name != "extra":
            try:
                values[f.name] = _coerce(env, getattr(base, f.name))
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{f.name.upper()}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    for name in ("data_dir", "templates_dir", "inbox_dir", "profiles_dir"):
        if values.get(name) is not None:
            values[name] = Path(values[name])
    if values.get("brand_file"):
        values = _with_brand(values, base)
    mailto = str(values.get("unsubscribe_mailto") or "")
    if mailto and (mailto.count("@") != 1 or any(c in mailto for c in " <>,?\r\n") or mailto.startswith("mailto:")):
        raise ValueError("setting unsubscribe_mailto must be a plain address such as unsubscribe@example.com")
    return dataclasses.replace(base, **values)


def _with_brand(values: dict[str, Any], base: Settings) -> dict[str, Any]:
    """Check the brand file now (a wrong one stops here, with its reason) and take the sender
    from it where no from_name / from_email is set."""
    from milestones.core.brand import load_brand

    brand = load_brand(values["brand_file"], templates_dir=values.get("templates_dir") or base.templates_dir)
    values = {**values, "brand_file": str(values["brand_file"])}
    values.setdefault("from_name", brand.name)
    values.setdefault("from_email", f"hello@{brand.sending_domain}")
    return values
