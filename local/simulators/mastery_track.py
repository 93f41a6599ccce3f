"""A stateful MasteryTrack (AlphaTest) simulator speaking the partner API in spec/providers.md.

Provider routes live under `/{stage}` (so `.url` is what the service configures as its
base); control routes live under `/_control` at the root and need no auth:

    POST /_control/finish         {"assignmentId", "score"?, "totalQuestions", "correctQuestions",
                                   "scoreStatus"?: "fully graded", "processed"?: true, "comment"?,
                                   "questions"?: [{"id", "score", "correct", "feedback"}],
                                   "writeBack"?: true}
                                  -> {"assignment", "writeBack": {"status", "body", "attempts"} | null}
    POST /_control/inventory      {"timeback_id", "name", "subject", "grade", "grade_rank", "supported"?}
    POST /_control/advance-clock  {"seconds"}  moves the simulator clock (JWT 1 h, assignments 30 days)
    GET  /_control/state          {"assignments", "invalidations", "students", "writeBacks", "calls",
                                   "faults", "now"}
    POST /_control/reset          clears assignments, invalidations, students and write-backs; keeps
                                  the inventory
    expire-tokens, faults, and what reset also clears: see base.py

Write-back (on finish): the simulator gets a token from `token_url` (client credentials,
HTTP Basic, form `grant_type=client_credentials`) and PUTs the OneRoster AssessmentResult
to `{writeback_base_url}/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}` with
up to 3 retries on 5xx and connection errors and one token refresh on 401, as a real
writer would. Without `token_url` it PUTs without Authorization. The HTTP calls happen
outside the state lock so the service may call back into the simulator meanwhile.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from local.simulators import common
from local.simulators.base import Simulator

log = logging.getLogger("local.simulators.mastery_track")

JWT_TTL = timedelta(hours=1)
ASSIGNMENT_TTL = timedelta(days=30)
WRITEBACK_RETRIES = 3
WRITEBACK_TIMEOUT = (3.05, 20)
SCORE_STATUSES = ("exempt", "fully graded", "not submitted", "partially graded", "submitted")


def _error(status: int, code: str, message: str, details: Any = None, data: Any = None) -> common.HttpError:
    body: common.JsonDict = {"success": False, "error": message, "code": code}
    if details is not None:
        body["details"] = details
    if data is not None:
        body["data"] = data
    return common.HttpError(status, body)


def _bad_request(message: str) -> common.HttpError:
    return _error(400, "INVALID_REQUEST", message)


def _default_inventory() -> list[common.JsonDict]:
    items: list[common.JsonDict] = []
    for subject, slug in (("Math", "math"), ("Reading", "reading")):
        for grade in range(3, 9):
            items.append(
                {
                    "id": f"inv-{slug}-g{grade}",
                    "timeback_id": f"mt-{slug}-g{grade}",
                    "name": f"{subject} Grade {grade} Test-Out",
                    "subject": subject,
                    "grade": str(grade),
                    "grade_rank": grade,
                    "supported": True,
                    "question_count": 20,
                }
            )
    items.append(
        {
            "id": "inv-science-g4",
            "timeback_id": "mt-science-g4",
            "name": "Science Grade 4 Test-Out",
            "subject": "Science",
            "grade": "4",
            "grade_rank": 4,
            "supported": False,
            "question_count": 15,
        }
    )
    return items


class MasteryTrackSimulator(Simulator):
    """A bound (not yet serving) simulator; call `.start()` to serve on a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str,
        api_email: str,
        writeback_base_url: str | None,
        token_url: str | None,
        client_id: str | None,
        client_secret: str | None,
        stage: str = "prod",
        clock: common.Clock | None = None,
    ) -> None:
        self._api_key = api_key
        self._api_email = api_email.strip().lower()
        self.writeback_base_url = writeback_base_url.rstrip("/") if writeback_base_url else None
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.stage = stage.strip("/")
        self._inventory = _default_inventory()
        # The write-back token is cached like a real client would, under its own lock.
        self._wb_lock = threading.Lock()
        self._wb_token: tuple[str, float] | None = None
        self._http = requests.Session()
        super().__init__("mastery-track", host, port, f"/{self.stage}", clock)

    def _reset_data(self) -> None:
        self._assignments: dict[str, common.JsonDict] = {}
        self._invalidations: list[common.JsonDict] = []
        self._students: dict[str, common.JsonDict] = {}
        self._writebacks: list[common.JsonDict] = []

    def stop(self) -> None:
        super().stop()
        self._http.close()

    def _state(self, now: datetime) -> common.JsonDict:
        return {
            "assignments": [self._view(a, now) for a in self._assignments.values()],
            "invalidations": self._invalidations,
            "students": list(self._students.values()),
            "writeBacks": self._writebacks,
        }

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[common.Route]:
        a = self._authed
        return [
            common.Route("POST", "/authorizer", self._authorizer),
            common.Route("GET", "/authoring/inventory/search", a(self._inventory_search)),
            common.Route("POST", "/delivery/assignments/assign", a(self._assign)),
            common.Route("POST", "/delivery/assignments/invalidate", a(self._invalidate)),
            common.Route("GET", "/take/{assignmentId}", self._student_page, False),
            common.Route("POST", "/_control/finish", self._control_finish, False),
            common.Route("POST", "/_control/inventory", self._control_inventory, False),
        ]

    def _authenticate(self, request: Request) -> dict[str, str]:
        if not self._bearer_valid(request.headers.get("X-Auth-Token", "")):
            raise _error(401, "UNAUTHORIZED", "missing, invalid or expired X-Auth-Token")
        return {}

    # -- provider routes -------------------------------------------------------------------

    def _authorizer(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        key = request.headers.get("x-api-key", "")
        if not key or not secrets.compare_digest(key, self._api_key):
            log.info("mastery-track: authorizer rejected an API key")
            raise _error(401, "UNAUTHORIZED", "invalid API key")
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise _error(400, "MISSING_PARAMETER", "email is required", {"missing": ["email"]})
        if email.strip().lower() != self._api_email:
            raise _error(401, "UNAUTHORIZED", "email is not a registered API user")
        with self._lock:
            jwt = self.tokens.issue(self.clock(), JWT_TTL)
        return common.json_response({"success": True, "jwt": jwt})

    def _inventory_search(self, request: Request) -> Response:
        timeback_id = request.args.get("timeback_id", "").strip()
        subject = request.args.get("subject", "").strip().lower()
        grade = request.args.get("grade", "").strip()
        with self._lock:
            data = [
                copy.deepcopy(i)
                for i in self._inventory
                if (not timeback_id or i["timeback_id"] == timeback_id)
                and (not subject or i["subject"].lower() == subject)
                and (not grade or i["grade"] == grade or str(i["grade_rank"]) == grade)
            ]
        return common.json_response({"success": True, "data": data})

    def _find_test(self, body: common.JsonDict) -> common.JsonDict:
        timeback_id = body.get("timeback_id")
        if timeback_id:
            test = next((i for i in self._inventory if i["timeback_id"] == timeback_id), None)
        else:
            subject = str(body["subject"]).lower()
            rank = body["grade_rank"]
            test = next(
                (i for i in self._inventory if i["subject"].lower() == subject and i["grade_rank"] == rank),
                None,
            )
        if test is None:
            raise _error(404, "TEST_NOT_FOUND", "no test matches the request")
        if not test["supported"]:
            raise _error(
                422, "TEST_NOT_SUPPORTED", f"test {test['timeback_id']} is not supported for delivery"
            )
        return test

    @staticmethod
    def _active(a: common.JsonDict, now: datetime) -> bool:
        return a["status"] in ("ASSIGNED", "IN_PROGRESS") and a["_expires"] > now

    @staticmethod
    def _view(a: common.JsonDict, now: datetime) -> common.JsonDict:
        view = {k: v for k, v in a.items() if not k.startswith("_")}
        if view["status"] in ("ASSIGNED", "IN_PROGRESS") and a["_expires"] <= now:
            view["status"] = "EXPIRED"
        return view

    def _assign(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        required = ["student_email", "assessment_line_item_sourced_id", "assessment_result_sourced_id"]
        if not body.get("timeback_id"):
            required += ["subject", "grade_rank"]
        missing = [k for k in required if body.get(k) in (None, "")]
        if missing:
            raise _error(
                400, "MISSING_PARAMETER", f"missing parameter(s): {', '.join(missing)}", {"missing": missing}
            )
        if not body.get("timeback_id") and not common.is_int(body["grade_rank"]):
            raise _error(400, "INVALID_PARAMETER", "grade_rank must be an integer", {"field": "grade_rank"})
        email = str(body["student_email"]).strip().lower()
        if "@" not in email:
            raise _error(
                400, "INVALID_PARAMETER", "student_email is not an email", {"field": "student_email"}
            )
        with self._lock:
            test = self._find_test(body)
            now = self.clock()
            for existing in self._assignments.values():
                if (
                    existing["student_email"] == email
                    and existing["timeback_id"] == test["timeback_id"]
                    and self._active(existing, now)
                ):
                    raise _error(
                        409,
                        "ASSIGNMENT_EXISTS",
                        "the student already has an active assignment of this test",
                        data={"existing_assignment": self._view(existing, now)},
                    )
            self._students.setdefault(email, {"email": email, "created_at": common.iso(now)})
            assignment_id = str(uuid.uuid4())
            expires = now + ASSIGNMENT_TTL
            assignment = {
                "id": assignment_id,
                "student_email": email,
                "test_name": test["name"],
                "test_url": f"{self.app_url}/take/{assignment_id}",
                "status": "ASSIGNED",
                "expires_at": common.iso(expires),
                "created_at": common.iso(now),
                "timeback_id": test["timeback_id"],
                "subject": test["subject"],
                "grade_rank": test["grade_rank"],
                "assessment_line_item_sourced_id": str(body["assessment_line_item_sourced_id"]),
                "assessment_result_sourced_id": str(body["assessment_result_sourced_id"]),
                "_expires": expires,
            }
            self._assignments[assignment_id] = assignment
            view = self._view(assignment, now)
        log.info("mastery-track: created assignment %s", assignment_id)
        return common.json_response({"success": True, "data": {"assignment": view}}, 201)

    def _invalidate(self, request: Request) -> Response:
        body = common.read_json(request, _bad_request)
        missing = [k for k in ("student_email", "assignment_id") if not body.get(k)]
        if missing:
            raise _error(
                400, "MISSING_PARAMETER", f"missing parameter(s): {', '.join(missing)}", {"missing": missing}
            )
        email = str(body["student_email"]).strip().lower()
        with self._lock:
            if email not in self._students:
                raise _error(404, "USER_NOT_FOUND", "no such student")
            assignment = self._assignments.get(str(body["assignment_id"]))
            if assignment is None or assignment["student_email"] != email:
                raise _error(404, "ASSIGNMENT_NOT_FOUND", "no such assignment for this student")
            # Idempotent: invalidating twice, or after completion, is not an error.
            if assignment["status"] in ("ASSIGNED", "IN_PROGRESS"):
                assignment["status"] = "INVALIDATED"
            self._invalidations.append(
                {"assignment_id": assignment["id"], "student_email": email, "at": common.iso(self.clock())}
            )
        return common.json_response({"success": True})

    def _student_page(self, request: Request, assignmentId: str) -> Response:  # noqa: N803
        with self._lock:
            a = self._assignments.get(assignmentId)
            name = a["test_name"] if a else None
        text = f"MasteryTrack simulator: {name}" if name else "MasteryTrack simulator: assignment not found"
        return Response(
            f"<html><body><h1>{text}</h1></body></html>", 200 if name else 404, content_type="text/html"
        )

    # -- write-back ------------------------------------------------------------------------

    def _access_token(self, force: bool = False) -> str | None:
        if not self.token_url:
            return None
        with self._wb_lock:
            if not force and self._wb_token and self._wb_token[1] > time.monotonic():
                return self._wb_token[0]
            resp = self._http.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id or "", self._client_secret or ""),
                timeout=WRITEBACK_TIMEOUT,
            )
            if resp.status_code != 200:
                raise RuntimeError(f"token endpoint answered {resp.status_code}")
            payload = resp.json()
            token = payload.get("access_token")
            if not isinstance(token, str) or not token:
                raise RuntimeError("token endpoint answered without access_token")
            ttl = float(payload.get("expires_in", 3600))
            self._wb_token = (token, time.monotonic() + max(ttl - 60, 0))
            return token

    def _write_back(self, sourced_id: str, body: common.JsonDict) -> common.JsonDict:
        url = f"{self.writeback_base_url}/ims/oneroster/gradebook/v1p2/assessmentResults/{sourced_id}"
        attempts = retries = 0
        refreshed = force_token = False
        while True:
            attempts += 1
            try:
                token = self._access_token(force=force_token)
                force_token = False
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                resp = self._http.put(url, json=body, headers=headers, timeout=WRITEBACK_TIMEOUT)
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.info("mastery-track: write-back attempt %d failed: %s", attempts, type(exc).__name__)
                if retries < WRITEBACK_RETRIES:
                    retries += 1
                    time.sleep(min(0.2 * 2 ** (retries - 1), 2.0))
                    continue
                return {
                    "url": url,
                    "status": None,
                    "body": None,
                    "attempts": attempts,
                    "error": type(exc).__name__,
                }
            except (RuntimeError, ValueError) as exc:
                return {"url": url, "status": None, "body": None, "attempts": attempts, "error": str(exc)}
            if resp.status_code == 401 and self.token_url and not refreshed:
                # A cached token the service no longer accepts: fetch a fresh one once.
                refreshed = force_token = True
                continue
            if resp.status_code >= 500 and retries < WRITEBACK_RETRIES:
                log.info("mastery-track: write-back attempt %d answered %d", attempts, resp.status_code)
                retries += 1
                time.sleep(min(0.2 * 2 ** (retries - 1), 2.0))
                continue
            try:
                parsed: Any = resp.json()
            except ValueError:
                parsed = resp.text
            log.info("mastery-track: write-back for %s answered %d", sourced_id, resp.status_code)
            return {"url": url, "status": resp.status_code, "body": parsed, "attempts": attempts}

    # -- control routes --------------------------------------------------------------------

    def _control_finish(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        for key in ("totalQuestions", "correctQuestions"):
            value = body.get(key)
            if not common.is_int(value) or value < 0:
                raise common.control_error(f"{key} must be a non-negative integer")
        score = body.get("score")
        if score is not None and not common.is_number(score):
            raise common.control_error("score must be a number")
        score_status = body.get("scoreStatus", "fully graded")
        if not isinstance(score_status, str):
            raise common.control_error("scoreStatus must be a string")
        questions = body.get("questions")
        if questions is not None and not isinstance(questions, list):
            raise common.control_error("questions must be a list")
        write_back = bool(body.get("writeBack", True))
        if write_back and not self.writeback_base_url:
            raise common.control_error("writeBack requested but the simulator has no writeback_base_url", 409)
        with self._lock:
            assignment = self._assignments.get(str(body.get("assignmentId")))
            if assignment is None:
                raise common.control_error("unknown assignmentId", 404)
            now = self.clock()
            assignment["status"] = "COMPLETED"
            assignment["completed_at"] = common.iso(now)
            metadata: common.JsonDict = {
                "masteryTrackProcessed": bool(body.get("processed", True)),
                "totalQuestions": body["totalQuestions"],
                "correctQuestions": body["correctQuestions"],
                "testName": assignment["test_name"],
                "assignmentId": assignment["id"],
            }
            if questions is not None:
                metadata["questions"] = questions
            result: common.JsonDict = {
                "sourcedId": assignment["assessment_result_sourced_id"],
                "status": "active",
                "assessmentLineItem": {"sourcedId": assignment["assessment_line_item_sourced_id"]},
                "scoreDate": common.iso(now),
                "scoreStatus": score_status,
                "metadata": metadata,
            }
            if score is not None:
                result["score"] = score
            if isinstance(body.get("comment"), str):
                result["comment"] = body["comment"]
            payload = {"assessmentResult": result}
            view = self._view(assignment, now)
        outcome: common.JsonDict | None = None
        if write_back:
            # Outside the state lock: the service may call this simulator while handling the PUT.
            outcome = self._write_back(assignment["assessment_result_sourced_id"], payload)
            with self._lock:
                self._writebacks.append({"assignmentId": assignment["id"], "request": payload, **outcome})
        return common.json_response({"assignment": view, "writeBack": outcome, "assessmentResult": result})

    def _control_inventory(self, request: Request) -> Response:
        body = common.read_json(request, common.control_error)
        missing = [k for k in ("timeback_id", "name", "subject", "grade_rank") if body.get(k) in (None, "")]
        if missing:
            raise common.control_error(f"missing: {', '.join(missing)}")
        if not common.is_int(body["grade_rank"]):
            raise common.control_error("grade_rank must be an integer")
        item = {
            "id": str(body.get("id") or f"inv-{body['timeback_id']}"),
            "timeback_id": str(body["timeback_id"]),
            "name": str(body["name"]),
            "subject": str(body["subject"]),
            "grade": str(body.get("grade") or body["grade_rank"]),
            "grade_rank": body["grade_rank"],
            "supported": bool(body.get("supported", True)),
            "question_count": int(body.get("question_count", 20)),
        }
        with self._lock:
            self._inventory = [i for i in self._inventory if i["timeback_id"] != item["timeback_id"]] + [item]
        return common.json_response({"item": item})


# The name the local stack and tests build it by; the class takes exactly the factory's arguments.
create_mastery_track_simulator = MasteryTrackSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the MasteryTrack simulator in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--stage", default=os.environ.get("MASTERY_TRACK_STAGE", "prod"))
    args = parser.parse_args(argv)
    sim = create_mastery_track_simulator(
        args.host,
        args.port,
        api_key=os.environ.get("MASTERY_TRACK_API_KEY", "local-mastery-track-key"),
        api_email=os.environ.get("MASTERY_TRACK_API_EMAIL", "service@local.test"),
        writeback_base_url=os.environ.get("MASTERY_TRACK_WRITEBACK_BASE_URL") or None,
        token_url=os.environ.get("MASTERY_TRACK_TOKEN_URL") or None,
        client_id=os.environ.get("MASTERY_TRACK_CLIENT_ID") or None,
        client_secret=os.environ.get("MASTERY_TRACK_CLIENT_SECRET") or None,
        stage=args.stage,
    )
    print(f"MasteryTrack simulator: base {sim.url}  control {sim.app_url}/_control/state")
    common.run_until_interrupted(sim.server)


if __name__ == "__main__":
    main()
