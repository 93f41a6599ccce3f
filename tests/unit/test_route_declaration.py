"""`exttests.api.http.route`: a handler's OpenAPI facts come from its own code."""

from __future__ import annotations

import json
from typing import Any

from exttests.api.http import create_resolver, route
from exttests.api.schemas import WireModel


class Answer(WireModel):
    """The thing the route answers."""

    value: int


def _operation(app: Any, method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = json.loads(app.get_openapi_json_schema())["paths"][path][method]
    return operation


def test_the_operation_id_is_the_last_path_segment_and_the_summary_the_docstring() -> None:
    app = create_resolver()

    @route(app.get, "/powerpath/getSomething", Answer)
    def get_something() -> Any:
        """Something, read.

        Only the first line is the summary."""

    operation = _operation(app, "get", "/powerpath/getSomething")
    assert operation["operationId"] == "getSomething"
    assert operation["summary"] == "Something, read"
    assert operation["tags"] == ["PowerPath"]
    assert operation["responses"]["200"]["description"] == "The thing the route answers"


def test_a_route_may_name_its_operation_and_tag() -> None:
    app = create_resolver()

    @route(app.put, "/records/<record_id>", Answer, operation_id="putRecord", tag="Records")
    def put_record(record_id: str) -> Any:
        """Store a record"""

    operation = _operation(app, "put", "/records/{record_id}")
    assert (operation["operationId"], operation["tags"]) == ("putRecord", ["Records"])
