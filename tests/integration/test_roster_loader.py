from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exttests import roster_loader
from exttests.adapters.dynamo import keys
from exttests.domain.roster import lesson_from_documents, student_from_user
from exttests.roster_loader import RosterFileError, load_roster, load_roster_file, main
from tests.support import shared_boto3_session

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "local" / "demo_roster.json"
TABLE = "exttests-roster-test"


def _create_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    # A developer's local-stack endpoint would send calls past moto.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def ddb(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", shared_boto3_session())
        client = boto3.client("dynamodb")
        _create_table(client)
        yield client


@pytest.fixture
def demo() -> dict[str, Any]:
    return json.loads(DEMO.read_text(encoding="utf-8"))


def _all_items(client: Any, table: str = TABLE) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _doc(client: Any, key: dict[str, Any]) -> Any:
    item = client.get_item(TableName=TABLE, Key=key).get("Item")
    assert item is not None, key
    return json.loads(item[keys.DOC]["S"])


def _minimal() -> dict[str, Any]:
    return {
        "users": [{"sourcedId": "u1", "status": "active", "roles": [{"role": "student"}]}],
        "orgs": [{"sourcedId": "o1"}],
        "resources": [{"sourcedId": "r1", "metadata": {"lessonType": "test-out"}}],
        "componentResources": [{"sourcedId": "cr1", "resource": {"sourcedId": "r1"}}],
        "subjectTracks": [{"subject": "Math", "grade": "5", "courseId": "c5"}],
    }


# --- the demo roster --------------------------------------------------------------------


def test_demo_roster_loads_every_kind(ddb: Any, demo: dict[str, Any]) -> None:
    counts = load_roster_file(str(DEMO), TABLE, client=ddb)
    assert counts == {
        "users": len(demo["users"]),
        "orgs": len(demo["orgs"]),
        "courses": len(demo["courses"]),
        "courseComponents": len(demo["courseComponents"]),
        "resources": len(demo["resources"]),
        "lessons": len(demo["componentResources"]),
        "subjectTracks": len(demo["subjectTracks"]),
    }
    assert len(_all_items(ddb)) == sum(counts.values())

    assert _doc(ddb, keys.org("org-district-1"))["sourcedId"] == "org-district-1"
    assert _doc(ddb, keys.course("course-math-g5-foundations"))["sourcedId"] == "course-math-g5-foundations"
    assert _doc(ddb, keys.course_component("unit-math-g5"))["course"]["sourcedId"] == "course-math-g5"
    assert _doc(ddb, keys.resource("res-edu-testout-math-g5"))["metadata"]["vendorId"] == "edu-test-algebra-1"


def test_demo_students_parse_as_the_spec_needs(ddb: Any) -> None:
    load_roster_file(str(DEMO), TABLE, client=ddb)
    for user_id in ("student-ada", "student-alan", "student-grace", "student-katherine"):
        student = student_from_user(_doc(ddb, keys.user(user_id)))
        assert student.is_student and student.email, user_id
    ada = student_from_user(_doc(ddb, keys.user("student-ada")))
    assert ada.email == "ada.lovelace@students.example.com"
    assert student_from_user(_doc(ddb, keys.user("student-katherine"))).primary_org == "org-school-2"
    noemail = student_from_user(_doc(ddb, keys.user("student-noemail")))
    assert noemail.is_student and noemail.email is None
    assert student_from_user(_doc(ddb, keys.user("teacher-1"))).is_student is False


def _lesson(client: Any, lesson_id: str) -> Any:
    doc = _doc(client, keys.lesson(lesson_id))
    assert set(doc) == {"componentResource", "resource", "courseComponent"}
    return lesson_from_documents(doc["componentResource"], doc["resource"])


@pytest.mark.parametrize(
    ("lesson_id", "expected"),
    [
        (
            "lesson-edu-testout-math-g5",
            {
                "lesson_type": "test-out",
                "tool_provider": "edulastic",
                "vendor_id": "edu-test-algebra-1",
                "subject": "Math",
                "grade": "5",
                "xp": 100.0,
            },
        ),
        (
            "lesson-edu-placement-math-g5",
            {
                "lesson_type": "placement",
                "tool_provider": "edulastic",
                "vendor_id": "edu-test-placement-math-5",
                "grade": "5",
                "course_id_on_fail": "course-math-g5-foundations",
                "xp": 50.0,
            },
        ),
        (
            "lesson-edu-unit-ela-g3",
            {
                "lesson_type": "unit-test",
                "tool_provider": "edulastic",
                "vendor_id": "edu-test-ela-unit-3",
                "subject": "Reading",
                "grade": "3",
                "xp": 30.0,
            },
        ),
        (
            "lesson-mt-testout-math-g5",
            {
                "lesson_type": "test-out",
                "tool_provider": "mastery-track",
                "subject": "Math",
                "grade": "5",
                "xp": 120.0,
            },
        ),
        (
            "lesson-mt-placement-reading-g5",
            {
                "lesson_type": "placement",
                "tool_provider": "mastery-track",
                "subject": "Reading",
                "grade": "5",
                "course_id_on_fail": None,
            },
        ),
        (
            "lesson-mt-unit-math-g6",
            {"lesson_type": "unit-test", "tool_provider": "mastery-track", "grade": "6"},
        ),
        ("lesson-quiz-math-g5", {"lesson_type": "quiz"}),
        ("lesson-unsupported-provider", {"lesson_type": "test-out", "tool_provider": "khan-academy"}),
    ],
)
def test_demo_lessons(ddb: Any, lesson_id: str, expected: dict[str, Any]) -> None:
    load_roster_file(str(DEMO), TABLE, client=ddb)
    lesson = _lesson(ddb, lesson_id)
    assert lesson.id == lesson_id
    for field, value in expected.items():
        assert getattr(lesson, field) == value, field


def test_demo_lesson_type_locations_are_as_documented(demo: dict[str, Any]) -> None:
    crs = {cr["sourcedId"]: cr for cr in demo["componentResources"]}
    resources = {r["sourcedId"]: r for r in demo["resources"]}

    def resource_of(lesson_id: str) -> dict[str, Any]:
        return resources[crs[lesson_id]["resource"]["sourcedId"]]

    assert "lessonType" not in resource_of("lesson-edu-unit-ela-g3")["metadata"]
    assert crs["lesson-edu-unit-ela-g3"]["lessonType"] == "unit-test"
    assert "lessonType" not in resource_of("lesson-mt-placement-reading-g5")["metadata"]
    assert crs["lesson-mt-placement-reading-g5"]["metadata"]["lessonType"] == "placement"
    assert resource_of("lesson-mt-testout-math-g5")["metadata"]["grade"] == 5


def test_demo_subject_tracks(ddb: Any, demo: dict[str, Any]) -> None:
    load_roster_file(str(DEMO), TABLE, client=ddb)
    course_ids = {c["sourcedId"] for c in demo["courses"]}
    for subject, prefix in (("Math", "course-math"), ("Reading", "course-reading")):
        for grade in range(4, 8):
            item = ddb.get_item(TableName=TABLE, Key=keys.subject_track(subject, str(grade), None))["Item"]
            assert item["courseId"]["S"] == f"{prefix}-g{grade}"
            assert item["courseId"]["S"] in course_ids
            assert json.loads(item[keys.DOC]["S"])["subject"] == subject
    school = ddb.get_item(TableName=TABLE, Key=keys.subject_track("math", "6", "org-school-2"))["Item"]
    assert school["courseId"]["S"] == "course-math-g6-school2"
    assert "course-math-g6-school2" in course_ids


def test_reload_is_idempotent(ddb: Any) -> None:
    first = load_roster_file(str(DEMO), TABLE, client=ddb)
    before = _all_items(ddb)
    second = load_roster_file(str(DEMO), TABLE, client=ddb)
    assert second == first
    assert _all_items(ddb) == before


def test_client_is_created_lazily(ddb: Any) -> None:
    counts = load_roster(_minimal(), TABLE)
    assert counts["users"] == 1
    assert _doc(ddb, keys.user("u1"))["sourcedId"] == "u1"


# --- shapes -----------------------------------------------------------------------------


def test_lesson_with_dangling_references_stores_nulls(ddb: Any) -> None:
    doc = _minimal()
    doc["componentResources"].append(
        {"sourcedId": "cr2", "resource": {"sourcedId": "nope"}, "courseComponent": {"sourcedId": "nope"}}
    )
    load_roster(doc, TABLE, client=ddb)
    stored = _doc(ddb, keys.lesson("cr2"))
    assert stored["resource"] is None and stored["courseComponent"] is None
    assert _doc(ddb, keys.lesson("cr1"))["resource"]["sourcedId"] == "r1"


def test_tobedeleted_objects_and_unknown_keys_are_skipped(ddb: Any) -> None:
    doc = _minimal()
    doc["users"].append({"sourcedId": "gone", "status": "tobedeleted"})
    doc["users"].append({"status": "tobedeleted"})  # no sourcedId needed for a skipped object
    doc["resources"].append({"sourcedId": "r-gone", "status": "toBeDeleted"})
    doc["componentResources"].append({"sourcedId": "cr-gone", "resource": {"sourcedId": "r-gone"}})
    doc["enrollments"] = "whatever"
    counts = load_roster(doc, TABLE, client=ddb)
    assert counts["users"] == 1
    assert counts["resources"] == 1
    assert "Item" not in ddb.get_item(TableName=TABLE, Key=keys.user("gone"))
    assert _doc(ddb, keys.lesson("cr-gone"))["resource"] is None


def test_track_grade_is_normalized_and_org_specific(ddb: Any) -> None:
    doc = _minimal()
    doc["subjectTracks"] = [
        {"subject": " Math ", "grade": "05", "courseId": "c5"},
        {"subject": "Math", "grade": 5, "courseId": "c5-school", "orgSourcedId": "o1"},
        {"subject": "Reading", "grade": "KG", "courseId": "rk", "orgSourcedId": None},
    ]
    load_roster(doc, TABLE, client=ddb)
    get = ddb.get_item
    assert get(TableName=TABLE, Key=keys.subject_track("Math", "5", None))["Item"]["courseId"]["S"] == "c5"
    assert (
        get(TableName=TABLE, Key=keys.subject_track("math", "5", "o1"))["Item"]["courseId"]["S"]
        == "c5-school"
    )
    assert get(TableName=TABLE, Key=keys.subject_track("reading", "0", None))["Item"]["courseId"]["S"] == "rk"


def test_more_than_one_batch(ddb: Any) -> None:
    doc = {"users": [{"sourcedId": f"u{i:03d}", "roles": [{"role": "student"}]} for i in range(60)]}
    counts = load_roster(doc, TABLE, client=ddb)
    assert counts["users"] == 60
    assert len(_all_items(ddb)) == 60


class _Throttling:
    """Wraps a client and leaves the first request of every call unprocessed once."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if len(self.calls) % 2 == 1 and len(requests) > 1:
            self.inner.batch_write_item(RequestItems={table: requests[1:]})
            return {"UnprocessedItems": {table: requests[:1]}}
        return self.inner.batch_write_item(RequestItems=RequestItems)


def test_unprocessed_items_are_retried(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(roster_loader, "_sleep", sleeps.append)
    client = _Throttling(ddb)
    doc = {"orgs": [{"sourcedId": f"o{i}"} for i in range(30)]}
    load_roster(doc, TABLE, client=client)
    # Each batch loses one item on its first try and gets it through on the retry.
    assert client.calls == [25, 1, 5, 1]
    assert len(sleeps) == 2
    assert len(_all_items(ddb)) == 30


def test_gives_up_when_items_stay_unprocessed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster_loader, "_sleep", lambda _s: None)

    class Stuck:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    with pytest.raises(roster_loader.RosterWriteError):
        load_roster({"orgs": [{"sourcedId": "o"}]}, TABLE, client=Stuck())


# --- bad files --------------------------------------------------------------------------


def _bad(mutate: Any) -> dict[str, Any]:
    doc = _minimal()
    mutate(doc)
    return doc


BAD_FILES = [
    ([], "top level must be an object"),
    (_bad(lambda d: d.update(users={"sourcedId": "u"})), "users: must be a list"),
    (_bad(lambda d: d["users"].append("u2")), "users[1]: must be an object"),
    (_bad(lambda d: d["orgs"].append({"name": "no id"})), "orgs[1]: sourcedId"),
    (_bad(lambda d: d["orgs"].append({"sourcedId": "  "})), "orgs[1]: sourcedId"),
    (_bad(lambda d: d["resources"].insert(0, {"sourcedId": 5})), "resources[0]: sourcedId"),
    (_bad(lambda d: d["users"].append({"sourcedId": "u1"})), "users[1]: duplicate sourcedId 'u1'"),
    (_bad(lambda d: d["componentResources"].append({})), "componentResources[1]: sourcedId"),
    (_bad(lambda d: d["subjectTracks"].append({"grade": "5", "courseId": "c"})), "subjectTracks[1]: subject"),
    (
        _bad(lambda d: d["subjectTracks"].append({"subject": "M", "grade": "5.5", "courseId": "c"})),
        "subjectTracks[1]: grade",
    ),
    (_bad(lambda d: d["subjectTracks"].append({"subject": "M", "courseId": "c"})), "subjectTracks[1]: grade"),
    (_bad(lambda d: d["subjectTracks"].append({"subject": "M", "grade": "5"})), "subjectTracks[1]: courseId"),
    (
        _bad(
            lambda d: d["subjectTracks"].append(
                {"subject": "M", "grade": 5, "courseId": "c", "orgSourcedId": 3}
            )
        ),
        "subjectTracks[1]: orgSourcedId",
    ),
    (
        _bad(lambda d: d["subjectTracks"].append({"subject": "math", "grade": "05", "courseId": "other"})),
        "subjectTracks[1]: duplicate subject track",
    ),
]


@pytest.mark.parametrize(("doc", "message"), BAD_FILES)
def test_bad_file_writes_nothing_and_names_the_entry(ddb: Any, doc: Any, message: str) -> None:
    with pytest.raises(RosterFileError) as excinfo:
        load_roster(doc, TABLE, client=ddb)
    assert message in str(excinfo.value)
    assert _all_items(ddb) == []


def test_bad_entry_late_in_a_big_file_writes_nothing(ddb: Any, demo: dict[str, Any]) -> None:
    doc = copy.deepcopy(demo)
    doc["subjectTracks"].append({"subject": "Math", "grade": "99", "courseId": "course-math-g4"})
    with pytest.raises(RosterFileError, match=r"subjectTracks\[\d+\]"):
        load_roster(doc, TABLE, client=ddb)
    assert _all_items(ddb) == []


def test_unserializable_value_is_a_file_error(ddb: Any) -> None:
    doc = _bad(lambda d: d["orgs"].append({"sourcedId": "o2", "x": {1, 2}}))
    with pytest.raises(RosterFileError, match=r"orgs\[1\]"):
        load_roster(doc, TABLE, client=ddb)
    assert _all_items(ddb) == []


def test_invalid_json_file(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    path.write_text('{"users": [', encoding="utf-8")
    with pytest.raises(RosterFileError, match="invalid JSON"):
        load_roster_file(str(path), TABLE, client=object())
    with pytest.raises(RosterFileError, match="cannot read"):
        load_roster_file(str(tmp_path / "missing.json"), TABLE, client=object())


# --- CLI --------------------------------------------------------------------------------


def test_cli_main_loads_and_prints_counts(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--table", TABLE, str(DEMO)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["lessons"] == 8
    assert len(_all_items(ddb)) == sum(counts.values())


def test_cli_main_bad_file_exits_2(ddb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"users": [{"sourcedId": ""}]}), encoding="utf-8")
    assert main(["--table", TABLE, str(path)]) == 2
    assert "users[0]" in capsys.readouterr().err
    assert _all_items(ddb) == []


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "layers" / "shared" / "python"), str(REPO)])
    # Unroutable endpoint: a bad file must fail before any AWS call is made.
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
    )
    return subprocess.run(
        [sys.executable, "-m", "exttests.roster_loader", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_subprocess_bad_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"subjectTracks": [{"subject": "Math", "grade": "x", "courseId": "c"}]}))
    result = _run_cli("--table", TABLE, str(path))
    assert result.returncode == 2
    assert "subjectTracks[0]" in result.stderr


def test_cli_subprocess_usage_error_exits_2() -> None:
    result = _run_cli(str(DEMO))
    assert result.returncode == 2
    assert "--table" in result.stderr
