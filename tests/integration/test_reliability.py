"""Nothing leaked: no secret, credential or token in any log line (at DEBUG) or error body."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import boto3
import pytest

from exttests import wiring
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
# The shape of a Lambda role's STS session token (what AWS_SESSION_TOKEN holds in a function):
# botocore sends it as X-Amz-Security-Token and logs its request headers at DEBUG.
SESSION_TOKEN = (
    "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDj3KpXwSR4ZXzOw1a9S2nq7kfUzVb0XWqdRi3H7sJk2gIgX5T0"
    "pQm4Uqq2fK9c4v8qUe0sYh7Gm1dJbq3hS4r8nUwqmQMIo///////////ARAAGgw5ODc2NTQzMjEwOTgiDL7m5v3yNq2G"
    "Zk1mPyrtAlc0o8T0Yw2cJbS5mR6z3q8Fh0XnKc1ZrTt7pQ2oYb6WwD5vL4eXaM9sF3hUkG2jP0nC8rV7yB1tQ6uE4iO"
    "9wA2sD3fG5hJ7kL0zX1cV4bN6mQ8eR2tY9uI3oP5aS7dF0gH4jK6lZ8xC1vB3nM5qW7eR9tY2uI4oP6aS8dF0gH2jK"
    "4lZ6xC8vB0nM3qW5eR7tY9uI1oP3aS5dF7gH9jK1lZ3xC5vB7nM9qW1eR3tY5uI7oP9aS1dF3gH5jK7lZ9xC2vB4n+"
    "M6qW8eR0tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM2q/W4eR6tY8uI0oP2aS4dF6gH8jK0lZ2xC4vB6nM8qW0eR2tY4"
    "uI6oP8aS0dF2gH4jK6lZ8xC0vB2nM4qW6eR8tY0uI2oP4aS6dF8gH0jK2lZ4xC6vB8nM0qW2eR4tY6uI8oP0aS2dF4"
)


def test_no_secret_reaches_a_log_line_or_an_error_body(
    service: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Credentials are read when the first client of a session is made: new session, new clients.
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    wiring.reset()
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
    # The workflow registered a callback: its Step Functions task token is on the attempt, and
    # the finalizing write-back below hands it back with SendTaskSuccess.
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    task_token = head.task_token
    bodies.append(json.dumps(service.write_back(head.sourced_id, writeback_body(score=95))[1]))
    bodies.append(json.dumps(service.write_back(head.sourced_id, raw_body="{bad")[1]))
    service.edulastic_control("faults", {"outage": True})
    bodies.append(json.dumps(service.assign("student-alan", EDU_TESTOUT)[1]))
    service.edulastic_control("faults", {})

    password = assigned["credentials"]["password"]
    tokens = [entry[0] for entry in (token_cache.get(k) for k in list(token_cache._tokens)) if entry]
    assert tokens, "the scenario should have logged in to the providers"
    assert service.head(ADA, MT_TESTOUT).finalized  # the callback was completed
    secrets = [password, EDU_USER["password"], MT_USER["api_key"], *tokens, SESSION_TOKEN, task_token]
    logged = caplog.text + capsys.readouterr().out
    assert ADA_EMAIL  # emails are not secrets; passwords, keys and tokens are
    for secret in secrets:
        encoded = base64.b64encode(secret.encode()).decode().rstrip("=")
        for text in (logged, *bodies):
            assert secret not in text
            assert encoded not in text
    # Request signatures (the Authorization header's, and botocore.auth's own DEBUG line).
    assert not re.search(r"Signature(=|:\s*)[0-9a-f]{64}", logged)
