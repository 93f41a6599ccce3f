"""The roster read from the live TimeBack platform, through a cache in the service's table.

Students and lessons are cached under their own keys, which the store reads in the batch it
makes anyway (`Context.stale` names what was missing or expired), so a hot path costs no
platform call and no extra round trip. Objects the platform does not have (404, or
`tobedeleted`) are cached as absent for the same time. Documents are parsed by the same
functions the table loader's items go through, so both sources give the same answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from ..domain.models import Student
from ..domain.roster import lesson_from_documents, student_from_user, track_key
from ..errors import ProviderRejected
from ..observability import logger
from ..ports import CachedDocument, Context, Store

STUDENT, LESSON, TRACKS = "student", "lesson", "tracks"


# Deliberately alike: the signatures repeat `exttests.timeback.client.TimebackClient`'s, which
# implements this port (the `duplicates` tool pairs `enroll` with the client's).
class PlatformClient(Protocol):
    """The TimeBack calls this adapter makes (exttests.timeback.client implements them)."""

    def user(self, user_id: str) -> dict[str, Any] | None: ...

    def component_resource(self, component_resource_id: str) -> dict[str, Any] | None: ...

    def resource(self, resource_id: str) -> dict[str, Any] | None: ...

    def course(self, course_id: str) -> dict[str, Any] | None: ...

    def subject_tracks(self) -> list[dict[str, Any]]: ...

    def enroll(
        self,
        user_id: str,
        course_id: str,
        *,
        school_id: str | None,
        sourced_id: str,
        metadata: dict[str, Any],
    ) -> dict[str, Any]: ...

    def enrollments(self, user_id: str) -> list[dict[str, Any]]: ...


def lesson_document(component_resource: dict[str, Any], resource: dict[str, Any] | None) -> dict[str, Any]:
    """The cached shape of a lesson: as the table loader stores one."""
    return {"componentResource": component_resource, "resource": resource}


class LiveRoster:
    def __init__(
        self,
        client: PlatformClient,
        store: Store,
        cache_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.cache_seconds = cache_seconds
        self.clock = clock

    def _until(self) -> float:
        return self.clock() + self.cache_seconds

    def refresh(self, ctx: Context, student_id: str, lesson_id: str) -> Context:
        if not ctx.stale:
            return ctx
        fresh: list[CachedDocument] = []
        student, lesson = ctx.student, ctx.lesson
        if STUDENT in ctx.stale:
            user = self.client.user(student_id)
            fresh.append(CachedDocument(STUDENT, student_id, user, self._until()))
            student = student_from_user(user) if user is not None else None
        if LESSON in ctx.stale:
            document = self._lesson_document(lesson_id)
            fresh.append(CachedDocument(LESSON, lesson_id, document, self._until()))
            lesson = (
                lesson_from_documents(document["componentResource"], document["resource"])
                if document
                else None
            )
        self.store.write_cache(fresh)
        return replace(ctx, student=student, lesson=lesson, stale=frozenset())

    def _lesson_document(self, lesson_id: str) -> dict[str, Any] | None:
        component_resource = self.client.component_resource(lesson_id)
        if component_resource is None:
            return None
        reference = component_resource.get("resource")
        resource_id = reference.get("sourcedId") if isinstance(reference, dict) else None
        resource = self.client.resource(resource_id) if isinstance(resource_id, str) and resource_id else None
        return lesson_document(component_resource, resource)

    def track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        index = self._tracks()
        wanted = track_key(subject, grade, org_id)
        if wanted is None:
            return None
        subject_key, grade_key, org_key = wanted
        if org_key is not None and (found := index.get((subject_key, grade_key, org_key))):
            return found
        return index.get((subject_key, grade_key, None))

    def _tracks(self) -> dict[tuple[str, str, str | None], str]:
        cached = self.store.read_cache(TRACKS, "all")
        if cached is not None and cached.fresh_until > self.clock() and isinstance(cached.doc, list):
            tracks = cached.doc
        else:
            tracks = self.client.subject_tracks()
            self.store.write_cache([CachedDocument(TRACKS, "all", tracks, self._until())])
        return track_index(tracks)


def track_index(tracks: list[Any]) -> dict[tuple[str, str, str | None], str]:
    """Platform Subject Tracks by (subject, grade, org); the first of duplicates wins."""
    index: dict[tuple[str, str, str | None], str] = {}
    for track in tracks:
        if not isinstance(track, dict):
            continue
        course = track.get("course")
        org = track.get("org")
        course_id = course.get("sourcedId") if isinstance(course, dict) else None
        key = track_key(
            track.get("subject"), track.get("grade"), org.get("sourcedId") if isinstance(org, dict) else None
        )
        if key is None or not isinstance(course_id, str) or not course_id:
            logger.warning(
                "subject track skipped: no subject, grade or course", extra={"track": track.get("id")}
            )
            continue
        index.setdefault(key, course_id)
    return index


class EduBridgeEnroller:
    """Enrollments on the platform through EduBridge; school = the student's primary org."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    def enroll(
        self, student: Student, course_id: str, sourced_id: str, *, look_first: bool, metadata: dict[str, Any]
    ) -> str:
        if look_first:
            existing = _enrollment_in(self.client.enrollments(student.id), course_id)
            if existing is not None:
                return existing
        if self.client.course(course_id) is None:
            # Course existence comes from the platform, as the table's comes from the roster.
            raise ProviderRejected("timeback", f"course '{course_id}' does not exist", 404)
        made = self.client.enroll(
            student.id, course_id, school_id=student.primary_org, sourced_id=sourced_id, metadata=metadata
        )
        return str(made.get("id") or made.get("sourcedId") or sourced_id)


def _enrollment_in(enrollments: list[dict[str, Any]], course_id: str) -> str | None:
    for enrollment in enrollments:
        course = enrollment.get("course") if isinstance(enrollment, dict) else None
        if isinstance(course, dict) and course.get("id") == course_id:
            return str(enrollment.get("id") or enrollment.get("sourcedId") or "")
    return None
