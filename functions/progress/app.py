"""GET /powerpath/getAssessmentProgress."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from exttests import wiring
from exttests.api.http import QueryId, create_resolver, http_handler, json_response, route
from exttests.api.schemas import ProgressResponse, progress_response
from exttests.usecases.progress import get_progress

app = create_resolver()


# An attempt number, 1 to 999999; without it, the student's current attempt.
AttemptNumber = Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,5}$")]


@route(app.get, "/powerpath/getAssessmentProgress", ProgressResponse)
def get_assessment_progress(student: QueryId, lesson: QueryId, attempt: AttemptNumber = None) -> Any:
    """Progress of an attempt: score, per-question results, XP"""
    found = get_progress(wiring.deps(), student, lesson, int(attempt) if attempt else None)
    return json_response(
        200,
        progress_response(
            found.lesson, found.lesson_type, found.tool_provider, found.attempt, found.attempt_number
        ),
    )


handler = http_handler(app)
