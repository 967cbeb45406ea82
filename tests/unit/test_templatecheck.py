"""The approval check's answer is kept by the templates' content, and only by it."""

from __future__ import annotations

import shutil
from pathlib import Path

from milestones.render import templatecheck

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "templates", target)
    return target


def test_the_same_files_anywhere_are_checked_once_and_a_changed_file_again(tmp_path, monkeypatch):
    rendered = []
    real = templatecheck._problems
    monkeypatch.setattr(templatecheck, "_problems", lambda *a: rendered.append(a[1]) or real(*a))
    monkeypatch.setattr(templatecheck, "_ANSWERS", type(templatecheck._ANSWERS)())  # nothing kept yet
    first = _copy(tmp_path, "a")
    assert templatecheck.problems(first, "retirement") == []
    assert templatecheck.problems(_copy(tmp_path, "b"), "retirement") == []  # same content elsewhere
    assert rendered == ["retirement"]
    # Another template, or another default locale, is its own question.
    assert templatecheck.problems(first, "birthday") == []
    assert templatecheck.problems(first, "retirement", default_locale="fi") == []
    assert rendered == ["retirement", "birthday", "retirement"]
    # One file changed (a link over http:// in the English text): checked again, and refused.
    html = first / "retirement" / "en.html"
    html.write_text(html.read_text(encoding="utf-8").replace("{% endblock %}", '<a href="http://x.example">x</a>{% endblock %}', 1),
                    encoding="utf-8")
    found = templatecheck.problems(first, "retirement")
    assert len(rendered) == 4 and found and all("http://" in p for p in found)
    assert all(p.startswith("en ") for p in found)
    # Put back as it was: the kept answer again, no rendering.
    shutil.copy2(ROOT / "templates" / "retirement" / "en.html", html)
    assert templatecheck.problems(first, "retirement") == [] and len(rendered) == 4


def test_a_file_renamed_is_a_change(tmp_path):
    first = _copy(tmp_path, "a")
    before = templatecheck.content_digest(first)
    (first / "assets" / "retirement.png").rename(first / "assets" / "retired.png")
    assert templatecheck.content_digest(first) != before
