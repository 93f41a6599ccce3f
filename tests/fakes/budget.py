"""The fakes honour the invocation's time budget as the adapters do: no call starts once it is
spent (the store answers DeadlineExceeded, a provider ProviderDeadlineExceeded)."""

from __future__ import annotations

from exttests import budget
from exttests.adapters.aws import MIN_CALL_SECONDS
from exttests.errors import DeadlineExceeded, ProviderDeadlineExceeded


def _spent() -> bool:
    left = budget.remaining()
    return left is not None and left < MIN_CALL_SECONDS


def out_of_time() -> None:
    if _spent():
        raise DeadlineExceeded("the request ran out of time, retry")


def provider_out_of_time(provider: str) -> None:
    if _spent():
        raise ProviderDeadlineExceeded(provider)
