"""Reading provider answers: JSON bodies, their error texts and Retry-After headers."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from datetime import UTC
from typing import Any

import requests

from exttests.errors import ProviderUnavailable

_REASON_MAX = 200
_DIGITS = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def malformed(provider: str, what: str) -> ProviderUnavailable:
    return ProviderUnavailable(provider, f"malformed answer: {what}")


def parse_json(provider: str, response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise malformed(provider, "not JSON") from None


def unwrap(payload: Any) -> Any:
    """Accept both `{"result": X}` and bare `X`."""
    if isinstance(payload, dict) and "result" in payload:
        return payload["result"]
    return payload


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def rejection_reason(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The provider's own error text when it gave one, else a short generic one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = _reason_from(body, depth=0)
    if not reason:
        reason = f"HTTP {response.status_code}"
    reason = " ".join(redact(reason, secrets).split())
    return reason[:_REASON_MAX]


def _reason_from(body: Any, depth: int) -> str | None:
    if depth > 3:
        return None
    if isinstance(body, str):
        return body or None
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    code_text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    message: str | None = None
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            message = value
            break
        if isinstance(value, dict):
            message = _reason_from(value, depth + 1)
            if message:
                break
    if message is None and "result" in body:
        return _reason_from(body["result"], depth + 1)
    if code_text and message and code_text not in message:
        return f"{code_text}: {message}"
    return message or code_text


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    if _DIGITS.match(value):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        # "-0000" dates come back naive; HTTP dates are always UTC.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
