"""docs/openapi.json is the service's own OpenAPI document, generated from the handlers (local/openapi.py).

Drift check: a route or model that changes without regenerating the document fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local import cfn_yaml
from local.aws_resources import Resolver
from local.openapi import DOCUMENT, ERRORS, METHODS, TEMPLATE, build_document, render

REGENERATE = "regenerate it: .venv/bin/python -m local.openapi > docs/openapi.json"
POWERPATH_OPERATIONS = {
    ("post", "/powerpath/makeExternalTestAssignment"): "makeExternalTestAssignment",
    ("get", "/powerpath/importExternalTestAssignmentResults"): "importExternalTestAssignmentResults",
    ("get", "/powerpath/getAssessmentProgress"): "getAssessmentProgress",
}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return build_document()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert DOCUMENT.exists(), f"{DOCUMENT} is missing; {REGENERATE}"
    document: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_committed_document_is_up_to_date(generated: dict[str, Any]) -> None:
    text = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
    assert text == render(generated), (
        f"docs/openapi.json does not match the handlers' route declarations; {REGENERATE}"
    )


def test_generation_is_deterministic(generated: dict[str, Any]) -> None:
    assert render(build_document()) == render(generated)


def test_every_template_route_is_documented_and_vice_versa(committed: dict[str, Any]) -> None:
    template = cfn_yaml.load(TEMPLATE)
    in_template = {(route.method.lower(), route.path) for route in cfn_yaml.http_routes(template)}
    documented = set(_operations(committed))
    assert in_template, "template.yaml declares no HttpApi route"
    assert in_template - documented == set(), f"routes missing from docs/openapi.json; {REGENERATE}"
    assert documented - in_template == set(), "docs/openapi.json documents routes template.yaml does not have"


def test_each_operation_requires_the_scope_of_its_route(committed: dict[str, Any]) -> None:
    template = cfn_yaml.load(TEMPLATE)
    resolver = Resolver(template)
    scheme = committed["components"]["securitySchemes"]["OAuth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2"
    assert flow["tokenUrl"] == "/oauth2/token"
    assert set(flow["scopes"]) == {"exttests/powerpath", "exttests/writeback"}
    for route in cfn_yaml.http_routes(template):
        operation = _operations(committed)[(route.method.lower(), route.path)]
        expected = [str(resolver.resolve(scope)) for scope in route.scopes]
        assert operation["security"] == [{"OAuth2": expected}], route
        wanted = "exttests/powerpath" if route.path.startswith("/powerpath/") else "exttests/writeback"
        assert expected == [wanted], route


def test_powerpath_operation_ids(committed: dict[str, Any]) -> None:
    operations = _operations(committed)
    for key, operation_id in POWERPATH_OPERATIONS.items():
        assert operations[key]["operationId"] == operation_id
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids)), ids


def test_every_error_status_is_the_ims_body(committed: dict[str, Any]) -> None:
    responses = committed["components"]["responses"]
    schemas = committed["components"]["schemas"]
    assert "HTTPValidationError" not in schemas, "Powertools' validation body is not what the service answers"
    ims = schemas["ImsError"]
    assert ims["properties"]["imsx_codeMajor"]["const"] == "failure"
    assert ims["properties"]["imsx_severity"]["const"] == "error"
    for (method, path), operation in _operations(committed).items():
        for status in (400, 401, 403, 404, 422, 429, 500, 502, 503):
            ref = operation["responses"][str(status)]["$ref"]
            name = ref.rsplit("/", 1)[-1]
            assert name == ERRORS[status][0], (method, path, status)
            content = responses[name]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/ImsError"}, (method, path, status)
        assert "200" in operation["responses"], (method, path)
    for status in (429, 503):
        assert "Retry-After" in responses[ERRORS[status][0]]["headers"]


def test_document_is_valid_openapi_3_1(committed: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    assert committed["openapi"].startswith("3.1")
    validator.validate(committed)
