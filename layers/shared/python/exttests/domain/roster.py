"""OneRoster documents → domain values. Pure functions, no I/O.

Roster data comes from many exporters and is not uniformly shaped, so every reader here
is lenient: a field of the wrong type counts as absent instead of raising, and the
assign rule decides later whether what is left is usable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from exttests.domain.grades import normalize_grade
from exttests.domain.models import Lesson, Student


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    """A stripped non-empty string, else None (blank strings mean "not given" in exports)."""
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def _id_text(value: object) -> str | None:
    """Like `_text`, but also takes numbers, which some exporters emit for ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _ref_id(value: object) -> str | None:
    """The sourcedId of a OneRoster reference object `{"sourcedId": ...}`."""
    return _id_text(_mapping(value).get("sourcedId"))


def _roles(user: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    roles = user.get("roles")
    if not isinstance(roles, list):
        return []
    return [role for role in roles if isinstance(role, Mapping)]


def _is_role(value: object, wanted: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == wanted


def student_from_user(user: Mapping[str, Any]) -> Student:
    user = _mapping(user)
    roles = _roles(user)
    # OneRoster 1.1 had a single top-level `role`; older TimeBack rows still carry it.
    is_student = any(_is_role(role.get("role"), "student") for role in roles) or _is_role(
        user.get("role"), "student"
    )
    primary_org = _ref_id(user.get("primaryOrg"))
    if primary_org is None:
        primary_org = next(
            (
                org_id
                for role in roles
                if _is_role(role.get("roleType"), "primary")
                and (org_id := _ref_id(role.get("org"))) is not None
            ),
            None,
        )
    return Student(
        id=_id_text(user.get("sourcedId")) or "",
        email=_text(user.get("email")),
        given_name=_text(user.get("givenName")) or "",
        family_name=_text(user.get("familyName")) or "",
        is_student=is_student,
        primary_org=primary_org,
    )


def _first_grade(metadata: Mapping[str, Any]) -> str | None:
    grades = metadata.get("grades")
    if isinstance(grades, list) and grades:
        grade = normalize_grade(grades[0])
        if grade is not None:
            return grade
    return normalize_grade(metadata.get("grade"))


def _xp(value: object) -> float:
    if isinstance(value, bool):
        return 0.0
    try:
        xp = float(value)  # type: ignore[arg-type]  # anything unparsable lands in except
    except (TypeError, ValueError):
        return 0.0
    # XP is a reward; NaN, infinities and negative values would poison the totals.
    return xp if math.isfinite(xp) and xp >= 0 else 0.0


def lesson_type_of(component_resource: Mapping[str, Any], resource: Mapping[str, Any] | None) -> str | None:
    """Resource metadata, then ComponentResource metadata, then the ComponentResource field.

    TimeBack data carries the type in any of the three places; the first non-blank wins.
    """
    component_resource = _mapping(component_resource)
    for candidate in (
        _mapping(_mapping(resource).get("metadata")).get("lessonType"),
        _mapping(component_resource.get("metadata")).get("lessonType"),
        component_resource.get("lessonType"),
    ):
        text = _text(candidate)
        if text is not None:
            return text
    return None


def lesson_from_documents(
    component_resource: Mapping[str, Any], resource: Mapping[str, Any] | None
) -> Lesson:
    component_resource = _mapping(component_resource)
    resource_doc = _mapping(resource)
    metadata = _mapping(resource_doc.get("metadata"))
    provider = _text(metadata.get("toolProvider"))
    return Lesson(
        id=_id_text(component_resource.get("sourcedId")) or "",
        resource_id=_id_text(resource_doc.get("sourcedId")) or _ref_id(component_resource.get("resource")),
        title=_text(component_resource.get("title")) or _text(resource_doc.get("title")) or "",
        lesson_type=lesson_type_of(component_resource, resource_doc),
        tool_provider=provider.lower() if provider is not None else None,
        vendor_id=_id_text(metadata.get("vendorId")),
        subject=_text(metadata.get("subject")),
        grade=_first_grade(metadata),
        course_id_on_fail=_id_text(metadata.get("courseIdOnFail")),
        xp=_xp(metadata.get("xp")),
        url=_text(metadata.get("url")),
    )


# --- subject tracks ------------------------------------------------------------------------


def track_key(subject: object, grade: object, org_id: object) -> tuple[str, str, str | None] | None:
    """How a Subject Track is looked up: (subject, case-insensitive; grade on the OneRoster scale;
    org or None for a global track). None when the subject or grade is not usable. The table
    loader and the live platform roster both go through here, so they agree."""
    subject_text = _text(subject)
    normalized = normalize_grade(grade)
    if subject_text is None or normalized is None:
        return None
    return subject_text.lower(), normalized, _id_text(org_id)
