"""The IMS error body: the one builder every error answer uses (the handlers, the HTTP guard and
the local stack's gateway), and the mapping from service errors to it."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ServiceError

# The contract's minor codes per status; statuses it does not name get the nearest meaning.
_MINOR_BY_STATUS = {
    400: "invaliddata",
    401: "unauthorisedrequest",
    403: "forbidden",
    404: "unknownobject",
    405: "invaliddata",
    413: "invaliddata",
    415: "invaliddata",
    422: "invaliddata",
    429: "server_busy",
    500: "internal_server_error",
    502: "internal_server_error",
    503: "server_busy",
    504: "server_busy",
}


def ims_body(
    status: int, description: str, details: list[dict[str, str]] | None = None, minor: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": minor or _MINOR_BY_STATUS.get(status, "invaliddata"),
                }
            ]
        },
        "imsx_error_details": details or [],
    }
    if status in (401, 403):
        # The contract: 401/403 also carry `message` (what API Gateway's own answers carry).
        body["message"] = description
    return body


def error_parts(error: ServiceError) -> tuple[int, str, list[dict[str, str]], dict[str, str]]:
    """Status, description, details and headers of the IMS answer to `error`."""
    details = [{"field": error.field, "message": error.message}] if error.field else []
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after)))
    return error.status, error.message, details, headers


def ims_response(
    status: int,
    description: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Lambda proxy (HTTP API v2) response carrying the IMS body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(ims_body(status, description, details)),
    }
