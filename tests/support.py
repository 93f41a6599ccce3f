"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from local import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "schemas"
DEMO_ROSTER = ROOT / "local" / "demo_roster.json"

EDU_USER = {
    "username": "service@edulastic.test",
    "password": "edu-service-pass-1",
    "class_id": "class-int-1",
    "class_code": "CLS-INT-1",
}
MT_USER = {"api_key": "mt-api-key-int-1", "api_email": "api@masterytrack.test"}

# The load tests (marked `scaled`) run small in `make test`, whose target is two minutes;
# `make test-full` (CI runs it after `make test`) runs them at the size docs/reliability.md reports.
FULL_SCALE = os.environ.get("EXTTESTS_FULL_SCALE") == "1"


def at_scale(quick: int, full: int) -> int:
    return full if FULL_SCALE else quick


_SESSION: list[Any] = []


def shared_boto3_session() -> Any:
    """moto starts every mock with a new default boto3 session (~0.2 s to build); the credentials
    and region are the same fake ones in every test, so one session serves them all (install it
    as `boto3.DEFAULT_SESSION` inside the mock)."""
    import boto3

    if not _SESSION:
        _SESSION.append(boto3.Session())
    return _SESSION[0]


def moto_table_snapshot(table: str, region: str) -> list[str]:
    """Every item of a table of this process's moto, each as sorted JSON, sorted (tests only: the
    tables are small). Read from moto's backend while its DynamoDB requests are held
    (`dynamodb_paused`): what a consistent scan returns, without serializing and parsing every
    item through the API (30 ms a scan, and the tests take hundreds of snapshots)."""
    from moto.dynamodb.models import dynamodb_backends

    from local.aws_resources import DEFAULT_ACCOUNT_ID
    from local.lambda_dispatch import dynamodb_paused

    with dynamodb_paused():
        items = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table).all_items()
        return sorted(json.dumps(item.to_json()["Attributes"], sort_keys=True) for item in items)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | list[tuple[str, str]] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    headers: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as the JWT authorizer would pass it on."""
    raw_query = urlencode(query or {})
    params: dict[str, str] = {}
    for name, value in query.items() if isinstance(query, Mapping) else (query or []):
        params[name] = f"{params[name]},{value}" if name in params else value
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    return {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"content-type": "application/json", **(headers or {})},
        "queryStringParameters": params or None,
        "pathParameters": dict(path_parameters or {}) or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "test",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {route or path}",
            "stage": "$default",
            "authorizer": {"jwt": {"claims": {"client_id": "test"}, "scopes": ["exttests/powerpath"]}},
        },
        "body": text,
        "isBase64Encoded": False,
    }


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema file under tests/schemas, parsed once per process (read it, never change it): the
    tests validate hundreds of answers against it, and parsing it took 0.1 s each time."""
    loaded: dict[str, Any] = yaml.load((SCHEMAS / name).read_text(), Loader=cfn_yaml.SafeYamlLoader)
    return loaded


@functools.cache
def response_validator(path: str, method: str, status: int = 200) -> Any:
    """A jsonschema validator for one response of the public PowerPath fragment (OpenAPI 3.1),
    built once per response per process (a validator keeps no state between validations)."""
    import jsonschema

    document = load_schema("powerpath-external-tests.yaml")
    operation = document["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    wrapped = {**schema, "components": document["components"]}
    validator_class = jsonschema.validators.validator_for(
        {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    )
    return validator_class(wrapped, format_checker=validator_class.FORMAT_CHECKER)


def assert_valid(path: str, method: str, status: int, body: Any) -> None:
    errors = sorted(response_validator(path, method, status).iter_errors(body), key=str)
    assert not errors, [e.message for e in errors]


@functools.cache
def signing_key() -> Any:
    """One RSA key for the tests' token issuers (generating one costs 0.1 s of CPU); a test that
    needs tokens signed by another key makes its issuer without it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def start_simulators() -> tuple[Any, Any]:
    """Both provider simulators on free ports, with the test credentials (no write-back target:
    tests call the write-back handler themselves)."""
    from local.simulators.edulastic import create_edulastic_simulator
    from local.simulators.mastery_track import create_mastery_track_simulator

    edulastic = create_edulastic_simulator(
        username=EDU_USER["username"],
        password=EDU_USER["password"],
        class_id=EDU_USER["class_id"],
        class_code=EDU_USER["class_code"],
    ).start()
    mastery_track = create_mastery_track_simulator(
        api_key=MT_USER["api_key"],
        api_email=MT_USER["api_email"],
        writeback_base_url=None,
        token_url=None,
        client_id=None,
        client_secret=None,
    ).start()
    return edulastic, mastery_track


# --- the state machine on moto ------------------------------------------------------------------


def wait_until(predicate: Any, timeout: float = 15.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def execution_history(arn: str) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def states_entered(arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in execution_history(arn)
        if "stateEnteredEventDetails" in e
    ]


def wait_for_end(arn: str, timeout: float = 30.0) -> str:
    """The execution's final status (waits while it is RUNNING)."""
    import boto3

    client = boto3.client("stepfunctions")

    def ended() -> str | None:
        status = str(client.describe_execution(executionArn=arn)["status"])
        return None if status == "RUNNING" else status

    try:
        return str(wait_until(ended, timeout))
    except AssertionError as error:
        raise AssertionError(f"execution still running after {timeout}s: {states_entered(arn)}") from error
