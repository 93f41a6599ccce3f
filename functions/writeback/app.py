"""PUT and GET /ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId} (the write-back)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import AfterValidator, BeforeValidator

from exttests import wiring
from exttests.api.http import create_resolver, http_handler, json_response, route
from exttests.api.oneroster import AssessmentResultEnvelope, WriteBackBody, assessment_result
from exttests.api.schemas import MAX_ID_LENGTH, check_id
from exttests.usecases.results import get_assessment_result, write_back

app = create_resolver()

ROUTE = "/ims/oneroster/gradebook/v1p2/assessmentResults/<sourcedId>"


def _percent_decoded(raw: str) -> str:
    # The resolver matches the raw path; API Gateway's pathParameters would be decoded.
    return unquote(raw, errors="strict")


SourcedId = Annotated[
    str,
    BeforeValidator(_percent_decoded),
    AfterValidator(lambda value: check_id(value, "sourcedId")),
    Path(min_length=1, max_length=MAX_ID_LENGTH),
]
GRADEBOOK = "OneRoster gradebook"


@route(app.put, ROUTE, AssessmentResultEnvelope, operation_id="putAssessmentResult", tag=GRADEBOOK)
def put_assessment_result(sourcedId: SourcedId, body: WriteBackBody) -> Any:  # noqa: N803 - OneRoster's name
    """Write back a MasteryTrack result (OneRoster 1.2 AssessmentResult upsert)"""
    outcome = write_back(wiring.deps(), sourcedId, body.assessment_result.wire())
    return json_response(200, assessment_result(outcome.attempt))


@route(app.get, ROUTE, AssessmentResultEnvelope, operation_id="getAssessmentResult", tag=GRADEBOOK)
def get_assessment_result_route(sourcedId: SourcedId) -> Any:  # noqa: N803
    """The stored AssessmentResult of an attempt"""
    return json_response(200, assessment_result(get_assessment_result(wiring.deps(), sourcedId)))


handler = http_handler(app)
