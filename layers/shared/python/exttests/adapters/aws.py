"""boto3 clients as the adapters use them: bounded timeouts and retries, and the invocation's
time budget checked before every call, so an AWS call never starts after the budget is spent
(the caller answers DeadlineExceeded — a clean 503 — instead of being cut off by Lambda)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from .. import budget
from ..errors import DeadlineExceeded

# One AWS call (with its retries) stays well inside any invocation's margin for answering.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
# Less than this left: no call is started (it would likely outlive the budget).
MIN_CALL_SECONDS = 0.2


def _check_budget(**_: Any) -> None:
    left = budget.remaining()
    if left is not None and left < MIN_CALL_SECONDS:
        raise DeadlineExceeded("the request ran out of time, retry")


def client(service: str) -> Any:
    """A client of `service`, created when first needed (so mock_aws and AWS_ENDPOINT_URL set
    after import still apply)."""
    made = boto3.client(service, config=_CONFIG)
    made.meta.events.register("before-call.*", _check_budget)
    return made


class LazyClient:
    """An adapter's `client` attribute: the client given to the constructor (kept in `_client`),
    or one of `service` made on first use, for the reason `client` gives."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __get__(self, adapter: Any, owner: type | None = None) -> Any:
        if adapter is None:
            return self
        if adapter._client is None:
            adapter._client = client(self.service)
        return adapter._client
