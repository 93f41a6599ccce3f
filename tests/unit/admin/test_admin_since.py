"""`--since`: an ISO-8601 moment or a span back from now, always in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from exttests.admin.since import parse_since

NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
        ("0m", timedelta()),
    ],
)
def test_a_span_counts_back_from_now(text: str, back: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - back


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T12:00:00+02:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),  # no offset: UTC
        ("2025-05-01", datetime(2025, 5, 1, tzinfo=UTC)),
    ],
)
def test_an_iso_moment_is_read_in_utc(text: str, moment: datetime) -> None:
    parsed = parse_since(text, NOW)
    assert parsed == moment and parsed.tzinfo == UTC


def test_a_moment_with_an_offset_keeps_its_instant() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert parse_since("2025-05-01T19:00:00+09:00", NOW) == datetime(2025, 5, 1, 19, tzinfo=tokyo)


@pytest.mark.parametrize(
    "text", ["yesterday", "30", "5w", "-1d", "1.5h", "", "30 m", "9999999999d", "999999999d"]
)
def test_anything_else_is_refused_saying_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601 .* 30m, 6h, 2d"):
        parse_since(text, NOW)
