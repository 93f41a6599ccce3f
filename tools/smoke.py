"""Smoke test of a running stack, deployed or local (`make run`): auth and the API's error contract.

    make smoke API_URL=https://....execute-api.<region>.amazonaws.com/ TOKEN_URL=https://.../oauth2/token \\
        CLIENT_ID=... CLIENT_SECRET=... [SMOKE_STUDENT=... SMOKE_LESSON=...]

(or the same variables in the environment of `python -m tools.smoke`). The checks:

- a client-credentials token is issued (HTTP Basic, form `grant_type=client_credentials`);
- a request without a token is refused with 401;
- getAssessmentProgress for an unknown student answers 404 with the IMS body (`unknownobject`);
- importExternalTestAssignmentResults without `lesson` answers 400 with the IMS body;
- with SMOKE_STUDENT and SMOKE_LESSON: getAssessmentProgress answers 200 with the PowerPath fields.

Every request to the API is a read that changes nothing (the import is refused before it looks
anything up), so it is safe against production. One line per check; exit status 0 when all
passed, 1 when one failed, 2 when the settings are incomplete. The client secret and the token
never appear in the output.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

PROGRESS = "/powerpath/getAssessmentProgress"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
REQUIRED_SETTINGS = ("API_URL", "TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET")
LESSON_TYPES = {"test-out", "placement", "unit-test"}
TOOL_PROVIDERS = {"edulastic", "mastery-track"}
# getAssessmentProgress fields the contract marks required.
PROGRESS_FIELDS = (
    "lessonType",
    "finalized",
    "questions",
    "toolProvider",
    "attempt",
    "xp",
    "multiplier",
    "accuracy",
    "correctQuestions",
    "totalQuestions",
)
EXCERPT_CHARS = 200


class SettingsError(ValueError):
    """The smoke test cannot run: settings are missing."""


class CheckFailed(Exception):
    """A check saw a wrong answer; the message says what it saw."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    student: str | None = None
    lesson: str | None = None
    timeout_seconds: float = 15.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], timeout_seconds: float = 15.0) -> Settings:
        missing = [name for name in REQUIRED_SETTINGS if not env.get(name)]
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        return cls(
            api_url=env["API_URL"].rstrip("/"),
            token_url=env["TOKEN_URL"],
            client_id=env["CLIENT_ID"],
            client_secret=env["CLIENT_SECRET"],
            student=env.get("SMOKE_STUDENT") or None,
            lesson=env.get("SMOKE_LESSON") or None,
            timeout_seconds=timeout_seconds,
        )


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str

    def line(self) -> str:
        return f"{self.status} {self.name}: {self.detail}"


def _excerpt(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")


def _json_object(response: requests.Response) -> dict[str, Any]:
    seen = f"{response.status_code} with the body {_excerpt(response)!r}"
    try:
        body = response.json()
    except ValueError:
        raise CheckFailed(f"{seen}, not JSON") from None
    if not isinstance(body, dict):
        raise CheckFailed(f"{seen}, not a JSON object")
    return body


def expect_ims_error(response: requests.Response, status: int, minor: str) -> str:
    """Pass when the answer is `status` with the IMS error body carrying the `minor` code."""
    if response.status_code != status:
        raise CheckFailed(f"expected {status}, got {response.status_code}: {_excerpt(response)}")
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        raise CheckFailed(f"{status} with content type {response.headers.get('Content-Type')!r}")
    body = _json_object(response)
    if body.get("imsx_codeMajor") != "failure":
        raise CheckFailed(f"{status} without imsx_codeMajor 'failure': {_excerpt(response)}")
    fields = (body.get("imsx_CodeMinor") or {}).get("imsx_codeMinorField") or []
    minors = [f.get("imsx_codeMinorFieldValue") for f in fields if isinstance(f, dict)]
    if minor not in minors:
        raise CheckFailed(f"{status} with minor codes {minors}, expected {minor!r}")
    return f"{status} {minor}: {body.get('imsx_description', '')}"


def expect_progress(response: requests.Response) -> str:
    """Pass when the answer is 200 with the getAssessmentProgress fields of the contract."""
    if response.status_code != 200:
        raise CheckFailed(f"expected 200, got {response.status_code}: {_excerpt(response)}")
    body = _json_object(response)
    missing = [name for name in PROGRESS_FIELDS if name not in body]
    if missing:
        raise CheckFailed(f"200 without {', '.join(missing)}")
    attempt = body["attempt"]
    problems = []
    if not isinstance(body["lessonType"], str) or body["lessonType"] not in LESSON_TYPES:
        problems.append(f"lessonType {body['lessonType']!r}")
    if not isinstance(body["toolProvider"], str) or body["toolProvider"] not in TOOL_PROVIDERS:
        problems.append(f"toolProvider {body['toolProvider']!r}")
    if not isinstance(body["finalized"], bool):
        problems.append(f"finalized {body['finalized']!r}")
    if not isinstance(body["questions"], list):
        problems.append("questions is not a list")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        problems.append(f"attempt {attempt!r}")
    if problems:
        raise CheckFailed("200 with " + ", ".join(problems))
    return (
        f"200 {body['toolProvider']} {body['lessonType']}, attempt {attempt}, "
        f"finalized {str(body['finalized']).lower()}, {len(body['questions'])} questions"
    )


class Smoke:
    """The checks, run in order against one stack."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.token: str | None = None
        # A student id no roster holds (a fresh one each run).
        self.unknown_student = f"smoke-unknown-{uuid.uuid4().hex[:12]}"

    def checks(self) -> list[tuple[str, Callable[[], str] | None, str]]:
        """(name, check or None when skipped, why skipped)."""
        known = self.check_known_student_progress if self.settings.student and self.settings.lesson else None
        return [
            ("token", self.check_token, ""),
            ("missing token", self.check_missing_token_is_refused, ""),
            ("unknown student", self.check_unknown_student_is_404, ""),
            ("missing parameter", self.check_missing_parameter_is_400, ""),
            ("known student progress", known, "SMOKE_STUDENT and SMOKE_LESSON not set"),
        ]

    def run(self) -> list[Outcome]:
        outcomes = []
        for name, check, why_skipped in self.checks():
            if check is None:
                outcomes.append(Outcome(name, "SKIP", why_skipped))
                continue
            try:
                outcomes.append(Outcome(name, "PASS", check()))
            except CheckFailed as failure:
                outcomes.append(Outcome(name, "FAIL", str(failure)))
            except requests.RequestException as error:
                outcomes.append(Outcome(name, "FAIL", f"no answer: {type(error).__name__}: {error}"))
        return [Outcome(o.name, o.status, self.redact(o.detail)) for o in outcomes]

    def redact(self, text: str) -> str:
        for secret in (self.settings.client_secret, self.token):
            if secret:
                text = text.replace(secret, "***")
        return text

    # --- requests ---

    def _get(self, path: str, params: Mapping[str, str], *, authorized: bool = True) -> requests.Response:
        headers = {"Accept": "application/json"}
        if authorized:
            if self.token is None:
                raise CheckFailed("no token (the token check failed)")
            headers["Authorization"] = f"Bearer {self.token}"
        return self.session.get(
            self.settings.api_url + path,
            params=params,
            headers=headers,
            timeout=self.settings.timeout_seconds,
            allow_redirects=False,
        )

    # --- checks ---

    def check_token(self) -> str:
        response = self.session.post(
            self.settings.token_url,
            auth=(self.settings.client_id, self.settings.client_secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
            timeout=self.settings.timeout_seconds,
            # A redirect would carry the client's credentials somewhere else.
            allow_redirects=False,
        )
        if response.status_code != 200:
            raise CheckFailed(f"token endpoint answered {response.status_code}: {_excerpt(response)}")
        body = _json_object(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise CheckFailed(f"token answer without access_token (fields: {sorted(body)})")
        if str(body.get("token_type", "")).lower() != "bearer":
            raise CheckFailed(f"token_type {body.get('token_type')!r}, expected Bearer")
        self.token = token
        scope = f", scope {body['scope']}" if body.get("scope") else ""
        return f"issued to {self.settings.client_id} (expires in {body.get('expires_in')} s{scope})"

    def check_missing_token_is_refused(self) -> str:
        params = {"student": self.unknown_student, "lesson": self.settings.lesson or "smoke-lesson"}
        response = self._get(PROGRESS, params, authorized=False)
        if response.status_code != 401:
            raise CheckFailed(f"expected 401, got {response.status_code}: {_excerpt(response)}")
        return "401 without a bearer token"

    def check_unknown_student_is_404(self) -> str:
        params = {"student": self.unknown_student, "lesson": self.settings.lesson or "smoke-lesson"}
        return expect_ims_error(self._get(PROGRESS, params), 404, "unknownobject")

    def check_missing_parameter_is_400(self) -> str:
        # Without `lesson` the request is refused before anything is looked up or imported.
        return expect_ims_error(self._get(IMPORT, {"student": self.unknown_student}), 400, "invaliddata")

    def check_known_student_progress(self) -> str:
        assert self.settings.student and self.settings.lesson
        params = {"student": self.settings.student, "lesson": self.settings.lesson}
        return expect_progress(self._get(PROGRESS, params))


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.smoke",
        description="Read-only smoke test of a stack. Settings from the environment: "
        "API_URL, TOKEN_URL, CLIENT_ID, CLIENT_SECRET, optional SMOKE_STUDENT and SMOKE_LESSON.",
    )
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request (default 15)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ if env is None else env, timeout_seconds=args.timeout)
    except SettingsError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return 2
    print(f"smoke test of {settings.api_url}", flush=True)
    outcomes = Smoke(settings).run()
    for outcome in outcomes:
        print(outcome.line(), flush=True)
    failed = [o.name for o in outcomes if o.status == "FAIL"]
    print(f"smoke: {len(failed)} of {len(outcomes)} checks failed" if failed else "smoke: OK", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
