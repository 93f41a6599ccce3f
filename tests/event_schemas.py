"""The JSON Schemas of the five event details (schemas/events/), and a check every event the
suite produces goes through (the fake store validates each outbox write; the end-to-end webhook
receiver validates each delivery)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from tests.support import ROOT

SCHEMAS = ROOT / "schemas" / "events"
SLUGS = {
    "External Test Assigned": "external-test-assigned",
    "External Test Finalized": "external-test-finalized",
    "Student Enrolled": "student-enrolled",
    "Enrollment Failed": "enrollment-failed",
    "External Test Expired": "external-test-expired",
}


@cache
def _validator(detail_type: str) -> Any:
    schema = json.loads((SCHEMAS / f"{SLUGS[detail_type]}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid_detail(detail_type: str, detail: dict[str, Any]) -> None:
    assert detail_type in SLUGS, f"unknown detail-type {detail_type!r}"
    errors = sorted(_validator(detail_type).iter_errors(detail), key=str)
    assert not errors, f"{detail_type}: {[e.message for e in errors]}"
