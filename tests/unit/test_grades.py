from __future__ import annotations

import math
from decimal import Decimal

import pytest

from exttests.domain.grades import grade_rank, next_grade, normalize_grade


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-1", "-1"),
        ("0", "0"),
        ("5", "5"),
        ("12", "12"),
        ("13", "13"),
        ("05", "5"),
        ("00", "0"),
        (" 7 ", "7"),
        ("5.0", "5"),
        ("+3", "3"),
        (5, "5"),
        (5.0, "5"),
        (-1, "-1"),
        (Decimal("6"), "6"),
        ("PK", "-1"),
        ("pk", "-1"),
        ("Pre-K", "-1"),
        ("K", "0"),
        ("KG", "0"),
        ("kg", "0"),
        ("AP", "13"),
    ],
)
def test_normalize_grade_accepts_oneroster_forms(value: object, expected: str) -> None:
    assert normalize_grade(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "  ",
        "14",
        "-2",
        14,
        "5.5",
        5.5,
        "five",
        "Grade 5",
        "IT",
        "UG",
        "Other",
        True,
        False,
        math.nan,
        math.inf,
        [5],
        {"grade": 5},
    ],
)
def test_normalize_grade_rejects_everything_else(value: object) -> None:
    assert normalize_grade(value) is None


@pytest.mark.parametrize(
    ("grade", "expected"),
    [("-1", "0"), ("0", "1"), ("5", "6"), ("11", "12"), ("12", "13"), ("K", "1"), ("05", "6"), (5, "6")],
)
def test_next_grade_is_numeric_on_the_scale(grade: object, expected: str) -> None:
    assert next_grade(grade) == expected


@pytest.mark.parametrize("grade", ["13", "AP", "14", "x", None, ""])
def test_next_grade_has_no_successor_past_ap_or_for_non_grades(grade: object) -> None:
    assert next_grade(grade) is None


def test_next_grade_is_not_string_concatenation() -> None:
    # The bug this guards against: "9" + 1 done on strings or lexicographic order.
    assert next_grade("9") == "10"


@pytest.mark.parametrize(
    ("grade", "rank"), [("-1", -1), ("0", 0), ("KG", 0), ("5", 5), (" 08 ", 8), ("13", 13)]
)
def test_grade_rank(grade: object, rank: int) -> None:
    assert grade_rank(grade) == rank


def test_grade_rank_unknown() -> None:
    assert grade_rank("abc") is None
    assert grade_rank(None) is None
