"""A stateful TimeBack platform simulator speaking spec/timeback-platform.md, seeded from a roster file.

API routes live at the root (`.url` is what the service configures as TIMEBACK_API_URL), the
OAuth2 token endpoint at `.token_url` (`POST /auth/token`, client credentials by HTTP Basic or
form fields, TIMEBACK_TOKEN_URL); every API route needs `Authorization: Bearer <token>` (1 h).
Control routes live under `/_control` at the root and need no auth:

    POST /_control/roster         a roster document -> {"counts"}: replaces objects, tracks and
                                  enrollments (the seed `reset` returns to stays as it was)
    POST /_control/objects        {"kind": "user" | "org" | "course" | "resource" | "componentResource"
                                   | "subjectTrack", "object": {...}} -> {"kind", "object"}: upserts one
                                  object by sourcedId (a track by subject, grade and orgSourcedId)
    GET  /_control/state          {"enrollments": [Enrollment + "userId", "courseId"], "tokensIssued",
                                   "counts", "calls", "faults", "now"}
    POST /_control/reset          back to the seeded roster (objects, tracks, enrollments), tokensIssued 0
    expire-tokens, advance-clock, faults, and what reset also clears: see base.py

A tough peer on purpose: enrolling twice is not harmless. A second enroll with a sourcedId
already taken answers 409 with the existing enrollment in `data`; a second enroll for the same
(user, course) with another or no sourcedId creates a second record. Objects with status
`tobedeleted` are served as they are, and enrolling into them is not refused: the client must
check. Enroll without a school for a user without a primary org answers 422. OneRoster errors
are IMS bodies, EduBridge errors `{"error": ...}`, token errors OAuth2's (`400 {"error"}`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from local.simulators import common
from local.simulators.base import Simulator
from local.simulators.timeback_roster import (
    DELETED,
    Enrollment,
    Roster,
    RosterError,
    check_object,
    check_track,
    primary_org,
)

log = logging.getLogger("local.simulators.timeback")

TOKEN_TTL = timedelta(hours=1)
ONEROSTER = "/ims/oneroster"
# /_control/objects kind -> the roster list it lives in (subject tracks are keyed apart).
OBJECT_KINDS = {
    "user": "users",
    "org": "orgs",
    "course": "courses",
    "resource": "resources",
    "componentResource": "componentResources",
}
SUBJECT_TRACK_KIND = "subjectTrack"


def _ims_error(
    status: int, description: str, minor: str, headers: dict[str, str] | None = None
) -> common.HttpError:
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
            ]
        },
    }
    return common.HttpError(status, body, headers)


def _edubridge_error(status: int, message: str, data: Any = None) -> common.HttpError:
    body: common.JsonDict = {"error": message}
    if data is not None:
        body["data"] = data
    return common.HttpError(status, body)


def _bad_enroll(message: str) -> common.HttpError:
    return _edubridge_error(400, message)


def _oauth_error(code: str) -> common.HttpError:
    return common.HttpError(400, {"error": code}, {"Cache-Control": "no-store"})


def _read_roster_file(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise RosterError(f"{path}: cannot read a JSON roster: {exc}") from exc


def _optional_text(body: common.JsonDict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _bad_enroll(f"{key} must be a non-empty string")
    return value


class TimeBackSimulator(Simulator):
    """A bound (not yet serving) simulator; call `.start()` to serve on a background thread.

    Seeded from `roster` (a document) or `roster_file` (a path), at most one; neither = empty.
    A malformed roster raises `RosterError` (a ValueError) naming the entry at fault.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str,
        client_secret: str,
        roster: dict[str, Any] | None = None,
        roster_file: str | None = None,
        clock: common.Clock | None = None,
    ) -> None:
        if roster is not None and roster_file is not None:
            raise ValueError("give roster or roster_file, not both")
        self._client_id = client_id
        self._client_secret = client_secret
        self._seed = Roster.parse(_read_roster_file(roster_file) if roster_file else roster or {})
        super().__init__("timeback", host, port, "", clock)

    def _reset_data(self) -> None:
        self._roster = self._seed.copy()
        self._tokens_issued = 0

    @property
    def token_url(self) -> str:
        return f"{self.url}/auth/token"

    def _state(self, now: datetime) -> common.JsonDict:
        return {
            "enrollments": [
                {**self._roster.enrollment_view(e), "userId": e.user_id, "courseId": e.course_id}
                for e in self._roster.enrollments
            ],
            "tokensIssued": self._tokens_issued,
            "counts": self._roster.counts(),
        }

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[common.Route]:
        a = self._authed
        rostering = f"{ONEROSTER}/rostering/v1p2"
        enroll = "/edubridge/enrollments/enroll/{userId}/{courseId}"
        return [
            common.Route("POST", "/auth/token", self._token),
            common.Route("GET", rostering + "/users/{sourcedId}", a(self._reader("users", "user"))),
            common.Route(
                "GET",
                rostering + "/courses/component-resources/{sourcedId}",
                a(self._reader("componentResources", "componentResource")),
            ),
            common.Route("GET", rostering + "/courses/{sourcedId}", a(self._reader("courses", "course"))),
            common.Route(
                "GET",
                ONEROSTER + "/resources/v1p2/resources/{sourcedId}",
                a(self._reader("resources", "resource")),
            ),
            common.Route("GET", "/edubridge/subject-track/", a(self._subject_tracks)),
            common.Route("POST", enroll, a(self._enroll)),
            common.Route("POST", enroll + "/{schoolId}", a(self._enroll)),
            common.Route("GET", "/edubridge/enrollments/user/{userId}", a(self._user_enrollments)),
            common.Route("POST", "/_control/roster", self._control_roster, False),
            common.Route("POST", "/_control/objects", self._control_objects, False),
        ]

    def _authenticate(self, request: Request) -> dict[str, str]:
        if not self._bearer_valid(request.headers.get("Authorization", "")):
            raise _ims_error(
                401,
                "missing, invalid or expired bearer token",
                "unauthorisedrequest",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return {}

    # -- OAuth2 ----------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise _oauth_error("invalid_request")
        form = request.form
        basic = request.authorization
        if basic is not None and basic.type == "basic":
            if "client_secret" in form:
                # RFC 6749 2.3: a client uses one authentication method per request.
                raise _oauth_error("invalid_request")
            client_id, secret = basic.username or "", basic.password or ""
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not (
            secrets.compare_digest(client_id.encode(), self._client_id.encode())
            and secrets.compare_digest(secret.encode(), self._client_secret.encode())
        ):
            log.info("timeback: token request with a bad client rejected")
            raise _oauth_error("invalid_client")
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise _oauth_error("invalid_request")
        if grant_type != "client_credentials":
            raise _oauth_error("unsupported_grant_type")
        with self._lock:
            token = self.tokens.issue(self.clock(), TOKEN_TTL)
            self._tokens_issued += 1
        return common.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_TTL.total_seconds()),
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- OneRoster and EduBridge reads -----------------------------------------------------

    def _reader(self, list_name: str, wrapper: str) -> common.Handler:
        def read(request: Request, sourcedId: str) -> Response:  # noqa: N803
            with self._lock:
                obj = self._roster.objects[list_name].get(sourcedId)
                if obj is None:
                    raise _ims_error(404, f"{wrapper} {sourcedId} not found", "unknownobject")
                return common.json_response({wrapper: obj})

        return read

    def _subject_tracks(self, request: Request) -> Response:
        with self._lock:
            tracks = [self._roster.track_view(key, t) for key, t in self._roster.tracks.items()]
            return common.json_response({"subjectTrack": tracks})

    def _user(self, user_id: str) -> common.JsonDict:
        user = self._roster.objects["users"].get(user_id)
        if user is None:
            raise _edubridge_error(404, f"user {user_id} not found")
        return user

    def _user_enrollments(self, request: Request, userId: str) -> Response:  # noqa: N803
        with self._lock:
            self._user(userId)
            data = [
                self._roster.enrollment_view(e)
                for e in self._roster.enrollments
                if e.user_id == userId and e.status != DELETED
            ]
            return common.json_response({"data": data})

    # -- EduBridge enroll ------------------------------------------------------------------

    def _enroll(
        self,
        request: Request,
        userId: str,  # noqa: N803
        courseId: str,  # noqa: N803
        schoolId: str | None = None,  # noqa: N803
    ) -> Response:
        body = common.read_json(request, _bad_enroll)
        sourced_id = _optional_text(body, "sourcedId")
        role = _optional_text(body, "role") or "student"
        begin, end = _optional_text(body, "beginDate"), _optional_text(body, "endDate")
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _bad_enroll("metadata must be an object")
        with self._lock:
            user = self._user(userId)
            if courseId not in self._roster.objects["courses"]:
                raise _edubridge_error(404, f"course {courseId} not found")
            school_id = schoolId or primary_org(user)
            if school_id is None:
                raise _edubridge_error(422, f"user {userId} has no primary org; name the school")
            if school_id not in self._roster.objects["orgs"]:
                raise _edubridge_error(404, f"school {school_id} not found")
            existing = self._roster.enrollment_by_id(sourced_id) if sourced_id else None
            if existing is not None:
                raise _edubridge_error(
                    409, f"enrollment {sourced_id} already exists", self._roster.enrollment_view(existing)
                )
            enrollment = Enrollment(
                id=sourced_id or str(uuid.uuid4()),
                user_id=userId,
                course_id=courseId,
                school_id=school_id,
                role=role,
                begin_date=begin or common.iso(self.clock()),
                end_date=end,
                metadata=metadata,
            )
            self._roster.enrollments.append(enrollment)
            view = self._roster.enrollment_view(enrollment)
        log.info("timeback: enrollment %s created", enrollment.id)
        return common.json_response({"data": view}, 201)

    # -- control routes --------------------------------------------------------------------

    def _control_roster(self, request: Request) -> Response:
        try:
            roster = Roster.parse(common.read_json(request, common.control_error))
        except RosterError as exc:
            raise common.control_error(str(exc)) from None
        with self._lock:
            self._roster = roster
        return common.json_response({"counts": roster.counts()})

    def _control_objects(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        kind, obj = body.get("kind"), body.get("object")
        try:
            if kind == SUBJECT_TRACK_KIND:
                key, track = check_track("object", obj)
                with self._lock:
                    self._roster.tracks[key] = track
                    return common.json_response({"kind": kind, "object": self._roster.track_view(key, track)})
            if kind in OBJECT_KINDS:
                checked = check_object("object", obj)
                with self._lock:
                    self._roster.objects[OBJECT_KINDS[str(kind)]][checked["sourcedId"]] = checked
                return common.json_response({"kind": kind, "object": checked})
        except RosterError as exc:
            raise common.control_error(str(exc)) from None
        raise common.control_error(f"kind must be one of {[*OBJECT_KINDS, SUBJECT_TRACK_KIND]}")


# The name the local stack and tests build it by; the class takes exactly the factory's arguments.
create_timeback_simulator = TimeBackSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the TimeBack platform simulator in the foreground.")
    parser.add_argument("--roster", required=True, help="roster JSON file (the project's roster format)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4003)
    parser.add_argument("--client-id", default=os.environ.get("TIMEBACK_CLIENT_ID", "local-timeback-client"))
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("TIMEBACK_CLIENT_SECRET", "local-timeback-secret"),
        help="prefer $TIMEBACK_CLIENT_SECRET: a command line is visible to other users",
    )
    args = parser.parse_args(argv)
    try:
        sim = create_timeback_simulator(
            args.host,
            args.port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            roster_file=args.roster,
        )
    except RosterError as exc:
        parser.error(str(exc))
    print(
        f"TimeBack simulator: api {sim.url}  token {sim.token_url}  "
        f"control {sim.app_url}/_control/state  client id {args.client_id}"
    )
    common.run_until_interrupted(sim.server)


if __name__ == "__main__":
    main()
