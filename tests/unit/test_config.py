from __future__ import annotations

from pathlib import Path

import pytest

from milestones.config import load_settings


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
    """The README's configuration reference lists every setting with its env var."""
    import dataclasses

    from milestones.config import PROJECT_ROOT, Settings

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f.name for f in dataclasses.fields(Settings) if f.name != "extra"
               and f"| `{f.name}` | `MILESTONES_{f.name.upper()}` |" not in readme]
    assert missing == []
