"""OAuth2 token endpoint and the JWT authorizer in front of every route, over real HTTP."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.conftest import WRITEBACK_PATH, running_stack, write_roster
from tests.support import assert_valid, signing_key

pytestmark = pytest.mark.e2e

POWERPATH_SCOPE = "exttests/powerpath"
WRITEBACK_SCOPE = "exttests/writeback"
ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
WRITEBACK = "/ims/oneroster/gradebook/v1p2/assessmentResults/{}"
EDU_TESTOUT = "lesson-edu-testout-math-g5"
MT_TESTOUT = "lesson-mt-testout-math-g5"
FINALIZING_WRITEBACK = {
    "assessmentResult": {
        "scoreStatus": "fully graded",
        "score": 100,
        "scoreDate": "2026-01-05",
        "metadata": {"masteryTrackProcessed": True, "totalQuestions": 20, "correctQuestions": 20},
    }
}


# --- token endpoint ----------------------------------------------------------------------------


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def assert_token_answer(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2
    return body


def test_token_by_http_basic(stack: Any) -> None:
    answer = requests.post(
        stack.token_url,
        auth=(stack.client_id, stack.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    body = assert_token_answer(answer)
    claims = claims_of(body["access_token"])
    assert set(claims["scope"].split()) == {POWERPATH_SCOPE, WRITEBACK_SCOPE}
    assert claims["client_id"] == stack.client_id and claims["token_use"] == "access"
    assert claims["exp"] - claims["iat"] == body["expires_in"]


def test_token_by_form_body(stack: Any) -> None:
    answer = requests.post(
        stack.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": stack.client_id,
            "client_secret": stack.client_secret,
        },
        timeout=30,
    )
    body = assert_token_answer(answer)
    # The token works on a protected route.
    progress = requests.get(
        stack.api_url + PROGRESS,
        params={"student": "student-ada", "lesson": EDU_TESTOUT},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=30,
    )
    assert progress.status_code == 200, progress.text


@pytest.mark.parametrize("scope", [POWERPATH_SCOPE, WRITEBACK_SCOPE])
def test_token_request_can_narrow_the_scope(stack: Any, scope: str) -> None:
    body = assert_token_answer(stack.request_token(scope))
    assert claims_of(body["access_token"])["scope"] == scope


def test_token_request_for_a_scope_the_client_does_not_have_is_invalid_scope(stack: Any) -> None:
    answer = stack.request_token("exttests/admin")
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_scope"}


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda s: {"auth": (s.client_id, "wrong-secret")}, id="basic-bad-secret"),
        pytest.param(lambda s: {"auth": ("unknown-client", s.client_secret)}, id="basic-unknown-client"),
        pytest.param(
            lambda s: {"data_extra": {"client_id": s.client_id, "client_secret": "wrong-secret"}},
            id="form-bad-secret",
        ),
        pytest.param(lambda s: {"data_extra": {"client_id": s.client_id}}, id="form-no-secret"),
    ],
)
def test_bad_client_credentials_are_invalid_client(stack: Any, send: Callable[[Any], dict[str, Any]]) -> None:
    options = send(stack)
    data = {"grant_type": "client_credentials", **options.pop("data_extra", {})}
    answer = requests.post(stack.token_url, data=data, timeout=30, **options)
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {"error": "invalid_client"}
    assert "access_token" not in answer.text


# --- the authorizer on every route -------------------------------------------------------------


@dataclass
class World:
    """Data the rejected requests would change if they reached the handlers."""

    assignee: Any  # a fresh student: an accepted assign would create an attempt and a provider user
    edulastic: Any  # assigned and finished on Edulastic: an accepted import would finalize it
    mastery_track: Any  # assigned on MasteryTrack: an accepted PUT would finalize it
    sourced_id: str


@pytest.fixture(scope="module")
def world(stack: Any, student_pool: Any) -> World:
    assignee, edu, mt = student_pool.take(), student_pool.take(), student_pool.take()
    answer = stack.assign(edu.id, EDU_TESTOUT)
    assert answer.status_code == 200, answer.text
    stack.edulastic_control(
        "finish",
        {
            "assignmentId": answer.json()["assignmentId"],
            "email": edu.email,
            "graded": "GRADED",
            "questions": [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)],
        },
    )
    answer = stack.assign(mt.id, MT_TESTOUT)
    assert answer.status_code == 200, answer.text
    stack.wait_for_callback(mt.id, MT_TESTOUT)  # so that no background write races the snapshots
    [assignment] = stack.mastery_track_assignments_of(mt.email)
    return World(assignee, edu, mt, assignment["assessment_result_sourced_id"])


@dataclass(frozen=True)
class RouteCase:
    method: str
    template: str  # the route as in the public schema / template
    scope: str
    other_scope: str

    def call(self, stack: Any, world: World, headers: dict[str, str]) -> requests.Response:
        if self.template == ASSIGN:
            return stack.request(
                "POST", ASSIGN, headers=headers, json={"student": world.assignee.id, "lesson": EDU_TESTOUT}
            )
        if self.template == IMPORT:
            return stack.request(
                "GET", IMPORT, headers=headers, params={"student": world.edulastic.id, "lesson": EDU_TESTOUT}
            )
        if self.template == PROGRESS:
            return stack.request(
                "GET",
                PROGRESS,
                headers=headers,
                params={"student": world.edulastic.id, "lesson": EDU_TESTOUT},
            )
        path = WRITEBACK.format(world.sourced_id)
        if self.method == "PUT":
            return stack.request("PUT", path, headers=headers, json=FINALIZING_WRITEBACK)
        return stack.request("GET", path, headers=headers)


ROUTES = [
    pytest.param(RouteCase("POST", ASSIGN, POWERPATH_SCOPE, WRITEBACK_SCOPE), id="POST-assign"),
    pytest.param(RouteCase("GET", IMPORT, POWERPATH_SCOPE, WRITEBACK_SCOPE), id="GET-import"),
    pytest.param(RouteCase("GET", PROGRESS, POWERPATH_SCOPE, WRITEBACK_SCOPE), id="GET-progress"),
    pytest.param(RouteCase("PUT", WRITEBACK, WRITEBACK_SCOPE, POWERPATH_SCOPE), id="PUT-writeback"),
    pytest.param(RouteCase("GET", WRITEBACK, WRITEBACK_SCOPE, POWERPATH_SCOPE), id="GET-writeback"),
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tampered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, _b64(bytes(raw))])


def forged_claims(token: str, scope: str) -> str:
    """The stack's own signature over different claims: the scope is widened after signing."""
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims["scope"] = f"{claims['scope']} {scope}"
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def signed_by_another_key(token: str) -> str:
    """A well-formed RS256 token with the stack's issuer, audience and kid, signed by someone else
    (the tests' key: the stack makes its own)."""
    header = jwt.get_unverified_header(token)
    return jwt.encode(claims_of(token), signing_key(), algorithm="RS256", headers={"kid": header["kid"]})


def unsigned(token: str) -> str:
    return jwt.encode(claims_of(token), None, algorithm="none")


def bad_header(kind: str, stack: Any, route: RouteCase) -> dict[str, str]:
    if kind == "missing":
        return {}
    if kind == "empty-bearer":
        return {"Authorization": "Bearer "}
    if kind == "garbage":
        return {"Authorization": "Bearer this-is-not-a-token"}
    if kind == "garbage-jwt-shaped":
        return {"Authorization": "Bearer aaaa.bbbb.cccc"}
    if kind == "basic-scheme":
        return {"Authorization": "Basic " + _b64(f"{stack.client_id}:{stack.client_secret}".encode())}
    good = stack.token(route.scope)
    if kind == "tampered-signature":
        return {"Authorization": f"Bearer {tampered_signature(good)}"}
    if kind == "forged-claims":
        return {"Authorization": f"Bearer {forged_claims(stack.token(route.other_scope), route.scope)}"}
    if kind == "foreign-key":
        return {"Authorization": f"Bearer {signed_by_another_key(good)}"}
    if kind == "alg-none":
        return {"Authorization": f"Bearer {unsigned(good)}"}
    raise AssertionError(kind)


UNAUTHORIZED = [
    "missing",
    "empty-bearer",
    "garbage",
    "garbage-jwt-shaped",
    "basic-scheme",
    "tampered-signature",
    "forged-claims",
    "foreign-key",
    "alg-none",
]


def snapshot(stack: Any, world: World) -> dict[str, Any]:
    """Everything a request that got past the authorizer could have changed."""
    items: list[str] = []
    for pk in (
        f"USER#{world.assignee.id}",
        f"RESULT#{len(world.assignee.id)}:{world.assignee.id}#{EDU_TESTOUT}",
        f"USER#{world.edulastic.id}",
        f"RESULT#{len(world.edulastic.id)}:{world.edulastic.id}#{EDU_TESTOUT}",
        f"USER#{world.mastery_track.id}",
        f"RESULT#{len(world.mastery_track.id)}:{world.mastery_track.id}#{MT_TESTOUT}",
        f"AR#{world.sourced_id}",
    ):
        items.extend(json.dumps(item, sort_keys=True) for item in stack.query(pk))
    return {
        "items": sorted(items),
        "edulastic_calls": stack.edulastic_state()["calls"],
        "mastery_track_calls": stack.mastery_track_state()["calls"],
    }


def assert_nothing_was_written(stack: Any, world: World, before: dict[str, Any]) -> None:
    assert snapshot(stack, world) == before
    # And through the API, with a valid token:
    assert stack.result_items(world.assignee.id, EDU_TESTOUT) == []
    assert stack.edulastic_assignments_of(world.assignee.email) == []
    progress = stack.progress(world.edulastic.id, EDU_TESTOUT).json()
    assert progress["finalized"] is False and progress["questions"] == []
    record = stack.get_result(world.sourced_id).json()["assessmentResult"]
    assert record["scoreStatus"] == "not submitted" and "score" not in record


def assert_auth_error(answer: requests.Response, status: int, route: RouteCase) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    minor = "unauthorisedrequest" if status == 401 else "forbidden"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"] == [
        {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
    ]
    assert isinstance(body["message"], str) and body["message"]
    assert body["message"] == body["imsx_description"]
    if route.template.startswith("/powerpath/"):
        assert_valid(route.template, route.method, status, body)


@pytest.mark.parametrize("route", ROUTES)
def test_invalid_or_missing_token_is_401_and_writes_nothing(
    stack: Any, world: World, route: RouteCase, subtests: pytest.Subtests
) -> None:
    # Each kind of bad token is a subtest of its own; what they could have written is checked once,
    # after all of them (a snapshot costs some twenty requests to the stack).
    before = snapshot(stack, world)
    for kind in UNAUTHORIZED:
        with subtests.test(kind):
            answer = route.call(stack, world, bad_header(kind, stack, route))
            assert_auth_error(answer, 401, route)
    assert_nothing_was_written(stack, world, before)


@pytest.mark.parametrize("route", ROUTES)
def test_token_without_the_routes_scope_is_403_and_writes_nothing(
    stack: Any, world: World, route: RouteCase
) -> None:
    before = snapshot(stack, world)
    answer = route.call(stack, world, {"Authorization": f"Bearer {stack.token(route.other_scope)}"})
    assert_auth_error(answer, 403, route)
    assert_nothing_was_written(stack, world, before)


def test_expired_token_is_401_on_every_route(tmp_path: Path) -> None:
    # A stack of its own whose tokens live one second (LOCAL_TOKEN_TTL).
    with running_stack(write_roster(tmp_path), {"LOCAL_TOKEN_TTL": "1"}) as short:
        token = short.token()
        # The stack refuses a token once its clock's whole second reaches `exp` (iat + 1): wait
        # for that second and a little more, not a fixed two seconds.
        time.sleep(max(0.0, claims_of(token)["exp"] - time.time()) + 0.1)
        for method, path in [
            ("POST", ASSIGN),
            ("GET", IMPORT),
            ("GET", PROGRESS),
            ("PUT", WRITEBACK_PATH.format("ear-x")),
            ("GET", WRITEBACK_PATH.format("ear-x")),
        ]:
            answer = short.request(
                method,
                path,
                headers={"Authorization": f"Bearer {token}"},
                params={"student": "student-ada", "lesson": MT_TESTOUT},
                json={"student": "student-ada", "lesson": MT_TESTOUT} if method in ("POST", "PUT") else None,
            )
            assert answer.status_code == 401, (path, answer.text)
            body = answer.json()
            assert (
                body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
                == "unauthorisedrequest"
            )
            assert body["message"] == body["imsx_description"]


def test_each_scope_opens_exactly_its_own_routes(stack: Any, student: Any) -> None:
    powerpath = {"Authorization": f"Bearer {stack.token(POWERPATH_SCOPE)}"}
    writeback = {"Authorization": f"Bearer {stack.token(WRITEBACK_SCOPE)}"}

    assigned = stack.request(
        "POST", ASSIGN, headers=powerpath, json={"student": student.id, "lesson": MT_TESTOUT}
    )
    assert assigned.status_code == 200, assigned.text
    query = {"student": student.id, "lesson": MT_TESTOUT}
    assert stack.request("GET", IMPORT, headers=powerpath, params=query).status_code == 200
    assert stack.request("GET", PROGRESS, headers=powerpath, params=query).status_code == 200
    for path in (ASSIGN, IMPORT, PROGRESS):
        method = "POST" if path == ASSIGN else "GET"
        answer = stack.request(method, path, headers=writeback, params=query, json=query)
        assert answer.status_code == 403, (path, answer.text)

    [assignment] = stack.mastery_track_assignments_of(student.email)
    path = WRITEBACK.format(assignment["assessment_result_sourced_id"])
    assert stack.request("GET", path, headers=powerpath).status_code == 403
    assert stack.request("PUT", path, headers=powerpath, json=FINALIZING_WRITEBACK).status_code == 403
    got = stack.request("GET", path, headers=writeback)
    assert got.status_code == 200 and got.json()["assessmentResult"]["scoreStatus"] == "not submitted"
    put = stack.request("PUT", path, headers=writeback, json=FINALIZING_WRITEBACK)
    assert put.status_code == 200, put.text
    assert put.json()["assessmentResult"]["scoreStatus"] == "fully graded"
    progress = stack.request("GET", PROGRESS, headers=powerpath, params=query).json()
    assert progress["finalized"] is True and progress["score"] == 100
