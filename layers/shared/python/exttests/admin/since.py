"""`--since`: an ISO-8601 moment, or a span back from now (30m, 6h, 2d)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_SPAN = re.compile(r"([0-9]{1,9})([mhd])")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}
HELP = "ISO-8601 (2025-05-01, 2025-05-01T10:00Z; UTC when no offset) or a span back from now: 30m, 6h, 2d"


def parse_since(text: str, now: datetime) -> datetime:
    """The moment `text` names, in UTC. ValueError (with what is accepted) otherwise."""
    raw = text.strip()
    span = _SPAN.fullmatch(raw)
    try:
        if span is not None:
            return (now - timedelta(seconds=int(span[1]) * _SECONDS[span[2]])).astimezone(UTC)
        moment = datetime.fromisoformat(raw)
    except (ValueError, OverflowError):
        raise ValueError(f"--since must be {HELP}; got {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
