"""Keep moto's Step Functions interpreter from importing what the service never uses.

moto's ASL parser imports its AWS Batch task integration, whose `from moto.batch.utils import
JobStatus` runs `moto.batch`'s package `__init__`, which imports the Batch models and through
them all of moto's EC2 models (instance types, regions and zones read from JSON): about 0.8 s
of every start of the local stack and of every test worker, for a service that has no Batch
task. `defer_batch_models()` registers `moto.batch` as the same package without running its
`__init__`; the first attribute read from it (`batch_backends`, when something really calls
Batch) imports the models then, so moto behaves the same either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_PACKAGE = "moto.batch"


def defer_batch_models() -> None:
    """Call before anything imports moto.stepfunctions; a no-op once moto.batch is imported."""
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType(_PACKAGE)
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__spec__ = spec

    def load_models_on_first_use(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(f"{_PACKAGE}.models"), name)

    package.__getattr__ = load_models_on_first_use  # type: ignore[method-assign]
    sys.modules[_PACKAGE] = package
    import moto

    moto.batch = package  # type: ignore[attr-defined]
