"""The service's own OpenAPI 3.1 document: `python -m local.openapi > docs/openapi.json`.

Built from what the service itself declares, so it cannot drift from the code unnoticed
(tests/unit/test_openapi.py compares it with the committed docs/openapi.json):
- paths, parameters, request bodies and 200 models: each HTTP handler's Powertools resolver
  (`app.get_openapi_json_schema()` of `functions/<dir>/app.py`, for every function that has an
  `HttpApi` event in template.yaml), merged into one document;
- security: the OAuth2 client-credentials scheme, each operation with the scope its route has
  in template.yaml (`PowerPathScope` / `WriteBackScope`, resolved to the parameter defaults);
- errors: the IMS error body (the product contract, "Errors") for every error status, in place
  of Powertools' default 422 `HTTPValidationError` (validation failures are 400 IMS here).

The output is deterministic: sorted keys, two-space indent, trailing newline.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
_LAYER_PATH = str(REPO_ROOT / "layers" / "shared" / "python")
if _LAYER_PATH not in sys.path:
    sys.path.insert(0, _LAYER_PATH)

from local import cfn_yaml, lambda_dispatch  # noqa: E402
from local.aws_resources import Resolver  # noqa: E402

TEMPLATE = REPO_ROOT / "template.yaml"
DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
TITLE = "External test assignments"
VERSION = "0.1.0"
TOKEN_PATH = "/oauth2/token"
SECURITY_SCHEME = "OAuth2"
ERROR_SCHEMA = "ImsError"
LOCAL_SERVER = "http://127.0.0.1:3000"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# status -> (components.responses name, description, Retry-After header?)
ERRORS: dict[int, tuple[str, str, bool]] = {
    400: ("BadRequest", "Malformed request: invalid JSON or parameters, missing or empty field", False),
    401: ("Unauthorized", "Missing, invalid or expired bearer token", False),
    403: ("Forbidden", "The token lacks the scope this route requires", False),
    404: ("NotFound", "Unknown student, lesson, attempt or AssessmentResult", False),
    413: ("PayloadTooLarge", "Request body larger than the API accepts", False),
    422: ("Unprocessable", "Valid request the service cannot act on (lesson type, provider, ...)", False),
    429: ("TooManyRequests", "A concurrent request for the same attempt still holds it; retry", True),
    500: ("InternalError", "A bug", False),
    502: ("BadGateway", "The test provider is unreachable or failed after retries", False),
    503: ("ServiceUnavailable", "The test provider's circuit is open; retry after Retry-After", True),
}
MINOR_CODES = [
    "forbidden",
    "internal_server_error",
    "invaliddata",
    "server_busy",
    "unauthorisedrequest",
    "unknownobject",
]
# Powertools' own validation models, replaced by the IMS body.
POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def ims_error_schema() -> dict[str, Any]:
    """The IMS error body of the product contract (external-tests.md, "Errors")."""
    return {
        "title": ERROR_SCHEMA,
        "description": "The IMS error body every endpoint answers errors with.",
        "type": "object",
        "required": ["imsx_codeMajor", "imsx_severity", "imsx_description", "imsx_CodeMinor"],
        "properties": {
            "imsx_codeMajor": {"type": "string", "const": "failure"},
            "imsx_severity": {"type": "string", "const": "error"},
            "imsx_description": {"type": "string"},
            "imsx_CodeMinor": {
                "type": "object",
                "required": ["imsx_codeMinorField"],
                "properties": {
                    "imsx_codeMinorField": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["imsx_codeMinorFieldName", "imsx_codeMinorFieldValue"],
                            "properties": {
                                "imsx_codeMinorFieldName": {"type": "string"},
                                "imsx_codeMinorFieldValue": {"type": "string", "enum": MINOR_CODES},
                            },
                        },
                    }
                },
            },
            "imsx_error_details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
            "message": {
                "type": "string",
                "description": "401/403 only: the same text as imsx_description.",
            },
        },
    }


def _error_response(description: str, retry_after: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
        }
    return response


# --- template ------------------------------------------------------------------------------


def http_functions(template: Mapping[str, Any]) -> list[str]:
    """The `functions/<dir>` of every function with an HttpApi event, in template order."""
    resources = template.get("Resources") or {}
    found: list[str] = []
    for route in cfn_yaml.http_routes(dict(template)):
        code_uri = str((resources[route.function].get("Properties") or {}).get("CodeUri", ""))
        directory = code_uri.strip("/").removeprefix("functions/")
        if directory and directory not in found:
            found.append(directory)
    return found


def template_routes(template: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> resolved OAuth2 scopes, for every HttpApi route in the template."""
    resolver = Resolver(template)
    return {
        (route.method.lower(), route.path): [str(resolver.resolve(scope)) for scope in route.scopes]
        for route in cfn_yaml.http_routes(dict(template))
    }


def scope_descriptions(template: Mapping[str, Any]) -> dict[str, str]:
    resolver = Resolver(template)
    parameters = template.get("Parameters") or {}
    described: dict[str, str] = {}
    for scopes in template_routes(template).values():
        for scope in scopes:
            described.setdefault(scope, "")
    for name, parameter in parameters.items():
        if name.endswith("Scope") and isinstance(parameter, dict):
            scope = str(resolver.ref(name))
            if scope in described:
                described[scope] = str(parameter.get("Description") or name).strip()
    return described


# --- the document --------------------------------------------------------------------------


def handler_documents(directories: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for directory in directories:
        module = lambda_dispatch.load_module(REPO_ROOT / "functions" / directory)
        app = getattr(module, "app", None)
        if app is None or not hasattr(app, "get_openapi_json_schema"):
            raise TypeError(f"functions/{directory}/app.py has no Powertools resolver `app`")
        yield directory, json.loads(app.get_openapi_json_schema())


def _merge(documents: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for directory, document in documents:
        for path, item in (document.get("paths") or {}).items():
            target = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in target:
                    raise ValueError(f"{method.upper()} {path} is declared twice (functions/{directory})")
                target[method] = operation
        for name, schema in ((document.get("components") or {}).get("schemas") or {}).items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"schema {name} differs between handlers (functions/{directory})")
            schemas[name] = schema
    return paths, schemas


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _used_schemas(document: dict[str, Any]) -> set[str]:
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    pending = [ref for ref in _refs({k: v for k, v in document.items() if k != "components"})]
    pending += list(_refs(document["components"].get("responses") or {}))
    used: set[str] = set()
    while pending:
        ref = pending.pop()
        if not ref.startswith(prefix):
            continue
        name = ref.removeprefix(prefix)
        if name in used or name not in schemas:
            continue
        used.add(name)
        pending.extend(_refs(schemas[name]))
    return used


def build_document(template_path: str | Path = TEMPLATE) -> dict[str, Any]:
    template = cfn_yaml.load(template_path)
    routes = template_routes(template)
    paths, schemas = _merge(list(handler_documents(http_functions(template))))
    schemas[ERROR_SCHEMA] = ims_error_schema()

    for path, item in paths.items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            scopes = routes.get((method, path))
            if scopes is None:
                raise ValueError(f"{method.upper()} {path} is declared by a handler but not in template.yaml")
            operation["security"] = [{SECURITY_SCHEME: scopes}]
            responses = operation.setdefault("responses", {})
            for status in [s for s, r in responses.items() if _is_powertools_error(r)]:
                del responses[status]
            for status, (name, _, _) in ERRORS.items():
                if status == 413 and "requestBody" not in operation:
                    continue
                responses[str(status)] = {"$ref": f"#/components/responses/{name}"}

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Assigns external tests (Edulastic, MasteryTrack) to students, imports their results "
                "and enrolls them. Wire-compatible with the TimeBack PowerPath endpoints "
                "makeExternalTestAssignment, importExternalTestAssignmentResults and "
                "getAssessmentProgress; MasteryTrack writes results back through the OneRoster 1.2 "
                "gradebook route. Every error is the IMS body (ImsError). Generated from the handlers' "
                "route declarations by `python -m local.openapi`."
            ),
        },
        "servers": [
            {"url": LOCAL_SERVER, "description": "The local stack (`make run`)"},
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com",
                "description": "The deployed HTTP API (stack output ApiUrl)",
                "variables": {"apiId": {"default": "example"}, "region": {"default": "us-east-1"}},
            },
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                name: _error_response(description, retry_after)
                for name, description, retry_after in ERRORS.values()
            },
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "oauth2",
                    "description": (
                        "OAuth2 client credentials. Locally the stack's own token endpoint; in AWS the "
                        "token endpoint of the authorization server behind the HTTP API's JWT "
                        "authorizer (e.g. Cognito's /oauth2/token)."
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": TOKEN_PATH,
                            "scopes": scope_descriptions(template),
                        }
                    },
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
    used = _used_schemas(document)
    for name in POWERTOOLS_ERROR_SCHEMAS:
        if name not in used:
            schemas.pop(name, None)
    return copy.deepcopy(document)


def _is_powertools_error(response: Any) -> bool:
    refs = set(_refs(response))
    return any(ref.rsplit("/", 1)[-1] in POWERTOOLS_ERROR_SCHEMAS for ref in refs)


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render(build_document()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
