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
