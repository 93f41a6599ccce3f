"""Bad input, property-based: Schemathesis against the service's own OpenAPI document (docs/openapi.json).

Thousands of generated requests (positive and negative data: wrong types, missing fields, unicode,
huge strings, bodies that are not JSON) go over HTTP to a local stack started in this process, each
with a valid bearer token. Every answer must be:
- not a 5xx (a 500 is a bug), `application/json`, and for every status >= 400 the IMS body;
- conformant to the document (status documented, 200s match their models, errors match ImsError);
- a 4xx for data the document rejects (negative data);
- side-effect free when it is a 4xx: the table is read after every request and compared with the
  read before it (the table is small; only a 2xx may change it). The reads go to moto's backend in
  this process (`Stack.snapshot`), which the fixture checks against a consistent scan over the API.
Then explicit bad input: oversized bodies, wrong content types, bodies that are JSON but not objects,
unicode and injection-shaped ids, duplicate query parameters; and the classes that once reached a
500: JSON nested 33, 600 and 5,000 levels deep, JSON media types in upper case or with a +json
suffix (accepted end to end), numbers that fit no float, and write-backs of 60,000-character
unknown fields (six in a row, then the real write-back still finalizes).

The stack runs in-process (`local.stack.LocalStack`); it is the only one in this process (the other
e2e tests run theirs as a subprocess) and it restores os.environ and moto's dispatch patch when it
stops, so integration tests (moto's in-process mock) can run in the same pytest worker before or after.

Reproducible: hypothesis runs derandomized, no example database. `-s` prints the figures.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests

from local.openapi import DOCUMENT
from tests.support import DEMO_ROSTER, at_scale, moto_table_snapshot

pytestmark = pytest.mark.e2e

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
RESULT = "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"
STUDENT = "student-ada"
LESSON = "lesson-edu-testout-math-g5"  # Edulastic: no workflow callback, nothing written in the background
RECORD_LESSON = "lesson-mt-testout-math-g5"  # the write-back's record (written back to by MasteryTrack)
HTTP_TIMEOUT = 30.0
MIN_REQUESTS = at_scale(120, 2000)
# Generated examples per (operation, mode); hypothesis may stop earlier when it runs out of ideas.
EXAMPLES = at_scale(12, 200)


def schemathesis_checks() -> list[Any]:
    # schemathesis and hypothesis are imported by the one test that uses them, not at collection
    # (about 2 s of every pytest process's start).
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]


@dataclass
class Stack:
    """The in-process local stack, a token with every scope, and the service's DynamoDB table."""

    local: Any
    token: str
    session: requests.Session = field(default_factory=requests.Session)
    dynamodb: Any = None
    sourced_id: str = ""

    @property
    def api_url(self) -> str:
        return str(self.local.api_url)

    @property
    def resources(self) -> Any:
        return self.local.resources

    @property
    def table(self) -> str:
        return str(self.local.resources.table_name)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(
            method, self.api_url + path, headers=headers, timeout=HTTP_TIMEOUT, **kwargs
        )

    def snapshot(self) -> list[str]:
        """Every item of the table, sorted (the stack's moto server is a thread of this process)."""
        return moto_table_snapshot(self.table, self.resources.region)

    def scan(self) -> list[str]:
        """The same, as a consistent scan over the API (the check that `snapshot` reads the same)."""
        items: list[str] = []
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True)
        for page in pages:
            items.extend(json.dumps(item, sort_keys=True) for item in page["Items"])
        return sorted(items)

    def head(self, student: str, lesson: str) -> dict[str, Any] | None:
        answer = self.dynamodb.get_item(
            TableName=self.table,
            Key={"PK": {"S": f"RESULT#{len(student)}:{student}#{lesson}"}, "SK": {"S": "HEAD"}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            return None
        doc: dict[str, Any] = json.loads(item["doc"]["S"])
        return doc


def _settled(stack: Stack, timeout: float = 15.0) -> list[str]:
    """The table once two scans 0.2 s apart agree (the assignment's workflow parks on its wait)."""
    deadline = time.monotonic() + timeout
    last = stack.snapshot()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = stack.snapshot()
        if now == last:
            return now
        last = now
    raise AssertionError("the table did not settle after the first assignment")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    from local.stack import LocalStack, Settings

    local = LocalStack(
        Settings(
            port=0,
            roster_file=str(DEMO_ROSTER),
            workflow_wait_seconds="3600",
            callback_timeout_seconds=3600,
            log_level="WARNING",
        )
    ).start()
    try:
        answer = requests.post(
            local.token_url,
            auth=(local.client_id, local.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=HTTP_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        running = Stack(local, answer.json()["access_token"])
        running.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=local.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )
        # One real assignment of each provider: the write-back is also fuzzed against a record that
        # exists (a MasteryTrack one: a provider that does not write back has none for this client).
        for lesson in (LESSON, RECORD_LESSON):
            assigned = running.request("POST", ASSIGN, json={"student": STUDENT, "lesson": lesson})
            assert assigned.status_code == 200, assigned.text
        deadline = time.monotonic() + 15
        while (
            not (running.head(STUDENT, RECORD_LESSON) or {}).get("task_token") and time.monotonic() < deadline
        ):
            time.sleep(0.05)  # the workflow parks on its callback: its one write
        assert _settled(running) == running.scan()  # the cheap snapshot reads what a scan reads
        head = running.head(STUDENT, RECORD_LESSON)
        assert head is not None and head.get("sourced_id") and head.get("task_token"), head
        running.sourced_id = str(head["sourced_id"])
        yield running
    finally:
        local.stop()


# --- helpers ---


def _media_type(answer: Any) -> str:
    value = answer.headers.get("content-type") or ""
    if isinstance(value, list):  # schemathesis' Response: lowercase keys, list values
        value = value[0] if value else ""
    return str(value).split(";")[0].strip().lower()


def _ims_problem(answer: Any) -> str | None:
    """Why `answer` (status >= 400) is not the IMS error body, or None when it is."""
    try:
        body = json.loads(answer.content)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if body.get("imsx_codeMajor") != "failure":
        return "imsx_codeMajor is not 'failure'"
    if body.get("imsx_severity") != "error":
        return "imsx_severity is not 'error'"
    if not isinstance(body.get("imsx_description"), str) or not body["imsx_description"]:
        return "imsx_description is missing or empty"
    try:
        minor = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
    except (KeyError, IndexError, TypeError):
        return "imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue is missing"
    if not isinstance(minor, str) or not minor:
        return "the minor code is not a string"
    return None


def _request_line(answer: requests.Response) -> str:
    return f"{answer.request.method} {answer.request.url}"


def assert_refusal(answer: requests.Response, *statuses: int) -> None:
    """One of `statuses`, with the IMS error body as application/json."""
    request = _request_line(answer)
    assert answer.status_code in statuses, f"{request}: {answer.status_code} {answer.text[:500]}"
    assert _media_type(answer) == "application/json", f"{request}: {answer.headers}"
    problem = _ims_problem(answer)
    assert problem is None, f"{request}: {problem}: {answer.text[:500]}"


def assert_nothing_written(stack: Stack, before: list[str], answers: list[requests.Response]) -> None:
    """The table is as it was before `answers` (refusals, each checked with assert_refusal)."""
    ran = "".join(f"\n  {_request_line(a)[:300]} -> {a.status_code}" for a in answers)
    assert stack.snapshot() == before, f"the table changed over these refused requests:{ran}"


def assert_refused(stack: Stack, answer: requests.Response, before: list[str], *statuses: int) -> None:
    """A refusal: one of `statuses`, the IMS error body as application/json, nothing written."""
    assert_refusal(answer, *statuses)
    assert_nothing_written(stack, before, [answer])


def _result_path(sourced_id: str) -> str:
    return RESULT.format(sourcedId=quote(sourced_id, safe=""))


def _assign_body(**extra: Any) -> dict[str, Any]:
    return {"student": STUDENT, "lesson": LESSON, **extra}


def _writeback_body(**extra: Any) -> dict[str, Any]:
    return {"assessmentResult": {"scoreStatus": "partially graded", "score": 50, **extra}}


def _valid_body(route: str) -> dict[str, Any]:
    return _assign_body() if route == "assign" else _writeback_body()


WRITES: dict[str, Callable[[Stack], tuple[str, str]]] = {
    "assign": lambda stack: ("POST", ASSIGN),
    "write-back": lambda stack: ("PUT", _result_path(stack.sourced_id)),
}


# --- the property-based run ---


@dataclass
class Figures:
    statuses: dict[tuple[str, str], Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())


def _describe(case: Any, answer: Any) -> str:
    request = answer.request
    body = request.body
    if isinstance(body, bytes | str):
        body = body[:300]
    return (
        f"{request.method} {request.url[:400]}\n"
        f"  content-type: {request.headers.get('Content-Type')}\n"
        f"  body: {body!r}\n"
        f"  -> {answer.status_code} {_media_type(answer)} {answer.content[:500]!r}"
    )


def _own_problems(answer: Any) -> list[str]:
    problems = []
    if answer.status_code >= 500:
        problems.append(f"server error {answer.status_code}")
    if _media_type(answer) != "application/json":
        problems.append(f"content type {_media_type(answer)!r}, not application/json")
    if answer.status_code >= 400:
        problem = _ims_problem(answer)
        if problem is not None:
            problems.append(f"not the IMS error body: {problem}")
    return problems


def _run_operation(stack: Stack, operation: Any, mode: Any, figures: Figures) -> None:
    import hypothesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.core.failures import Failure, FailureGroup

    checks = schemathesis_checks()
    method = operation.method.upper()
    side_effects = method in ("POST", "PUT") or operation.path == IMPORT
    has_sourced_id = "{sourcedId}" in operation.path
    statuses: Counter[int] = figures.statuses.setdefault((operation.label, mode.value), Counter())

    # The scan after a 4xx (equal to the one before it, or reported) is the next request's "before";
    # after any other answer the next request scans afresh.
    last_scan: list[list[str]] = []

    def check(case: Any, answer: Any, before: list[str] | None) -> None:
        problems = _own_problems(answer)
        try:
            case.validate_response(answer, checks=checks, headers=stack.headers)
        except FailureGroup as group:
            failed: list[Failure] = list(group.exceptions)
            problems.extend(f"schemathesis: {failure.title}: {failure.message[:300]}" for failure in failed)
        last_scan.clear()
        if before is not None and 400 <= answer.status_code < 500:
            after = stack.snapshot()
            if after != before:
                problems.append(f"a {answer.status_code} wrote to the table")
            last_scan.append(after)
        if problems:
            figures.failures.append(_describe(case, answer) + "".join(f"\n  ! {p}" for p in problems))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), real=hypothesis.strategies.booleans())
    def run(case: Any, real: bool) -> None:
        components = case.meta.components if case.meta is not None else {}
        path_negated = any(loc.value == "path" and info.mode.is_negative for loc, info in components.items())
        if has_sourced_id and real and not path_negated:
            # The record that exists, so the write-back also gets past its lookup.
            case.path_parameters = {**(case.path_parameters or {}), "sourcedId": stack.sourced_id}
        before = (last_scan[0] if last_scan else stack.snapshot()) if side_effects else None
        answer = case.call(base_url=stack.api_url, session=stack.session, headers=stack.headers)
        statuses[answer.status_code] += 1
        check(case, answer, before)

    before_batch = None if side_effects else stack.snapshot()
    run()
    if before_batch is not None and stack.snapshot() != before_batch:
        figures.failures.append(f"{operation.label} ({mode.value}): a batch of pure reads wrote to the table")


@pytest.mark.scaled
def test_generated_requests_conform(stack: Stack) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    pytest.importorskip("hypothesis")
    from schemathesis import GenerationMode

    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=stack.api_url, headers=stack.headers)
    figures = Figures()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(stack, operation, mode, figures)
    elapsed = time.monotonic() - started

    print(f"\nschemathesis: {figures.total} requests in {elapsed:.1f} s")
    for (label, mode), statuses in sorted(figures.statuses.items()):
        spread = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        print(f"  {label:<70} {mode:<8} {sum(statuses.values()):>5}  ({spread})")
    assert not figures.failures, f"{len(figures.failures)} bad answers:\n\n" + "\n\n".join(
        figures.failures[:30]
    )
    assert figures.total >= MIN_REQUESTS, figures.total


# --- explicit bad input ---


@pytest.mark.parametrize("route", sorted(WRITES))
@pytest.mark.parametrize(("size", "status"), [(100 * 1024, 413), (2 * 1024 * 1024, 413)])
def test_oversized_body_is_refused(stack: Stack, route: str, size: int, status: int) -> None:
    method, path = WRITES[route](stack)
    body = (
        _assign_body(applicationName="x" * size) if route == "assign" else _writeback_body(comment="x" * size)
    )
    before = stack.snapshot()
    answer = stack.request(method, path, json=body)
    assert_refused(stack, answer, before, status)


@pytest.mark.parametrize("route", sorted(WRITES))
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
)
def test_a_content_type_that_is_not_json_is_415(stack: Stack, route: str, content_type: str) -> None:
    method, path = WRITES[route](stack)
    before = stack.snapshot()
    answer = stack.request(
        method, path, data=json.dumps(_valid_body(route)).encode(), headers={"Content-Type": content_type}
    )
    assert_refused(stack, answer, before, 415)


@pytest.mark.parametrize("route", sorted(WRITES))
@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "true", "[{}]", "{", ""])
def test_body_that_is_not_a_json_object_is_400(stack: Stack, route: str, body: str) -> None:
    method, path = WRITES[route](stack)
    before = stack.snapshot()
    answer = stack.request(method, path, data=body.encode(), headers={"Content-Type": "application/json"})
    assert_refused(stack, answer, before, 400)


@pytest.mark.parametrize("route", sorted(WRITES))
def test_body_that_is_not_utf8_is_400(stack: Stack, route: str) -> None:
    method, path = WRITES[route](stack)
    before = stack.snapshot()
    answer = stack.request(
        method, path, data=b'{"student": "\xb2"}', headers={"Content-Type": "application/json"}
    )
    assert_refused(stack, answer, before, 400)


ODD_IDS = {
    "emoji": "\U0001f393\U0001f469\u200d\U0001f393",
    "rtl": "\u202estudent-ada\u202c",
    "hebrew": "\u05e9\u05dc\u05d5\u05dd",
    "combining": "e\u0301\u0301\u0301\u0301",
    "sql": "' OR 1=1 --",
    "nosql": '{"$ne": null}',
    "traversal": "../../etc/passwd",
    "script": "<script>alert(1)</script>",
    "percent-nul": "%00",
    "key-shaped": "USER#student-ada",
    "very-long": "a" * 10_000,
}


@pytest.mark.parametrize("name", sorted(ODD_IDS))
def test_odd_ids_are_refused_cleanly(stack: Stack, name: str) -> None:
    odd = ODD_IDS[name]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", ASSIGN, {"json": {"student": odd, "lesson": LESSON}}),
        ("POST", ASSIGN, {"json": {"student": STUDENT, "lesson": odd}}),
        ("POST", ASSIGN, {"json": _assign_body(testId=odd)}),
        ("GET", IMPORT, {"params": {"student": odd, "lesson": LESSON}}),
        ("GET", IMPORT, {"params": {"student": STUDENT, "lesson": odd}}),
        ("GET", PROGRESS, {"params": {"student": odd, "lesson": LESSON}}),
        ("GET", PROGRESS, {"params": {"student": STUDENT, "lesson": odd}}),
        ("GET", _result_path(odd), {}),
        ("PUT", _result_path(odd), {"json": _writeback_body()}),
        ("PUT", _result_path(stack.sourced_id), {"json": _writeback_body(student={"sourcedId": odd})}),
    ]
    # One table snapshot before the refused requests and one after them (not two per request):
    # a refusal writes nothing, so the table is the same after all of them.
    before, refused = stack.snapshot(), []
    for method, path, kwargs in calls:
        may_be_accepted = kwargs.get("json", {}).get("testId") == odd
        if may_be_accepted:  # an accepted request may write: check the refusals before it first
            assert_nothing_written(stack, before, refused)
        answer = stack.request(method, path, **kwargs)
        if may_be_accepted and answer.status_code == 200:
            # testId is only used by MasteryTrack; the Edulastic lesson ignores it
            before, refused = stack.snapshot(), []
            continue
        assert_refusal(answer, 400, 404)
        refused.append(answer)
    assert_nothing_written(stack, before, refused)


@pytest.mark.parametrize("path", [IMPORT, PROGRESS])
@pytest.mark.parametrize(
    "query",
    [
        f"student=a&student=b&lesson={LESSON}",
        f"student={STUDENT}&student={STUDENT}&lesson={LESSON}",
        f"student={STUDENT}&lesson={LESSON}&lesson={LESSON}",
        f"student={STUDENT}&lesson={LESSON}&attempt=1&attempt=1",
    ],
)
def test_duplicate_query_parameters_are_400(stack: Stack, path: str, query: str) -> None:
    before = stack.snapshot()
    answer = stack.request("GET", f"{path}?{query}")
    assert_refused(stack, answer, before, 400)


def test_the_real_record_is_found(stack: Stack) -> None:
    """The positive control of the two tests below."""
    answer = stack.request("GET", _result_path(stack.sourced_id))
    assert answer.status_code == 200, answer.text
    assert answer.json()["assessmentResult"]["sourcedId"] == stack.sourced_id


def test_percent_encoded_path_id_is_decoded(stack: Stack) -> None:
    encoded = stack.sourced_id.replace("-", "%2D")
    answer = stack.request("GET", RESULT.format(sourcedId=encoded))
    assert answer.status_code == 200, answer.text
    nul = stack.request("GET", RESULT.format(sourcedId=quote(stack.sourced_id, safe="") + "%00"))
    assert nul.status_code == 400, nul.text


@pytest.mark.parametrize("path", [IMPORT, PROGRESS])
def test_query_id_with_one_control_character_is_400(stack: Stack, path: str) -> None:
    before = stack.snapshot()
    answer = stack.request("GET", path, params={"student": STUDENT + "\x00", "lesson": LESSON})
    assert_refused(stack, answer, before, 400)


# --- the classes of input that once reached a 500 ---


def _nested(route: str, depth: int) -> str:
    """A body that is valid but for nesting exactly `depth` levels deep (in a place the route
    ignores or stores as it is: an unknown field of the assign, the write-back's metadata)."""
    if route == "assign":
        arrays = depth - 1
        head, tail = json.dumps(_assign_body())[:-1] + ', "deep": ', "}"
    else:
        arrays = depth - 3
        head, tail = '{"assessmentResult": {"scoreStatus": "partially graded", "metadata": {"deep": ', "}}}"
    return head + "[" * arrays + "]" * arrays + tail


@pytest.mark.parametrize("route", sorted(WRITES))
@pytest.mark.parametrize("depth", [33, 600, 5000])
def test_json_nested_deeper_than_32_levels_is_400(stack: Stack, route: str, depth: int) -> None:
    method, path = WRITES[route](stack)
    before = stack.snapshot()
    answer = stack.request(
        method, path, data=_nested(route, depth).encode(), headers={"Content-Type": "application/json"}
    )
    assert_refused(stack, answer, before, 400)


@pytest.mark.parametrize("route", sorted(WRITES))
def test_json_nested_32_levels_deep_is_accepted(stack: Stack, route: str) -> None:
    """The positive control of the test above: the limit is 32 levels, not less."""
    method, path = WRITES[route](stack)
    answer = stack.request(
        method, path, data=_nested(route, 32).encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "content_type",
    ["APPLICATION/JSON", "application/vnd.api+json", "application/merge-patch+json; charset=utf-8"],
)
def test_json_media_types_in_any_case_or_with_a_json_suffix_are_accepted_end_to_end(
    stack: Stack, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    assigned = stack.request("POST", ASSIGN, data=json.dumps(_assign_body()).encode(), headers=headers)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["toolProvider"] == "edulastic"
    score = 40 + len(content_type)  # a score of its own, to see that this write was stored
    path = _result_path(stack.sourced_id)
    written = stack.request(
        "PUT", path, data=json.dumps(_writeback_body(score=score)).encode(), headers=headers
    )
    assert written.status_code == 200, written.text
    assert stack.request("GET", path).json()["assessmentResult"]["score"] == score


BIG_INTEGER = "1" + "0" * 399  # fits no float
NUMBERS_THAT_DO_NOT_FIT = {
    "score-400-digit-integer": (
        "write-back",
        f'{{"assessmentResult": {{"scoreStatus": "submitted", "score": {BIG_INTEGER}}}}}',
    ),
    "score-1e400": ("write-back", '{"assessmentResult": {"scoreStatus": "submitted", "score": 1e400}}'),
    "score-minus-1e400": (
        "write-back",
        '{"assessmentResult": {"scoreStatus": "submitted", "score": -1e400}}',
    ),
    "score-minus-400-digit-integer": (
        "write-back",
        f'{{"assessmentResult": {{"scoreStatus": "submitted", "score": -{BIG_INTEGER}}}}}',
    ),
    "flag-1e400": ("assign", json.dumps(_assign_body())[:-1] + ', "skipCourseEnrollment": 1e400}'),
    "id-400-digit-integer": ("assign", json.dumps(_assign_body())[:-1] + f', "testId": {BIG_INTEGER}}}'),
}


@pytest.mark.parametrize("name", sorted(NUMBERS_THAT_DO_NOT_FIT))
def test_numbers_that_do_not_fit_are_400(stack: Stack, name: str) -> None:
    route, body = NUMBERS_THAT_DO_NOT_FIT[name]
    method, path = WRITES[route](stack)
    before = stack.snapshot()
    answer = stack.request(method, path, data=body.encode(), headers={"Content-Type": "application/json"})
    assert_refused(stack, answer, before, 400)


@pytest.mark.parametrize("route", sorted(WRITES))
def test_an_integer_longer_than_the_parser_converts_is_400(stack: Stack, route: str) -> None:
    method, path = WRITES[route](stack)
    body = (
        json.dumps(_assign_body())[:-1] + f', "applicationName": {"9" * 5000}}}'
        if route == "assign"
        else f'{{"assessmentResult": {{"scoreStatus": "submitted", "score": {"9" * 5000}}}}}'
    )
    before = stack.snapshot()
    answer = stack.request(method, path, data=body.encode(), headers={"Content-Type": "application/json"})
    assert_refused(stack, answer, before, 400)


OVERSIZED_STUDENT = "student-alan"
PADDING = (
    60_000  # characters per write-back: each under the 64 KiB body limit, six over DynamoDB's 400 KB item
)


def test_oversized_write_backs_never_grow_the_record_and_the_real_one_still_finalizes(stack: Stack) -> None:
    assigned = stack.request("POST", ASSIGN, json={"student": OVERSIZED_STUDENT, "lesson": RECORD_LESSON})
    assert assigned.status_code == 200, assigned.text
    deadline = time.monotonic() + 15
    while not (stack.head(OVERSIZED_STUDENT, RECORD_LESSON) or {}).get("task_token"):
        assert time.monotonic() < deadline, "the workflow did not register its callback"
        time.sleep(0.05)
    head = stack.head(OVERSIZED_STUDENT, RECORD_LESSON)
    assert head is not None
    path = _result_path(str(head["sourced_id"]))

    # Six writes, each with an unknown field of its own that is stored with the metadata: a PUT
    # replaces the record, so it holds one of them at a time, never all six (which would not fit).
    for n in range(6):
        padded = _writeback_body(metadata={"masteryTrackProcessed": False, f"unknown{n}": "x" * PADDING})
        answer = stack.request("PUT", path, json=padded)
        assert answer.status_code == 200, answer.text[:500]
    stored = stack.request("GET", path).json()["assessmentResult"]["metadata"]
    assert [key for key in stored if key.startswith("unknown")] == ["unknown5"]

    final = _writeback_body(scoreStatus="fully graded", score=95, metadata={"masteryTrackProcessed": True})
    answer = stack.request("PUT", path, json=final)
    assert answer.status_code == 200, answer.text[:500]
    progress = stack.request("GET", PROGRESS, params={"student": OVERSIZED_STUDENT, "lesson": RECORD_LESSON})
    assert progress.status_code == 200 and progress.json()["finalized"] is True, progress.text
    _settled(stack)  # the woken workflow finishes before the next test compares table scans
