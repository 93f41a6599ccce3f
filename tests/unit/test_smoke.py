"""The smoke test's checks against a fake stack (a werkzeug server in a thread) that answers well or badly."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tools import smoke

CLIENT_ID = "smoke-client"
CLIENT_SECRET = "s3cr3t-never-printed"
TOKEN = "eyJ.token-never-printed.sig"
STUDENT = "student-known"
LESSON = "lesson-known"

Handler = Callable[[Request], Response]
TOKEN_PATH = "/oauth2/token"
PROGRESS_PATH = "/powerpath/getAssessmentProgress"
IMPORT_PATH = "/powerpath/importExternalTestAssignmentResults"


def json_response(status: int, body: Any, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type)


def ims(status: int, minor: str, description: str = "refused", major: str = "failure") -> Response:
    return json_response(
        status,
        {
            "imsx_codeMajor": major,
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
                ]
            },
        },
    )


PROGRESS_BODY = {
    "lessonType": "test-out",
    "finalized": False,
    "score": None,
    "questions": [],
    "toolProvider": "edulastic",
    "attempt": 1,
    "xp": None,
    "multiplier": None,
    "accuracy": None,
    "correctQuestions": 0,
    "totalQuestions": 0,
}


class FakeStack:
    """Answers like the service: a Cognito-like token endpoint and the two PowerPath GET routes."""

    def __init__(self) -> None:
        self.overrides: dict[str, Handler] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append((request.method, request.path, dict(request.args)))
        handler = self.overrides.get(request.path) or good_answer
        return handler(request)(environ, start_response)


def good_answer(request: Request) -> Response:
    if request.path == TOKEN_PATH:
        return good_token(request)
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return json_response(401, {"message": "Unauthorized"})
    if not request.args.get("student") or not request.args.get("lesson"):
        return ims(400, "invaliddata", "invalid request: lesson: Field required")
    known = (request.args["student"], request.args["lesson"]) == (STUDENT, LESSON)
    if request.path == PROGRESS_PATH and known:
        return json_response(200, PROGRESS_BODY)
    if request.path in (PROGRESS_PATH, IMPORT_PATH):
        return ims(404, "unknownobject", f"student '{request.args['student']}' does not exist")
    return json_response(404, {"message": "Not Found"})


def good_token(request: Request) -> Response:
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    if request.method != "POST" or request.headers.get("Authorization") != f"Basic {expected}":
        return json_response(400, {"error": "invalid_client"})
    if request.form.get("grant_type") != "client_credentials":
        return json_response(400, {"error": "unsupported_grant_type"})
    return json_response(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeStack, str]]:
    stack = FakeStack()
    httpd = make_server("127.0.0.1", 0, stack, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield stack, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


@pytest.fixture
def stack(server: tuple[FakeStack, str]) -> Iterator[FakeStack]:
    fake, _ = server
    fake.overrides.clear()
    fake.requests.clear()
    yield fake
    fake.overrides.clear()


def settings_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "API_URL": url + "/",
        "TOKEN_URL": url + "/oauth2/token",
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "SMOKE_STUDENT": STUDENT,
        "SMOKE_LESSON": LESSON,
        **extra,
    }


def run_smoke(url: str, capsys: pytest.CaptureFixture[str], **extra: str) -> tuple[int, dict[str, str], str]:
    """Exit status, {check name: PASS/FAIL/SKIP} and everything printed."""
    code = smoke.main(["--timeout", "5"], env=settings_env(url, **extra))
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    statuses = {}
    for line in captured.out.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL", "SKIP"):
            statuses[rest.split(":", 1)[0]] = status
    return code, statuses, printed


ALL_CHECKS = ["token", "missing token", "unknown student", "missing parameter", "known student progress"]


def test_a_healthy_stack_passes_every_check_with_one_line_each(
    server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, statuses, printed = run_smoke(server[1], capsys)
    assert code == 0
    assert statuses == dict.fromkeys(ALL_CHECKS, "PASS")
    assert printed.count("\nPASS ") == len(ALL_CHECKS)


def test_without_a_known_student_the_progress_check_is_skipped_not_failed(
    server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, statuses, _ = run_smoke(server[1], capsys, SMOKE_STUDENT="", SMOKE_LESSON="")
    assert code == 0
    assert statuses["known student progress"] == "SKIP"
    assert [s for name, s in statuses.items() if name != "known student progress"] == ["PASS"] * 4


def test_the_smoke_test_only_reads_and_never_imports_a_lesson(
    server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    run_smoke(server[1], capsys)
    api_requests = [r for r in stack.requests if r[1] != "/oauth2/token"]
    assert {method for method, _, _ in api_requests} == {"GET"}
    imports = [args for _, path, args in api_requests if path.endswith("importExternalTestAssignmentResults")]
    assert imports and all("lesson" not in args for args in imports)


def _replace_answer(status: int, body: Any, content_type: str = "application/json") -> Handler:
    def handler(request: Request) -> Response:
        return Response(
            body if isinstance(body, str) else json.dumps(body), status=status, content_type=content_type
        )

    return handler


def _progress_without(field: str) -> dict[str, Any]:
    return {k: v for k, v in PROGRESS_BODY.items() if k != field}


def _when(matches: Callable[[Request], bool], answer: Handler) -> Handler:
    """Answer badly to the requests that match, well to the others."""

    def handler(request: Request) -> Response:
        return answer(request) if matches(request) else good_answer(request)

    return handler


def _has_token(request: Request) -> bool:
    return bool(request.headers.get("Authorization"))


def _unknown_student(answer: Handler) -> Handler:
    return _when(lambda r: _has_token(r) and r.args.get("student") != STUDENT, answer)


def _known_student(answer: Handler) -> Handler:
    return _when(lambda r: _has_token(r) and r.args.get("student") == STUDENT, answer)


def _without_token(answer: Handler) -> Handler:
    return _when(lambda r: not _has_token(r), answer)


# (failing check, path answered badly, the bad answer)
BAD_ANSWERS: dict[str, tuple[str, str, Handler]] = {
    "token refused": ("token", TOKEN_PATH, _replace_answer(400, {"error": "invalid_client"})),
    "token without access_token": ("token", TOKEN_PATH, _replace_answer(200, {"token_type": "Bearer"})),
    "token of another type": (
        "token",
        TOKEN_PATH,
        _replace_answer(200, {"access_token": TOKEN, "token_type": "mac"}),
    ),
    # Followed, the redirect would reach a good token endpoint (and hand it the credentials).
    "token endpoint redirects": (
        "token",
        TOKEN_PATH,
        lambda request: Response("", status=307, headers={"Location": "/elsewhere/oauth2/token"}),
    ),
    "token answer not JSON": ("token", TOKEN_PATH, _replace_answer(200, "<html>login</html>", "text/html")),
    "no token accepted": (
        "missing token",
        PROGRESS_PATH,
        _without_token(_replace_answer(200, PROGRESS_BODY)),
    ),
    "no token is 403": (
        "missing token",
        PROGRESS_PATH,
        _without_token(_replace_answer(403, {"message": "Forbidden"})),
    ),
    "unknown student found": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(_replace_answer(200, PROGRESS_BODY)),
    ),
    "unknown student 404 without IMS body": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(_replace_answer(404, {"message": "Not Found"})),
    ),
    "unknown student with the wrong minor code": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(lambda request: ims(404, "invaliddata")),
    ),
    "unknown student is a 500": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(lambda request: ims(500, "internal_server_error")),
    ),
    "unknown student IMS body as text/plain": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(
            lambda request: Response(ims(404, "unknownobject").get_data(), 404, content_type="text/plain")
        ),
    ),
    "missing parameter is a 404": (
        "missing parameter",
        IMPORT_PATH,
        lambda request: ims(404, "unknownobject"),
    ),
    "missing parameter is a 422 with the right minor code": (
        "missing parameter",
        IMPORT_PATH,
        lambda request: ims(422, "invaliddata"),
    ),
    "unknown student 404 with a JSON list": (
        "unknown student",
        PROGRESS_PATH,
        _unknown_student(_replace_answer(404, [{"imsx_codeMajor": "failure"}])),
    ),
    "missing parameter 400 without IMS body": (
        "missing parameter",
        IMPORT_PATH,
        _replace_answer(400, {"message": "Bad Request"}),
    ),
    "missing parameter with major success": (
        "missing parameter",
        IMPORT_PATH,
        lambda request: ims(400, "invaliddata", major="success"),
    ),
    "missing parameter body not JSON": (
        "missing parameter",
        IMPORT_PATH,
        _replace_answer(400, "bad request"),
    ),
    "known student is a 404": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(lambda request: ims(404, "unknownobject")),
    ),
    "progress without finalized": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, _progress_without("finalized"))),
    ),
    "progress answered 202": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(202, PROGRESS_BODY)),
    ),
    "progress with questions null": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, {**PROGRESS_BODY, "questions": None})),
    ),
    "progress without questions": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, _progress_without("questions"))),
    ),
    "progress with attempt as a string": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, {**PROGRESS_BODY, "attempt": "1"})),
    ),
    "progress with an unknown lesson type": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, {**PROGRESS_BODY, "lessonType": "quiz"})),
    ),
    "progress with an unknown tool provider": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, {**PROGRESS_BODY, "toolProvider": "quizlet"})),
    ),
    "progress with finalized as a string": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, {**PROGRESS_BODY, "finalized": "false"})),
    ),
    "progress body a list": (
        "known student progress",
        PROGRESS_PATH,
        _known_student(_replace_answer(200, [PROGRESS_BODY])),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_each_bad_answer_fails_its_check_and_the_run(
    case: str, server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    check, path, answer = BAD_ANSWERS[case]
    stack.overrides[path] = answer
    stack.overrides["/elsewhere/oauth2/token"] = good_token
    code, statuses, _ = run_smoke(server[1], capsys)
    assert statuses[check] == "FAIL"
    assert code == 1
    assert not [r for r in stack.requests if r[1].startswith("/elsewhere")], "a redirect was followed"


def test_the_checks_that_need_a_token_fail_when_there_is_none(
    server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.overrides[TOKEN_PATH] = _replace_answer(400, {"error": "invalid_client"})
    code, statuses, _ = run_smoke(server[1], capsys)
    assert code == 1
    assert statuses == {
        "token": "FAIL",
        "missing token": "PASS",
        "unknown student": "FAIL",
        "missing parameter": "FAIL",
        "known student progress": "FAIL",
    }


def test_the_secret_and_the_token_are_never_printed_even_when_the_server_echoes_them(
    server: tuple[FakeStack, str], stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    def echo(request: Request) -> Response:
        return json_response(500, {"echo": request.headers.get("Authorization"), "secret": CLIENT_SECRET})

    stack.overrides[PROGRESS_PATH] = _unknown_student(echo)
    stack.overrides[IMPORT_PATH] = echo
    code, statuses, printed = run_smoke(server[1], capsys)
    assert code == 1 and statuses["unknown student"] == "FAIL"
    assert "echo" in printed  # the bad answer is shown...
    assert CLIENT_SECRET not in printed and TOKEN not in printed  # ...without what must stay secret


def test_an_unreachable_stack_fails_every_check_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Port 9 (discard) on the loopback: nothing listens there.
    code, statuses, printed = run_smoke("http://127.0.0.1:9", capsys)
    assert code == 1
    assert statuses == {"token": "FAIL", **dict.fromkeys(ALL_CHECKS[1:], "FAIL")}
    assert "Traceback" not in printed


def test_missing_settings_stop_before_any_request_and_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    code = smoke.main([], env={"API_URL": "http://127.0.0.1:9", "CLIENT_ID": CLIENT_ID})
    assert code == 2
    err = capsys.readouterr().err
    assert "TOKEN_URL" in err and "CLIENT_SECRET" in err and "API_URL" not in err
