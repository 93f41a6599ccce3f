from __future__ import annotations

import json
import time
from typing import Any

import pytest
import responses
from requests import exceptions as rexc
from responses import matchers

from exttests import budget
from exttests.errors import CircuitOpen, ProviderDeadlineExceeded, ProviderRejected, ProviderUnavailable
from exttests.providers import base
from exttests.providers.base import AssignmentRef, AssignRequest
from exttests.providers.edulastic import EdulasticConfig, EdulasticProvider
from exttests.providers.http import HttpSettings, Timing
from exttests.providers.tokens import Token, token_cache
from tests.unit.providers.http_doubles import Clock

API = "https://edu.test/api"
APP = "https://student.edu.test"
PASSWORD = "service-Pa55word!"
TOKEN = "tok-AAAA-1111"
TOKEN2 = "tok-BBBB-2222"
STUDENT_PW = "kid-Pa55-xyz"
CLASS = "class-1"
USER = "user-1"
TEST = "test-1"


def config(**overrides: Any) -> EdulasticConfig:
    values: dict[str, Any] = {
        "base_url": API,
        "app_url": APP,
        "username": "service@school.test",
        "password": PASSWORD,
        "class_id": CLASS,
        "class_code": "ABC123",
        "district_id": "district-1",
        "institution_ids": ("school-1", "school-2"),
        "http": HttpSettings(max_attempts=3),
    }
    values.update(overrides)
    return EdulasticConfig(**values)


def provider(sleeps: list[float], clock: Clock | None = None, **overrides: Any) -> EdulasticProvider:
    timing = Timing(sleep=sleeps.append, clock=clock or Clock(), rand=lambda: 1.0)
    return EdulasticProvider(config(**overrides), timing)


def request(**overrides: Any) -> AssignRequest:
    values: dict[str, Any] = {
        "student_email": "Kid@School.test",
        "first_name": "Kid",
        "last_name": "Doe",
        "new_student_password": STUDENT_PW,
        "vendor_test_id": TEST,
        "requested_test_id": None,
    }
    values.update(overrides)
    return AssignRequest(**values)


def add_login(rsps, token: str = TOKEN, **kwargs: Any) -> Any:
    return rsps.add(
        responses.POST,
        f"{API}/auth/login",
        json={"result": {"token": token, "user": {"_id": "svc"}}},
        match=[matchers.json_params_matcher({"username": "service@school.test", "password": PASSWORD})],
        **kwargs,
    )


def add_lookup(rsps, users: list[dict[str, Any]], **kwargs: Any) -> Any:
    return rsps.add(
        responses.POST,
        f"{API}/search/users/by-emails",
        json={"result": {"data": users, "totalCount": len(users)}},
        match=[matchers.json_params_matcher({"emails": ["Kid@School.test"]})],
        **kwargs,
    )


def add_assign(rsps, assignment_id: str = "asg-1", **kwargs: Any) -> Any:
    if "body" not in kwargs:
        kwargs.setdefault(
            "json", {"assignments": [{"_id": assignment_id, "class": [{"_id": CLASS}]}], "message": "ok"}
        )
    return rsps.add(responses.POST, f"{API}/assignments/v2/assign", **kwargs)


def add_enroll(rsps) -> Any:
    return rsps.add(
        responses.POST,
        f"{API}/enrollment/student",
        json={"result": "ok"},
        match=[
            matchers.json_params_matcher(
                {"classCode": "ABC123", "studentIds": [USER], "districtId": "district-1"}
            )
        ],
    )


def add_all(rsps, assignments: list[dict[str, Any]]) -> Any:
    return rsps.add(
        responses.POST,
        f"{API}/assignments/all",
        json={"result": assignments},
        match=[matchers.query_param_matcher({"testId": TEST, "groupId": CLASS, "studentId": USER})],
    )


def calls_to(rsps, path: str) -> list[Any]:
    return [c for c in rsps.calls if c.request.url.split("?")[0] == f"{API}{path}"]


IN_CLASS = {"_id": USER, "email": "kid@school.test", "groups": [{"_id": CLASS}]}


# --- port ------------------------------------------------------------------------------


def test_implements_the_port_and_pulls_results_with_a_password_it_sets(sleeps):
    p = provider(sleeps)
    # the port's protocol is not runtime-checkable: this is checked by mypy
    port: base.TestProvider = p
    assert port.traits.provider.value == "edulastic"
    assert port.traits.pulls_results and port.traits.workflow_wait == base.WorkflowWait.POLL
    assert port.traits.service_sets_password is True
    assert "Pa55" not in repr(p.config)


# --- assign: login and student ---------------------------------------------------------


def test_assign_existing_student_in_class(rsps, sleeps):
    login = add_login(rsps)
    add_lookup(rsps, [{"_id": "other", "email": "x@y"}, IN_CLASS])
    assign = add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert login.call_count == 1
    assert calls_to(rsps, "/enrollment/student") == []
    assert calls_to(rsps, "/enrollment/user") == []
    for call in rsps.calls[1:]:
        assert call.request.headers["Authorization"] == TOKEN  # raw, no "Bearer"
    assert json.loads(assign.calls[0].request.body) == {
        "assignments": [
            {
                "testId": TEST,
                "startDate": "2023-11-14T22:13:20.000Z",
                "endDate": "2023-12-14T22:13:20.000Z",
                "openPolicy": "Automatically on Start Date",
                "closePolicy": "Automatically on Due Date",
                "testType": "assessment",
                "releaseScore": "WITH_RESPONSE",
                "maxAttempts": 1,
            }
        ],
        "filters": {"groups": [CLASS], "students": [{"groupId": CLASS, "studentsToAssign": [USER]}]},
    }
    assert result.assignment_id == "asg-1"
    assert result.class_id == CLASS
    assert result.test_id == TEST
    assert result.test_url == f"{APP}/home/group/{CLASS}/assignment/asg-1"
    assert result.provider_user_id == USER
    assert result.created_student is False
    assert result.reused is False
    assert result.expires_at == "2023-12-14T22:13:20.000Z"


def test_assignment_days_are_configurable(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    assign = add_assign(rsps)
    provider(sleeps, assignment_days=7).assign(request())
    body = json.loads(assign.calls[0].request.body)
    assert body["assignments"][0]["endDate"] == "2023-11-21T22:13:20.000Z"


def test_config_defaults(rsps, sleeps):
    cfg = EdulasticConfig(
        base_url=API, username="u", password="p", class_id=CLASS, class_code="k", district_id="d"
    )
    assert (cfg.app_url, cfg.assignment_days, cfg.institution_ids) == ("https://app.edulastic.com", 30, ())
    assert cfg.http == HttpSettings()
    rsps.add(responses.POST, f"{API}/auth/login", json={"result": {"token": TOKEN}})
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps)

    result = EdulasticProvider(cfg, Timing(sleep=sleeps.append, clock=Clock())).assign(request())

    assert result.test_url == f"https://app.edulastic.com/home/group/{CLASS}/assignment/asg-1"


def test_missing_student_is_created_with_the_requests_password(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [])
    create = rsps.add(responses.POST, f"{API}/enrollment/user", json={"result": {"userId": "new-user"}})
    assign = add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert json.loads(create.calls[0].request.body) == {
        "email": "Kid@School.test",
        "username": "Kid@School.test",
        "password": STUDENT_PW,
        "firstName": "Kid",
        "lastName": "Doe",
        "classCode": "ABC123",
        "role": "student",
        "districtId": "district-1",
        "institutionIds": ["school-1", "school-2"],
    }
    assert result.created_student is True
    assert result.provider_user_id == "new-user"
    body = json.loads(assign.calls[0].request.body)
    assert body["filters"]["students"][0]["studentsToAssign"] == ["new-user"]
    assert calls_to(rsps, "/enrollment/student") == []


def test_missing_student_without_password_is_rejected(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [])
    with pytest.raises(ProviderRejected):
        provider(sleeps).assign(request(new_student_password=None))
    assert calls_to(rsps, "/enrollment/user") == []


@pytest.mark.parametrize(
    "user",
    [
        {"_id": USER, "email": "kid@school.test", "groups": [{"_id": "other-class"}]},
        {"_id": USER, "email": "kid@school.test", "classes": ["other-class"]},
        {"_id": USER, "email": "KID@school.test"},  # membership unknown
    ],
)
def test_existing_student_outside_the_class_is_enrolled(rsps, sleeps, user):
    add_login(rsps)
    add_lookup(rsps, [user])
    enroll = add_enroll(rsps)
    add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert enroll.call_count == 1
    assert result.created_student is False
    assert result.provider_user_id == USER


def test_bare_payloads_are_accepted(rsps, sleeps):
    rsps.add(responses.POST, f"{API}/auth/login", json={"token": TOKEN})
    rsps.add(responses.POST, f"{API}/search/users/by-emails", json={"data": [IN_CLASS]})
    add_assign(rsps, json={"result": {"assignments": [{"_id": "asg-9", "class": [{"_id": CLASS}]}]}})
    assert provider(sleeps).assign(request()).assignment_id == "asg-9"


def test_missing_vendor_test_id_is_rejected_without_calls(rsps, sleeps):
    with pytest.raises(ProviderRejected) as info:
        provider(sleeps).assign(request(vendor_test_id=None, requested_test_id="ignored"))
    assert info.value.provider == "edulastic"
    assert len(rsps.calls) == 0


# --- tokens ----------------------------------------------------------------------------


def test_warm_container_reuses_the_token(rsps, sleeps):
    login = add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps)

    provider(sleeps).assign(request())
    provider(sleeps).assign(request())

    assert login.call_count == 1


def test_refresh_header_replaces_the_token(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS], headers={"x-token-refresh": TOKEN2})
    assign = add_assign(rsps)

    provider(sleeps).assign(request())

    assert assign.calls[0].request.headers["Authorization"] == TOKEN2
    # and the next container-warm instance uses it too
    provider(sleeps).assign(request())
    assert assign.calls[1].request.headers["Authorization"] == TOKEN2


def add_lookup_by_token(rsps) -> None:
    rsps.add(
        responses.POST,
        f"{API}/search/users/by-emails",
        status=401,
        json={"message": "token expired"},
        match=[matchers.header_matcher({"Authorization": TOKEN})],
    )
    rsps.add(
        responses.POST,
        f"{API}/search/users/by-emails",
        json={"result": {"data": [IN_CLASS]}},
        match=[matchers.header_matcher({"Authorization": TOKEN2})],
    )


def test_401_with_a_cached_token_logs_in_again_and_repeats(rsps, sleeps):
    # a warm container still holds a token the provider has since expired
    token_cache.put(f"{API}|service@school.test", Token(TOKEN, expires_at=None))
    login = add_login(rsps, TOKEN2)
    add_lookup_by_token(rsps)
    assign = add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert result.assignment_id == "asg-1"
    assert login.call_count == 1
    assert len(calls_to(rsps, "/search/users/by-emails")) == 2
    assert assign.calls[0].request.headers["Authorization"] == TOKEN2


def test_401_right_after_login_logs_in_once_more(rsps, sleeps):
    add_login(rsps, TOKEN)
    add_login(rsps, TOKEN2)
    add_lookup_by_token(rsps)
    add_assign(rsps)

    assert provider(sleeps).assign(request()).assignment_id == "asg-1"
    assert len(calls_to(rsps, "/auth/login")) == 2


def test_second_401_is_unavailable(rsps, sleeps):
    login = add_login(rsps)
    rsps.add(responses.POST, f"{API}/search/users/by-emails", status=401)

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())

    assert not isinstance(info.value, ProviderRejected)
    assert login.call_count == 2
    assert len(calls_to(rsps, "/search/users/by-emails")) == 2
    assert PASSWORD not in str(info.value) and TOKEN not in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_service_login_is_unavailable(rsps, sleeps, status):
    rsps.add(responses.POST, f"{API}/auth/login", status=status, json={"message": f"bad password {PASSWORD}"})
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())
    assert not isinstance(info.value, ProviderRejected)
    assert PASSWORD not in str(info.value)
    assert info.value.__cause__ is None


# --- 409 and timeouts ------------------------------------------------------------------


def test_409_reuses_the_newest_assignment_not_excluded(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    assign = add_assign(rsps, status=409, json={"message": "already assigned"})
    lookup = add_all(
        rsps,
        [
            {"_id": "old", "testId": TEST, "createdAt": 1_600_000_000_000, "endDate": 1_602_592_000_000},
            {"_id": "newest", "testId": TEST, "createdAt": 1_699_000_000_000, "endDate": 1_701_592_000_000},
            {"_id": "middle", "testId": TEST, "createdAt": 1_650_000_000_000},
        ],
    )

    result = provider(sleeps).assign(request(exclude_assignment_ids=frozenset({"nothing"})))

    assert assign.call_count == 1
    assert lookup.call_count == 1
    assert result.assignment_id == "newest"
    assert result.reused is True
    assert result.test_url.endswith("/assignment/newest")
    assert result.expires_at == "2023-12-03T08:26:40.000Z"


def test_409_skips_assignments_of_earlier_attempts(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps, status=409, json={})
    add_all(
        rsps,
        [
            {"_id": "6553f1000000000000000000"},  # ObjectId time: newer
            {"_id": "5f5e10000000000000000000"},
        ],
    )

    newest = provider(sleeps).assign(request())
    assert newest.assignment_id == "6553f1000000000000000000"

    second = provider(sleeps).assign(request(exclude_assignment_ids=frozenset({"6553f1000000000000000000"})))
    assert second.assignment_id == "5f5e10000000000000000000"


def test_409_with_nothing_usable_is_rejected(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps, status=409, json={})
    add_all(rsps, [{"_id": "previous"}])

    with pytest.raises(ProviderRejected) as info:
        provider(sleeps).assign(request(exclude_assignment_ids=frozenset({"previous"})))
    assert info.value.reason == "test already assigned to the student"


def test_timeout_on_create_student_looks_up_instead_of_creating_again(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [])
    rsps.add(
        responses.POST,
        f"{API}/search/users/by-emails",
        json={"result": {"data": [{"_id": USER, "email": "kid@school.test"}]}},
    )
    rsps.add(responses.POST, f"{API}/enrollment/user", body=rexc.ReadTimeout("slow"))
    enroll = add_enroll(rsps)
    add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert len(calls_to(rsps, "/enrollment/user")) == 1
    assert enroll.call_count == 1  # membership unknown after a half-done create
    assert result.created_student is True
    assert result.provider_user_id == USER
    assert sleeps == []


def test_timeout_on_create_student_creates_again_when_lookup_finds_nothing(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [])
    rsps.add(responses.POST, f"{API}/enrollment/user", body=rexc.ReadTimeout("slow"))
    rsps.add(responses.POST, f"{API}/enrollment/user", json={"result": {"userId": USER}})
    add_assign(rsps)

    result = provider(sleeps).assign(request())

    assert len(calls_to(rsps, "/enrollment/user")) == 2
    assert result.created_student is True


@pytest.mark.parametrize(
    "cut_short",
    [rexc.ReadTimeout("slow"), ProviderDeadlineExceeded("edulastic")],
    ids=["read-timeout", "budget-with-time-left"],
)
def test_an_assign_with_an_unknown_outcome_is_looked_up_not_repeated(rsps, sleeps, cut_short):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    assign = add_assign(rsps, body=cut_short)
    lookup = add_all(rsps, [{"_id": "made-it", "testId": TEST}])

    with budget.budget(30.0):
        result = provider(sleeps).assign(request())

    assert assign.call_count == 1
    assert lookup.call_count == 1
    assert result.assignment_id == "made-it"


def test_timeout_on_assign_assigns_again_when_nothing_was_made(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps, body=rexc.ReadTimeout("slow"))
    add_assign(rsps, "asg-2")
    add_all(rsps, [])

    result = provider(sleeps).assign(request())

    assert len(calls_to(rsps, "/assignments/v2/assign")) == 2
    assert result.assignment_id == "asg-2"
    assert result.reused is False


def test_503_on_assign_is_retried(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps, status=503, headers={"Retry-After": "2"})
    add_assign(rsps)

    assert provider(sleeps).assign(request()).assignment_id == "asg-1"
    assert len(calls_to(rsps, "/assignments/v2/assign")) == 2


def test_other_4xx_is_rejected_with_reason(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(
        rsps, status=400, json={"statusCode": 400, "error": "Bad Request", "message": "test is archived"}
    )
    with pytest.raises(ProviderRejected) as info:
        provider(sleeps).assign(request())
    assert info.value.reason == "test is archived"
    assert info.value.provider_status == 400


# --- breaker ---------------------------------------------------------------------------


def test_breaker_opens_and_fails_fast(rsps, sleeps):
    clock = Clock()
    add_login(rsps)
    rsps.add(responses.POST, f"{API}/search/users/by-emails", status=500)
    p = provider(sleeps, clock, http=HttpSettings(breaker_failure_threshold=2, breaker_cooldown=30))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            p.assign(request())
    count = len(rsps.calls)

    with pytest.raises(CircuitOpen) as info:
        provider(sleeps, clock).assign(request())
    assert len(rsps.calls) == count
    assert info.value.retry_after == 30

    clock.now += 30
    rsps.replace(responses.POST, f"{API}/search/users/by-emails", json={"result": {"data": [IN_CLASS]}})
    add_assign(rsps)
    assert p.assign(request()).assignment_id == "asg-1"


# --- malformed -------------------------------------------------------------------------


def test_login_without_token_is_malformed(rsps, sleeps):
    rsps.add(responses.POST, f"{API}/auth/login", json={"result": {}})
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())
    assert "malformed" in info.value.reason


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/search/users/by-emails", {"result": {"total": 0}}),
        ("/search/users/by-emails", {"result": {"data": [{"email": "kid@school.test"}]}}),
        ("/assignments/v2/assign", {"message": "ok"}),
        ("/assignments/v2/assign", {"assignments": [{"class": []}]}),
    ],
)
def test_malformed_answers_are_unavailable(rsps, sleeps, path, body):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])
    add_assign(rsps)
    rsps.replace(responses.POST, f"{API}{path}", json=body)
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())
    assert "malformed" in info.value.reason


def test_non_json_answer_is_malformed(rsps, sleeps):
    add_login(rsps)
    rsps.add(responses.POST, f"{API}/search/users/by-emails", body="<html>oops</html>")
    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())
    assert "malformed" in info.value.reason


# --- results ---------------------------------------------------------------------------

UTA_OLD = {"_id": "uta-1", "userId": USER, "status": 1, "graded": "GRADED", "number": 1}
UTA_NEW = {"_id": "uta-2", "userId": USER, "status": 1, "graded": "IN GRADING", "number": 2}
UTA_OTHER = {"_id": "uta-x", "userId": "someone-else", "status": 1, "graded": "GRADED", "number": 9}

TEST_DOC = {
    "_id": TEST,
    "itemGroups": [
        {
            "items": [
                {
                    "_id": "item-1",
                    "data": {
                        "questions": [
                            {
                                "id": "q1",
                                "title": "Multiple choice",
                                "validation": {"validResponse": {"score": 2}},
                            },
                            {"id": "q2", "stimulus": "<p>What is <b>2 &amp; 2</b>?</p>", "maxScore": 4},
                        ]
                    },
                },
                {"_id": "passage", "data": {"resources": []}},
            ]
        },
        {
            "items": [
                {
                    "data": {
                        "questions": [
                            {"id": "q3", "stimulus": "<div>" + "x" * 300 + "</div>", "score": 3},
                            {"id": "q4"},
                            {"id": "q5", "title": "Essay"},
                        ]
                    }
                }
            ]
        },
    ],
}

UQAS = [
    # the earlier attempt: must be ignored
    {"_id": "a0", "qid": "q1", "testActivityId": "uta-1", "score": 0, "maxScore": 2, "graded": True},
    {
        "_id": "a1",
        "qid": "q1",
        "testActivityId": "uta-2",
        "userId": USER,
        "score": 1,
        "maxScore": 2,
        "graded": True,
        "correct": False,
        "partiallyCorrect": True,
        "feedback": {"text": "Almost", "teacherId": "t1"},
    },
    {"_id": "a2", "qid": "q2", "testActivityId": "uta-2", "skipped": True, "graded": True, "maxScore": 5},
    {"_id": "a3", "qid": "q3", "testActivityId": "uta-2", "score": 3, "graded": True, "correct": True},
    {
        "_id": "a5",
        "qid": "q5",
        "testActivityId": "uta-2",
        "score": 0,
        "graded": False,
        "pendingEvaluation": True,
        "extra": {"ignored": True},
    },
]


def add_results(rsps, activity: Any, test: Any) -> tuple[Any, Any]:
    activity_mock = rsps.add(
        responses.POST,
        f"{API}/assignments/asg-1/classes/{CLASS}/test-activity",
        json=activity,
        match=[
            matchers.query_param_matcher({"includeStudents": USER}),
            matchers.json_params_matcher({"page": 0, "leftOverStudents": []}),
        ],
    )
    test_mock = rsps.add(
        responses.GET,
        f"{API}/test/{TEST}/minimal",
        json=test,
        match=[matchers.query_param_matcher({"validation": "true", "data": "true"})],
    )
    return activity_mock, test_mock


def fetch(p: EdulasticProvider):
    return p.fetch_results(
        AssignmentRef(assignment_id="asg-1", class_id=CLASS, test_id=TEST, provider_user_id=USER)
    )


@pytest.mark.parametrize("wrapped", [False, True])
def test_results_merge_questions_and_activities(rsps, sleeps, wrapped):
    add_login(rsps)
    activity = {
        "testActivities": [UTA_OLD, UTA_OTHER, UTA_NEW],
        "testQuestionActivities": UQAS,
        "additionalData": {"whatever": 1},
    }
    add_results(
        rsps,
        {"result": activity} if wrapped else activity,
        {"result": TEST_DOC} if wrapped else TEST_DOC,
    )

    results = fetch(provider(sleeps))

    assert results.started is True
    assert results.submitted is True
    assert results.graded == "IN GRADING"  # the highest attempt, not the graded old one
    q1, q2, q3, q4, q5 = results.questions
    assert [q.index for q in results.questions] == [0, 1, 2, 3, 4]
    assert [q.id for q in results.questions] == ["q1", "q2", "q3", "q4", "q5"]

    assert (q1.title, q1.max_score, q1.score, q1.answered, q1.graded, q1.correct, q1.feedback) == (
        "Multiple choice",
        2.0,
        1.0,
        True,
        True,
        False,
        "Almost",
    )
    assert q2.title == "What is 2 & 2 ?"
    assert (q2.answered, q2.skipped, q2.score, q2.max_score) == (False, True, 0.0, 5.0)  # UQA maxScore wins
    assert len(q3.title) == 200
    assert (q3.max_score, q3.score, q3.correct) == (3.0, 3.0, True)
    assert (q4.answered, q4.score, q4.max_score, q4.title, q4.graded) == (False, None, 1.0, "", False)
    assert (q5.answered, q5.pending_evaluation, q5.graded, q5.correct) == (True, True, False, None)


@pytest.mark.parametrize(
    ("status", "started", "submitted"), [(0, True, False), (1, True, True), (2, False, False)]
)
def test_results_status(rsps, sleeps, status, started, submitted):
    add_login(rsps)
    add_results(
        rsps,
        {"testActivities": [{**UTA_NEW, "status": status, "graded": None}]},
        {"result": TEST_DOC},
    )
    results = fetch(provider(sleeps))
    assert (results.started, results.submitted, results.graded) == (started, submitted, None)
    assert all(not q.answered for q in results.questions)


def test_results_without_any_activity(rsps, sleeps):
    add_login(rsps)
    add_results(rsps, {"testActivities": [UTA_OTHER], "testQuestionActivities": []}, {"result": TEST_DOC})
    results = fetch(provider(sleeps))
    assert (results.started, results.submitted, results.graded) == (False, False, None)
    assert len(results.questions) == 5
    assert all(not q.answered and q.score is None for q in results.questions)


@pytest.mark.parametrize(
    ("activity", "test"),
    [
        ({"additionalData": {}}, {"result": TEST_DOC}),
        ({"testActivities": [{"userId": USER, "status": 1, "number": 1}]}, {"result": TEST_DOC}),
        ({"testActivities": [{"_id": "u", "userId": USER, "number": 1}]}, {"result": TEST_DOC}),
        ({"testActivities": []}, {"result": {"title": "no groups"}}),
        ({"testActivities": []}, {"result": {"itemGroups": [{"items": [{"data": {"questions": [{}]}}]}]}}),
    ],
)
def test_malformed_results_are_unavailable(rsps, sleeps, activity, test):
    add_login(rsps)
    add_results(rsps, activity, test)
    with pytest.raises(ProviderUnavailable) as info:
        fetch(provider(sleeps))
    assert "malformed" in info.value.reason


# --- secrets ---------------------------------------------------------------------------


def test_no_secret_in_logs_or_errors(rsps, sleeps, log):
    errors: list[Exception] = []

    # student creation rejected with a message that echoes the password
    add_login(rsps)
    add_lookup(rsps, [])
    rsps.add(
        responses.POST,
        f"{API}/enrollment/user",
        status=400,
        json={"message": f"password {STUDENT_PW} too weak for {TOKEN}"},
    )
    with pytest.raises(ProviderRejected) as rejected:
        provider(sleeps).assign(request())
    errors.append(rejected.value)

    # then our credentials break
    rsps.replace(responses.POST, f"{API}/search/users/by-emails", status=401)
    rsps.replace(responses.POST, f"{API}/auth/login", status=401, json={"error": f"wrong {PASSWORD}"})
    with pytest.raises(ProviderUnavailable) as unavailable:
        provider(sleeps).assign(request())
    errors.append(unavailable.value)

    # and the provider goes down
    token_cache.clear()
    add_login(rsps)
    rsps.replace(responses.POST, f"{API}/auth/login", json={"result": {"token": TOKEN}})
    rsps.replace(responses.POST, f"{API}/search/users/by-emails", body=rexc.ConnectionError(f"x {TOKEN}"))
    with pytest.raises(ProviderUnavailable) as down:
        provider(sleeps).assign(request())
    errors.append(down.value)

    texts = [str(e) for e in errors] + [repr(e.args) for e in errors]
    texts += log.texts()
    assert log.records
    texts += [repr(config())]
    for secret in (PASSWORD, TOKEN, STUDENT_PW):
        for text in texts:
            assert secret not in text


# --- redirects, ids and the time budget ------------------------------------------------

ELSEWHERE = "https://elsewhere.test/collect"


def test_a_redirected_login_sends_nothing_to_the_other_host(rsps, sleeps):
    rsps.add(responses.POST, f"{API}/auth/login", status=307, headers={"Location": ELSEWHERE})
    elsewhere = rsps.add(responses.POST, ELSEWHERE, json={"result": {"token": "stolen"}})

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())

    assert elsewhere.call_count == 0  # the login body holds the service password
    assert info.value.reason == "unexpected redirect (HTTP 307)"
    assert not isinstance(info.value, ProviderRejected)


def test_a_redirected_call_sends_nothing_to_the_other_host(rsps, sleeps):
    add_login(rsps)
    rsps.add(responses.POST, f"{API}/search/users/by-emails", status=307, headers={"Location": ELSEWHERE})
    elsewhere = rsps.add(responses.POST, ELSEWHERE, json={})

    with pytest.raises(ProviderUnavailable) as info:
        provider(sleeps).assign(request())

    assert elsewhere.call_count == 0
    assert info.value.reason == "unexpected redirect (HTTP 307)"


def test_results_ids_are_encoded_into_the_path(rsps, sleeps):
    add_login(rsps)
    activity = rsps.add(
        responses.POST, f"{API}/assignments/a%2F1/classes/c%3F2/test-activity", json={"testActivities": []}
    )
    rsps.add(responses.GET, f"{API}/test/t%201/minimal", json={"result": {"itemGroups": []}})

    results = provider(sleeps).fetch_results(
        AssignmentRef(assignment_id="a/1", class_id="c?2", test_id="t 1", provider_user_id=USER)
    )

    assert activity.call_count == 1
    assert results.started is False and results.questions == ()


def test_a_create_cut_short_by_the_budget_propagates_when_no_time_remains(rsps, sleeps):
    add_login(rsps)
    add_lookup(rsps, [IN_CLASS])

    def spend_the_budget(_request: Any) -> Any:
        time.sleep(0.3)
        raise ProviderDeadlineExceeded("edulastic")

    rsps.add_callback(responses.POST, f"{API}/assignments/v2/assign", callback=spend_the_budget)
    lookup = add_all(rsps, [{"_id": "made-it", "testId": TEST}])

    with budget.budget(0.5), pytest.raises(ProviderDeadlineExceeded):
        provider(sleeps).assign(request())

    assert lookup.call_count == 0
