"""The HTTP front shared by the API handlers: one resolver factory, one error mapping.

Handlers only declare routes and call a use case; everything that turns a failure into the IMS
body lives here, so every endpoint answers errors the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query

from ..errors import BadRequest, ServiceError
from ..observability import logger
from .errors import error_parts, ims_body, ims_response
from .schemas import ID_PATTERN, MAX_ID_LENGTH

MAX_BODY_BYTES = 64 * 1024

# A sourcedId in a query string: 1–255 characters, not blank, no control characters.
QueryId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=ID_PATTERN,
    ),
]


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers=headers or {},
    )


def _validation_details(error: RequestValidationError) -> list[dict[str, str]]:
    details = []
    for item in error.errors()[:20]:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")]
        details.append({"field": ".".join(location) or "body", "message": str(item.get("msg", "invalid"))})
    return details


def create_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        details = _validation_details(error)
        text = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
        return json_response(400, ims_body(400, f"invalid request: {text}", details))

    @app.exception_handler(ServiceError)
    def _service(error: ServiceError) -> Response:
        status, description, details, headers = error_parts(error)
        if status >= 500:
            logger.warning("request failed", extra={"status": status, "error": type(error).__name__})
        return json_response(status, ims_body(status, description, details), headers)

    @app.exception_handler(Exception)
    def _bug(error: Exception) -> Response:
        if _aws_unavailable(error):
            # AWS itself is throttling or briefly down: nothing was lost, the client retries.
            logger.warning("AWS dependency unavailable", extra={"error": type(error).__name__})
            return json_response(
                503, ims_body(503, "the service is temporarily unavailable, retry"), {"Retry-After": "1"}
            )
        # A 500 is a bug: log it (without request data, which may hold secrets) and answer IMS.
        logger.exception("unhandled error", extra={"error": type(error).__name__})
        return json_response(500, ims_body(500, "internal error"))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(404, ims_body(404, "no such route"))

    return app


_TRANSIENT_AWS_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "LimitExceededException",
    "KMSInternalException",
    "DependencyTimeoutException",
}


def _aws_unavailable(error: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in _TRANSIENT_AWS_CODES
    return False


def guard_request(event: dict[str, Any]) -> None:
    """Checks API Gateway does not make: body size, content type, duplicate query parameters."""
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", field="body")
    if event.get("isBase64Encoded") and body:
        # API Gateway base64-encodes bodies that are not text; JSON must be UTF-8 text.
        try:
            raw = base64.b64decode(body, validate=True)
            raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise BadRequest("request body is not UTF-8 JSON", field="body") from error
        body = raw.decode("utf-8")
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", field="body")
    raw_query = event.get("rawQueryString") or ""
    seen: set[str] = set()
    for name, _ in parse_qsl(raw_query, keep_blank_values=True):
        if name in seen:
            raise BadRequest(f"query parameter '{name}' is given more than once", field=name)
        seen.add(name)
    method = (event.get("requestContext", {}).get("http", {}).get("method") or "").upper()
    if method in ("POST", "PUT") and body:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise BadRequest(
                f"content type '{content_type}' is not supported; send application/json", field="body"
            )


def run(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve an HTTP API event; guard failures and bugs still answer with the IMS body."""
    try:
        guard_request(event)
        result: dict[str, Any] = app.resolve(event, context)
        return result
    except ServiceError as error:
        status, description, details, headers = error_parts(error)
        return ims_response(status, description, details, headers)
