"""The TimeBack platform as the live roster and the enroller see it (the client's interface),
seeded from a roster document. Like the real platform it does not promise that enrolling twice
is harmless: the same sourcedId is answered with the existing enrollment (the client's reading
of a 409), any other enroll for the same (user, course) makes a second record — so tests can
count doublings. Failures are scripted per call, before or after acting."""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict, deque
from typing import Any

from exttests.errors import ProviderRejected


def _live(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None or str(obj.get("status", "")).lower() == "tobedeleted":
        return None
    return obj


class FakePlatform:
    def __init__(self, roster: dict[str, Any]) -> None:
        self._lock = threading.RLock()
        self.users = {u["sourcedId"]: u for u in roster.get("users", [])}
        self.component_resources = {c["sourcedId"]: c for c in roster.get("componentResources", [])}
        self.resources = {r["sourcedId"]: r for r in roster.get("resources", [])}
        self.courses = {c["sourcedId"]: c for c in roster.get("courses", [])}
        self.tracks = [
            {
                "id": f"track-{i}",
                "subject": t["subject"],
                "grade": t["grade"],
                "course": {"sourcedId": t["courseId"], "title": t["courseId"]},
                "org": {"sourcedId": t["orgSourcedId"], "name": t["orgSourcedId"]}
                if t.get("orgSourcedId")
                else None,
            }
            for i, t in enumerate(roster.get("subjectTracks", []))
        ]
        self.enrollment_records: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self._before: dict[str, deque[BaseException]] = defaultdict(deque)
        self._after: dict[str, deque[BaseException]] = defaultdict(deque)
        self._ids = itertools.count(1)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, call: str, error: BaseException, times: int = 1) -> None:
        self._before[call].extend([error] * times)

    def fail_after_acting(self, call: str, error: BaseException) -> None:
        self._after[call].append(error)

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self._before[name]:
            raise self._before[name].popleft()

    def _acted(self, name: str) -> None:
        if self._after[name]:
            raise self._after[name].popleft()

    def enrolled(self, user_id: str, course_id: str) -> int:
        with self._lock:
            return sum(
                1
                for e in self.enrollment_records
                if e["userId"] == user_id and e["course"]["id"] == course_id
            )

    # --- the client's interface --------------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._call("user")
            return _live(self.users.get(user_id))

    def component_resource(self, component_resource_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._call("component_resource")
            return _live(self.component_resources.get(component_resource_id))

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._call("resource")
            return _live(self.resources.get(resource_id))

    def course(self, course_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._call("course")
            return _live(self.courses.get(course_id))

    def subject_tracks(self) -> list[dict[str, Any]]:
        with self._lock:
            self._call("subject_tracks")
            return [dict(t) for t in self.tracks]

    def enroll(
        self,
        user_id: str,
        course_id: str,
        *,
        school_id: str | None,
        sourced_id: str,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        with self._lock:
            self._call("enroll")
            if _live(self.users.get(user_id)) is None or _live(self.courses.get(course_id)) is None:
                raise ProviderRejected("timeback", "user or course not found", 404)
            same = next((e for e in self.enrollment_records if e["sourcedId"] == sourced_id), None)
            if same is None:
                same = {
                    "id": f"edubridge-{next(self._ids)}",
                    "sourcedId": sourced_id,
                    "userId": user_id,
                    "role": "student",
                    "course": {"id": course_id, "title": course_id},
                    "school": {"id": school_id, "name": school_id},
                    "metadata": dict(metadata),
                }
                self.enrollment_records.append(same)
            self._acted("enroll")
            return dict(same)

    def enrollments(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._call("enrollments")
            return [dict(e) for e in self.enrollment_records if e["userId"] == user_id]
