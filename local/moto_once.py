"""What moto computes again and again from the same input, computed once per process instead.

- moto's Step Functions interpreter (pinned: moto 5.2.5) parses the whole definition with ANTLR
  every time an execution starts (about 0.1 s of CPU) and builds a new JSONPath parser (its ply
  tables) for every path it evaluates, several per state. Both parses are pure functions of
  their text, and what they return is only read while an execution runs: an execution keeps its
  state in its own `Environment`, keyed by each component's `heap_key` (read from moto's
  `stepfunctions/parser/asl/component`: after construction no component assigns to itself but
  that key, and no component changes a container it holds). The key is set lazily on first
  read; it is set here before a program is shared, so that two executions never race to set it.
  A definition that does not parse raises as before (a failure is not remembered).
- moto's server lists its own package directory (one `stat` per service, about 175) on every
  request, to tell a service name from a host name; the list only changes with moto's version.
- moto makes an RSA key pair for every KMS key (50-100 ms each), a symmetric one included, whose
  pair is never used: moto encrypts with the key's own random material, and Sign and Verify
  refuse a symmetric key. Symmetric keys (the service's, and DynamoDB's default one for every
  table with SSE) share one pair per process; an asymmetric key still gets its own. (moto's
  GetPublicKey, which AWS refuses for a symmetric key, would show the shared pair's public half;
  nothing here calls it.)
- moto reads botocore's service models through a loader of its own; it reads them through the
  process's shared one (`local.botocore_data`), which the clients read through too.

Permanent for the process, like the other moto patches of `local.lambda_dispatch`.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_lock = threading.Lock()
_installed = False
# The local stack has one state machine; the tests make a few variants of it.
_DEFINITIONS_KEPT = 16
_PATHS_KEPT = 4096
SYMMETRIC = "SYMMETRIC_DEFAULT"


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from jsonpath_ng import parse as parse_path
        from jsonpath_ng.ext import parse as parse_extended_path
        from moto import backends
        from moto.stepfunctions.parser.asl.component.common.path import result_path
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
        from moto.stepfunctions.parser.asl.utils import json_path

        parse_definition = AmazonStateLanguageParser.parse

        @functools.lru_cache(maxsize=_DEFINITIONS_KEPT)
        def parse_definition_once(definition: str) -> Any:
            program, tree = parse_definition(definition)
            _set_heap_keys(program)
            return program, tree

        AmazonStateLanguageParser.parse = staticmethod(parse_definition_once)  # type: ignore[method-assign,assignment]
        json_path.parse = functools.lru_cache(maxsize=_PATHS_KEPT)(parse_extended_path)  # type: ignore[assignment]
        result_path.parse = functools.lru_cache(maxsize=_PATHS_KEPT)(parse_path)  # type: ignore[assignment]
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
        _share_the_symmetric_key_pair()
        _read_service_models_through_the_shared_loader()
        _installed = True


def _share_the_symmetric_key_pair() -> None:
    from moto.kms import models as kms_models

    make_pair = kms_models.generate_private_key

    @functools.cache
    def symmetric_pair() -> Any:
        return make_pair(SYMMETRIC)

    def key_pair(key_spec: str) -> Any:
        return symmetric_pair() if key_spec == SYMMETRIC else make_pair(key_spec)

    kms_models.generate_private_key = key_pair


def _read_service_models_through_the_shared_loader() -> None:
    import botocore.session
    from moto.core import utils as moto_utils

    from local import botocore_data

    botocore_data.share_one_loader()
    moto_utils.create_loader = botocore.session.create_loader  # type: ignore[attr-defined]


def _set_heap_keys(program: Any) -> None:
    for component in eval_components(program):
        _ = component.heap_key  # set on first read


def eval_components(program: Any) -> list[Any]:
    """Every evaluation component reachable from `program` (its states, paths, retriers...)."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending = [program]
    found: list[Any] = []
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            found.append(node)
        if isinstance(node, list | tuple | set | frozenset):
            pending.extend(node)
        elif isinstance(node, dict):
            pending.extend(node.values())
        elif type(node).__module__.startswith("moto.stepfunctions.parser.asl."):
            pending.extend(vars(node).values() if hasattr(node, "__dict__") else ())
    return found
