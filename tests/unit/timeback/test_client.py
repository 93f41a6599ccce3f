from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from requests import exceptions as rexc
from responses import matchers

from exttests.errors import ProviderRejected, ProviderUnavailable
from exttests.providers.http import HttpSettings, OutcomeUnknown, Timing
from exttests.timeback.client import TimebackClient, TimebackConfig
from tests.unit.providers.http_doubles import Clock

API = "https://platform.test"
TOKEN_URL = "https://auth.platform.test/oauth2/token"
CLIENT_ID = "svc-client"
SECRET = "cl1ent-S3cret-value"
ACCESS = "access-tok-AAA"
ACCESS2 = "access-tok-BBB"
USERS = f"{API}/ims/oneroster/rostering/v1p2/users"
ENROLL = f"{API}/edubridge/enrollments/enroll"
LIST = f"{API}/edubridge/enrollments/user"


def config(**http: Any) -> TimebackConfig:
    return TimebackConfig(
        api_url=API,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        http=HttpSettings(max_attempts=2, **http),
    )


def client(clock: Clock, sleeps: list[float], **http: Any) -> TimebackClient:
    return TimebackClient(config(**http), Timing(sleep=sleeps.append, clock=clock, rand=lambda: 1.0))


def add_token(rsps, access: str = ACCESS, expires_in: Any = 3600) -> Any:
    return rsps.add(
        responses.POST,
        TOKEN_URL,
        json={"access_token": access, "token_type": "Bearer", "expires_in": expires_in},
    )


def add_user(rsps, user_id: str = "u-1", **kwargs: Any) -> Any:
    if "body" not in kwargs:
        kwargs.setdefault("json", {"user": {"sourcedId": user_id, "status": "active"}})
    return rsps.add(responses.GET, f"{USERS}/{user_id}", **kwargs)


def calls_to(rsps, url: str) -> int:
    return sum(1 for c in rsps.calls if c.request.url.split("?")[0] == url)


ENROLLMENT = {
    "id": "enr-1",
    "role": "student",
    "course": {"id": "course-1", "title": "Math 5"},
    "school": {"id": "school-1", "name": "Alpha"},
    "metadata": {"by": "external-tests"},
}


# --- auth ------------------------------------------------------------------------------


def test_the_token_comes_from_client_credentials_and_is_sent_as_bearer(rsps, clock, sleeps):
    token = add_token(rsps)
    user = add_user(rsps)

    found = client(clock, sleeps).user("u-1")

    assert found is not None and found["sourcedId"] == "u-1"
    sent = token.calls[0].request
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {basic}"
    assert parse_qs(sent.body) == {"grant_type": ["client_credentials"]}
    assert user.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS}"


def test_the_token_is_cached_until_a_minute_before_it_expires(rsps, clock, sleeps):
    token = add_token(rsps, expires_in=3600)
    add_user(rsps)

    client(clock, sleeps).user("u-1")
    clock.now += 3600 - 61
    client(clock, sleeps).user("u-1")
    assert token.call_count == 1

    clock.now += 2
    client(clock, sleeps).user("u-1")
    assert token.call_count == 2


def test_a_401_gets_a_new_token_once_and_repeats_the_call(rsps, clock, sleeps):
    add_token(rsps, ACCESS)
    add_token(rsps, ACCESS2)
    add_user(
        rsps, status=401, json={}, match=[matchers.header_matcher({"Authorization": f"Bearer {ACCESS}"})]
    )
    add_user(rsps, match=[matchers.header_matcher({"Authorization": f"Bearer {ACCESS2}"})])

    assert client(clock, sleeps).user("u-1") is not None
    assert calls_to(rsps, TOKEN_URL) == 2


def test_a_second_401_is_unavailable(rsps, clock, sleeps):
    add_token(rsps)
    add_user(rsps, status=401, json={})

    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")

    assert not isinstance(info.value, ProviderRejected)
    assert calls_to(rsps, f"{USERS}/u-1") == 2


@pytest.mark.parametrize("status", [400, 401])
def test_refused_client_credentials_are_a_configuration_error(rsps, clock, sleeps, status):
    rsps.add(responses.POST, TOKEN_URL, status=status, json={"error": "invalid_client"})

    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")

    assert not isinstance(info.value, ProviderRejected)
    assert info.value.provider == "timeback"
    assert info.value.reason == f"the client credentials were refused (HTTP {status})"
    assert calls_to(rsps, f"{USERS}/u-1") == 0


def test_a_token_answer_without_an_access_token_is_malformed(rsps, clock, sleeps):
    rsps.add(responses.POST, TOKEN_URL, json={"token_type": "Bearer"})
    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")
    assert info.value.reason.startswith("malformed answer")


# --- reads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "wrapper"),
    [
        ("user", "/ims/oneroster/rostering/v1p2/users/x-1", "user"),
        (
            "component_resource",
            "/ims/oneroster/rostering/v1p2/courses/component-resources/x-1",
            "componentResource",
        ),
        ("resource", "/ims/oneroster/resources/v1p2/resources/x-1", "resource"),
        ("course", "/ims/oneroster/rostering/v1p2/courses/x-1", "course"),
    ],
)
def test_reads_unwrap_the_object_and_treat_missing_or_deleted_as_none(
    rsps, clock, sleeps, method, path, wrapper
):
    add_token(rsps)
    found = {"sourcedId": "x-1", "status": "active", "title": "T"}
    rsps.add(responses.GET, f"{API}{path}", json={wrapper: found})
    rsps.add(responses.GET, f"{API}{path}", json={wrapper: {**found, "status": "tobedeleted"}})
    rsps.add(responses.GET, f"{API}{path}", status=404, json={"imsx_codeMajor": "failure"})
    timeback = client(clock, sleeps)

    assert getattr(timeback, method)("x-1") == found
    assert getattr(timeback, method)("x-1") is None
    assert getattr(timeback, method)("x-1") is None


def test_a_read_without_its_wrapper_is_malformed(rsps, clock, sleeps):
    add_token(rsps)
    add_user(rsps, json={"sourcedId": "u-1"})
    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")
    assert info.value.reason == "malformed answer: no user object in the answer"


def test_ids_are_percent_encoded_path_segments(rsps, clock, sleeps):
    add_token(rsps)
    read = rsps.add(responses.GET, f"{USERS}/a%2Fb%20c%3Fd", json={"user": {"sourcedId": "a/b c?d"}})

    assert client(clock, sleeps).user("a/b c?d") == {"sourcedId": "a/b c?d"}
    assert read.call_count == 1


def test_subject_tracks_are_unwrapped(rsps, clock, sleeps):
    add_token(rsps)
    track = {
        "id": "t-1",
        "subject": "Math",
        "grade": "5",
        "course": {"sourcedId": "course-1", "title": "Math 5"},
        "org": None,
    }
    rsps.add(responses.GET, f"{API}/edubridge/subject-track/", json={"subjectTrack": [track, "junk"]})

    assert client(clock, sleeps).subject_tracks() == [track]


def test_a_403_is_a_missing_scope_and_is_not_retried(rsps, clock, sleeps):
    add_token(rsps)
    add_user(rsps, status=403, json={"imsx_description": "insufficient scope"})

    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")

    assert not isinstance(info.value, ProviderRejected)
    assert info.value.reason == "the client lacks the scope for reading users (HTTP 403)"
    assert calls_to(rsps, f"{USERS}/u-1") == 1
    assert calls_to(rsps, TOKEN_URL) == 1


def test_5xx_on_a_read_is_retried(rsps, clock, sleeps):
    add_token(rsps)
    add_user(rsps, status=503, json={})
    add_user(rsps)

    assert client(clock, sleeps).user("u-1") is not None
    assert calls_to(rsps, f"{USERS}/u-1") == 2


# --- enrollments -----------------------------------------------------------------------


def test_enroll_posts_the_options_and_returns_the_enrollment(rsps, clock, sleeps):
    add_token(rsps)
    enroll = rsps.add(
        responses.POST, f"{ENROLL}/u-1/course-1/school-1", status=201, json={"data": ENROLLMENT}
    )

    result = client(clock, sleeps).enroll(
        "u-1",
        "course-1",
        school_id="school-1",
        sourced_id="enr-u-1-course-1",
        metadata={"by": "external-tests"},
    )

    assert result == ENROLLMENT
    assert json.loads(enroll.calls[0].request.body) == {
        "role": "student",
        "sourcedId": "enr-u-1-course-1",
        "metadata": {"by": "external-tests"},
    }


def test_enroll_without_a_school_leaves_it_to_the_platform(rsps, clock, sleeps):
    add_token(rsps)
    enroll = rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", json={"data": ENROLLMENT})

    client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})

    assert enroll.call_count == 1


def test_already_enrolled_returns_the_existing_enrollment(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", status=409, json={"error": "already enrolled"})
    other = {**ENROLLMENT, "id": "enr-0", "course": {"id": "course-0"}}
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": [other, ENROLLMENT]})

    result = client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})

    assert result == ENROLLMENT


def test_already_enrolled_but_not_listed_is_rejected(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", status=409, json={})
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": []})

    with pytest.raises(ProviderRejected) as info:
        client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})
    assert info.value.provider_status == 409


@pytest.mark.parametrize(
    "failure", [{"body": rexc.ReadTimeout("slow")}, {"status": 502, "json": {}}, {"status": 504, "json": {}}]
)
def test_an_enroll_with_an_unknown_outcome_is_looked_up_not_repeated(rsps, clock, sleeps, failure):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", **failure)
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": [ENROLLMENT]})

    result = client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})

    assert result == ENROLLMENT
    assert calls_to(rsps, f"{ENROLL}/u-1/course-1") == 1


def test_an_enroll_with_an_unknown_outcome_and_no_enrollment_is_made_once_more(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", body=rexc.ReadTimeout("slow"))
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", json={"data": ENROLLMENT})
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": []})

    result = client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})

    assert result == ENROLLMENT
    assert calls_to(rsps, f"{ENROLL}/u-1/course-1") == 2


def test_two_unknown_outcomes_are_unavailable(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", body=rexc.ReadTimeout("slow"))
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": []})

    with pytest.raises(OutcomeUnknown):
        client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})
    assert calls_to(rsps, f"{ENROLL}/u-1/course-1") == 2


def test_a_permanent_refusal_to_enroll_is_rejected(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/nope", status=404, json={"error": "Course not found"})

    with pytest.raises(ProviderRejected) as info:
        client(clock, sleeps).enroll("u-1", "nope", school_id=None, sourced_id="s", metadata={})

    assert info.value.reason == "Course not found"
    assert info.value.provider == "timeback"


def test_a_403_on_enroll_is_a_missing_scope(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", status=403, json={})

    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})

    assert info.value.reason == "the client lacks the scope for enrolling students (HTTP 403)"
    assert calls_to(rsps, f"{ENROLL}/u-1/course-1") == 1


def test_a_malformed_enroll_answer_is_unavailable(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, f"{ENROLL}/u-1/course-1", json={"ok": True})
    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).enroll("u-1", "course-1", school_id=None, sourced_id="s", metadata={})
    assert info.value.reason == "malformed answer: no enrollment in the enroll answer"


def test_enrollments_are_unwrapped_and_none_for_an_unknown_user(rsps, clock, sleeps):
    add_token(rsps)
    rsps.add(responses.GET, f"{LIST}/u-1", json={"data": [ENROLLMENT, 7]})
    rsps.add(responses.GET, f"{LIST}/ghost", status=404, json={})
    timeback = client(clock, sleeps)

    assert timeback.enrollments("u-1") == [ENROLLMENT]
    assert timeback.enrollments("ghost") == []


# --- redirects and secrets -------------------------------------------------------------

ELSEWHERE = "https://elsewhere.test/collect"


def test_a_redirected_token_request_sends_nothing_to_the_other_host(rsps, clock, sleeps):
    rsps.add(responses.POST, TOKEN_URL, status=307, headers={"Location": ELSEWHERE})
    elsewhere = rsps.add(responses.POST, ELSEWHERE, json={"access_token": "stolen"})

    with pytest.raises(ProviderUnavailable) as info:
        client(clock, sleeps).user("u-1")

    assert elsewhere.call_count == 0
    assert info.value.reason == "unexpected redirect (HTTP 307)"


def test_a_redirected_read_sends_nothing_to_the_other_host(rsps, clock, sleeps):
    add_token(rsps)
    add_user(rsps, status=302, headers={"Location": ELSEWHERE}, json={})
    elsewhere = rsps.add(responses.GET, ELSEWHERE, json={"user": {}})

    with pytest.raises(ProviderUnavailable):
        client(clock, sleeps).user("u-1")

    assert elsewhere.call_count == 0


def test_no_secret_in_any_message_or_log(rsps, clock, sleeps, log):
    errors: list[Exception] = []
    rsps.add(responses.POST, TOKEN_URL, status=400, json={"error": f"invalid_client {SECRET}"})
    with pytest.raises(ProviderUnavailable) as refused:
        client(clock, sleeps).user("u-1")
    errors.append(refused.value)

    rsps.replace(responses.POST, TOKEN_URL, json={"access_token": ACCESS, "expires_in": 3600})
    rsps.add(responses.POST, f"{ENROLL}/u-1/c-1", status=400, json={"message": f"bad token {ACCESS}"})
    with pytest.raises(ProviderRejected) as rejected:
        client(clock, sleeps).enroll("u-1", "c-1", school_id=None, sourced_id="s", metadata={})
    errors.append(rejected.value)

    add_user(rsps, body=rexc.ConnectionError(f"reset {ACCESS}"))
    with pytest.raises(ProviderUnavailable) as down:
        client(clock, sleeps).user("u-1")
    errors.append(down.value)

    texts = [str(e) for e in errors] + [repr(e.args) for e in errors] + log.texts() + [repr(config())]
    assert log.records
    encoded = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    for text in texts:
        assert SECRET not in text and ACCESS not in text and encoded not in text
