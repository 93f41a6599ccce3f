"""POST /powerpath/makeExternalTestAssignment."""

from __future__ import annotations

from typing import Any

from exttests import wiring
from exttests.api.http import create_resolver, http_handler, json_response, route
from exttests.api.schemas import AssignBody, AssignResponse, assign_response
from exttests.usecases.assign import AssignCommand, assign

app = create_resolver()


@route(app.post, "/powerpath/makeExternalTestAssignment", AssignResponse)
def make_external_test_assignment(body: AssignBody) -> Any:
    """Assign an external test (Edulastic or MasteryTrack) to a student"""
    command = AssignCommand(
        student_id=body.student,
        lesson_id=body.lesson,
        test_id=body.test_id,
        skip_course_enrollment=bool(body.skip_course_enrollment),
    )
    outcome = assign(wiring.deps(), command)
    return json_response(200, assign_response(outcome.attempt, outcome.credentials))


handler = http_handler(app)
