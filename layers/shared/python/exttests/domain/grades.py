"""OneRoster grade strings on one numeric scale: "-1" Pre-K, "0" K, "1".."12", "13" AP.

Roster data arrives with grades as strings, numbers, zero-padded CEDS codes ("05") or
letter codes ("KG", "PK"); everything the rules compare goes through `normalize_grade`
first so that "5", 5, 5.0 and "05" are the same grade.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from numbers import Real

MIN_GRADE = -1
MAX_GRADE = 13

# Letter codes seen in OneRoster/CEDS exports for the two ends of the scale. Codes
# that have no place on the scale (e.g. "IT" infant/toddler, "UG" ungraded) stay
# unknown on purpose: guessing would enroll students in the wrong course.
_ALIASES: dict[str, int] = {
    "PK": -1,
    "PREK": -1,
    "PRE-K": -1,
    "PREKINDERGARTEN": -1,
    "K": 0,
    "KG": 0,
    "KINDERGARTEN": 0,
    "AP": 13,
}

# An integer, optionally written with a zero fraction ("5.0"); "5.5" is not a grade.
_NUMERIC = re.compile(r"[+-]?\d+(?:\.0*)?")


def grade_rank(value: object) -> int | None:
    """The grade's position on the scale (-1..13), or None when it is not a grade."""
    if isinstance(value, bool):  # bool is an int subclass; True is not grade 1
        return None
    # Decimal is not a numbers.Real, but it is what boto3 hands back for DynamoDB numbers.
    if isinstance(value, Real | Decimal):
        try:
            number = float(value)
        except ValueError:  # Decimal('sNaN') refuses conversion
            return None
        if not math.isfinite(number) or not number.is_integer():
            return None
        rank = int(number)
    elif isinstance(value, str):
        text = value.strip()
        alias = _ALIASES.get(text.upper())
        if alias is not None:
            rank = alias
        elif _NUMERIC.fullmatch(text):
            rank = int(float(text))
        else:
            return None
    else:
        return None
    return rank if MIN_GRADE <= rank <= MAX_GRADE else None


def normalize_grade(value: object) -> str | None:
    """The canonical OneRoster grade string ("-1".."13") for `value`, or None."""
    rank = grade_rank(value)
    return None if rank is None else str(rank)


def next_grade(grade: object) -> str | None:
    """The grade one step up the scale; None after "13" (AP) or for a non-grade."""
    rank = grade_rank(grade)
    if rank is None or rank >= MAX_GRADE:
        return None
    return str(rank + 1)
