from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from requests import exceptions as rexc
from responses import matchers

from exttests import budget
from exttests.errors import CircuitOpen, ProviderDeadlineExceeded, ProviderRejected, ProviderUnavailable
from exttests.providers import base
from exttests.providers.base import AssignmentRef, AssignRequest
from exttests.providers.http import HttpSettings, Timing
from exttests.providers.mastery_track import MasteryTrackConfig, MasteryTrackProvider
from exttests.providers.tokens import token_cache
from tests.unit.providers.http_doubles import Clock

API = "https://mt.test/prod"
API_KEY = "key-ZZZZ-9999"
JWT = "jwt.first.token"
JWT2 = "jwt.second.token"
EMAIL = "kid@school.test"
ASSIGN = f"{API}/delivery/assignments/assign"
INVALIDATE = f"{API}/delivery/assignments/invalidate"


def provider(sleeps: list[float], clock: Clock, **http: Any) -> MasteryTrackProvider:
    cfg = MasteryTrackConfig(
        base_url=API, api_key=API_KEY, email="api@school.test", http=HttpSettings(max_attempts=3, **http)
    )
    return MasteryTrackProvider(cfg, Timing(sleep=sleeps.append, clock=clock, rand=lambda: 1.0))


def request(**overrides: Any) -> AssignRequest:
    values: dict[str, Any] = {
        "student_email": EMAIL,
        "first_name": "Kid",
        "last_name": "Doe",
        "new_student_password": None,
        "vendor_test_id": None,
        "requested_test_id": "tb-42",
        "line_item_sourced_id": "li-1",
        "result_sourced_id": "ar-1",
    }
    values.update(overrides)
    return AssignRequest(**values)


def add_auth(rsps, jwt: str = JWT) -> Any:
    return rsps.add(
        responses.POST,
        f"{API}/authorizer",
        json={"success": True, "jwt": jwt},
        match=[
            matchers.header_matcher({"x-api-key": API_KEY}),
            matchers.json_params_matcher({"email": "api@school.test"}),
        ],
    )


def created(assignment_id: str = "mt-1") -> dict[str, Any]:
    return {
        "success": True,
        "data": {
            "assignment": {
                "id": assignment_id,
                "student_email": EMAIL,
                "test_name": "Math 4",
                "test_url": f"https://mt.test/take/{assignment_id}",
                "status": "ASSIGNED",
                "expires_at": "2023-12-14T22:13:20Z",
            }
        },
    }


def exists(existing: Any) -> dict[str, Any]:
    return {
        "success": False,
        "error": "Assignment already exists",
        "code": "ASSIGNMENT_EXISTS",
        "data": {"existing_assignment": existing},
    }


def add_assign(rsps, **kwargs: Any) -> Any:
    if "body" not in kwargs:
        kwargs.setdefault("json", created())
        kwargs.setdefault("status", 201)
    return rsps.add(responses.POST, ASSIGN, **kwargs)


def test_implements_the_port_and_takes_results_by_write_back(sleeps, clock):
    p = provider(sleeps, clock)
    port: base.TestProvider = p
    assert port.traits.provider.value == "mastery-track"
    assert port.traits.accepts_write_back and port.traits.workflow_wait == base.WorkflowWait.CALLBACK
    assert port.traits.service_sets_password is False
    assert "key-ZZZZ" not in repr(p.config)


def test_there_are_no_results_to_fetch(rsps, sleeps, clock):
    with pytest.raises(ProviderRejected):
        provider(sleeps, clock).fetch_results(
            AssignmentRef(assignment_id="mt-1", class_id="", test_id="tb-42", provider_user_id="")
        )
    assert len(rsps.calls) == 0


def test_assign_by_test_id(rsps, sleeps, clock):
    auth = add_auth(rsps)
    assign = add_assign(rsps, match=[matchers.header_matcher({"X-Auth-Token": f"Bearer {JWT}"})])

    result = provider(sleeps, clock).assign(request())

    assert auth.call_count == 1
    assert json.loads(assign.calls[0].request.body) == {
        "student_email": EMAIL,
        "timeback_id": "tb-42",
        "assessment_line_item_sourced_id": "li-1",
        "assessment_result_sourced_id": "ar-1",
    }
    assert result == base.Assignment(
        assignment_id="mt-1",
        class_id="",
        test_id="tb-42",
        test_url="https://mt.test/take/mt-1",
        provider_user_id=None,
        created_student=False,
        reused=False,
        expires_at="2023-12-14T22:13:20Z",
    )


def test_assign_by_subject_and_grade(rsps, sleeps, clock):
    add_auth(rsps)
    assign = add_assign(rsps)

    result = provider(sleeps, clock).assign(request(requested_test_id=None, subject="Math", grade_rank=4))

    body = json.loads(assign.calls[0].request.body)
    assert body == {
        "student_email": EMAIL,
        "subject": "Math",
        "grade_rank": 4,
        "assessment_line_item_sourced_id": "li-1",
        "assessment_result_sourced_id": "ar-1",
    }
    assert result.test_id == "mt-1"


def test_assign_without_test_or_subject_is_rejected_without_calls(rsps, sleeps, clock):
    with pytest.raises(ProviderRejected):
        provider(sleeps, clock).assign(request(requested_test_id=None, subject="Math"))
    assert len(rsps.calls) == 0


# --- token -----------------------------------------------------------------------------


def test_token_is_reused_then_refreshed_after_50_minutes(rsps, sleeps, clock):
    auth = add_auth(rsps)
    add_assign(rsps)

    provider(sleeps, clock).assign(request())
    clock.now += 49 * 60
    provider(sleeps, clock).assign(request())
    assert auth.call_count == 1

    clock.now += 2 * 60
    provider(sleeps, clock).assign(request())
    assert auth.call_count == 2


def test_401_renews_the_token_once(rsps, sleeps, clock):
    add_auth(rsps, JWT)
    add_auth(rsps, JWT2)
    rsps.add(
        responses.POST,
        ASSIGN,
        status=401,
        json={"success": False, "error": "Unauthorized"},
        match=[matchers.header_matcher({"X-Auth-Token": f"Bearer {JWT}"})],
    )
    add_assign(rsps, match=[matchers.header_matcher({"X-Auth-Token": f"Bearer {JWT2}"})])

    assert provider(sleeps, clock).assign(request()).assignment_id == "mt-1"
    assert len([c for c in rsps.calls if c.request.url == f"{API}/authorizer"]) == 2


def test_second_401_is_unavailable(rsps, sleeps, clock):
    add_auth(rsps)
    rsps.add(responses.POST, ASSIGN, status=401, json={"success": False})

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps, clock).assign(request())

    assert not isinstance(info.value, ProviderRejected)
    assert len([c for c in rsps.calls if c.request.url == ASSIGN]) == 2


@pytest.mark.parametrize(("status", "body"), [(403, {"message": "Forbidden"}), (200, {"success": True})])
def test_broken_authorizer_is_unavailable(rsps, sleeps, clock, status, body):
    rsps.add(responses.POST, f"{API}/authorizer", status=status, json=body)
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps, clock).assign(request())
    assert not isinstance(info.value, ProviderRejected)


# --- 409 -------------------------------------------------------------------------------


def test_409_reuses_the_existing_assignment(rsps, sleeps, clock):
    add_auth(rsps)
    existing = {
        "id": "mt-old",
        "test_url": "https://mt.test/take/mt-old",
        "expires_at": "2024-01-01T00:00:00Z",
    }
    add_assign(rsps, status=409, json=exists(existing))

    result = provider(sleeps, clock).assign(request())

    assert (result.assignment_id, result.test_url, result.reused) == ("mt-old", existing["test_url"], True)
    assert result.expires_at == "2024-01-01T00:00:00Z"
    assert [c.request.url for c in rsps.calls].count(INVALIDATE) == 0


def test_409_for_an_earlier_attempt_invalidates_then_assigns_again(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=409, json=exists({"id": "mt-old", "test_url": "https://mt.test/take/mt-old"}))
    add_assign(rsps, json=created("mt-new"))
    invalidate = rsps.add(
        responses.POST,
        INVALIDATE,
        json={"success": True},
        match=[matchers.json_params_matcher({"student_email": EMAIL, "assignment_id": "mt-old"})],
    )

    result = provider(sleeps, clock).assign(request(exclude_assignment_ids=frozenset({"mt-old"})))

    assert invalidate.call_count == 1
    assert result.assignment_id == "mt-new"
    assert result.reused is False


def test_409_with_only_an_id_invalidates_since_there_is_no_url(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=409, json=exists("mt-old"))
    add_assign(rsps, json=created("mt-new"))
    invalidate = rsps.add(responses.POST, INVALIDATE, json={"success": True})

    assert provider(sleeps, clock).assign(request()).assignment_id == "mt-new"
    assert invalidate.call_count == 1


def test_409_again_after_invalidating_is_rejected(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=409, json=exists({"id": "mt-old", "test_url": "u"}))
    rsps.add(responses.POST, INVALIDATE, json={"success": True})

    with pytest.raises(ProviderRejected) as info:
        provider(sleeps, clock).assign(request(exclude_assignment_ids=frozenset({"mt-old"})))
    assert info.value.reason == "test already assigned to the student"
    assert [c.request.url for c in rsps.calls].count(ASSIGN) == 2


def test_409_without_an_existing_assignment_is_rejected(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=409, json={"success": False, "code": "CONFLICT", "error": "busy"})
    with pytest.raises(ProviderRejected) as info:
        provider(sleeps, clock).assign(request())
    assert info.value.reason == "CONFLICT: busy"


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "USER_NOT_FOUND"),
        (404, "TEST_NOT_FOUND"),
        (422, "TEST_NOT_SUPPORTED"),
        (400, "MISSING_PARAMETER"),
    ],
)
def test_provider_errors_are_rejected_with_code_and_message(rsps, sleeps, clock, status, code):
    add_auth(rsps)
    add_assign(
        rsps, status=status, json={"success": False, "error": "It went wrong", "code": code, "details": {}}
    )

    with pytest.raises(ProviderRejected) as info:
        provider(sleeps, clock).assign(request())

    assert info.value.reason == f"{code}: It went wrong"
    assert info.value.provider_status == status
    assert info.value.provider == "mastery-track"


def test_read_timeout_on_assign_asks_again_and_takes_the_409(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, body=rexc.ReadTimeout("slow"))
    add_assign(rsps, status=409, json=exists({"id": "mt-1", "test_url": "https://mt.test/take/mt-1"}))

    result = provider(sleeps, clock).assign(request())

    assert result.assignment_id == "mt-1"
    assert [c.request.url for c in rsps.calls].count(ASSIGN) == 2
    assert sleeps == []


def test_two_read_timeouts_on_assign_are_unavailable(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, body=rexc.ReadTimeout("slow"))

    with pytest.raises(ProviderUnavailable):
        provider(sleeps, clock).assign(request())
    assert [c.request.url for c in rsps.calls].count(ASSIGN) == 2


def test_503_on_assign_is_retried(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=503, headers={"Retry-After": "3"})
    add_assign(rsps)

    assert provider(sleeps, clock).assign(request()).assignment_id == "mt-1"
    assert [c.request.url for c in rsps.calls].count(ASSIGN) == 2


def test_breaker_opens_and_half_opens(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=500)
    p = provider(sleeps, clock, breaker_failure_threshold=3, breaker_cooldown=30)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            p.assign(request())
    count = len(rsps.calls)
    with pytest.raises(CircuitOpen):
        p.assign(request())
    assert len(rsps.calls) == count

    clock.now += 31
    rsps.replace(responses.POST, ASSIGN, status=201, json=created())
    assert p.assign(request()).assignment_id == "mt-1"
    assert p.assign(request()).assignment_id == "mt-1"


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "data": {}},
        {"success": True, "data": {"assignment": {"id": "mt-1"}}},
        {"success": True},
    ],
)
def test_malformed_assign_answer_is_unavailable(rsps, sleeps, clock, body):
    add_auth(rsps)
    add_assign(rsps, json=body)
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps, clock).assign(request())
    assert "malformed" in info.value.reason


# --- inventory and invalidate ----------------------------------------------------------


def test_inventory(rsps, sleeps, clock):
    add_auth(rsps)
    items = [{"id": "1", "timeback_id": "tb-42", "name": "Math 4", "grade_rank": 4, "supported": True}]
    search = rsps.add(
        responses.GET,
        f"{API}/authoring/inventory/search",
        json={"success": True, "data": [*items, "junk"]},
        match=[matchers.query_param_matcher({"subject": "Math", "grade": "4"})],
    )

    assert provider(sleeps, clock).inventory(subject="Math", grade="4") == items
    assert search.calls[0].request.headers["X-Auth-Token"] == f"Bearer {JWT}"


def test_malformed_inventory_is_unavailable(rsps, sleeps, clock):
    add_auth(rsps)
    rsps.add(responses.GET, f"{API}/authoring/inventory/search", json={"success": True})
    with pytest.raises(ProviderUnavailable):
        provider(sleeps, clock).inventory(timeback_id="tb-42")


def test_invalidate(rsps, sleeps, clock):
    add_auth(rsps)
    call = rsps.add(
        responses.POST,
        INVALIDATE,
        json={"success": True},
        match=[matchers.json_params_matcher({"student_email": EMAIL, "assignment_id": "mt-9"})],
    )
    provider(sleeps, clock).invalidate(EMAIL, "mt-9")
    assert call.call_count == 1


def test_invalidate_unknown_assignment_is_rejected(rsps, sleeps, clock):
    add_auth(rsps)
    rsps.add(
        responses.POST, INVALIDATE, status=404, json={"success": False, "error": "nope", "code": "NOT_FOUND"}
    )
    with pytest.raises(ProviderRejected):
        provider(sleeps, clock).invalidate(EMAIL, "mt-9")


# --- secrets ---------------------------------------------------------------------------


def test_no_secret_in_logs_or_errors(rsps, sleeps, clock, log):
    errors: list[Exception] = []

    add_auth(rsps)
    add_assign(rsps, status=400, json={"success": False, "code": "MISSING_PARAMETER", "error": f"bad {JWT}"})
    with pytest.raises(ProviderRejected) as rejected:
        provider(sleeps, clock).assign(request())
    errors.append(rejected.value)

    token_cache.clear()
    rsps.replace(responses.POST, f"{API}/authorizer", status=401, json={"error": f"invalid key {API_KEY}"})
    with pytest.raises(ProviderUnavailable) as unavailable:
        provider(sleeps, clock).assign(request())
    errors.append(unavailable.value)

    texts = [str(e) for e in errors] + [repr(e.args) for e in errors] + log.texts()
    assert log.records
    for secret in (API_KEY, JWT):
        for text in texts:
            assert secret not in text


# --- redirects and the time budget -----------------------------------------------------

ELSEWHERE = "https://elsewhere.test/collect"


def test_a_redirected_authorizer_call_sends_nothing_to_the_other_host(rsps, sleeps, clock):
    rsps.add(responses.POST, f"{API}/authorizer", status=307, headers={"Location": ELSEWHERE})
    elsewhere = rsps.add(responses.POST, ELSEWHERE, json={"success": True, "jwt": "stolen"})

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps, clock).assign(request())

    assert elsewhere.call_count == 0  # the x-api-key header would have gone with it
    assert info.value.reason == "unexpected redirect (HTTP 307)"


def test_a_redirected_assign_sends_nothing_to_the_other_host(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, status=308, headers={"Location": ELSEWHERE}, json={})
    elsewhere = rsps.add(responses.POST, ELSEWHERE, json=created())

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps, clock).assign(request())

    assert elsewhere.call_count == 0
    assert info.value.reason == "unexpected redirect (HTTP 308)"


def test_an_assign_cut_short_by_the_budget_asks_again_while_time_remains(rsps, sleeps, clock):
    add_auth(rsps)
    add_assign(rsps, body=ProviderDeadlineExceeded("mastery-track"))
    add_assign(rsps, status=409, json=exists({"id": "mt-1", "test_url": "https://mt.test/take/mt-1"}))

    with budget.budget(30.0):
        result = provider(sleeps, clock).assign(request())

    assert result.assignment_id == "mt-1"
    assert [c.request.url for c in rsps.calls].count(ASSIGN) == 2


def test_no_assign_is_sent_once_the_budget_is_spent(rsps, sleeps, clock):
    with budget.budget(0.0), pytest.raises(ProviderDeadlineExceeded):
        provider(sleeps, clock).assign(request())
    assert len(rsps.calls) == 0
