"""Read a CloudFormation / SAM template with PyYAML.

PyYAML's safe loader rejects CloudFormation's short-form tags (``!Ref``, ``!GetAtt``,
``!Sub`` ...). :class:`CfnLoader` turns each of them into the long form CloudFormation
itself uses, so ``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes
``{"Fn::GetAtt": ["A", "B"]}`` and ``!Sub "..."`` becomes ``{"Fn::Sub": "..."}``.
Nothing is resolved: the result is the template as data.

A few read-only helpers cover what the tests and the local stack ask of the template.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CfnLoader",
    "HttpRoute",
    "SafeYamlLoader",
    "function_environment",
    "http_routes",
    "load",
    "loads",
    "resources_of_type",
]

# Short tag -> long-form key. "Ref" and "Condition" keep their names; the others are Fn::<Name>.
_NOT_FN = {"Ref", "Condition"}


# libyaml's parser when PyYAML was built with it (a template parses ~5x faster); same results.
SafeYamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnLoader(SafeYamlLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that understands CloudFormation short-form intrinsic functions."""


def _construct_cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    key = name if name in _NOT_FN else f"Fn::{name}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt" and isinstance(value, str):
            # !GetAtt Resource.Attribute(.Nested) -> ["Resource", "Attribute(.Nested)"]
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def loads(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON)."""
    data = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("a CloudFormation template must be a mapping")
    return data


_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}


def load(path: str | Path) -> dict[str, Any]:
    """Parse the template file at ``path`` (a fresh copy each call: callers may change it).

    A file is parsed once per content version (path, size, modification time): the stack, the
    tests and the bench read the same template hundreds of times, at about 60 ms a parse."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _PARSED:
        _PARSED[key] = loads(resolved.read_text(encoding="utf-8"))
    return copy.deepcopy(_PARSED[key])


def resources_of_type(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(logical_id, resource)`` for every resource of ``resource_type``."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and resource.get("Type") == resource_type:
            yield logical_id, resource


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """Environment variables of a SAM function: Globals.Function merged with its own (own wins).

    Values are returned unresolved (``{"Ref": ...}``, ``{"Fn::Sub": ...}`` or plain strings).
    """
    global_function = (template.get("Globals") or {}).get("Function") or {}
    globals_env = (global_function.get("Environment") or {}).get("Variables") or {}
    resource = (template.get("Resources") or {})[logical_id]
    own_env = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    return {**globals_env, **own_env}


@dataclass(frozen=True)
class HttpRoute:
    """One ``HttpApi`` event of a SAM function."""

    function: str  # logical id of the AWS::Serverless::Function
    event: str  # name of the event under Events
    method: str  # upper-case HTTP method ("ANY" possible)
    path: str  # API Gateway path, e.g. /ims/.../assessmentResults/{sourcedId}
    authorizer: str | None
    scopes: tuple[Any, ...]  # unresolved: usually ({"Ref": "PowerPathScope"},)
    api_id: Any  # unresolved ApiId, e.g. {"Ref": "HttpApi"}


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    """Every ``HttpApi`` event of every ``AWS::Serverless::Function``, in template order."""
    routes: list[HttpRoute] = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function"):
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            auth = props.get("Auth") or {}
            routes.append(
                HttpRoute(
                    function=logical_id,
                    event=event_name,
                    method=str(props.get("Method", "ANY")).upper(),
                    path=str(props.get("Path", "$default")),
                    authorizer=auth.get("Authorizer"),
                    scopes=tuple(auth.get("AuthorizationScopes") or ()),
                    api_id=props.get("ApiId"),
                )
            )
    return routes
