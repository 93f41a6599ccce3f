"""`python -m local.stack` and `python -m local.demo` run a package's `__main__`, a module
multiprocessing does not run again in the Lambda workers of the stacks they start (it runs the
parent's main module in every worker unless that module is a `__main__`)."""

from __future__ import annotations

import importlib.util
import sys
from multiprocessing import spawn

import pytest


@pytest.mark.parametrize("package", ["local.stack", "local.demo"])
def test_the_entry_point_is_a_main_module_that_the_lambda_workers_do_not_run_again(package: str) -> None:
    entry = importlib.util.find_spec(f"{package}.__main__")
    assert entry is not None and entry.origin is not None
    assert entry.origin.endswith(package.replace(".", "/") + "/__main__.py")
    main_before = sys.modules["__main__"]
    # What a worker does with the name of its parent's main module before running its target.
    spawn._fixup_main_from_name(entry.name)
    assert sys.modules["__main__"] is main_before
    assert entry.name not in sys.modules
