"""GET /powerpath/importExternalTestAssignmentResults."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from exttests import wiring
from exttests.api.http import QueryId, create_resolver, http_handler, json_response, route
from exttests.api.schemas import ImportResponse, import_response
from exttests.usecases.results import import_results

app = create_resolver()


# PowerPath clients send it; it names the calling application and changes nothing here.
ApplicationName = Annotated[str | None, Query()]


@route(app.get, "/powerpath/importExternalTestAssignmentResults", ImportResponse)
def import_results_route(student: QueryId, lesson: QueryId, applicationName: ApplicationName = None) -> Any:  # noqa: N803
    """Import the results of the student's current attempt from the test provider"""
    outcome = import_results(wiring.deps(), student, lesson)
    return json_response(200, import_response(outcome.attempt, outcome.lesson, outcome.credentials))


handler = http_handler(app)
