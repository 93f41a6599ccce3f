"""PUT and GET /ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId} (the write-back)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.params import Path

from exttests import wiring
from exttests.api.http import create_resolver, json_response, logger, run
from exttests.api.oneroster import WriteBackBody, assessment_result
from exttests.api.schemas import MAX_ID_LENGTH, check_id
from exttests.errors import BadRequest
from exttests.usecases.results import get_assessment_result, write_back

app = create_resolver()

ROUTE = "/ims/oneroster/gradebook/v1p2/assessmentResults/<sourcedId>"
SourcedId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
RECORD_RESPONSE: dict[int, Any] = {
    200: {
        "description": "The stored OneRoster 1.2 AssessmentResult",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["assessmentResult"],
                    "properties": {"assessmentResult": {"type": "object"}},
                }
            }
        },
    }
}


def sourced_id(raw: str) -> str:
    """The path segment as API Gateway's pathParameters would give it: percent-decoded."""
    try:
        return check_id(unquote(raw, errors="strict"), "sourcedId")
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest(f"sourcedId is not a valid id: {error}", field="sourcedId") from error


@app.put(
    ROUTE,
    operation_id="putAssessmentResult",
    summary="Write back a MasteryTrack result (OneRoster 1.2 AssessmentResult upsert)",
    tags=["OneRoster gradebook"],
    responses=RECORD_RESPONSE,
)
def put_assessment_result(sourcedId: SourcedId, body: WriteBackBody) -> Any:  # noqa: N803
    record = body.assessmentResult.model_dump(exclude_none=True)
    outcome = write_back(wiring.deps(), sourced_id(sourcedId), record)
    return json_response(200, assessment_result(outcome.attempt))


@app.get(
    ROUTE,
    operation_id="getAssessmentResult",
    summary="The stored AssessmentResult of an attempt",
    tags=["OneRoster gradebook"],
    responses=RECORD_RESPONSE,
)
def get_assessment_result_route(sourcedId: SourcedId) -> Any:  # noqa: N803
    return json_response(200, assessment_result(get_assessment_result(wiring.deps(), sourced_id(sourcedId))))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(app, event, context)
