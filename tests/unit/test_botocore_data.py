"""local.botocore_data: botocore's JSON is parsed once per process, whatever the number of sessions."""

from __future__ import annotations

from typing import Any

import botocore.loaders
import botocore.session
import pytest

from local import botocore_data


def test_every_session_reads_botocore_data_through_one_loader() -> None:
    botocore_data.share_one_loader()
    first, second = botocore.session.Session(), botocore.session.Session()
    assert first.get_component("data_loader") is second.get_component("data_loader")


def test_a_client_of_a_service_read_beforehand_parses_no_json_file(monkeypatch: pytest.MonkeyPatch) -> None:
    botocore_data.read_for_clients(["kms"])

    def no_file(self: Any, file_path: str) -> Any:
        raise AssertionError(f"parsed {file_path} again")

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", no_file)
    client = botocore.session.Session().create_client(
        "kms", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    assert client.meta.service_model.service_name == "kms"
