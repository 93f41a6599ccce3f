"""The local HTTP front builds API Gateway HTTP API v2.0 events and guards routes like the JWT authorizer.

No moto and no sockets: a fake route table pointing at a handler module written to tmp_path,
driven through werkzeug's test client; in-process, or in worker processes where it matters.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from exttests.api.errors import ims_body
from local.auth import Issuer
from local.gateway import MAX_BODY_BYTES, Gateway, Route, routes_from_template
from local.workers import WorkerPools
from tests.support import signing_key

POWERPATH = "exttests/powerpath"
WRITEBACK = "exttests/writeback"

HANDLER = """
import base64
import json
import time
from pathlib import Path

CALLS = Path(__file__).with_name("calls.jsonl")


def handler(event, context):
    with CALLS.open("a") as f:
        f.write(json.dumps(event) + "\\n")
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "boom":
        raise RuntimeError("handler bug")
    if mode == "hang":
        time.sleep(600)
    if mode == "simple":
        return {"hello": "world"}
    if mode == "binary":
        return {"statusCode": 201, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\\xff\\x00").decode(), "isBase64Encoded": True,
                "cookies": ["a=1", "b=2"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Fn": context.function_name},
            "body": json.dumps({"ok": True})}
"""


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fake_http"
    directory.mkdir()
    (directory / "app.py").write_text(HANDLER)
    return directory


@pytest.fixture
def issuer() -> Issuer:
    return Issuer(
        {"app": ("app-secret", [POWERPATH, WRITEBACK]), "writer": ("writer-secret", [WRITEBACK])},
        issuer_url="http://127.0.0.1:3000",
        audience="exttests-local-api",
        key=signing_key(),
    )


@pytest.fixture
def client(function_dir: Path, issuer: Issuer) -> Client:
    routes = [
        Route("GET", "/powerpath/getAssessmentProgress", function_dir, "ProgressFunction", (POWERPATH,)),
        Route("POST", "/powerpath/makeExternalTestAssignment", function_dir, "AssignFunction", (POWERPATH,)),
        Route(
            "PUT",
            "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}",
            function_dir,
            "WriteBackFunction",
            (WRITEBACK,),
        ),
    ]
    return Client(Gateway(routes, issuer), use_cookies=False)


def _auth(issuer: Issuer, client_id: str = "app", secret: str = "app-secret") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(client_id, secret)['access_token']}"}


def _events(function_dir: Path) -> list[dict[str, Any]]:
    calls = function_dir / "calls.jsonl"
    if not calls.exists():
        return []
    return [json.loads(line) for line in calls.read_text().splitlines()]


def _assert_ims(response: Any, status: int, minor: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor
    return body


def test_get_event_shape(client: Client, issuer: Issuer, function_dir: Path) -> None:
    response = client.get(
        "/powerpath/getAssessmentProgress?student=s%201&lesson=l1&lesson=l2&empty=",
        headers={**_auth(issuer), "X-Multi": "a", "Cookie": "c1=v1; c2=v2", "User-Agent": "pytest"},
    )
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert response.headers["X-Fn"] == "ProgressFunction"

    (event,) = _events(function_dir)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /powerpath/getAssessmentProgress"
    assert event["rawPath"] == "/powerpath/getAssessmentProgress"
    assert event["rawQueryString"] == "student=s%201&lesson=l1&lesson=l2&empty="
    assert event["queryStringParameters"] == {"student": "s 1", "lesson": "l1,l2", "empty": ""}
    assert "pathParameters" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    headers = event["headers"]
    assert all(k == k.lower() for k in headers)
    assert headers["x-multi"] == "a"
    assert headers["user-agent"] == "pytest"
    assert "cookie" not in headers
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "GET"
    assert ctx["http"]["path"] == "/powerpath/getAssessmentProgress"
    assert ctx["http"]["userAgent"] == "pytest"
    assert ctx["http"]["sourceIp"]
    assert ctx["routeKey"] == event["routeKey"]
    assert ctx["stage"] == "$default"
    assert ctx["accountId"] and ctx["apiId"] and ctx["requestId"] and ctx["domainName"]
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith("+0000")
    jwt_ctx = ctx["authorizer"]["jwt"]
    assert jwt_ctx["claims"]["client_id"] == "app"
    assert jwt_ctx["claims"]["exp"].isdigit()  # the HTTP API passes claims as strings
    assert jwt_ctx["scopes"] == [POWERPATH, WRITEBACK]


def test_path_parameters_and_text_body(client: Client, issuer: Issuer, function_dir: Path) -> None:
    body = json.dumps({"assessmentResult": {"scoreStatus": "fully graded", "comment": "très bien"}})
    response = client.put(
        "/ims/oneroster/gradebook/v1p2/assessmentResults/ar%3A42",
        data=body.encode(),
        headers={**_auth(issuer, "writer", "writer-secret"), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    (event,) = _events(function_dir)
    assert event["routeKey"] == "PUT /ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"
    assert event["pathParameters"] == {"sourcedId": "ar:42"}
    assert event["rawPath"] == "/ims/oneroster/gradebook/v1p2/assessmentResults/ar%3A42"
    assert event["body"] == body
    assert event["isBase64Encoded"] is False
    assert event["headers"]["content-type"] == "application/json"


def test_non_utf8_body_is_base64(client: Client, issuer: Issuer, function_dir: Path) -> None:
    raw = b"\xff\xfe\x00binary"
    client.post("/powerpath/makeExternalTestAssignment", data=raw, headers=_auth(issuer))
    (event,) = _events(function_dir)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_simple_and_binary_responses(client: Client, issuer: Issuer) -> None:
    simple = client.get("/powerpath/getAssessmentProgress?mode=simple", headers=_auth(issuer))
    assert simple.status_code == 200
    assert simple.headers["Content-Type"] == "application/json"
    assert simple.get_json() == {"hello": "world"}

    binary = client.get("/powerpath/getAssessmentProgress?mode=binary", headers=_auth(issuer))
    assert binary.status_code == 201
    assert binary.data == b"\xff\x00"
    assert binary.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YXBwOmFwcC1zZWNyZXQ="}],
)
def test_unauthenticated_requests_never_reach_the_handler(
    client: Client, function_dir: Path, headers: dict[str, str]
) -> None:
    response = client.get("/powerpath/getAssessmentProgress?student=s", headers=headers)
    body = _assert_ims(response, 401, "unauthorisedrequest")
    assert body["message"] == body["imsx_description"]
    assert _events(function_dir) == []


def test_missing_scope_is_403_without_calling_the_handler(
    client: Client, issuer: Issuer, function_dir: Path
) -> None:
    response = client.get(
        "/powerpath/getAssessmentProgress", headers=_auth(issuer, "writer", "writer-secret")
    )
    body = _assert_ims(response, 403, "forbidden")
    assert body["message"] == body["imsx_description"]
    assert _events(function_dir) == []


def test_oversized_body_is_413_without_calling_the_handler(
    client: Client, issuer: Issuer, function_dir: Path
) -> None:
    response = client.post(
        "/powerpath/makeExternalTestAssignment", data=b"x" * (MAX_BODY_BYTES + 1), headers=_auth(issuer)
    )
    _assert_ims(response, 413, "invaliddata")
    assert _events(function_dir) == []
    ok = client.post(
        "/powerpath/makeExternalTestAssignment", data=b"x" * MAX_BODY_BYTES, headers=_auth(issuer)
    )
    assert ok.status_code == 200


def test_unknown_route_and_wrong_method_are_404(client: Client, issuer: Issuer, function_dir: Path) -> None:
    _assert_ims(client.get("/nope", headers=_auth(issuer)), 404, "unknownobject")
    _assert_ims(
        client.delete("/powerpath/getAssessmentProgress", headers=_auth(issuer)), 404, "unknownobject"
    )
    _assert_ims(
        client.get("/powerpath/getAssessmentProgress/extra", headers=_auth(issuer)), 404, "unknownobject"
    )
    assert _events(function_dir) == []


def test_handler_exception_is_500_ims(
    client: Client, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/powerpath/getAssessmentProgress?mode=boom", headers=_auth(issuer))
    _assert_ims(response, 500, "internal_server_error")
    assert "handler bug" not in response.get_data(as_text=True)
    assert "RuntimeError" in caplog.text


def test_errors_are_the_services_ims_body(client: Client, issuer: Issuer) -> None:
    for answer in (
        client.get("/nope", headers=_auth(issuer)),
        client.get("/powerpath/getAssessmentProgress"),
        client.post(
            "/powerpath/makeExternalTestAssignment", data=b"x" * (MAX_BODY_BYTES + 1), headers=_auth(issuer)
        ),
    ):
        body = answer.get_json()
        assert body == ims_body(answer.status_code, body["imsx_description"])


def test_control_characters_in_the_path_cannot_split_or_forge_a_log_line(
    client: Client, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="local.gateway")
    forged = "%0D%0A2026-01-01 00:00:00,000 INFO local.gateway: GET /admin -> 200%1B%5B2J%E2%80%A8%5C"
    answer = client.get(f"/powerpath/x{forged}", headers=_auth(issuer))
    assert answer.status_code == 404

    [record] = [r for r in caplog.records if r.name == "local.gateway"]
    line = record.getMessage()
    assert not any(c in line for c in "\r\n\x1b\u2028"), repr(line)
    assert "/powerpath/x\\x0d\\x0a2026-01-01" in line
    assert "\\x1b[2J\\u2028\\\\ -> 404" in line  # every byte still visible, a backslash doubled


def test_local_invocations_route_lists_invocations_without_their_data(client: Client, issuer: Issuer) -> None:
    client.get("/powerpath/getAssessmentProgress?mode=simple&student=secret-ish", headers=_auth(issuer))
    client.get("/powerpath/getAssessmentProgress?mode=boom", headers=_auth(issuer))

    listed = client.get("/_local/invocations").get_json()["invocations"]
    assert [(i["function"], i["outcome"], i["pid"]) for i in listed] == [
        ("ProgressFunction", "ok", os.getpid()),
        ("ProgressFunction", "RuntimeError", os.getpid()),
    ]
    assert all(i["end"] >= i["start"] and i["requestId"] for i in listed)
    assert "secret-ish" not in json.dumps(listed)
    assert client.get("/_local/invocations?function=AssignFunction").get_json() == {"invocations": []}


@pytest.fixture
def pools() -> Iterator[WorkerPools]:
    running = WorkerPools(os.environ, max_per_function=2)
    yield running
    running.close()


def test_a_function_past_its_timeout_answers_500_and_its_worker_is_replaced(
    function_dir: Path, issuer: Issuer, pools: WorkerPools, caplog: pytest.LogCaptureFixture
) -> None:
    route = Route("GET", "/slow", function_dir, "SlowFunction", (POWERPATH,), timeout_seconds=1.0)
    client = Client(Gateway([route], issuer, invoker=pools), use_cookies=False)

    timed_out = client.get("/slow?mode=hang", headers=_auth(issuer))
    _assert_ims(timed_out, 500, "internal_server_error")
    assert "Sandbox.Timedout" in caplog.text
    assert client.get("/slow?mode=simple", headers=_auth(issuer)).get_json() == {"hello": "world"}

    first, second = client.get("/_local/invocations").get_json()["invocations"]
    assert (first["outcome"], second["outcome"]) == ("Sandbox.Timedout", "ok")
    assert first["pid"] != second["pid"] and os.getpid() not in (first["pid"], second["pid"])


def test_routes_from_template_resolve_scope_parameters(tmp_path: Path) -> None:
    template = {
        "Parameters": {"PowerPathScope": {"Type": "String", "Default": "exttests/powerpath"}},
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {"Auth": {"DefaultAuthorizer": "OAuth2Authorizer"}},
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "functions/fn/",
                    "Timeout": 29,
                    "Events": {
                        "Get": {
                            "Type": "HttpApi",
                            "Properties": {
                                "ApiId": {"Ref": "Api"},
                                "Path": "/items/{id}",
                                "Method": "get",
                                "Auth": {
                                    "Authorizer": "OAuth2Authorizer",
                                    "AuthorizationScopes": [{"Ref": "PowerPathScope"}],
                                },
                            },
                        },
                        "Schedule": {"Type": "Schedule", "Properties": {}},
                    },
                },
            },
        },
    }
    (route,) = routes_from_template(template, tmp_path, {"Fn": "fn-local"})
    assert route.route_key == "GET /items/{id}"
    assert route.scopes == ("exttests/powerpath",)
    assert route.function_name == "fn-local"
    assert route.functions_dir == (tmp_path / "functions" / "fn").resolve()
    assert route.auth is True
    assert route.timeout_seconds == 29
    assert route.match("/items/a%2Fb") == {"id": "a/b"}
