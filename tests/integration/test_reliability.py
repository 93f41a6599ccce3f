"""Nothing lost, nothing duplicated, nothing leaked: concurrency, crashes between writes, secrets."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from exttests.api.oneroster import WriteBackBody
from exttests.providers.http import token_cache
from tests.integration.test_results import (
    ADA,
    ADA_EMAIL,
    EDU_TESTOUT,
    MT_TESTOUT,
    finish,
    writeback_body,
)
from tests.support import EDU_USER, MT_USER

ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]


def assignments_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state["assignments"])


# The use cases are called from threads directly: in AWS every request runs in its own Lambda
# container, so nothing in-process serializes them — only the table's conditional writes do.


def _record(body: dict[str, Any]) -> dict[str, Any]:
    return WriteBackBody.model_validate(body).assessmentResult.model_dump(exclude_none=True)


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_reaches_a_log_line_or_an_error_body(
    service: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("", "exttests", "botocore", "urllib3", "local", "external-tests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    bodies: list[str] = []

    # A full scenario on both providers, including errors and a provider outage.
    status, assigned = service.assign(ADA, EDU_TESTOUT)
    assert status == 200
    bodies.append(json.dumps(service.assign("student-noemail", EDU_TESTOUT)[1]))
    finish(service, EDU_TESTOUT, ALL_CORRECT)
    bodies.append(json.dumps(service.import_results(ADA, EDU_TESTOUT)[1]["finalized"]))
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    bodies.append(json.dumps(service.write_back(head.sourced_id, writeback_body(score=95))[1]))
    bodies.append(json.dumps(service.write_back(head.sourced_id, raw_body="{bad")[1]))
    service.edulastic_control("faults", {"outage": True})
    bodies.append(json.dumps(service.assign("student-alan", EDU_TESTOUT)[1]))
    service.edulastic_control("faults", {})

    password = assigned["credentials"]["password"]
    tokens = [entry[0] for entry in (token_cache.get(k) for k in list(token_cache._tokens)) if entry]
    assert tokens, "the scenario should have logged in to the providers"
    secrets = [password, EDU_USER["password"], MT_USER["api_key"], *tokens]
    logged = caplog.text + capsys.readouterr().out
    assert ADA_EMAIL  # emails are not secrets; passwords, keys and tokens are
    for secret in secrets:
        encoded = base64.b64encode(secret.encode()).decode().rstrip("=")
        for text in (logged, *bodies):
            assert secret not in text
            assert encoded not in text
