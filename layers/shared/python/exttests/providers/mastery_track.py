"""MasteryTrack (AlphaTest) adapter over its partner API.

There is no results-read call: MasteryTrack writes results back into the OneRoster
AssessmentResult whose ids are passed at assign time, so this adapter only assigns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from exttests.domain.models import ToolProvider
from exttests.errors import ProviderRejected
from exttests.providers.answers import malformed, parse_json
from exttests.providers.auth import AuthenticatedClient, TokenStrategy, post_credentials
from exttests.providers.base import (
    Assignment,
    AssignmentRef,
    AssignRequest,
    ProviderTraits,
    ResultsDelivery,
    TestResults,
)
from exttests.providers.http import HttpClient, HttpSettings, Timing, create_or_find
from exttests.providers.tokens import Token

NAME = ToolProvider.MASTERY_TRACK.value
_ASSIGN = "/delivery/assignments/assign"


@dataclass(frozen=True, kw_only=True)
class MasteryTrackConfig:
    base_url: str  # includes the stage, e.g. .../prod
    api_key: str = field(repr=False)
    email: str  # the registered API user
    # The JWT lives 1 h; renewing at 50 min keeps a slow call from crossing expiry.
    token_max_age: float = 50 * 60
    http: HttpSettings = field(default_factory=HttpSettings)


class _ApiKeyAuthorizer(TokenStrategy):
    """`POST /authorizer` with the API key gives a JWT, sent as `X-Auth-Token: Bearer <jwt>`."""

    def __init__(self, config: MasteryTrackConfig) -> None:
        self._config = config

    @property
    def cache_key(self) -> str:
        return f"{self._config.base_url.rstrip('/')}|{self._config.email}"

    def obtain(self, api: HttpClient) -> Token:
        payload = post_credentials(
            api,
            "/authorizer",
            refused="the API key was refused",
            json={"email": self._config.email},
            headers={"x-api-key": self._config.api_key},
        )
        jwt = _get(payload, "jwt")
        if jwt is None:
            jwt = _get(_get(payload, "data"), "jwt")
        if not isinstance(jwt, str) or not jwt:
            raise malformed(NAME, "no jwt in the authorizer answer")
        return Token(jwt, expires_at=api.timing.clock() + self._config.token_max_age)

    def headers(self, token: str) -> dict[str, str]:
        return {"X-Auth-Token": f"Bearer {token}"}


@dataclass(frozen=True)
class _ExistingAssignment:
    id: str
    test_url: str | None
    expires_at: str | None


class MasteryTrackProvider:
    traits = ProviderTraits(
        ToolProvider.MASTERY_TRACK, ResultsDelivery.WRITE_BACK, service_sets_password=False
    )

    def __init__(self, config: MasteryTrackConfig, timing: Timing | None = None) -> None:
        self.config = config
        http = HttpClient(NAME, config.base_url, config.http, timing, secrets=(config.api_key,))
        self._api = AuthenticatedClient(http, _ApiKeyAuthorizer(config))

    def ensure_available(self) -> None:
        self._api.ensure_available()

    def fetch_results(self, assignment: AssignmentRef) -> TestResults:
        raise ProviderRejected(NAME, "results arrive by write-back; there is nothing to fetch")

    def assign(self, request: AssignRequest) -> Assignment:
        body: dict[str, Any] = {"student_email": request.student_email}
        if request.requested_test_id:
            body["timeback_id"] = request.requested_test_id
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
                raise ProviderRejected(NAME, self._api.reason(response), 409)
            if existing.id not in request.exclude_assignment_ids and existing.test_url:
                return Assignment(
                    assignment_id=existing.id,
                    class_id="",
                    test_id=request.requested_test_id or existing.id,
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
        def create() -> requests.Response:
            return self._api.request("POST", _ASSIGN, json=body, idempotent=False, passthrough=(409,))

        # MasteryTrack refuses duplicates with 409 ASSIGNMENT_EXISTS, so asking again is the
        # lookup: it either creates the assignment or names the one that was made.
        return create_or_find(create, lambda: None)

    def _created(self, request: AssignRequest, payload: Any) -> Assignment:
        data = _get(payload, "data")
        raw = _get(data, "assignment")
        if raw is None:
            raw = data if isinstance(data, dict) and "id" in data else _get(payload, "assignment")
        assignment_id = _id_of(_get(raw, "id"))
        test_url = _get(raw, "test_url")
        if assignment_id is None or not isinstance(test_url, str) or not test_url:
            raise malformed(NAME, "no assignment id or test_url in the assign answer")
        expires_at = _get(raw, "expires_at")
        return Assignment(
            assignment_id=assignment_id,
            class_id="",
            test_id=request.requested_test_id or assignment_id,
            test_url=test_url,
            provider_user_id=None,
            created_student=False,
            expires_at=expires_at if isinstance(expires_at, str) else None,
        )

    def invalidate(self, student_email: str, assignment_id: str) -> None:
        self._api.request(
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
        response = self._api.request("GET", "/authoring/inventory/search", params=params)
        payload = parse_json(NAME, response)
        data = payload if isinstance(payload, list) else _get(payload, "data")
        if not isinstance(data, list):
            raise malformed(NAME, "no data list in the inventory answer")
        return [entry for entry in data if isinstance(entry, dict)]


def _get(payload: Any, key: str) -> Any:
    return payload.get(key) if isinstance(payload, dict) else None


def _id_of(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _existing(payload: Any) -> _ExistingAssignment | None:
    data = _get(payload, "data")
    raw = _get(data, "existing_assignment")
    if raw is None:
        raw = _get(payload, "existing_assignment")
    if isinstance(raw, dict):
        assignment_id = _id_of(raw.get("id"))
        if assignment_id is None:
            raise malformed(NAME, "the existing assignment has no id")
        test_url = raw.get("test_url")
        expires_at = raw.get("expires_at")
        return _ExistingAssignment(
            assignment_id,
            test_url if isinstance(test_url, str) and test_url else None,
            expires_at if isinstance(expires_at, str) else None,
        )
    assignment_id = _id_of(raw)
    return _ExistingAssignment(assignment_id, None, None) if assignment_id else None
