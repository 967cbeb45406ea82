"""Fast unit tests that kill the mutants of render.names: how a customer is greeted.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import math

import pytest

from milestones.render.names import couple_name, display_name


@pytest.mark.parametrize("first, last, language, name", [
    ("娜", "李", "zh", "李娜"),                 # family name first, no space
    ("娜", "李", "zh-CN", "李娜"),
    ("娜", "李", "ZH-tw", "李娜"),
    ("花子", "山田", "ja", "山田花子"),
    ("민준", "김", "ko", "민준"),             # Hangul is not Han: the first name
    ("李娜", "", "zh", "李娜"),               # the whole name in first_name
    ("李娜", "李", "zh", "李娜"),             # family name already its first character
    ("娜", None, "zh", "娜"),
    ("Bob", "O'Brien", "zh", "Bob"),          # not written in Chinese characters
    ("Bob", "王", "zh", "王Bob"),              # a Han family name makes it Chinese
    ("", "李", "zh", ""),                      # no first name: no name
    ("娜", "李", "fi", "娜"),                 # Finnish uses the first name
    ("  Anna   Maria ", "Virtanen", "fi", "Anna Maria"),
    ("Anna", "Virtanen", "en", "Anna"),
    ("Anna", "Virtanen", "et-EE", "Anna"),
    (None, "Virtanen", "en", ""),
    (math.nan, "Virtanen", "en", ""),
    ("   ", "Virtanen", "en", ""),
    ("㐀", "李", "zh", "李㐀"),                # CJK extension A
    ("豈", "李", "zh", "李豈"),                # CJK compatibility ideographs
    (42, None, "en", "42"),
])
def test_display_name(first, last, language, name):
    assert display_name(first, last, language) == name


@pytest.mark.parametrize("one, other, language, names", [
    ({"first_name": "Anna"}, {"first_name": "Mikko"}, "en", "Anna and Mikko"),
    ({"first_name": "Anna"}, {"first_name": "Mikko"}, "fi-FI", "Anna ja Mikko"),
    ({"first_name": "Anna"}, {"first_name": "Mikko"}, "et", "Anna ja Mikko"),
    ({"first_name": "芳", "last_name": "王"}, {"first_name": "明", "last_name": "李"}, "zh", "王芳和李明"),
    ({"first_name": "花子", "last_name": "山田"}, {"first_name": "太郎", "last_name": "山田"}, "ja", "山田花子と山田太郎"),
    ({"first_name": "A"}, {"first_name": "B"}, "ko", "A 그리고 B"),
    ({"first_name": "Anna"}, {"first_name": "Mikko"}, "sv", "Anna & Mikko"),
    ({"first_name": "Anna"}, {"first_name": None}, "en", "Anna"),
    ({}, {"first_name": "Mikko"}, "en", "Mikko"),
    ({}, {}, "en", ""),
])
def test_couple_name(one, other, language, names):
    assert couple_name(one, other, language) == names
