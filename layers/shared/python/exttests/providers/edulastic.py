"""Edulastic (Pear Assessment) adapter.

Edulastic has no public API: these are the calls its own web client makes, so every
payload is read leniently (wrapped or bare, unknown fields ignored) and a missing
required field is reported as the provider's fault (ProviderUnavailable).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from exttests.domain.models import ToolProvider
from exttests.errors import ProviderError, ProviderRejected
from exttests.providers.answers import malformed, parse_json, unwrap
from exttests.providers.auth import AuthenticatedClient, TokenStrategy, post_credentials
from exttests.providers.base import (
    Assignment,
    AssignmentRef,
    AssignRequest,
    ProviderTraits,
    QuestionActivity,
    ResultsDelivery,
    TestResults,
)
from exttests.providers.http import HttpClient, HttpSettings, Timing, create_or_find
from exttests.providers.tokens import Token

NAME = ToolProvider.EDULASTIC.value
_DAY = 86400.0
_TITLE_MAX = 200
_TAG = re.compile(r"<[^>]*>")
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_STATUS_STARTED, _STATUS_SUBMITTED = 0, 1


@dataclass(frozen=True, kw_only=True)
class EdulasticConfig:
    base_url: str  # includes the /api prefix
    username: str
    password: str = field(repr=False)
    class_id: str
    class_code: str
    district_id: str
    institution_ids: tuple[str, ...] = ()
    app_url: str = "https://app.edulastic.com"
    assignment_days: int = 30
    http: HttpSettings = field(default_factory=HttpSettings)


class _ServiceLogin(TokenStrategy):
    """The service account's login: the token goes raw (no "Bearer") in `Authorization`, and an
    answer's `x-token-refresh` header replaces it."""

    def __init__(self, config: EdulasticConfig) -> None:
        self._config = config

    @property
    def cache_key(self) -> str:
        return f"{self._config.base_url.rstrip('/')}|{self._config.username}"

    def obtain(self, api: HttpClient) -> Token:
        answer = post_credentials(
            api,
            "/auth/login",
            refused="the service login was refused",
            json={"username": self._config.username, "password": self._config.password},
        )
        payload = unwrap(answer)
        token = payload.get("token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise malformed(NAME, "no token in the login answer")
        return Token(token, expires_at=None)

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": token}

    def refreshed(self, response: requests.Response) -> str | None:
        return response.headers.get("x-token-refresh") or None


@dataclass(frozen=True)
class _ProviderAssignment:
    assignment_id: str
    expires_at: str | None


class EdulasticProvider:
    traits = ProviderTraits(ToolProvider.EDULASTIC, ResultsDelivery.PULL, service_sets_password=True)

    def __init__(self, config: EdulasticConfig, timing: Timing | None = None) -> None:
        self.config = config
        http = HttpClient(NAME, config.base_url, config.http, timing, secrets=(config.password,))
        self._api = AuthenticatedClient(http, _ServiceLogin(config))
        self._clock = http.timing.clock

    # --- assign --------------------------------------------------------------------------

    def ensure_available(self) -> None:
        self._api.ensure_available()

    def assign(self, request: AssignRequest) -> Assignment:
        test_id = request.vendor_test_id
        if not test_id:
            raise ProviderRejected(NAME, "the resource has no Edulastic test id (vendorId)")
        creating, user_id = False, None
        try:
            if request.known_user_id:
                user_id, created = request.known_user_id, False
            else:
                # Look up first, as the provider contract says: a student who already exists
                # must not be handed a password the service never set.
                user = self._find_student(request.student_email)
                if user is not None:
                    self._ensure_enrolled(user)
                    user_id, created = _user_id(user), False
                else:
                    creating = True
                    user_id, created = self._create_student(request)
            made, reused = self._assign(test_id, user_id, request.exclude_assignment_ids)
        except ProviderError as error:
            # The lookup found nobody, so if the student exists from now on, it is with the
            # password this call sent: the caller keeps that fact for its retry.
            error.creation_attempted = creating
            if creating:
                error.created_user_id = user_id
            raise
        class_id = self.config.class_id
        return Assignment(
            assignment_id=made.assignment_id,
            class_id=class_id,
            test_id=test_id,
            test_url=f"{self.config.app_url.rstrip('/')}/home/group/{class_id}/assignment/{made.assignment_id}",
            provider_user_id=user_id,
            created_student=created,
            reused=reused,
            expires_at=made.expires_at,
        )

    def _find_student(self, email: str) -> dict[str, Any] | None:
        response = self._api.request("POST", "/search/users/by-emails", json={"emails": [email]})
        payload = unwrap(parse_json(NAME, response))
        data = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(data, list):
            raise malformed(NAME, "no data list in the student lookup")
        wanted = email.strip().lower()
        for user in data:
            if isinstance(user, dict) and str(user.get("email", "")).strip().lower() == wanted:
                _user_id(user)
                return user
        return None

    def _ensure_enrolled(self, user: dict[str, Any]) -> None:
        if _in_class(user, self.config.class_id) is True:
            return
        # Enrolling someone already in the class is harmless, so unknown means enroll.
        self._api.request(
            "POST",
            "/enrollment/student",
            json={
                "classCode": self.config.class_code,
                "studentIds": [_user_id(user)],
                "districtId": self.config.district_id,
            },
            passthrough=(409,),
        )

    def _create_student(self, request: AssignRequest) -> tuple[str, bool]:
        password = request.new_student_password
        if not password:
            raise ProviderRejected(NAME, "a password is needed to create the student")
        body = {
            "email": request.student_email,
            "username": request.student_email,
            "password": password,
            "firstName": request.first_name,
            "lastName": request.last_name,
            "classCode": self.config.class_code,
            "role": "student",
            "districtId": self.config.district_id,
            "institutionIds": list(self.config.institution_ids),
        }

        def create() -> tuple[str, bool]:
            response = self._api.request(
                "POST",
                "/enrollment/user",
                json=body,
                idempotent=False,
                passthrough=(409,),
                sensitive=(password,),
            )
            if response.status_code == 409:
                # Someone else created them meanwhile; we do not know their password.
                user = self._find_student(request.student_email)
                if user is None:
                    raise ProviderRejected(NAME, "student exists but cannot be found", 409)
                self._ensure_enrolled(user)
                return _user_id(user), False
            payload = unwrap(parse_json(NAME, response))
            user_id = _first_str(payload, "userId", "_id", "id")
            if user_id is None and isinstance(payload, dict):
                user_id = _first_str(payload.get("user"), "_id", "id", "userId")
            if user_id is None:
                raise malformed(NAME, "no userId in the student creation answer")
            return user_id, True

        def find() -> tuple[str, bool] | None:
            # Found after our create with an unknown outcome: made by us, with our password.
            user = self._find_student(request.student_email)
            if user is None:
                return None
            self._ensure_enrolled(user)
            return _user_id(user), True

        return create_or_find(create, find)

    def _assign(
        self, test_id: str, user_id: str, exclude: frozenset[str]
    ) -> tuple[_ProviderAssignment, bool]:
        class_id = self.config.class_id

        def create() -> tuple[_ProviderAssignment, bool]:
            start = self._clock()
            end = start + self.config.assignment_days * _DAY
            body = {
                "assignments": [
                    {
                        "testId": test_id,
                        "startDate": _iso(start),
                        "endDate": _iso(end),
                        "openPolicy": "Automatically on Start Date",
                        "closePolicy": "Automatically on Due Date",
                        "testType": "assessment",
                        "releaseScore": "WITH_RESPONSE",
                        "maxAttempts": 1,
                    }
                ],
                "filters": {
                    "groups": [class_id],
                    "students": [{"groupId": class_id, "studentsToAssign": [user_id]}],
                },
            }
            response = self._api.request(
                "POST", "/assignments/v2/assign", json=body, idempotent=False, passthrough=(409,)
            )
            if response.status_code == 409:
                found = self._find_assignment(test_id, user_id, exclude)
                if found is None:
                    raise ProviderRejected(NAME, "test already assigned to the student", 409)
                return found, True
            return _ProviderAssignment(self._assignment_id(parse_json(NAME, response)), _iso(end)), False

        def find() -> tuple[_ProviderAssignment, bool] | None:
            found = self._find_assignment(test_id, user_id, exclude)
            return None if found is None else (found, True)

        return create_or_find(create, find)

    def _assignment_id(self, raw: Any) -> str:
        payload = unwrap(raw)
        assignments = payload.get("assignments") if isinstance(payload, dict) else payload
        if not isinstance(assignments, list):
            raise malformed(NAME, "no assignments in the assign answer")
        candidates = [a for a in assignments if isinstance(a, dict) and isinstance(a.get("_id"), str)]
        if not candidates:
            raise malformed(NAME, "no assignment id")
        for candidate in candidates:
            if self.config.class_id in _ids_in(candidate.get("class")):
                return str(candidate["_id"])
        return str(candidates[0]["_id"])

    def _find_assignment(
        self, test_id: str, user_id: str, exclude: frozenset[str]
    ) -> _ProviderAssignment | None:
        response = self._api.request(
            "POST",
            "/assignments/all",
            params={"testId": test_id, "groupId": self.config.class_id, "studentId": user_id},
        )
        payload = unwrap(parse_json(NAME, response))
        if isinstance(payload, dict):
            payload = payload.get("assignments", payload.get("data"))
        if not isinstance(payload, list):
            raise malformed(NAME, "the assignment lookup is not a list")
        usable = [
            (index, a)
            for index, a in enumerate(payload)
            if isinstance(a, dict)
            and isinstance(a.get("_id"), str)
            and a["_id"] not in exclude
            and a.get("testId", test_id) == test_id
        ]
        if not usable:
            return None
        _, newest = max(usable, key=lambda pair: (_created_at(pair[1]), pair[0]))
        return _ProviderAssignment(str(newest["_id"]), _as_iso(newest.get("endDate")))

    # --- results -------------------------------------------------------------------------

    def fetch_results(self, assignment: AssignmentRef) -> TestResults:
        user_id = assignment.provider_user_id
        response = self._api.request(
            "POST",
            "/assignments/{id}/classes/{id}/test-activity",
            ids=(assignment.assignment_id, assignment.class_id),
            params={"includeStudents": user_id},
            json={"page": 0, "leftOverStudents": []},
        )
        payload = parse_json(NAME, response)
        if isinstance(payload, dict) and "testActivities" not in payload:
            payload = unwrap(payload)
        if not isinstance(payload, dict) or not isinstance(payload.get("testActivities"), list):
            raise malformed(NAME, "no testActivities in the test activity answer")
        question_activities = payload.get("testQuestionActivities") or []
        if not isinstance(question_activities, list):
            raise malformed(NAME, "testQuestionActivities is not a list")

        test_activity = _latest_activity(payload["testActivities"], user_id)
        questions = self._questions(assignment.test_id)

        if test_activity is None:
            return TestResults(
                started=False,
                submitted=False,
                graded=None,
                questions=tuple(_unanswered(q, i) for i, q in enumerate(questions)),
            )
        by_question: dict[str, dict[str, Any]] = {}
        for activity in question_activities:
            if not isinstance(activity, dict) or activity.get("testActivityId") != test_activity["_id"]:
                continue
            if isinstance(activity.get("qid"), str):
                by_question[activity["qid"]] = activity
        merged = tuple(
            _merge(q, i, by_question[q.id]) if q.id in by_question else _unanswered(q, i)
            for i, q in enumerate(questions)
        )
        status = test_activity["status"]
        graded = test_activity.get("graded")
        return TestResults(
            started=status in (_STATUS_STARTED, _STATUS_SUBMITTED),
            submitted=status == _STATUS_SUBMITTED,
            graded=graded if isinstance(graded, str) and graded else None,
            questions=merged,
        )

    def _questions(self, test_id: str) -> list[_Question]:
        response = self._api.request(
            "GET", "/test/{id}/minimal", ids=(test_id,), params={"validation": "true", "data": "true"}
        )
        payload = unwrap(parse_json(NAME, response))
        groups = payload.get("itemGroups") if isinstance(payload, dict) else None
        if not isinstance(groups, list):
            raise malformed(NAME, "no itemGroups in the test")
        questions: list[_Question] = []
        for group in groups:
            items = group.get("items") if isinstance(group, dict) else None
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                data = item.get("data")
                raw = data.get("questions") if isinstance(data, dict) else item.get("questions")
                for question in raw if isinstance(raw, list) else []:
                    if not isinstance(question, dict):
                        continue
                    qid = question.get("id")
                    if not isinstance(qid, str) or not qid:
                        raise malformed(NAME, "a test question has no id")
                    questions.append(
                        _Question(id=qid, title=_title(question), max_score=_question_max(question))
                    )
        return questions


# --- parsing helpers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Question:
    id: str
    title: str
    max_score: float


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_iso(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    number = _num(value)
    # Edulastic stores dates as epoch milliseconds.
    return _iso(number / 1000) if number is not None and number > 0 else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _first_str(payload: Any, *keys: str) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _user_id(user: dict[str, Any]) -> str:
    user_id = _first_str(user, "_id", "id", "userId")
    if user_id is None:
        raise malformed(NAME, "a student in the lookup has no _id")
    return user_id


def _ids_in(value: Any) -> set[str]:
    ids: set[str] = set()
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, str):
            ids.add(entry)
        elif isinstance(entry, dict):
            for key in ("_id", "id", "groupId", "classId"):
                if isinstance(entry.get(key), str):
                    ids.add(entry[key])
    return ids


def _in_class(user: dict[str, Any], class_id: str) -> bool | None:
    """True/False when the lookup payload tells; None when it carries no membership at all."""
    known = False
    for key in ("classes", "groups", "enrollments", "groupIds", "classIds"):
        if isinstance(user.get(key), list):
            known = True
            if class_id in _ids_in(user[key]):
                return True
    return False if known else None


def _created_at(assignment: dict[str, Any]) -> float:
    for key in ("createdAt", "startDate", "updatedAt"):
        value = assignment.get(key)
        number = _num(value)
        if number is not None:
            return number / 1000
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    object_id = assignment.get("_id")
    if isinstance(object_id, str) and _OBJECT_ID.match(object_id):
        # A Mongo ObjectId starts with its creation time in seconds.
        return float(int(object_id[:8], 16))
    return float("-inf")


def _latest_activity(activities: list[Any], user_id: str) -> dict[str, Any] | None:
    mine = [a for a in activities if isinstance(a, dict) and a.get("userId", user_id) == user_id]
    if not mine:
        return None
    for activity in mine:
        if not isinstance(activity.get("_id"), str):
            raise malformed(NAME, "test activity has no _id")
        status = activity.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise malformed(NAME, "test activity has no status")
    return max(mine, key=lambda a: _num(a.get("number")) or 0.0)


def _title(question: dict[str, Any]) -> str:
    for key in ("title", "stimulus"):
        value = question.get(key)
        if isinstance(value, str):
            text = " ".join(html.unescape(_TAG.sub(" ", value)).split())
            if text:
                return text[:_TITLE_MAX]
    return ""


def _question_max(question: dict[str, Any]) -> float:
    validation = question.get("validation")
    valid = validation.get("validResponse") if isinstance(validation, dict) else None
    for value in (
        valid.get("score") if isinstance(valid, dict) else None,
        question.get("maxScore"),
        question.get("score"),
    ):
        number = _num(value)
        if number is not None:
            return number
    return 1.0


def _unanswered(question: _Question, index: int) -> QuestionActivity:
    return QuestionActivity(
        id=question.id, index=index, title=question.title, max_score=question.max_score, answered=False
    )


def _merge(question: _Question, index: int, activity: dict[str, Any]) -> QuestionActivity:
    skipped = activity.get("skipped") is True
    score = 0.0 if skipped else _num(activity.get("score"))
    max_score = _num(activity.get("maxScore"))
    correct = activity.get("correct")
    feedback = activity.get("feedback")
    text = feedback.get("text") if isinstance(feedback, dict) else None
    return QuestionActivity(
        id=question.id,
        index=index,
        title=question.title,
        max_score=max_score if max_score is not None else question.max_score,
        answered=not skipped,
        score=score,
        graded=activity.get("graded") is True,
        pending_evaluation=activity.get("pendingEvaluation") is True,
        skipped=skipped,
        correct=correct if isinstance(correct, bool) else None,
        feedback=text if isinstance(text, str) else "",
    )
