"""The HTTP edge shared by the API handlers: the resolver, the request guard, the error mapping
and the handler wrapper (log keys, correlation id, time budget).

Handlers only declare routes and call a use case; everything that turns a failure into the IMS
body lives here, so every endpoint answers errors the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from .. import budget, wiring
from ..errors import BadRequest, DeadlineExceeded, PayloadTooLarge, ServiceError, UnsupportedMediaType
from ..observability import clear_log_keys, logger
from .errors import error_parts, ims_body, ims_response
from .schemas import ID_PATTERN, MAX_ID_LENGTH, WireModel

MAX_BODY_BYTES = 64 * 1024
# Kept back from the function's remaining time to answer: the function's timeout (29 s) sits
# under API Gateway's 30 s, so an IMS answer always beats both limits.
HTTP_MARGIN_SECONDS = 1.5
# Deeper JSON is refused before parsing: no PowerPath or OneRoster body nests beyond a few levels,
# and parsers and validators recurse on depth.
MAX_JSON_DEPTH = 32

# A sourcedId in a query string: 1–255 characters, not blank, no control characters.
QueryId = Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])


def json_response(
    status: int, body: dict[str, Any] | WireModel, headers: dict[str, str] | None = None
) -> Response:
    payload = body.wire() if isinstance(body, WireModel) else body
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(payload),
        headers=headers or {},
    )


def route(
    register: Callable[..., Callable[[RouteFunction], RouteFunction]],
    path: str,
    answer: type,
    *,
    operation_id: str | None = None,
    tag: str = "PowerPath",
) -> Callable[[RouteFunction], RouteFunction]:
    """Registers a route function (`register` is the resolver's `app.get`, `app.post`, ...) with
    its OpenAPI facts, taken from the code so they cannot drift from it: the operation id is the
    path's last segment unless given, the summary is the function's docstring, and the 200 answer
    is `answer`, described by the model's docstring."""

    def declare(function: RouteFunction) -> RouteFunction:
        return register(
            path,
            operation_id=operation_id or path.rsplit("/", 1)[-1],
            summary=_first_line(function.__doc__),
            tags=[tag],
            responses={
                200: {
                    "description": _first_line(answer.__doc__),
                    "content": {"application/json": {"model": answer}},
                }
            },
        )(function)

    return declare


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0].rstrip(".") if lines else ""


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


# --- the guard: what API Gateway does not check ----------------------------------------------


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit` (strings are skipped, escapes honoured)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def is_json_media_type(content_type: str) -> bool:
    """application/json or any application/*+json, case-insensitively (RFC 9110 media types)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _decoded_body(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes", field="body")
    if event.get("isBase64Encoded") and body:
        # API Gateway base64-encodes bodies that are not text; JSON must be UTF-8 text.
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise BadRequest("request body is not UTF-8 JSON", field="body") from error
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes", field="body")
    return str(body)


def _check_numbers(body: str) -> None:
    """Refuses an integer longer than Python converts (4,300 digits), which makes the resolver's
    JSON parser raise a plain ValueError; malformed JSON is left to the resolver's own answer."""
    try:
        json.loads(body)
    except json.JSONDecodeError:
        return
    except ValueError as error:
        raise BadRequest("a number in the request body has too many digits", field="body") from error


def guard_request(event: dict[str, Any]) -> dict[str, Any]:
    """Checks API Gateway does not make; returns the event as the resolver should see it
    (a JSON body decoded, its media type normalized)."""
    raw_query = event.get("rawQueryString") or ""
    seen: set[str] = set()
    for name, _ in parse_qsl(raw_query, keep_blank_values=True):
        if name in seen:
            raise BadRequest(f"query parameter '{name}' is given more than once", field=name)
        seen.add(name)
    body = _decoded_body(event)
    method = (event.get("requestContext", {}).get("http", {}).get("method") or "").upper()
    if method not in ("POST", "PUT", "PATCH") or not body:
        return event
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "application/json")
    if not is_json_media_type(content_type):
        media_type = content_type.split(";", 1)[0].strip()[:100]
        raise UnsupportedMediaType(
            f"content type '{media_type}' is not supported; send application/json", field="body"
        )
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        raise BadRequest(f"JSON nests deeper than {MAX_JSON_DEPTH} levels", field="body")
    _check_numbers(body)
    headers["content-type"] = "application/json"
    return {**event, "headers": headers, "body": body, "isBase64Encoded": False}


def _run(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = app.resolve(guard_request(event), context)
        return result
    except ServiceError as error:  # the guard's refusals (the resolver maps its own)
        status, description, details, headers = error_parts(error)
        return ims_response(status, description, details, headers)


def http_handler(app: APIGatewayHttpResolver) -> Handler:
    """The Lambda entry point of an HTTP function: validated settings at cold start, the request
    id as correlation id, a fresh set of log keys and the time budget of the invocation."""
    wiring.check_settings()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        clear_log_keys()
        try:
            with budget.budget(budget.seconds_from_context(context, HTTP_MARGIN_SECONDS)):
                return _run(app, event, context)
        except DeadlineExceeded as error:  # spent before the resolver could map it
            status, description, details, headers = error_parts(error)
            return ims_response(status, description, details, headers)

    return handler
