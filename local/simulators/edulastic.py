"""A stateful Edulastic simulator speaking the calls in spec/providers.md.

Provider routes live under `/api` (so `.url` is what the service configures as its base);
control routes live under `/_control` at the root and need no auth:

    POST /_control/tests          {"testId", "title"?, "questions": [{"id"?, "title"?, "maxScore", "type"?}]}
    POST /_control/users          {"email", "password"?, "firstName"?, "lastName"?, "enrolled": false}
    POST /_control/finish         {"assignmentId", "email", "submitted"?: true, "graded"?: "GRADED",
                                   "questions"?: [{"index"|"id", "score"?, "maxScore"?, "correct"?,
                                   "partiallyCorrect"?, "graded"?: true, "pendingEvaluation"?: false,
                                   "skipped"?: false, "feedback"?: "text"}]}  -> {"testActivityId"}
    POST /_control/grade          {"assignmentId", "email", "graded"?: "GRADED", "questions"?: [...]}
    POST /_control/token-refresh  {"next"?: true, "every"?: 50, "graceSeconds"?: 300}
    GET  /_control/state          {"assignments", "users", "testActivities", "questionActivities",
                                   "tests", "calls", "faults", "now"}
    POST /_control/reset          clears assignments, activities and users; keeps tests
    expire-tokens, advance-clock, faults, and what reset also clears: see base.py

`calls` counts every request that reached a provider route (faulted and rejected ones
too), keyed by "METHOD /template" relative to `.url`, e.g. "POST /assignments/v2/assign".
A question without a question activity is unanswered; feedback appears on a question
activity only when a teacher gave some, as on the real platform.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from local.simulators import common
from local.simulators.base import Simulator

log = logging.getLogger("local.simulators.edulastic")

DISTRICT_ID = "sim-district-1"
SCHOOL_ID = "sim-school-1"
TEACHER = {"teacherId": "sim-teacher-1", "teacherName": "Sam Simulator"}

DEFAULT_TESTS: dict[str, list[dict[str, Any]]] = {
    "edu-test-algebra-1": [
        {"title": "Solve for x: 2x + 3 = 7", "maxScore": 1},
        {"title": "Simplify 3(x + 2) - x", "maxScore": 1},
        {"title": "Graph the line y = 2x - 1 and name its slope and intercept", "maxScore": 2},
        {"title": "Which ordered pair solves x + y = 5 and x - y = 1?", "maxScore": 1},
    ],
    "edu-test-placement-math-5": [
        {"title": "What is 3/4 + 1/8?", "maxScore": 1},
        {"title": "Round 4.678 to the nearest tenth", "maxScore": 1},
        {"title": "What is the volume of a 2 x 3 x 4 box?", "maxScore": 1},
        {"title": "Multiply 2.5 by 0.4", "maxScore": 1},
        {"title": "Which is greater, 0.7 or 0.65?", "maxScore": 1},
    ],
    "edu-test-ela-unit-3": [
        {"title": "What is the main idea of the passage?", "maxScore": 1},
        {"title": "Which word is a synonym for 'rapid'?", "maxScore": 1},
        {"title": "Essay: explain how the narrator changes", "maxScore": 4, "type": "essayRichText"},
    ],
}

_TEST_TITLES = {
    "edu-test-algebra-1": "Algebra 1 Test-Out",
    "edu-test-placement-math-5": "Math Grade 5 Placement",
    "edu-test-ela-unit-3": "ELA Unit 3 Test",
}

TOKEN_PREFIX = "edu."
STATUS_STARTED, STATUS_SUBMITTED, STATUS_ABSENT = 0, 1, 2
GRADED_VALUES = ("GRADED", "IN GRADING")


def _error(status: int, message: str) -> common.HttpError:
    return common.HttpError(status, {"result": {"message": message}, "message": message})


def _bad_request(message: str) -> common.HttpError:
    return _error(400, message)


@dataclass(frozen=True)
class Question:
    id: str
    item_id: str
    title: str
    max_score: float
    type: str = "multipleChoice"


@dataclass(frozen=True)
class TestDef:
    id: str
    title: str
    questions: tuple[Question, ...]

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.questions)


@dataclass
class User:
    id: str
    email: str
    password: str
    first_name: str
    last_name: str
    role: str = "student"
    class_ids: set[str] = field(default_factory=set)

    def public(self, class_code_by_id: dict[str, str]) -> common.JsonDict:
        return {
            "_id": self.id,
            "email": self.email,
            "username": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "role": self.role,
            "districtIds": [DISTRICT_ID],
            "orgData": {
                "classList": [
                    {"_id": cid, "code": class_code_by_id.get(cid, "")} for cid in sorted(self.class_ids)
                ]
            },
        }


def _build_test(test_id: str, title: str, questions: list[dict[str, Any]]) -> TestDef:
    built = []
    for i, q in enumerate(questions, start=1):
        if not isinstance(q, dict):
            raise common.control_error("each question must be an object")
        max_score = q.get("maxScore", 1)
        if not common.is_number(max_score) or max_score <= 0:
            raise common.control_error("maxScore must be a positive number")
        built.append(
            Question(
                id=str(q.get("id") or f"{test_id}-q{i}"),
                item_id=str(q.get("itemId") or f"{test_id}-item{i}"),
                title=str(q.get("title") or f"Question {i}"),
                max_score=float(max_score),
                type=str(q.get("type") or "multipleChoice"),
            )
        )
    if not built:
        raise common.control_error("a test needs at least one question")
    if len({q.id for q in built}) != len(built):
        raise common.control_error("question ids must be unique within a test")
    return TestDef(test_id, title, tuple(built))


@dataclass(frozen=True)
class _Grading:
    """A finish or grade control request resolved against the state."""

    graded: str
    assignment: common.JsonDict
    user: User
    test: TestDef
    group: str
    questions: list[tuple[Question, common.JsonDict]]
    activity: common.JsonDict | None  # the student's latest attempt, if any


def _num(value: Any) -> int | float:
    """Whole numbers as ints so JSON shows 2, not 2.0, as the real API does."""
    return int(value) if float(value).is_integer() else float(value)


class EdulasticSimulator(Simulator):
    """A bound (not yet serving) simulator; call `.start()` to serve on a background thread.

    `tests` maps testId -> [{"id"?, "title"?, "maxScore", "type"?}]; None loads the defaults.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str,
        password: str,
        class_id: str,
        class_code: str,
        tests: dict[str, list[dict[str, Any]]] | None = None,
        clock: common.Clock | None = None,
    ) -> None:
        self._username = username
        self._password = password
        self.class_id = class_id
        self.class_code = class_code
        self._tests: dict[str, TestDef] = {}
        for test_id, questions in (DEFAULT_TESTS if tests is None else tests).items():
            self._tests[test_id] = _build_test(test_id, _TEST_TITLES.get(test_id, test_id), questions)
        self._refresh_every = 50
        self._grace = timedelta(seconds=300)
        super().__init__("edulastic", host, port, "/api", clock)

    def _reset_data(self) -> None:
        self._users: dict[str, User] = {}
        self._user_by_email: dict[str, str] = {}
        self._assignments: dict[str, common.JsonDict] = {}
        self._utas: dict[str, common.JsonDict] = {}
        self._uqas: dict[tuple[str, str], common.JsonDict] = {}
        self._auth_calls = 0
        self._refresh_next = False

    def test_url(self, assignment_id: str) -> str:
        return f"{self.app_url}/home/group/{self.class_id}/assignment/{assignment_id}"

    def _state(self, now: datetime) -> common.JsonDict:
        codes = {self.class_id: self.class_code}
        users = []
        for u in self._users.values():
            # Tests check the password the service handed to the student; never logged.
            users.append({**u.public(codes), "password": u.password, "classIds": sorted(u.class_ids)})
        return {
            "assignments": list(self._assignments.values()),
            "users": users,
            "testActivities": list(self._utas.values()),
            "questionActivities": list(self._uqas.values()),
            "tests": sorted(self._tests),
        }

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[common.Route]:
        a = self._authed
        return [
            common.Route("POST", "/auth/login", self._login),
            common.Route("POST", "/search/users/by-emails", a(self._search_by_emails)),
            common.Route("POST", "/enrollment/user", a(self._enroll_user)),
            common.Route("POST", "/enrollment/student", a(self._enroll_student)),
            common.Route("POST", "/assignments/v2/assign", a(self._assign)),
            common.Route("POST", "/assignments/all", a(self._assignments_all)),
            common.Route(
                "POST",
                "/assignments/{assignmentId}/classes/{classId}/test-activity",
                a(self._test_activity),
            ),
            common.Route("GET", "/test/{testId}/minimal", a(self._test_minimal)),
            common.Route("GET", "/home/group/{classId}/assignment/{assignmentId}", self._student_page, False),
            common.Route("POST", "/_control/tests", self._control_tests, False),
            common.Route("POST", "/_control/users", self._control_users, False),
            common.Route("POST", "/_control/finish", self._control_finish, False),
            common.Route("POST", "/_control/grade", self._control_grade, False),
            common.Route("POST", "/_control/token-refresh", self._control_token_refresh, False),
        ]

    def _authenticate(self, request: Request) -> dict[str, str]:
        """Validates the raw token; hands out a replacement token when this call rotates it."""
        token = request.headers.get("Authorization", "").strip()
        with self._lock:
            now = self.clock()
            if not self.tokens.valid(token, now):
                # A "Bearer " prefix is a client bug worth a clear message.
                hint = " (send the raw token, without 'Bearer')" if token.startswith("Bearer ") else ""
                raise _error(401, f"invalid or expired token{hint}")
            self._auth_calls += 1
            due = self._refresh_every > 0 and self._auth_calls % self._refresh_every == 0
            if not (due or self._refresh_next):
                return {}
            self._refresh_next = False
            new_token = self.tokens.issue(now, None, TOKEN_PREFIX)
            # The old token keeps working for a grace period, as sessions do in flight.
            self.tokens.limit(token, now + self._grace)
            log.info("edulastic: rotated a service token via x-token-refresh")
            return {"x-token-refresh": new_token}

    def _login(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise _bad_request("username and password are required")
        if username.strip().lower() != self._username.lower() or not secrets.compare_digest(
            password, self._password
        ):
            log.info("edulastic: login rejected")
            raise _error(401, "Invalid username or password")
        with self._lock:
            token = self.tokens.issue(self.clock(), None, TOKEN_PREFIX)
        return common.json_response(
            {
                "result": {
                    "token": token,
                    "_id": "sim-service-user",
                    "email": self._username,
                    "role": "teacher",
                    "districtIds": [DISTRICT_ID],
                }
            }
        )

    def _search_by_emails(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        emails = body.get("emails")
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise _bad_request("emails must be a list of strings")
        codes = {self.class_id: self.class_code}
        with self._lock:
            found = [
                self._users[self._user_by_email[e.strip().lower()]].public(codes)
                for e in emails
                if e.strip().lower() in self._user_by_email
            ]
        return common.json_response({"result": {"data": found, "totalCount": len(found)}})

    def _enroll_user(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        missing = [k for k in ("email", "password", "classCode") if not body.get(k)]
        if missing:
            raise _bad_request(f"missing required field(s): {', '.join(missing)}")
        email = str(body["email"]).strip().lower()
        if "@" not in email:
            raise _bad_request("email is invalid")
        if body.get("role", "student") != "student":
            raise _bad_request("role must be student")
        if body["classCode"] != self.class_code:
            raise _error(404, "class not found for classCode")
        with self._lock:
            if email in self._user_by_email:
                raise _error(409, "user with this email already exists")
            user = User(
                id=uuid.uuid4().hex[:24],
                email=email,
                password=str(body["password"]),
                first_name=str(body.get("firstName") or ""),
                last_name=str(body.get("lastName") or ""),
                class_ids={self.class_id},
            )
            self._users[user.id] = user
            self._user_by_email[email] = user.id
        log.info("edulastic: created and enrolled student %s", user.id)
        return common.json_response(
            {
                "result": {
                    "userId": user.id,
                    "_id": user.id,
                    "email": email,
                    "username": email,
                    "role": "student",
                    "classId": self.class_id,
                }
            }
        )

    def _enroll_student(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        ids = body.get("studentIds")
        if not body.get("classCode") or not isinstance(ids, list) or not ids:
            raise _bad_request("classCode and studentIds are required")
        if body["classCode"] != self.class_code:
            raise _error(404, "class not found for classCode")
        with self._lock:
            unknown = [i for i in ids if i not in self._users]
            if unknown:
                raise _error(404, f"unknown student id(s): {', '.join(map(str, unknown))}")
            for i in ids:
                self._users[i].class_ids.add(self.class_id)
        return common.json_response({"result": {"message": "Students enrolled", "studentIds": ids}})

    def _assign(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        items = body.get("assignments")
        filters = body.get("filters")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise _bad_request("assignments must be a non-empty list")
        if not isinstance(filters, dict):
            raise _bad_request("filters is required")
        groups, students = filters.get("groups"), filters.get("students")
        if not isinstance(groups, list) or not groups or not isinstance(students, list) or not students:
            raise _bad_request("filters.groups and filters.students are required")
        for item in items:
            missing = [k for k in ("testId", "startDate", "endDate") if item.get(k) in (None, "")]
            if missing:
                raise _bad_request(f"assignment is missing {', '.join(missing)}")
        targets: list[tuple[str, str]] = []
        for entry in students:
            if not isinstance(entry, dict) or not isinstance(entry.get("studentsToAssign"), list):
                raise _bad_request("filters.students[] needs groupId and studentsToAssign")
            group_id = entry.get("groupId")
            if group_id not in groups:
                raise _bad_request("filters.students[].groupId must be one of filters.groups")
            targets.extend((str(group_id), str(s)) for s in entry["studentsToAssign"])
        if not targets:
            raise _bad_request("no students to assign")
        with self._lock:
            # Validate everything first so a rejected request creates nothing.
            for group_id in groups:
                if group_id != self.class_id:
                    raise _error(404, f"class {group_id} not found")
            for item in items:
                if item["testId"] not in self._tests:
                    raise _error(404, "test not found")
            for group_id, student_id in targets:
                user = self._users.get(student_id)
                if user is None:
                    raise _error(404, f"student {student_id} not found")
                if group_id not in user.class_ids:
                    raise _bad_request(f"student {student_id} is not enrolled in class {group_id}")
            for item in items:
                for group_id, student_id in targets:
                    if self._open_assignment(item["testId"], group_id, student_id):
                        raise _error(409, "test is already assigned to the student in this class")
            created = []
            now = common.iso(self.clock())
            for item in items:
                test = self._tests[item["testId"]]
                classes: dict[str, list[str]] = {}
                for group_id, student_id in targets:
                    classes.setdefault(group_id, [])
                    if student_id not in classes[group_id]:
                        classes[group_id].append(student_id)
                assignment = {
                    "_id": uuid.uuid4().hex[:24],
                    "testId": test.id,
                    "title": test.title,
                    "testType": item.get("testType", "assessment"),
                    "startDate": item["startDate"],
                    "endDate": item["endDate"],
                    "openPolicy": item.get("openPolicy"),
                    "closePolicy": item.get("closePolicy"),
                    "releaseScore": item.get("releaseScore"),
                    "maxAttempts": item.get("maxAttempts", 1),
                    "class": [
                        {"_id": gid, "code": self.class_code, "students": sids}
                        for gid, sids in classes.items()
                    ],
                    "createdAt": now,
                }
                self._assignments[assignment["_id"]] = assignment
                created.append(copy.deepcopy(assignment))
        log.info("edulastic: created %d assignment(s)", len(created))
        return common.json_response({"result": {"assignments": created, "message": "Assignment(s) created"}})

    def _open_assignment(self, test_id: str, group_id: str, student_id: str) -> bool:
        for a in self._assignments.values():
            if a["testId"] != test_id:
                continue
            for cls in a["class"]:
                if cls["_id"] == group_id and student_id in cls["students"]:
                    uta = self._find_uta(a["_id"], student_id)
                    if uta is None or uta["status"] == STATUS_STARTED:
                        return True
        return False

    def _assignments_all(self, request: Request) -> Response:
        test_id = request.args.get("testId")
        group_id = request.args.get("groupId")
        student_id = request.args.get("studentId")
        with self._lock:
            result = []
            for a in self._assignments.values():
                if test_id and a["testId"] != test_id:
                    continue
                classes = [c for c in a["class"] if not group_id or c["_id"] == group_id]
                if student_id:
                    classes = [c for c in classes if student_id in c["students"]]
                if classes:
                    result.append(copy.deepcopy(a))
        return common.json_response({"result": result})

    def _test_activity(self, request: Request, assignmentId: str, classId: str) -> Response:  # noqa: N803
        body = common.read_json(request, _bad_request)
        if not isinstance(body.get("page", 0), int) or not isinstance(body.get("leftOverStudents", []), list):
            raise _bad_request("page must be an integer and leftOverStudents a list")
        include = {s for s in request.args.get("includeStudents", "").split(",") if s}
        with self._lock:
            assignment = self._assignments.get(assignmentId)
            if assignment is None or not any(c["_id"] == classId for c in assignment["class"]):
                raise _error(404, "assignment not found for this class")
            utas = [
                u
                for u in self._utas.values()
                if u["assignmentId"] == assignmentId
                and u["groupId"] == classId
                and (not include or u["userId"] in include)
            ]
            uta_ids = {u["_id"] for u in utas}
            uqas = [q for q in self._uqas.values() if q["testActivityId"] in uta_ids]
            test = self._tests[assignment["testId"]]
            return common.json_response(
                copy.deepcopy(
                    {
                        "testActivities": utas,
                        "testQuestionActivities": uqas,
                        "additionalData": {
                            "testName": test.title,
                            "testId": test.id,
                            "assignmentId": assignmentId,
                            "classId": classId,
                            "totalPoints": _num(test.max_score),
                        },
                    }
                )
            )

    def _test_minimal(self, request: Request, testId: str) -> Response:  # noqa: N803
        with self._lock:
            test = self._tests.get(testId)
        if test is None:
            raise _error(404, "test not found")
        with_validation = request.args.get("validation") == "true"
        items = []
        for q in test.questions:
            question: common.JsonDict = {
                "id": q.id,
                "title": q.title,
                "stimulus": f"<p>{q.title}</p>",
                "type": q.type,
            }
            if with_validation:
                question["validation"] = {"validResponse": {"score": _num(q.max_score)}}
            items.append({"_id": q.item_id, "maxScore": _num(q.max_score), "data": {"questions": [question]}})
        return common.json_response(
            {
                "result": {
                    "_id": test.id,
                    "title": test.title,
                    "status": "published",
                    "itemGroups": [{"_id": f"{test.id}-group1", "groupName": "SECTION 1", "items": items}],
                }
            }
        )

    def _student_page(self, request: Request, classId: str, assignmentId: str) -> Response:  # noqa: N803
        with self._lock:
            found = assignmentId in self._assignments
        text = "Edulastic simulator: assignment " + ("found" if found else "not found")
        return Response(
            f"<html><body><h1>{text}</h1></body></html>", 200 if found else 404, content_type="text/html"
        )

    # -- control routes --------------------------------------------------------------------

    def _control_tests(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        test_id, questions = body.get("testId"), body.get("questions")
        if not isinstance(test_id, str) or not test_id or not isinstance(questions, list):
            raise common.control_error("testId and questions are required")
        test = _build_test(test_id, str(body.get("title") or test_id), questions)
        with self._lock:
            self._tests[test_id] = test
        return common.json_response(
            {
                "testId": test_id,
                "questions": [{"id": q.id, "maxScore": _num(q.max_score)} for q in test.questions],
            }
        )

    def _control_users(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        email = str(body.get("email") or "").strip().lower()
        if "@" not in email:
            raise common.control_error("email is required")
        with self._lock:
            if email in self._user_by_email:
                raise common.control_error("user already exists", 409)
            user = User(
                id=uuid.uuid4().hex[:24],
                email=email,
                password=str(body.get("password") or secrets.token_urlsafe(9)),
                first_name=str(body.get("firstName") or ""),
                last_name=str(body.get("lastName") or ""),
                class_ids={self.class_id} if body.get("enrolled", False) else set(),
            )
            self._users[user.id] = user
            self._user_by_email[email] = user.id
        return common.json_response({"userId": user.id})

    def _find_uta(self, assignment_id: str, user_id: str) -> common.JsonDict | None:
        attempts = [
            u for u in self._utas.values() if u["assignmentId"] == assignment_id and u["userId"] == user_id
        ]
        return max(attempts, key=lambda u: u["number"]) if attempts else None

    def _resolve(self, body: common.JsonDict) -> _Grading:
        """A finish/grade control body checked against the state; called under the lock."""
        graded = body.get("graded", "GRADED")
        if graded not in GRADED_VALUES:
            raise common.control_error(f"graded must be one of {GRADED_VALUES}")
        assignment = self._assignments.get(str(body.get("assignmentId")))
        if assignment is None:
            raise common.control_error("unknown assignmentId", 404)
        user_id = self._user_by_email.get(str(body.get("email") or "").strip().lower())
        if user_id is None:
            raise common.control_error("unknown email", 404)
        group = next((c["_id"] for c in assignment["class"] if user_id in c["students"]), None)
        if group is None:
            raise common.control_error("the student is not part of this assignment", 409)
        test = self._tests[assignment["testId"]]
        return _Grading(
            graded=graded,
            assignment=assignment,
            user=self._users[user_id],
            test=test,
            group=group,
            questions=self._parse_questions(body.get("questions"), test),
            activity=self._find_uta(assignment["_id"], user_id),
        )

    def _parse_questions(self, raw: Any, test: TestDef) -> list[tuple[Question, common.JsonDict]]:
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(q, dict) for q in raw):
            raise common.control_error("questions must be a list of objects")
        parsed = []
        for q in raw:
            if "id" in q:
                match = next((x for x in test.questions if x.id == q["id"]), None)
            elif isinstance(q.get("index"), int) and 0 <= q["index"] < len(test.questions):
                match = test.questions[q["index"]]
            else:
                match = None
            if match is None:
                raise common.control_error(f"question {q.get('id', q.get('index'))!r} is not in the test")
            for key in ("score", "maxScore"):
                value = q.get(key)
                if value is not None and not common.is_number(value):
                    raise common.control_error(f"{key} must be a number")
            parsed.append((match, q))
        return parsed

    def _apply_question(self, uta: common.JsonDict, question: Question, spec: common.JsonDict) -> None:
        key = (uta["_id"], question.id)
        existing = self._uqas.get(key)
        max_score = float(spec.get("maxScore", question.max_score))
        if "score" in spec:
            score = float(spec["score"])
        elif "correct" in spec:
            score = max_score if spec["correct"] else 0.0
        else:
            score = float(existing["score"]) if existing else 0.0
        correct = bool(spec["correct"]) if "correct" in spec else score >= max_score
        partial = bool(spec["partiallyCorrect"]) if "partiallyCorrect" in spec else 0 < score < max_score
        uqa: common.JsonDict = {
            "_id": existing["_id"] if existing else uuid.uuid4().hex[:24],
            "qid": question.id,
            "testItemId": question.item_id,
            "testActivityId": uta["_id"],
            "userId": uta["userId"],
            "assignmentId": uta["assignmentId"],
            "groupId": uta["groupId"],
            "testId": uta["testId"],
            "score": _num(score),
            "maxScore": _num(max_score),
            "graded": bool(spec.get("graded", True)),
            "skipped": bool(spec.get("skipped", False)),
            "correct": correct,
            "partiallyCorrect": partial,
            "pendingEvaluation": bool(spec.get("pendingEvaluation", False)),
        }
        feedback = spec.get("feedback")
        if isinstance(feedback, str):
            uqa["feedback"] = {"text": feedback, **TEACHER}
        elif existing and "feedback" in existing:
            uqa["feedback"] = existing["feedback"]
        self._uqas[key] = uqa

    def _grade(self, uta: common.JsonDict, grading: _Grading) -> str:
        """Applies the grading to the attempt and returns its id; called under the lock."""
        uta["graded"] = grading.graded
        for question, spec in grading.questions:
            self._apply_question(uta, question, spec)
        scores = [q["score"] for q in self._uqas.values() if q["testActivityId"] == uta["_id"]]
        uta["score"] = _num(sum(scores))
        return str(uta["_id"])

    def _control_finish(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        with self._lock:
            grading = self._resolve(body)
            uta = grading.activity
            now = common.iso(self.clock())
            if uta is None:
                uta = {
                    "_id": uuid.uuid4().hex[:24],
                    "userId": grading.user.id,
                    "assignmentId": grading.assignment["_id"],
                    "groupId": grading.group,
                    "testId": grading.test.id,
                    "number": 1,
                    "startDate": now,
                    "score": 0,
                    "maxScore": _num(grading.test.max_score),
                }
                self._utas[uta["_id"]] = uta
            submitted = bool(body.get("submitted", True))
            uta["status"] = STATUS_SUBMITTED if submitted else STATUS_STARTED
            if submitted:
                uta["endDate"] = now
            uta_id = self._grade(uta, grading)
        log.info("edulastic: control finish on assignment %s", grading.assignment["_id"])
        return common.json_response({"testActivityId": uta_id})

    def _control_grade(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        with self._lock:
            grading = self._resolve(body)
            if grading.activity is None:
                raise common.control_error(
                    "the student has no test activity on this assignment; finish first", 409
                )
            uta_id = self._grade(grading.activity, grading)
        return common.json_response({"testActivityId": uta_id})

    def _control_token_refresh(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        with self._lock:
            if "every" in body:
                if not common.is_int(body["every"]) or body["every"] < 0:
                    raise common.control_error("every must be a non-negative integer (0 = never)")
                self._refresh_every = body["every"]
            if "graceSeconds" in body:
                grace = body["graceSeconds"]
                if not common.is_number(grace) or grace < 0:
                    raise common.control_error("graceSeconds must be a non-negative number")
                self._grace = timedelta(seconds=grace)
            self._refresh_next = bool(body.get("next", True))
            return common.json_response(
                {
                    "next": self._refresh_next,
                    "every": self._refresh_every,
                    "graceSeconds": self._grace.total_seconds(),
                }
            )


# The name the local stack and tests build it by; the class takes exactly the factory's arguments.
create_edulastic_simulator = EdulasticSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Edulastic simulator in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4001)
    args = parser.parse_args(argv)
    sim = create_edulastic_simulator(
        args.host,
        args.port,
        username=os.environ.get("EDULASTIC_USERNAME", "service@local.test"),
        password=os.environ.get("EDULASTIC_PASSWORD", "local-edulastic-password"),
        class_id=os.environ.get("EDULASTIC_CLASS_ID", "local-class-1"),
        class_code=os.environ.get("EDULASTIC_CLASS_CODE", "LOCAL1"),
    )
    print(f"Edulastic simulator: base {sim.url}  app {sim.app_url}  control {sim.app_url}/_control/state")
    common.run_until_interrupted(sim.server)


if __name__ == "__main__":
    main()
