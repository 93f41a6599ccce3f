"""`exttests.adapters.aws.LazyClient`: an adapter's boto3 client, given or made on first use."""

from __future__ import annotations

from typing import Any

import pytest

from exttests.adapters import aws
from exttests.adapters.kms_cipher import KmsCipher


def test_a_given_client_is_used_as_is() -> None:
    given = object()
    assert KmsCipher("key", client=given).client is given


def test_without_one_a_client_of_the_service_is_made_once_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []

    def client(service: str) -> Any:
        made.append(service)
        return object()

    monkeypatch.setattr(aws, "client", client)
    cipher = KmsCipher("key")
    assert made == []  # not at construction: mock_aws or AWS_ENDPOINT_URL may be set after it
    first = cipher.client
    assert cipher.client is first and made == ["kms"]
