"""GET /powerpath/importExternalTestAssignmentResults."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from exttests import wiring
from exttests.api.http import QueryId, create_resolver, http_handler, json_response, ok_response
from exttests.api.schemas import ImportResponse, import_response
from exttests.usecases.results import import_results

app = create_resolver()


@app.get(
    "/powerpath/importExternalTestAssignmentResults",
    operation_id="importExternalTestAssignmentResults",
    summary="Import the results of the student's current attempt from the test provider",
    tags=["PowerPath"],
    responses=ok_response(ImportResponse, "The state of the student's current attempt"),
)
def import_external_test_assignment_results(
    student: QueryId,
    lesson: QueryId,
    applicationName: Annotated[str | None, Query()] = None,  # noqa: N803 - PowerPath's parameter name
) -> Any:
    outcome = import_results(wiring.deps(), student, lesson)
    return json_response(200, import_response(outcome.attempt, outcome.lesson, outcome.credentials))


handler = http_handler(app)
