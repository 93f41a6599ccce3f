from __future__ import annotations

from typing import Any

import pytest

from exttests.domain.models import Lesson, Student
from exttests.domain.roster import lesson_from_documents, lesson_type_of, student_from_user


def _user(**overrides: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "sourcedId": "student-ada",
        "status": "active",
        "givenName": "Ada",
        "familyName": "Lovelace",
        "email": "ada.lovelace@students.example.com",
        "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "org-school-1"}}],
    }
    user.update(overrides)
    return user


def _resource(**metadata: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "lessonType": "test-out",
        "toolProvider": "edulastic",
        "vendorId": "edu-test-algebra-1",
        "subject": "Math",
        "grades": ["5"],
        "xp": 100,
    }
    base.update(metadata)
    return {"sourcedId": "res-1", "title": "Resource title", "metadata": base}


def _cr(**fields: Any) -> dict[str, Any]:
    cr: dict[str, Any] = {
        "sourcedId": "lesson-1",
        "title": "Lesson title",
        "courseComponent": {"sourcedId": "unit-1"},
        "resource": {"sourcedId": "res-1"},
    }
    cr.update(fields)
    return cr


# --- students ---------------------------------------------------------------------------


def test_student_full_user() -> None:
    student = student_from_user(_user(primaryOrg={"sourcedId": "org-school-2"}))
    assert student == Student(
        id="student-ada",
        email="ada.lovelace@students.example.com",
        given_name="Ada",
        family_name="Lovelace",
        is_student=True,
        primary_org="org-school-2",  # primaryOrg wins over the primary role's org
    )


def test_student_primary_org_falls_back_to_primary_role() -> None:
    user = _user(
        roles=[
            {"roleType": "secondary", "role": "student", "org": {"sourcedId": "org-secondary"}},
            {"roleType": "primary", "role": "student", "org": {"sourcedId": "org-school-1"}},
        ]
    )
    assert student_from_user(user).primary_org == "org-school-1"


def test_student_without_primary_anything_has_no_org() -> None:
    user = _user(roles=[{"roleType": "secondary", "role": "student", "org": {"sourcedId": "org-x"}}])
    assert student_from_user(user).primary_org is None


def test_student_role_in_any_role_entry() -> None:
    user = _user(
        roles=[
            {"roleType": "primary", "role": "teacher", "org": {"sourcedId": "org-school-1"}},
            {"roleType": "secondary", "role": "student", "org": {"sourcedId": "org-school-1"}},
        ]
    )
    assert student_from_user(user).is_student is True


def test_teacher_is_not_a_student() -> None:
    user = _user(roles=[{"roleType": "primary", "role": "teacher", "org": {"sourcedId": "org-school-1"}}])
    student = student_from_user(user)
    assert student.is_student is False
    assert student.primary_org == "org-school-1"


def test_legacy_top_level_role() -> None:
    user = _user(role="student")
    del user["roles"]
    assert student_from_user(user).is_student is True
    assert student_from_user({**user, "role": "teacher"}).is_student is False


@pytest.mark.parametrize(
    ("email", "expected"), [("  ada@example.com ", "ada@example.com"), ("", None), ("   ", None)]
)
def test_student_email_is_stripped_and_blank_means_none(email: str, expected: str | None) -> None:
    assert student_from_user(_user(email=email)).email == expected


def test_student_without_email() -> None:
    user = _user()
    del user["email"]
    assert student_from_user(user).email is None


@pytest.mark.parametrize(
    "user",
    [
        {},
        {"sourcedId": "u"},
        {"sourcedId": "u", "roles": "student"},
        {"sourcedId": "u", "roles": [None, 3, "student", {"role": 7}]},
        {"sourcedId": "u", "roles": None, "email": 42, "givenName": None, "primaryOrg": "org-1"},
        {
            "sourcedId": "u",
            "primaryOrg": {"sourcedId": None},
            "roles": [{"roleType": "primary", "org": None}],
        },
        {"sourcedId": 12, "email": ["a@b"]},
    ],
)
def test_student_odd_shapes_never_raise(user: dict[str, Any]) -> None:
    student = student_from_user(user)
    assert student.is_student is False
    assert student.email is None
    assert student.primary_org is None


def test_student_from_non_dict_does_not_raise() -> None:
    assert student_from_user(None).id == ""  # type: ignore[arg-type]


# --- lessons ----------------------------------------------------------------------------


def test_lesson_full_documents() -> None:
    lesson = lesson_from_documents(
        _cr(), _resource(courseIdOnFail="course-math-g5-foundations", url="https://x.example/t")
    )
    assert lesson == Lesson(
        id="lesson-1",
        resource_id="res-1",
        title="Lesson title",
        lesson_type="test-out",
        tool_provider="edulastic",
        vendor_id="edu-test-algebra-1",
        subject="Math",
        grade="5",
        course_id_on_fail="course-math-g5-foundations",
        xp=100.0,
        url="https://x.example/t",
    )


def test_lesson_type_resource_metadata_wins() -> None:
    cr = _cr(lessonType="unit-test", metadata={"lessonType": "placement"})
    assert lesson_from_documents(cr, _resource(lessonType="test-out")).lesson_type == "test-out"


def test_lesson_type_component_resource_metadata_second() -> None:
    cr = _cr(lessonType="unit-test", metadata={"lessonType": "placement"})
    resource = _resource()
    del resource["metadata"]["lessonType"]
    assert lesson_from_documents(cr, resource).lesson_type == "placement"


def test_lesson_type_component_resource_field_last() -> None:
    resource = _resource()
    del resource["metadata"]["lessonType"]
    assert lesson_from_documents(_cr(lessonType="unit-test"), resource).lesson_type == "unit-test"


@pytest.mark.parametrize("absent", [None, "", "  ", 5, ["test-out"], {"x": 1}])
def test_lesson_type_blank_or_wrong_type_falls_through(absent: object) -> None:
    cr = _cr(lessonType="unit-test", metadata={"lessonType": absent})
    resource = _resource(lessonType=absent)
    assert lesson_type_of(cr, resource) == "unit-test"


def test_lesson_type_from_component_resource_when_resource_missing() -> None:
    cr = _cr(metadata={"lessonType": "placement"})
    lesson = lesson_from_documents(cr, None)
    assert lesson.lesson_type == "placement"
    assert lesson.resource_id == "res-1"  # from the reference when the Resource is unknown
    assert lesson.tool_provider is None


def test_lesson_type_none_anywhere() -> None:
    resource = _resource()
    del resource["metadata"]["lessonType"]
    assert lesson_from_documents(_cr(), resource).lesson_type is None


def test_lesson_type_kept_raw_for_the_assign_rule() -> None:
    assert lesson_from_documents(_cr(), _resource(lessonType=" quiz ")).lesson_type == "quiz"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Edulastic", "edulastic"),
        (" EDULASTIC ", "edulastic"),
        ("Mastery-Track", "mastery-track"),
        ("khan-academy", "khan-academy"),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_tool_provider_is_lowercased_and_stripped(raw: object, expected: str | None) -> None:
    assert lesson_from_documents(_cr(), _resource(toolProvider=raw)).tool_provider == expected


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"grades": ["5"]}, "5"),
        ({"grades": ["05", "6"]}, "5"),
        ({"grades": [5]}, "5"),
        ({"grades": ["KG"]}, "0"),
        ({"grades": None, "grade": "6"}, "6"),
        ({"grades": [], "grade": 6}, "6"),
        ({"grades": "5", "grade": "7"}, "7"),  # a string is not a list of grades
        ({"grades": ["nonsense"], "grade": "8"}, "8"),
        ({"grades": None, "grade": "5.0"}, "5"),
        ({"grades": None, "grade": None}, None),
        ({"grades": ["14"]}, None),
    ],
)
def test_lesson_grade_forms(metadata: dict[str, Any], expected: str | None) -> None:
    resource = _resource()
    resource["metadata"].pop("grades")
    resource["metadata"].update(metadata)
    assert lesson_from_documents(_cr(), resource).grade == expected


@pytest.mark.parametrize(
    ("xp", "expected"),
    [
        (100, 100.0),
        (12.5, 12.5),
        ("30", 30.0),
        ("abc", 0.0),
        (None, 0.0),
        ([1], 0.0),
        (True, 0.0),
        ("nan", 0.0),
        (-5, 0.0),
    ],
)
def test_lesson_xp(xp: object, expected: float) -> None:
    assert lesson_from_documents(_cr(), _resource(xp=xp)).xp == expected


def test_lesson_xp_absent_is_zero() -> None:
    resource = _resource()
    del resource["metadata"]["xp"]
    assert lesson_from_documents(_cr(), resource).xp == 0.0


def test_lesson_title_falls_back_to_resource_title() -> None:
    assert lesson_from_documents(_cr(title=""), _resource()).title == "Resource title"
    cr = _cr()
    del cr["title"]
    assert lesson_from_documents(cr, {"sourcedId": "r"}).title == ""


def test_lesson_course_id_on_fail_absent() -> None:
    assert lesson_from_documents(_cr(), _resource()).course_id_on_fail is None
    assert lesson_from_documents(_cr(), _resource(courseIdOnFail="")).course_id_on_fail is None


@pytest.mark.parametrize(
    ("cr", "resource"),
    [
        ({}, None),
        (_cr(metadata="placement"), {"metadata": None}),
        (_cr(metadata=[1]), {"metadata": "x"}),
        (_cr(resource="res-1"), {"metadata": {"grades": [None], "grade": {}, "xp": {}, "url": 3}}),
        (None, "resource"),
    ],
)
def test_lesson_odd_shapes_never_raise(cr: Any, resource: Any) -> None:
    lesson = lesson_from_documents(cr, resource)
    assert lesson.tool_provider is None
    assert lesson.grade is None
    assert lesson.xp == 0.0
