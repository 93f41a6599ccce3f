"""What every domain record can do: copy with changes, and go to and from JSON.

Plain dataclasses rather than pydantic models: the domain is read and written by trusted code
only (the API edge validates untrusted input with pydantic), and a Lambda that never touches the
HTTP edge — the workflow tasks, the sweeper — then starts without loading pydantic at all.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from typing import Any, Self


class Record:
    """Mixed into dataclasses (it has no fields of its own, so frozen ones may use it too)."""

    def evolve(self, changes: dict[str, Any]) -> Self:
        """A copy with `changes` applied (the record itself is left as it is)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from stored JSON: nested records and enums restored, unknown keys ignored
        (an item written by a newer version still loads)."""
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if field.name in data:
                values[field.name] = _restore(hints[field.name], data[field.name])
        return cls(**values)


def _restore(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _restore(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_restore(item, v) for v in value]
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value
