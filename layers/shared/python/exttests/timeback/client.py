"""TimeBack platform client: live roster reads, subject tracks and EduBridge enrollments.

The calls and shapes are those of spec/timeback-platform.md, on the providers' HTTP core
(timeouts, retries, time budget, breaker, no redirects) with OAuth2 client credentials.
Reads answer the unwrapped object, or None when it does not exist (404, or `tobedeleted`).
Errors are the providers' ones, named "timeback": a 403 means the client lacks a scope, a
configuration error (ProviderUnavailable, never retried); another 4xx on enroll is permanent
(ProviderRejected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from exttests.errors import ProviderRejected, ProviderUnavailable
from exttests.providers.answers import malformed, parse_json
from exttests.providers.auth import AuthenticatedClient, ClientCredentials
from exttests.providers.http import ID, HttpClient, HttpSettings, Timing, create_or_find

NAME = "timeback"
_ROSTERING = "/ims/oneroster/rostering/v1p2"
_DELETED = "tobedeleted"


@dataclass(frozen=True, kw_only=True)
class TimebackConfig:
    api_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    http: HttpSettings = field(default_factory=HttpSettings)


class TimebackClient:
    def __init__(self, config: TimebackConfig, timing: Timing | None = None) -> None:
        credentials = ClientCredentials(
            NAME, config.token_url, config.client_id, config.client_secret, config.http, timing
        )
        self._api = AuthenticatedClient(HttpClient(NAME, config.api_url, config.http, timing), credentials)

    # --- reads -------------------------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self._read(f"{_ROSTERING}/users/{ID}", user_id, "user", "reading users")

    def component_resource(self, component_resource_id: str) -> dict[str, Any] | None:
        return self._read(
            f"{_ROSTERING}/courses/component-resources/{ID}",
            component_resource_id,
            "componentResource",
            "reading lessons",
        )

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        return self._read(
            f"/ims/oneroster/resources/v1p2/resources/{ID}", resource_id, "resource", "reading resources"
        )

    def course(self, course_id: str) -> dict[str, Any] | None:
        return self._read(f"{_ROSTERING}/courses/{ID}", course_id, "course", "reading courses")

    def subject_tracks(self) -> list[dict[str, Any]]:
        response = self._request("GET", "/edubridge/subject-track/", scope_for="reading subject tracks")
        return _objects(parse_json(NAME, response), "subjectTrack")

    # --- enrollments -------------------------------------------------------------------

    def enrollments(self, user_id: str) -> list[dict[str, Any]]:
        """The user's enrollments; none for a user the platform does not know."""
        response = self._request(
            "GET",
            f"/edubridge/enrollments/user/{ID}",
            ids=(user_id,),
            passthrough=(404,),
            scope_for="listing enrollments",
        )
        if response.status_code == 404:
            return []
        return _objects(parse_json(NAME, response), "data")

    def enroll(
        self,
        user_id: str,
        course_id: str,
        *,
        school_id: str | None,
        sourced_id: str,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        """Enroll the user as a student and return the enrollment. Safe to repeat: an answer
        lost on the way, or "already enrolled", gives the enrollment found by listing."""
        ids = (user_id, course_id, school_id) if school_id else (user_id, course_id)
        path = "/edubridge/enrollments/enroll" + f"/{ID}" * len(ids)
        body = {"role": "student", "sourcedId": sourced_id, "metadata": metadata}

        def create() -> dict[str, Any]:
            response = self._request(
                "POST",
                path,
                ids=ids,
                json=body,
                idempotent=False,
                passthrough=(409,),
                scope_for="enrolling students",
            )
            if response.status_code == 409:
                existing = find()
                if existing is None:
                    raise ProviderRejected(NAME, "already enrolled, but the enrollment is not listed", 409)
                return existing
            enrollment = _field(parse_json(NAME, response), "data")
            if not isinstance(enrollment, dict):
                raise malformed(NAME, "no enrollment in the enroll answer")
            return enrollment

        def find() -> dict[str, Any] | None:
            return next((e for e in self.enrollments(user_id) if _course_id(e) == course_id), None)

        return create_or_find(create, find)

    # --- plumbing ----------------------------------------------------------------------

    def _read(self, path: str, object_id: str, wrapper: str, scope_for: str) -> dict[str, Any] | None:
        response = self._request("GET", path, ids=(object_id,), passthrough=(404,), scope_for=scope_for)
        if response.status_code == 404:
            return None
        found = _field(parse_json(NAME, response), wrapper)
        if not isinstance(found, dict):
            raise malformed(NAME, f"no {wrapper} object in the answer")
        return None if found.get("status") == _DELETED else found

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope_for: str,
        ids: Sequence[str] = (),
        json: Any = None,
        idempotent: bool = True,
        passthrough: tuple[int, ...] = (),
    ) -> requests.Response:
        try:
            return self._api.request(
                method, path, ids=ids, json=json, idempotent=idempotent, passthrough=passthrough
            )
        except ProviderRejected as exc:
            if exc.provider_status == 403:
                # Our client was not granted the scope: configuration, not the request's fault.
                raise ProviderUnavailable(
                    NAME, f"the client lacks the scope for {scope_for} (HTTP 403)"
                ) from None
            raise


def _field(payload: Any, key: str) -> Any:
    return payload.get(key) if isinstance(payload, dict) else None


def _objects(payload: Any, key: str) -> list[dict[str, Any]]:
    items = _field(payload, key)
    if not isinstance(items, list):
        raise malformed(NAME, f"no {key} list in the answer")
    return [item for item in items if isinstance(item, dict)]


def _course_id(enrollment: dict[str, Any]) -> Any:
    course = enrollment.get("course")
    if not isinstance(course, dict):
        return None
    return course.get("id", course.get("sourcedId"))
