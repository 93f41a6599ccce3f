"""The TimeBack simulator's data: a roster document checked and held as the platform serves it.

The document is the project's roster file (README "Roster file"): the OneRoster lists `users`,
`orgs`, `courses`, `courseComponents`, `resources`, `componentResources`; `subjectTracks`
entries `{subject, grade, courseId, orgSourcedId?}`; and, read only here, `enrollments`:

    {"sourcedId", "user": {"sourcedId"}, "course": {"sourcedId"}, "school"?: {"sourcedId"},
     "role"?: "student", "status"?, "beginDate"?, "endDate"?, "metadata"?: {...}}

(the school defaults to the user's primary org, as on enroll). Unlike the service's loader,
objects with `status: "tobedeleted"` are kept: the platform serves them as they are and the
client must treat them as missing. Other top-level keys are ignored, as the loader does.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.simulators.common import JsonDict, is_int

TrackKey = tuple[str, str, str | None]  # (subject, grade, org sourcedId or None for a global track)

OBJECT_LISTS = ("users", "orgs", "courses", "courseComponents", "resources", "componentResources")
SUBJECT_TRACKS = "subjectTracks"
ENROLLMENTS = "enrollments"
DELETED = "tobedeleted"


class RosterError(ValueError):
    """The document is malformed; the message names the list and index at fault."""


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _ref(value: object) -> str | None:
    """The sourcedId of a OneRoster reference `{"sourcedId": ...}`."""
    return _text(value.get("sourcedId")) if isinstance(value, Mapping) else None


def primary_org(user: Mapping[str, Any]) -> str | None:
    """`primaryOrg`, else the org of the `primary` role (external-tests.md's rule)."""
    org = _ref(user.get("primaryOrg"))
    if org is not None:
        return org
    roles = user.get("roles")
    for role in roles if isinstance(roles, list) else []:
        if isinstance(role, Mapping) and role.get("roleType") == "primary" and _ref(role.get("org")):
            return _ref(role.get("org"))
    return None


def check_object(where: str, obj: object) -> JsonDict:
    """A copy of a OneRoster object, which must carry a non-empty string sourcedId."""
    if not isinstance(obj, dict):
        raise RosterError(f"{where}: must be an object, got {type(obj).__name__}")
    if _text(obj.get("sourcedId")) is None:
        raise RosterError(f"{where}: sourcedId must be a non-empty string")
    return copy.deepcopy(obj)


def check_track(where: str, obj: object) -> tuple[TrackKey, JsonDict]:
    """A roster subject track and its key; one course per (subject, grade, org)."""
    if not isinstance(obj, dict):
        raise RosterError(f"{where}: must be an object, got {type(obj).__name__}")
    subject, course_id = _text(obj.get("subject")), _text(obj.get("courseId"))
    grade = obj.get("grade")
    grade_text = str(grade) if is_int(grade) else _text(grade)
    org = obj.get("orgSourcedId")
    if subject is None or grade_text is None or course_id is None:
        raise RosterError(f"{where}: subject, grade and courseId are required")
    if org is not None and _text(org) is None:
        raise RosterError(f"{where}: orgSourcedId must be a non-empty string or absent")
    return (subject, grade_text, _text(org)), copy.deepcopy(obj)


@dataclass
class Enrollment:
    id: str
    user_id: str
    course_id: str
    school_id: str
    role: str
    begin_date: str | None
    end_date: str | None
    metadata: JsonDict
    status: str = "active"


@dataclass
class Roster:
    objects: dict[str, dict[str, JsonDict]] = field(default_factory=lambda: {n: {} for n in OBJECT_LISTS})
    tracks: dict[TrackKey, JsonDict] = field(default_factory=dict)
    enrollments: list[Enrollment] = field(default_factory=list)

    @classmethod
    def parse(cls, doc: object) -> Roster:
        """Checks the whole document before anything is kept."""
        if not isinstance(doc, dict):
            raise RosterError(f"roster: top level must be an object, got {type(doc).__name__}")
        roster = cls()
        for name in OBJECT_LISTS:
            for where, obj in _entries(doc, name):
                checked = check_object(where, obj)
                if checked["sourcedId"] in roster.objects[name]:
                    raise RosterError(f"{where}: duplicate sourcedId {checked['sourcedId']!r}")
                roster.objects[name][checked["sourcedId"]] = checked
        for where, obj in _entries(doc, SUBJECT_TRACKS):
            key, track = check_track(where, obj)
            if key in roster.tracks:
                raise RosterError(f"{where}: duplicate subject track for the same subject, grade and org")
            roster.tracks[key] = track
        for where, obj in _entries(doc, ENROLLMENTS):
            roster._add_listed_enrollment(where, obj)
        return roster

    def copy(self) -> Roster:
        return copy.deepcopy(self)

    def counts(self) -> dict[str, int]:
        return {
            **{name: len(objs) for name, objs in self.objects.items()},
            SUBJECT_TRACKS: len(self.tracks),
            ENROLLMENTS: len(self.enrollments),
        }

    def enrollment_by_id(self, enrollment_id: str) -> Enrollment | None:
        return next((e for e in self.enrollments if e.id == enrollment_id), None)

    def _add_listed_enrollment(self, where: str, obj: object) -> None:
        checked = check_object(where, obj)
        user_id, course_id = _ref(checked.get("user")), _ref(checked.get("course"))
        if user_id not in self.objects["users"] or course_id not in self.objects["courses"]:
            raise RosterError(f"{where}: user and course must name a user and a course of the roster")
        school_id = _ref(checked.get("school")) or primary_org(self.objects["users"][user_id])
        if school_id not in self.objects["orgs"]:
            raise RosterError(f"{where}: the school (given, or the user's primary org) must be an org")
        if self.enrollment_by_id(checked["sourcedId"]) is not None:
            raise RosterError(f"{where}: duplicate sourcedId {checked['sourcedId']!r}")
        metadata = checked.get("metadata")
        self.enrollments.append(
            Enrollment(
                id=checked["sourcedId"],
                user_id=user_id,
                course_id=course_id,
                school_id=school_id,
                role=_text(checked.get("role")) or "student",
                begin_date=_text(checked.get("beginDate")),
                end_date=_text(checked.get("endDate")),
                metadata=metadata if isinstance(metadata, dict) else {},
                status=_text(checked.get("status")) or "active",
            )
        )

    # -- the platform's shapes -------------------------------------------------------------

    def _title(self, list_name: str, key: str, sourced_id: str | None) -> Any:
        return self.objects[list_name].get(sourced_id or "", {}).get(key)

    def track_view(self, key: TrackKey, track: JsonDict) -> JsonDict:
        subject, grade, org = key
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"subject-track:{subject}|{grade}|{org or ''}")),
            "subject": subject,
            "grade": grade,
            # A track may name a course the platform does not hold: it shows without a title.
            "course": {
                "sourcedId": _text(track["courseId"]),
                "title": self._title("courses", "title", _text(track["courseId"])),
            },
            "org": {"sourcedId": org, "name": self._title("orgs", "name", org)} if org else None,
        }

    def enrollment_view(self, enrollment: Enrollment) -> JsonDict:
        course = self.objects["courses"].get(enrollment.course_id, {})
        metadata = course.get("metadata")
        return {
            "id": enrollment.id,
            "role": enrollment.role,
            "beginDate": enrollment.begin_date,
            "endDate": enrollment.end_date,
            "course": {
                "id": enrollment.course_id,
                "title": course.get("title"),
                "metadata": copy.deepcopy(metadata) if isinstance(metadata, dict) else {},
            },
            "school": {
                "id": enrollment.school_id,
                "name": self._title("orgs", "name", enrollment.school_id),
            },
            "metadata": copy.deepcopy(enrollment.metadata),
        }


def _entries(doc: Mapping[str, Any], name: str) -> list[tuple[str, Any]]:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise RosterError(f"{name}: must be a list, got {type(value).__name__}")
    return [(f"{name}[{index}]", obj) for index, obj in enumerate(value)]
