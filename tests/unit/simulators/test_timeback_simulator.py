"""The TimeBack platform simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from local.simulators.timeback import TimeBackSimulator, create_timeback_simulator, main
from local.simulators.timeback_roster import RosterError

CLIENT_ID = "tb-client"
CLIENT_SECRET = "tb-secret-1"
ROSTERING = "/ims/oneroster/rostering/v1p2"
ENROLL = "/edubridge/enrollments/enroll"
DEMO_ROSTER = Path(__file__).resolve().parents[3] / "local" / "demo_roster.json"


def _user(sourced_id: str, org: str | None, *, primary_org: bool = True, **extra: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "sourcedId": sourced_id,
        "status": "active",
        "givenName": sourced_id.title(),
        "familyName": "Student",
        "email": f"{sourced_id}@example.test",
        "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": org}}] if org else [],
        **extra,
    }
    if org and primary_org:
        user["primaryOrg"] = {"sourcedId": org}
    return user


ROSTER: dict[str, Any] = {
    "orgs": [
        {"sourcedId": "org-1", "status": "active", "name": "Lovelace Elementary", "type": "school"},
        {"sourcedId": "org-2", "status": "active", "name": "Hopper Middle", "type": "school"},
    ],
    "users": [
        _user("ada", "org-1"),
        _user("grace", "org-2", primary_org=False),
        _user("gone", "org-1", status="tobedeleted"),
        _user("orgless", None),
    ],
    "courses": [
        {
            "sourcedId": "math-6",
            "status": "active",
            "title": "Math 6",
            "org": {"sourcedId": "org-1"},
            "grades": ["6"],
            "subjects": ["Math"],
            "metadata": {"xp": 10},
        },
        {
            "sourcedId": "math-6-hopper",
            "status": "active",
            "title": "Math 6 (Hopper)",
            "org": {"sourcedId": "org-2"},
        },
        {"sourcedId": "old-course", "status": "tobedeleted", "title": "Old"},
    ],
    "courseComponents": [{"sourcedId": "unit-1", "course": {"sourcedId": "math-6"}, "title": "Unit 1"}],
    "resources": [
        {
            "sourcedId": "res-1",
            "status": "active",
            "title": "Math 5 Test-Out",
            "vendorResourceId": "edu-test-1",
            "vendorId": "edu-test-1",
            "metadata": {
                "lessonType": "test-out",
                "toolProvider": "edulastic",
                "subject": "Math",
                "grades": ["5"],
            },
        }
    ],
    "componentResources": [
        {
            "sourcedId": "lesson-1",
            "status": "active",
            "courseComponent": {"sourcedId": "unit-1"},
            "resource": {"sourcedId": "res-1"},
            "title": "Math 5 Test-Out",
            "sortOrder": 1,
        }
    ],
    "subjectTracks": [
        {"subject": "Math", "grade": "6", "courseId": "math-6"},
        {"subject": "Math", "grade": "6", "courseId": "math-6-hopper", "orgSourcedId": "org-2"},
        {"subject": "Reading", "grade": 7, "courseId": "no-such-course"},
    ],
    "enrollments": [
        {"sourcedId": "enr-seeded", "user": {"sourcedId": "grace"}, "course": {"sourcedId": "math-6"}},
        {
            "sourcedId": "enr-dropped",
            "status": "tobedeleted",
            "user": {"sourcedId": "grace"},
            "course": {"sourcedId": "math-6-hopper"},
        },
    ],
}


@pytest.fixture
def sim() -> Iterator[TimeBackSimulator]:
    s = create_timeback_simulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster=ROSTER).start()
    yield s
    s.stop()


def get_token(sim: TimeBackSimulator) -> str:
    r = requests.post(
        sim.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@pytest.fixture
def token(sim: TimeBackSimulator) -> str:
    return get_token(sim)


def api(sim: TimeBackSimulator, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method, f"{sim.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=5, **kw
    )


def enroll(sim: TimeBackSimulator, token: str, path: str, body: Any = None) -> requests.Response:
    return api(sim, token, "POST", f"{ENROLL}/{path}", json=body)


def control(sim: TimeBackSimulator, path: str, body: Any = None) -> requests.Response:
    if body is None:
        return requests.get(f"{sim.app_url}/_control/{path}", timeout=5)
    return requests.post(f"{sim.app_url}/_control/{path}", json=body, timeout=5)


def enrollments_of(sim: TimeBackSimulator, user: str, course: str) -> list[dict[str, Any]]:
    state = control(sim, "state").json()
    return [e for e in state["enrollments"] if e["userId"] == user and e["courseId"] == course]


def token_request(sim: TimeBackSimulator, **kw: Any) -> requests.Response:
    return requests.post(sim.token_url, timeout=5, **kw)


API_ROUTES = [
    ("GET", f"{ROSTERING}/users/ada"),
    ("GET", f"{ROSTERING}/courses/component-resources/lesson-1"),
    ("GET", "/ims/oneroster/resources/v1p2/resources/res-1"),
    ("GET", f"{ROSTERING}/courses/math-6"),
    ("GET", "/edubridge/subject-track/"),
    ("POST", f"{ENROLL}/ada/math-6"),
    ("POST", f"{ENROLL}/ada/math-6/org-1"),
    ("GET", "/edubridge/enrollments/user/ada"),
]


# -- token endpoint ----------------------------------------------------------------------------


def test_urls_bind_to_loopback_with_the_token_endpoint_under_the_api(sim: TimeBackSimulator) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}" == sim.app_url
    assert sim.token_url == f"{sim.url}/auth/token"


def test_client_credentials_by_basic_auth_get_a_bearer_token(sim: TimeBackSimulator) -> None:
    r = token_request(
        sim, data={"grant_type": "client_credentials", "scope": "x/y"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert r.headers["Cache-Control"] == "no-store"


def test_client_credentials_in_form_fields_are_accepted(sim: TimeBackSimulator) -> None:
    r = token_request(
        sim,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert r.status_code == 200
    assert api(sim, r.json()["access_token"], "GET", f"{ROSTERING}/users/ada").status_code == 200


@pytest.mark.parametrize(
    "kw",
    [
        {"auth": (CLIENT_ID, "wrong")},
        {"auth": ("someone-else", CLIENT_SECRET)},
        {"data_extra": {"client_id": CLIENT_ID, "client_secret": "wrong"}},
        {},
    ],
    ids=["wrong-secret", "unknown-client", "wrong-form-secret", "no-credentials"],
)
def test_a_bad_client_gets_400_invalid_client(sim: TimeBackSimulator, kw: dict[str, Any]) -> None:
    data = {"grant_type": "client_credentials", **kw.pop("data_extra", {})}
    r = token_request(sim, data=data, **kw)
    assert r.status_code == 400 and r.json() == {"error": "invalid_client"}
    assert control(sim, "state").json()["tokensIssued"] == 0


def test_the_token_request_must_be_a_client_credentials_form(sim: TimeBackSimulator) -> None:
    creds = (CLIENT_ID, CLIENT_SECRET)
    assert token_request(sim, data={"grant_type": "password"}, auth=creds).json() == {
        "error": "unsupported_grant_type"
    }
    assert token_request(sim, data={"scope": "a"}, auth=creds).json() == {"error": "invalid_request"}
    r = token_request(sim, json={"grant_type": "client_credentials"}, auth=creds)
    assert r.status_code == 400 and r.json() == {"error": "invalid_request"}
    both = {"grant_type": "client_credentials", "client_secret": CLIENT_SECRET}
    assert token_request(sim, data=both, auth=creds).json() == {"error": "invalid_request"}


# -- bearer tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_every_api_route_needs_a_valid_bearer_token(
    sim: TimeBackSimulator, token: str, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": token}):
        r = requests.request(method, f"{sim.url}{path}", headers=headers, json={}, timeout=5)
        assert r.status_code == 401
        assert r.json()["imsx_codeMajor"] == "failure"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert control(sim, "state").json()["counts"]["enrollments"] == 2  # a rejected enroll made nothing
    assert api(sim, token, method, path, json={}).status_code in (200, 201)


def test_a_token_expires_after_an_hour_and_a_new_one_works(sim: TimeBackSimulator, token: str) -> None:
    path = f"{ROSTERING}/users/ada"
    control(sim, "advance-clock", {"seconds": 3599})
    assert api(sim, token, "GET", path).status_code == 200
    control(sim, "advance-clock", {"seconds": 2})
    assert api(sim, token, "GET", path).status_code == 401
    assert api(sim, get_token(sim), "GET", path).status_code == 200


def test_expire_tokens_invalidates_every_issued_token(sim: TimeBackSimulator, token: str) -> None:
    other = get_token(sim)
    assert control(sim, "expire-tokens", {}).json() == {"expired": 2}
    assert api(sim, token, "GET", f"{ROSTERING}/users/ada").status_code == 401
    assert api(sim, other, "GET", f"{ROSTERING}/users/ada").status_code == 401


# -- OneRoster reads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wrapper", "list_name", "index"),
    [
        (f"{ROSTERING}/users/ada", "user", "users", 0),
        (f"{ROSTERING}/courses/component-resources/lesson-1", "componentResource", "componentResources", 0),
        ("/ims/oneroster/resources/v1p2/resources/res-1", "resource", "resources", 0),
        (f"{ROSTERING}/courses/math-6", "course", "courses", 0),
    ],
)
def test_single_object_reads_are_wrapped_in_the_object_name(
    sim: TimeBackSimulator, token: str, path: str, wrapper: str, list_name: str, index: int
) -> None:
    r = api(sim, token, "GET", path)
    assert r.status_code == 200
    assert r.json() == {wrapper: ROSTER[list_name][index]}


@pytest.mark.parametrize(
    "path",
    [
        f"{ROSTERING}/users/nobody",
        f"{ROSTERING}/courses/component-resources/nothing",
        "/ims/oneroster/resources/v1p2/resources/nothing",
        f"{ROSTERING}/courses/nothing",
    ],
)
def test_an_unknown_id_is_404_with_an_ims_body(sim: TimeBackSimulator, token: str, path: str) -> None:
    r = api(sim, token, "GET", path)
    assert r.status_code == 404
    body = r.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    assert body["imsx_description"]


def test_tobedeleted_objects_are_served_as_they_are(sim: TimeBackSimulator, token: str) -> None:
    user = api(sim, token, "GET", f"{ROSTERING}/users/gone").json()["user"]
    assert user["status"] == "tobedeleted" and user == ROSTER["users"][2]
    course = api(sim, token, "GET", f"{ROSTERING}/courses/old-course").json()["course"]
    assert course["status"] == "tobedeleted"


def test_subject_tracks_come_in_the_platform_shape(sim: TimeBackSimulator, token: str) -> None:
    r = api(sim, token, "GET", "/edubridge/subject-track")  # with or without the trailing slash
    tracks = r.json()["subjectTrack"]
    assert [{k: v for k, v in t.items() if k != "id"} for t in tracks] == [
        {"subject": "Math", "grade": "6", "course": {"sourcedId": "math-6", "title": "Math 6"}, "org": None},
        {
            "subject": "Math",
            "grade": "6",
            "course": {"sourcedId": "math-6-hopper", "title": "Math 6 (Hopper)"},
            "org": {"sourcedId": "org-2", "name": "Hopper Middle"},
        },
        {
            "subject": "Reading",
            "grade": "7",
            "course": {"sourcedId": "no-such-course", "title": None},
            "org": None,
        },
    ]
    ids = [t["id"] for t in tracks]
    assert len(set(ids)) == 3
    control(sim, "reset", {})
    assert [
        t["id"] for t in api(sim, token, "GET", "/edubridge/subject-track/").json()["subjectTrack"]
    ] == ids


# -- EduBridge enrollments ---------------------------------------------------------------------


def test_enroll_answers_201_with_the_enrollment(sim: TimeBackSimulator, token: str) -> None:
    body = {"role": "student", "sourcedId": "enr-ada-math-6", "metadata": {"lessonId": "lesson-1"}}
    r = enroll(sim, token, "ada/math-6", body)
    assert r.status_code == 201
    data = r.json()["data"]
    assert data == {
        "id": "enr-ada-math-6",
        "role": "student",
        "beginDate": data["beginDate"],
        "endDate": None,
        "course": {"id": "math-6", "title": "Math 6", "metadata": {"xp": 10}},
        "school": {"id": "org-1", "name": "Lovelace Elementary"},
        "metadata": {"lessonId": "lesson-1"},
    }
    assert data["beginDate"].endswith("Z")
    listed = api(sim, token, "GET", "/edubridge/enrollments/user/ada").json()
    assert listed == {"data": [data]}


def test_enroll_without_a_body_defaults_the_role_and_the_id(sim: TimeBackSimulator, token: str) -> None:
    r = api(sim, token, "POST", f"{ENROLL}/ada/math-6")
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["role"] == "student" and data["id"] and data["metadata"] == {}


def test_the_school_defaults_to_the_users_primary_org(sim: TimeBackSimulator, token: str) -> None:
    assert enroll(sim, token, "ada/math-6", {}).json()["data"]["school"]["id"] == "org-1"
    # without primaryOrg, the org of the primary role
    assert enroll(sim, token, "grace/math-6-hopper", {}).json()["data"]["school"] == {
        "id": "org-2",
        "name": "Hopper Middle",
    }
    named = enroll(sim, token, "ada/math-6-hopper/org-2", {}).json()["data"]
    assert named["school"] == {"id": "org-2", "name": "Hopper Middle"}


def test_enrolling_twice_with_the_same_sourced_id_is_409_with_the_existing(
    sim: TimeBackSimulator, token: str
) -> None:
    first = enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"}).json()["data"]
    r = enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1", "metadata": {"other": True}})
    assert r.status_code == 409
    assert r.json()["data"] == first
    assert len(enrollments_of(sim, "ada", "math-6")) == 1
    # the id is taken platform-wide, not only for this user and course
    assert enroll(sim, token, "grace/math-6-hopper", {"sourcedId": "enr-1"}).status_code == 409
    assert enroll(sim, token, "grace/math-6-hopper", {"sourcedId": "enr-seeded"}).status_code == 409


def test_enrolling_twice_with_another_or_no_sourced_id_makes_a_second_record(
    sim: TimeBackSimulator, token: str
) -> None:
    assert enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"}).status_code == 201
    assert enroll(sim, token, "ada/math-6", {"sourcedId": "enr-2"}).status_code == 201
    assert enroll(sim, token, "ada/math-6", {}).status_code == 201
    assert len(enrollments_of(sim, "ada", "math-6")) == 3
    listed = api(sim, token, "GET", "/edubridge/enrollments/user/ada").json()["data"]
    assert [e["course"]["id"] for e in listed] == ["math-6"] * 3


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("nobody/math-6", 404),
        ("ada/no-course", 404),
        ("ada/math-6/no-school", 404),
        ("orgless/math-6", 422),
    ],
)
def test_enroll_refuses_unknown_users_courses_and_schools(
    sim: TimeBackSimulator, token: str, path: str, status: int
) -> None:
    r = enroll(sim, token, path, {"sourcedId": "enr-x"})
    assert r.status_code == status and r.json()["error"]
    assert [e["id"] for e in control(sim, "state").json()["enrollments"]] == ["enr-seeded", "enr-dropped"]


@pytest.mark.parametrize(
    "body",
    [{"metadata": "x"}, {"sourcedId": ""}, {"role": 3}, {"beginDate": 20250101}, ["a", "list"]],
)
def test_enroll_rejects_a_malformed_body(sim: TimeBackSimulator, token: str, body: Any) -> None:
    r = enroll(sim, token, "ada/math-6", body)
    assert r.status_code == 400 and r.json()["error"]
    r = api(sim, token, "POST", f"{ENROLL}/ada/math-6", data="{not json")
    assert r.status_code == 400
    assert enrollments_of(sim, "ada", "math-6") == []


def test_listing_serves_the_roster_enrollments_but_not_tobedeleted_ones(
    sim: TimeBackSimulator, token: str
) -> None:
    listed = api(sim, token, "GET", "/edubridge/enrollments/user/grace").json()["data"]
    assert [(e["id"], e["school"]["id"], e["course"]["title"]) for e in listed] == [
        ("enr-seeded", "org-2", "Math 6")
    ]
    assert api(sim, token, "GET", "/edubridge/enrollments/user/nobody").status_code == 404
    assert api(sim, token, "GET", "/edubridge/enrollments/user/ada").json() == {"data": []}


# -- state, faults, reset ----------------------------------------------------------------------


def test_state_counts_calls_per_route_template_and_tokens(sim: TimeBackSimulator, token: str) -> None:
    api(sim, token, "GET", f"{ROSTERING}/users/ada")
    api(sim, token, "GET", f"{ROSTERING}/users/nobody")
    enroll(sim, token, "ada/math-6/org-1", {})
    state = control(sim, "state").json()
    assert state["calls"] == {
        "POST /auth/token": 1,
        "GET /ims/oneroster/rostering/v1p2/users/{sourcedId}": 2,
        "POST /edubridge/enrollments/enroll/{userId}/{courseId}/{schoolId}": 1,
    }
    assert state["tokensIssued"] == 1
    assert state["counts"]["users"] == 4 and state["counts"]["enrollments"] == 3


def test_rate_limit_and_seeded_errors(sim: TimeBackSimulator, token: str) -> None:
    control(sim, "faults", {"rateLimitRate": 1, "retryAfter": 4})
    r = api(sim, token, "GET", f"{ROSTERING}/users/ada")
    assert r.status_code == 429 and r.headers["Retry-After"] == "4"
    assert control(sim, "state").status_code == 200  # control routes are never faulted

    def run() -> list[int]:
        control(sim, "faults", {"errorRate": 0.5, "seed": 11})
        return [api(sim, token, "GET", f"{ROSTERING}/users/ada").status_code for _ in range(16)]

    first = run()
    assert first == run() and 200 in first and set(first) - {200} <= {500, 502, 503}


def test_faulted_enrolls_change_nothing(sim: TimeBackSimulator, token: str) -> None:
    control(sim, "faults", {"outage": True})
    assert enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"}).status_code == 503
    assert (
        token_request(
            sim, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
        ).status_code
        == 503
    )
    control(
        sim,
        "faults",
        {"errorRate": 1, "routes": ["POST /edubridge/enrollments/enroll/{userId}/{courseId}"], "times": 1},
    )
    assert api(sim, token, "GET", f"{ROSTERING}/users/ada").status_code == 200
    assert enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"}).status_code >= 500
    assert enrollments_of(sim, "ada", "math-6") == []
    assert enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"}).status_code == 201


def test_a_timed_out_enroll_happened_and_its_retry_conflicts(sim: TimeBackSimulator, token: str) -> None:
    control(sim, "faults", {"timeoutRate": 1, "timeoutSeconds": 2})
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sim.url}{ENROLL}/ada/math-6",
            json={"sourcedId": "enr-1"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=(2, 0.3),
        )
    control(sim, "faults", {})
    r = enroll(sim, token, "ada/math-6", {"sourcedId": "enr-1"})
    assert r.status_code == 409 and r.json()["data"]["id"] == "enr-1"
    assert len(enrollments_of(sim, "ada", "math-6")) == 1


def test_reset_returns_to_the_seeded_roster_and_keeps_tokens(sim: TimeBackSimulator, token: str) -> None:
    enroll(sim, token, "ada/math-6", {})
    control(sim, "objects", {"kind": "user", "object": _user("ada", "org-2")})
    control(sim, "roster", {"users": [_user("new", None)]})
    control(sim, "faults", {"latencyMs": 1})
    control(sim, "advance-clock", {"seconds": 60})
    assert control(sim, "reset", {}).json() == {"reset": True}
    state = control(sim, "state").json()
    assert [e["id"] for e in state["enrollments"]] == ["enr-seeded", "enr-dropped"]
    assert state["calls"] == {} and state["tokensIssued"] == 0 and state["faults"]["latencyMs"] == 0
    assert api(sim, token, "GET", f"{ROSTERING}/users/ada").json()["user"] == ROSTER["users"][0]


def test_the_clock_drives_enrollment_dates_and_reset_puts_it_back() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    s = create_timeback_simulator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster=ROSTER, clock=lambda: start
    ).start()
    try:
        assert control(s, "advance-clock", {"seconds": 86400}).json() == {"now": "2026-01-06T09:00:00.000Z"}
        token = get_token(s)
        assert enroll(s, token, "ada/math-6", {}).json()["data"]["beginDate"] == "2026-01-06T09:00:00.000Z"
        given = enroll(s, token, "ada/math-6", {"beginDate": "2026-02-01", "endDate": "2026-06-30"}).json()
        assert (given["data"]["beginDate"], given["data"]["endDate"]) == ("2026-02-01", "2026-06-30")
        control(s, "reset", {})
        assert control(s, "state").json()["now"] == "2026-01-05T09:00:00.000Z"
    finally:
        s.stop()


# -- roster and object control -----------------------------------------------------------------


def test_a_posted_roster_replaces_the_served_one(sim: TimeBackSimulator, token: str) -> None:
    doc = {
        "orgs": [{"sourcedId": "org-9", "name": "Nine"}],
        "users": [_user("zed", "org-9")],
        "courses": [{"sourcedId": "c-9", "title": "Nine"}],
        "subjectTracks": [{"subject": "Math", "grade": "9", "courseId": "c-9", "orgSourcedId": "org-9"}],
    }
    r = control(sim, "roster", doc)
    assert r.status_code == 200 and r.json()["counts"]["users"] == 1
    assert api(sim, token, "GET", f"{ROSTERING}/users/zed").status_code == 200
    assert api(sim, token, "GET", f"{ROSTERING}/users/ada").status_code == 404
    [track] = api(sim, token, "GET", "/edubridge/subject-track/").json()["subjectTrack"]
    assert track["org"] == {"sourcedId": "org-9", "name": "Nine"} and track["course"]["title"] == "Nine"
    assert control(sim, "state").json()["enrollments"] == []
    assert enroll(sim, token, "zed/c-9", {}).json()["data"]["school"]["id"] == "org-9"


@pytest.mark.parametrize(
    "doc",
    [
        {"users": {"sourcedId": "x"}},
        {"users": [{"givenName": "no id"}]},
        {"users": [_user("a", None), _user("a", None)]},
        {"subjectTracks": [{"subject": "Math", "grade": "6"}]},
        {"subjectTracks": [{"subject": "Math", "grade": "6", "courseId": "c"}] * 2},
        {"enrollments": [{"sourcedId": "e", "user": {"sourcedId": "ghost"}, "course": {"sourcedId": "c"}}]},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_roster_is_refused_and_changes_nothing(
    sim: TimeBackSimulator, token: str, doc: Any
) -> None:
    r = control(sim, "roster", doc)
    assert r.status_code == 400 and r.json()["error"]
    assert api(sim, token, "GET", f"{ROSTERING}/users/ada").status_code == 200


def test_an_object_upsert_changes_what_the_next_read_sees(sim: TimeBackSimulator, token: str) -> None:
    path = f"{ROSTERING}/users/ada"
    assert api(sim, token, "GET", path).json()["user"]["primaryOrg"] == {"sourcedId": "org-1"}
    moved = _user("ada", "org-2")
    r = control(sim, "objects", {"kind": "user", "object": moved})
    assert r.status_code == 200 and r.json() == {"kind": "user", "object": moved}
    assert api(sim, token, "GET", path).json()["user"]["primaryOrg"] == {"sourcedId": "org-2"}
    assert enroll(sim, token, "ada/math-6", {}).json()["data"]["school"]["id"] == "org-2"
    deleted = {**ROSTER["resources"][0], "status": "tobedeleted"}
    control(sim, "objects", {"kind": "resource", "object": deleted})
    assert (
        api(sim, token, "GET", "/ims/oneroster/resources/v1p2/resources/res-1").json()["resource"] == deleted
    )


def test_a_subject_track_upsert_replaces_the_track_of_its_subject_grade_and_org(
    sim: TimeBackSimulator, token: str
) -> None:
    track = {"subject": "Math", "grade": "6", "courseId": "math-6-hopper", "orgSourcedId": "org-2"}
    control(sim, "objects", {"kind": "subjectTrack", "object": {**track, "courseId": "math-6"}})
    control(
        sim,
        "objects",
        {"kind": "subjectTrack", "object": {"subject": "Science", "grade": "4", "courseId": "math-6"}},
    )
    tracks = api(sim, token, "GET", "/edubridge/subject-track/").json()["subjectTrack"]
    assert len(tracks) == 4
    hopper = next(t for t in tracks if t["org"] and t["org"]["sourcedId"] == "org-2")
    assert hopper["course"] == {"sourcedId": "math-6", "title": "Math 6"}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "teacher", "object": {"sourcedId": "x"}},
        {"kind": "user", "object": {"givenName": "no id"}},
        {"kind": "subjectTrack", "object": {"subject": "Math"}},
        {"kind": "course"},
    ],
)
def test_a_bad_object_upsert_is_400(sim: TimeBackSimulator, body: dict[str, Any]) -> None:
    assert control(sim, "objects", body).status_code == 400


# -- construction ------------------------------------------------------------------------------


def test_the_project_roster_file_seeds_the_simulator(tmp_path: Path) -> None:
    doc = json.loads(DEMO_ROSTER.read_text())
    s = create_timeback_simulator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster_file=str(DEMO_ROSTER)
    )
    try:
        counts = s.state["counts"]
        assert counts["users"] == len(doc["users"]) and counts["subjectTracks"] == len(doc["subjectTracks"])
        assert counts["componentResources"] == len(doc["componentResources"])
    finally:
        s.stop()


def test_a_bad_roster_fails_construction(tmp_path: Path) -> None:
    bad = copy.deepcopy(ROSTER)
    bad["courses"].append(bad["courses"][0])
    with pytest.raises(RosterError, match=r"courses\[3\]"):
        create_timeback_simulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster=bad)
    missing = tmp_path / "missing.json"
    with pytest.raises(RosterError, match="missing.json"):
        create_timeback_simulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster_file=str(missing))
    with pytest.raises(ValueError, match="not both"):
        create_timeback_simulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, roster=ROSTER, roster_file=str(DEMO_ROSTER)
        )
    with pytest.raises(SystemExit):
        main(["--roster", str(missing), "--port", "0"])
