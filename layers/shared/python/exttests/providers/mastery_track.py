"""MasteryTrack (AlphaTest) adapter over its partner API.

There is no results-read call: MasteryTrack writes results back into the OneRoster
AssessmentResult whose ids are passed at assign time, so this adapter only assigns.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from exttests.errors import ProviderRejected, ProviderUnavailable
from exttests.providers.base import Assignment, AssignRequest
from exttests.providers.http import (
    Clock,
    HttpClient,
    HttpSettings,
    OutcomeUnknown,
    Rand,
    Sleep,
    malformed,
    parse_json,
    token_cache,
)

NAME = "mastery-track"
_ASSIGN = "/delivery/assignments/assign"


@dataclass(frozen=True, kw_only=True)
class MasteryTrackConfig:
    base_url: str  # includes the stage, e.g. .../prod
    api_key: str = field(repr=False)
    email: str  # the registered API user
    # The JWT lives 1 h; renewing at 50 min keeps a slow call from crossing expiry.
    token_max_age: float = 50 * 60
    http: HttpSettings = field(default_factory=HttpSettings)


@dataclass(frozen=True)
class _Existing:
    id: str
    test_url: str | None
    expires_at: str | None


class MasteryTrackProvider:
    name: str = NAME

    def __init__(
        self,
        config: MasteryTrackConfig,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        rand: Rand = random.random,
    ) -> None:
        self.config = config
        self._clock = clock
        self._cache_key = f"{config.base_url.rstrip('/')}|{config.email}"
        self._http = HttpClient(
            NAME,
            config.base_url,
            config.http,
            session=session,
            sleep=sleep,
            clock=clock,
            rand=rand,
            secrets=(config.api_key,),
        )

    # --- auth ----------------------------------------------------------------------------

    def _jwt(self) -> str:
        cached = token_cache.get(self._cache_key)
        if cached is not None and self._clock() - cached[1] < self.config.token_max_age:
            self._http.add_secret(cached[0])
            return cached[0]
        return self._authorize()

    def _authorize(self) -> str:
        try:
            response = self._http.request(
                "POST",
                "/authorizer",
                json={"email": self.config.email},
                headers={"x-api-key": self.config.api_key},
                passthrough=(401, 403),
            )
        except ProviderRejected as exc:
            # A refused API key or user is our configuration's fault, not the client's.
            raise ProviderUnavailable(NAME, f"authorization failed (HTTP {exc.provider_status})") from None
        if not 200 <= response.status_code < 300:
            raise ProviderUnavailable(NAME, f"authorization failed (HTTP {response.status_code})")
        payload = parse_json(NAME, response)
        jwt = _get(payload, "jwt")
        if jwt is None:
            jwt = _get(_get(payload, "data"), "jwt")
        if not isinstance(jwt, str) or not jwt:
            raise malformed(NAME, "authorizer answer has no jwt")
        self._http.add_secret(jwt)
        token_cache.put(self._cache_key, jwt, self._clock())
        return jwt

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        passthrough: Collection[int] = (),
    ) -> requests.Response:
        for round_ in (1, 2):
            jwt = self._jwt()
            response = self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={"X-Auth-Token": f"Bearer {jwt}"},
                idempotent=idempotent,
                passthrough=(*passthrough, 401),
            )
            if response.status_code != 401:
                return response
            response.close()
            token_cache.discard(self._cache_key, jwt)
            if round_ == 2:
                break
        raise ProviderUnavailable(NAME, "authentication failed after renewing the token")

    # --- calls ---------------------------------------------------------------------------

    def ensure_available(self) -> None:
        """Fail fast (CircuitOpen) before the caller records anything, while the circuit is open."""
        self._http.breaker.check(self._clock())

    def assign(self, request: AssignRequest) -> Assignment:
        body: dict[str, Any] = {"student_email": request.student_email}
        if request.test_id:
            body["timeback_id"] = request.test_id
        elif request.subject and request.grade_rank is not None:
            body["subject"] = request.subject
            body["grade_rank"] = request.grade_rank
        else:
            raise ProviderRejected(NAME, "either a test id or a subject and grade are needed")
        if request.line_item_sourced_id:
            body["assessment_line_item_sourced_id"] = request.line_item_sourced_id
        if request.result_sourced_id:
            body["assessment_result_sourced_id"] = request.result_sourced_id

        invalidated = False
        while True:
            response = self._post_assign(body)
            payload = parse_json(NAME, response)
            if response.status_code != 409:
                return self._created(request, payload)
            existing = _existing(payload)
            if existing is None:
                raise ProviderRejected(NAME, self._http.reason(response), 409)
            if existing.id not in request.exclude_assignment_ids and existing.test_url:
                return Assignment(
                    assignment_id=existing.id,
                    class_id="",
                    test_id=request.test_id or existing.id,
                    test_url=existing.test_url,
                    provider_user_id=None,
                    created_student=False,
                    reused=True,
                    expires_at=existing.expires_at,
                )
            if invalidated:
                raise ProviderRejected(NAME, "test already assigned to the student", 409)
            # It belongs to an earlier attempt (or came without a URL we could hand out):
            # retire it so the provider lets us assign afresh.
            self.invalidate(request.student_email, existing.id)
            invalidated = True

    def _post_assign(self, body: dict[str, Any]) -> requests.Response:
        try:
            return self._call("POST", _ASSIGN, json=body, idempotent=False, passthrough=(409,))
        except OutcomeUnknown:
            # MasteryTrack refuses duplicates with 409 ASSIGNMENT_EXISTS, so asking again is
            # the lookup: it either creates the assignment or names the one that was made.
            return self._call("POST", _ASSIGN, json=body, idempotent=False, passthrough=(409,))

    def _created(self, request: AssignRequest, payload: Any) -> Assignment:
        data = _get(payload, "data")
        raw = _get(data, "assignment")
        if raw is None:
            raw = data if isinstance(data, dict) and "id" in data else _get(payload, "assignment")
        assignment_id = _id_of(_get(raw, "id"))
        test_url = _get(raw, "test_url")
        if assignment_id is None or not isinstance(test_url, str) or not test_url:
            raise malformed(NAME, "assign answer has no assignment id or test_url")
        expires_at = _get(raw, "expires_at")
        return Assignment(
            assignment_id=assignment_id,
            class_id="",
            test_id=request.test_id or assignment_id,
            test_url=test_url,
            provider_user_id=None,
            created_student=False,
            expires_at=expires_at if isinstance(expires_at, str) else None,
        )

    def invalidate(self, student_email: str, assignment_id: str) -> None:
        self._call(
            "POST",
            "/delivery/assignments/invalidate",
            json={"student_email": student_email, "assignment_id": assignment_id},
        )

    def inventory(
        self, timeback_id: str | None = None, subject: str | None = None, grade: str | None = None
    ) -> list[dict[str, Any]]:
        params = {
            key: value
            for key, value in (("timeback_id", timeback_id), ("subject", subject), ("grade", grade))
            if value is not None
        }
        response = self._call("GET", "/authoring/inventory/search", params=params)
        payload = parse_json(NAME, response)
        data = payload if isinstance(payload, list) else _get(payload, "data")
        if not isinstance(data, list):
            raise malformed(NAME, "inventory answer has no data list")
        return [entry for entry in data if isinstance(entry, dict)]


def _get(payload: Any, key: str) -> Any:
    return payload.get(key) if isinstance(payload, dict) else None


def _id_of(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _existing(payload: Any) -> _Existing | None:
    data = _get(payload, "data")
    raw = _get(data, "existing_assignment")
    if raw is None:
        raw = _get(payload, "existing_assignment")
    if isinstance(raw, dict):
        assignment_id = _id_of(raw.get("id"))
        if assignment_id is None:
            raise malformed(NAME, "existing assignment has no id")
        test_url = raw.get("test_url")
        expires_at = raw.get("expires_at")
        return _Existing(
            assignment_id,
            test_url if isinstance(test_url, str) and test_url else None,
            expires_at if isinstance(expires_at, str) else None,
        )
    assignment_id = _id_of(raw)
    return _Existing(assignment_id, None, None) if assignment_id else None
