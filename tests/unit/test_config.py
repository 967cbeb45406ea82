from __future__ import annotations

from pathlib import Path

import pytest

from milestones.core.config import load_settings


def test_defaults(monkeypatch):
    for var in ("MILESTONES_DATA_DIR", "MILESTONES_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.data_dir.name == "data" and s.default_locale == "en" and s.send_hour == 9
    assert s.inbox == s.data_dir / "inbox"
    assert s.ledger_database_url.startswith("sqlite:///") and s.ledger_database_url.endswith("ledger.sqlite")


def test_precedence_yaml_env_override(tmp_path, monkeypatch):
    cfg = tmp_path / "milestones.yaml"
    cfg.write_text("send_hour: 8\ndefault_locale: fi\ndry_run: true\n")
    monkeypatch.setenv("MILESTONES_CONFIG", str(cfg))
    monkeypatch.setenv("MILESTONES_SEND_HOUR", "10")
    s = load_settings(data_dir=tmp_path / "d")
    assert s.send_hour == 10  # env beats the file
    assert s.default_locale == "fi" and s.dry_run is True  # file beats defaults
    assert s.data_dir == tmp_path / "d"  # explicit override beats all


@pytest.mark.parametrize("value, expected", [("yes", True), ("0", False), ("TRUE", True), ("off", False)])
def test_boolean_env(monkeypatch, value, expected):
    monkeypatch.setenv("MILESTONES_DRY_RUN", value)
    assert load_settings().dry_run is expected


def test_bad_values_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("MILESTONES_SEND_HOUR", "nine")
    with pytest.raises(ValueError, match="MILESTONES_SEND_HOUR"):
        load_settings()
    monkeypatch.delenv("MILESTONES_SEND_HOUR")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sendhour: 8\n")
    monkeypatch.setenv("MILESTONES_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="unknown settings: sendhour"):
        load_settings()


def test_data_dir_is_a_path(tmp_path):
    assert isinstance(load_settings(data_dir=str(tmp_path)).data_dir, Path)


def test_every_setting_is_documented():
    """The settings reference (docs/reference/settings.md, generated from config.py) gives every
    setting its environment variable and a meaning: a field without its ``#:`` comment fails."""
    import dataclasses
    import importlib.util

    from milestones.core.config import PROJECT_ROOT, Settings

    spec = importlib.util.spec_from_file_location("mkdocs_hooks", PROJECT_ROOT / "scripts" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    rows = {line.split("|")[1].strip(" `"): line for line in hooks.settings_reference().splitlines()[2:]}
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "extra"]
    assert sorted(rows) == sorted(names)
    undocumented = [name for name in names
                    if rows[name].split("|")[2].strip() != f"`MILESTONES_{name.upper()}`"
                    or not rows[name].split("|")[5].strip()]
    assert undocumented == []
    page = (PROJECT_ROOT / "docs" / "reference" / "settings.md").read_text(encoding="utf-8")
    assert "<!-- generated: settings -->" in page


@pytest.mark.parametrize("name, bad, edge", [
    ("send_max_attempts", 0, 1),      # 0: every email "gave up after 0 attempts", never sent
    ("send_concurrency", 0, 1),
    ("delivery_shard_size", 0, 1),
    ("send_hour", 24, 23),
    ("send_hour", -1, 0),
    ("holdout_share", 1.01, 1.0),
    ("max_invalid_share", -0.01, 0.0),
    ("catch_up_days", 0, 1),
    ("frequency_cap_days", -1, 0),
    ("send_timeout", 0, 0.001),
    ("webhook_replay_seconds", 0, 0.5),
])
def test_numeric_settings_out_of_bounds_are_refused(monkeypatch, name, bad, edge):
    assert getattr(load_settings(**{name: edge}), name) == edge
    with pytest.raises(ValueError, match=rf"^setting {name} must be a number "):
        load_settings(**{name: bad})
    monkeypatch.setenv(f"MILESTONES_{name.upper()}", str(bad))  # the environment too
    with pytest.raises(ValueError, match=rf"^setting {name} must be a number "):
        load_settings()


def test_a_bad_setting_is_a_usage_error_on_the_command_line(monkeypatch, tmp_path, capsys):
    from milestones import cli

    monkeypatch.setenv("MILESTONES_SEND_MAX_ATTEMPTS", "0")
    assert cli.main(["ledger", "status", "--data-dir", str(tmp_path)]) == 2
    assert "setting send_max_attempts must be a number at least 1, not 0" in capsys.readouterr().err


# --- each rule of the settings alone (expected values from the settings reference) -----------------

@pytest.mark.parametrize("text, expected", [
    ("1", True), ("true", True), ("yes", True), ("on", True), (" YES ", True), ("True", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False), ("  ", False), ("OFF", False),
])
def test_every_spelling_of_a_boolean(monkeypatch, text, expected):
    monkeypatch.setenv("MILESTONES_DRY_RUN", text)
    assert load_settings().dry_run is expected


def test_a_word_that_is_not_a_boolean_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("MILESTONES_DRY_RUN", "maybe")
    with pytest.raises(ValueError) as caught:
        load_settings()
    assert str(caught.value) == "MILESTONES_DRY_RUN: not a boolean: 'maybe'"


def test_environment_strings_take_the_type_of_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MILESTONES_SEND_HOUR", "7")
    monkeypatch.setenv("MILESTONES_HOLDOUT_SHARE", "0.25")
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("MILESTONES_DEFAULT_LOCALE", "fi")
    monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://prefs.bank.example")
    s = load_settings()
    assert s.send_hour == 7 and type(s.send_hour) is int
    assert s.holdout_share == 0.25 and type(s.holdout_share) is float
    assert s.data_dir == tmp_path / "d" and isinstance(s.data_dir, Path)
    assert s.default_locale == "fi" and s.public_url == "https://prefs.bank.example"


def test_an_integer_setting_given_a_fraction_is_refused(monkeypatch):
    monkeypatch.setenv("MILESTONES_SEND_HOUR", "7.5")
    with pytest.raises(ValueError, match="^MILESTONES_SEND_HOUR: "):
        load_settings()


def test_the_extra_setting_is_never_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MILESTONES_EXTRA", "anything")
    assert load_settings().extra == {}


def test_an_override_of_none_keeps_the_lower_layers(monkeypatch):
    monkeypatch.setenv("MILESTONES_SEND_HOUR", "10")
    assert load_settings(send_hour=None).send_hour == 10
    assert load_settings(send_hour=6).send_hour == 6


def test_a_settings_file_that_is_not_a_mapping_is_refused(monkeypatch, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("- send_hour\n- 8\n")
    monkeypatch.setenv("MILESTONES_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="expected a mapping of settings"):
        load_settings()
    cfg.write_text("")  # empty: no settings, the defaults
    assert load_settings().send_hour == 9


def test_every_unknown_setting_is_named_in_order(monkeypatch):
    with pytest.raises(ValueError) as caught:
        load_settings(zeta=1, alpha=2)
    assert str(caught.value) == "unknown settings: alpha, zeta"


@pytest.mark.parametrize("name", ["data_dir", "templates_dir", "inbox_dir", "profiles_dir"])
def test_directories_given_as_text_become_paths(tmp_path, name):
    got = getattr(load_settings(**{name: str(tmp_path / "x")}), name)
    assert isinstance(got, Path) and got == tmp_path / "x"


@pytest.mark.parametrize("address, ok", [
    ("unsubscribe@bank.example", True), ("", True), ("X-Unsubscribe@BANK.example", True),
    ("two@@bank.example", False), ("nobody.bank.example", False), ("a b@bank.example", False),
    ("<u@bank.example>", False), ("u@bank.example,v@bank.example", False), ("u@bank.example?subject=x", False),
    ("mailto:u@bank.example", False), ("u@bank.example\r\nBcc: x@evil.example", False),
])
def test_the_unsubscribe_mailbox_is_one_plain_address(address, ok):
    if ok:
        assert load_settings(unsubscribe_mailto=address).unsubscribe_mailto == address
    else:
        with pytest.raises(ValueError, match="^setting unsubscribe_mailto must be a plain address"):
            load_settings(unsubscribe_mailto=address)


def test_the_public_links_derive_from_the_public_url_without_a_trailing_slash():
    s = load_settings(public_url="https://prefs.bank.example/")
    assert s.public_base == "https://prefs.bank.example"
    assert s.unsubscribe_base == "https://prefs.bank.example/u"
    assert s.preferences_base == "https://prefs.bank.example/preferences"
    assert s.view_base == "https://prefs.bank.example/v"
    assert s.assets_base == "https://prefs.bank.example/assets"


def test_without_a_public_url_links_use_the_reserved_placeholder_and_images_the_catalog():
    s = load_settings(public_url="")
    assert s.public_base == "https://milestones.example"  # the reserved example domain: never sent
    assert s.unsubscribe_base == "https://milestones.example/u"
    assert s.assets_base is None  # the catalog's assets_url then


def test_explicit_unsubscribe_and_assets_urls_win_without_their_trailing_slash():
    s = load_settings(public_url="https://prefs.bank.example", unsubscribe_url="https://u.bank.example/x/",
                      assets_url="https://cdn.bank.example/img/")
    assert s.unsubscribe_base == "https://u.bank.example/x"
    assert s.assets_base == "https://cdn.bank.example/img"


def test_the_inbox_and_ledger_follow_the_data_directory_unless_set(tmp_path):
    s = load_settings(data_dir=tmp_path / "d")
    assert s.inbox == tmp_path / "d" / "inbox"
    assert s.ledger_database_url == f"sqlite:///{(tmp_path / 'd').resolve() / 'ledger.sqlite'}"
    s = load_settings(data_dir=tmp_path / "d", inbox_dir=tmp_path / "in", ledger_url="postgresql://db/ledger")
    assert s.inbox == tmp_path / "in" and s.ledger_database_url == "postgresql://db/ledger"


@pytest.mark.parametrize("name, low, high", [
    ("send_hour", 0, 23), ("catch_up_days", 1, 31), ("holdout_share", 0, 1), ("max_row_drop_share", 0, 1),
    ("retain_extract_days", 0, 36500), ("retain_exports_days", 0, 36500), ("soft_failure_days", 1, 3660),
    ("sunset_months", 0, 120),
])
def test_bounded_settings_take_both_ends_and_nothing_beyond(name, low, high):
    assert getattr(load_settings(**{name: low}), name) == low
    assert getattr(load_settings(**{name: high}), name) == high
    for beyond in (low - 1, high + 1):
        with pytest.raises(ValueError) as caught:
            load_settings(**{name: beyond})
        assert str(caught.value) == f"setting {name} must be a number between {low} and {high}, not {beyond!r}"


@pytest.mark.parametrize("name, text", [("send_timeout", "greater than 0"), ("send_concurrency", "at least 1"),
                                        ("frequency_cap_days", "at least 0")])
def test_open_ended_settings_say_their_one_bound(name, text):
    with pytest.raises(ValueError) as caught:
        load_settings(**{name: -5})
    assert str(caught.value) == f"setting {name} must be a number {text}, not -5"


def test_a_boolean_or_a_string_is_not_a_number(monkeypatch):
    with pytest.raises(ValueError, match="not True"):
        load_settings(send_hour=True)
    with pytest.raises(ValueError, match="not '9'"):
        load_settings(send_hour="9")


# --- a brand file: checked when settings load, and the sender taken from it ----------------------

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_BRAND = ROOT / "templates" / "brands" / "example-bank.yaml"


def test_a_brand_gives_the_sender_its_name_and_domain():
    s = load_settings(brand_file=EXAMPLE_BRAND, templates_dir=ROOT / "templates")
    # templates/brands/example-bank.yaml: name Northstar Bank, sending_domain northstar-bank.example
    assert s.from_name == "Northstar Bank" and s.from_email == "hello@northstar-bank.example"
    assert s.brand_file == str(EXAMPLE_BRAND) and isinstance(s.brand_file, str)


def test_a_sender_set_in_the_settings_wins_over_the_brand():
    s = load_settings(brand_file=str(EXAMPLE_BRAND), templates_dir=ROOT / "templates",
                      from_name="Northstar Offers", from_email="offers@northstar-bank.example")
    assert (s.from_name, s.from_email) == ("Northstar Offers", "offers@northstar-bank.example")


def test_the_brand_logo_is_looked_up_in_the_templates_directory_given(tmp_path):
    # The logo file is checked in <templates_dir>/assets: a templates directory without it fails now.
    (tmp_path / "assets").mkdir()
    with pytest.raises(ValueError, match="logo"):
        load_settings(brand_file=EXAMPLE_BRAND, templates_dir=tmp_path)


def test_a_brand_file_that_is_not_there_stops_the_settings(tmp_path):
    with pytest.raises((ValueError, OSError)):
        load_settings(brand_file=tmp_path / "nope.yaml")


def test_no_brand_file_leaves_the_default_sender():
    s = load_settings(brand_file="")
    assert s.brand_file == "" and s.from_email == load_settings().from_email
