"""`make test`'s pytest-xdist scheduling (--dist loadgroup): the tests that share a local stack that
is expensive to start run on one worker, so it starts once and not once per worker that happens to
run one of them; every other test is a unit of its own, handed to whichever worker is free.

pytest-xdist's own loadgroup reads `xdist_group` marks by renaming the test's node id, which
pytest 9 no longer allows (the node id is read-only), so the groups are passed on here: each worker
writes the group of every test it collected to a file (the controller names the file in the
environment the workers inherit), and the controller's scheduler reads them before the first test
is handed out. As xdist's LoadScopeScheduling does, it hands out the groups first, the largest
first, then the single tests in collection order (the end-to-end tests, the slowest, come first).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

GROUPS_FILE = "EXTTESTS_XDIST_GROUPS_FILE"

# fixture → group: the tests that use it share one worker
SHARED_STACKS = {
    "stack": "e2e-session-stack",  # tests/e2e/conftest.py (test_fuzz.py has a `stack` of its own)
    "restarted": "e2e-restarted-stack",  # test_parallel_stack.py: two stacks, one after the other
    "parked_stack": "e2e-parked-stack",  # test_provider_faults.py
}


def group_of(item: pytest.Item) -> str | None:
    marks = sorted(
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    )
    if marks:
        return "_".join(marks)
    if item.nodeid.startswith("tests/e2e/test_fuzz.py::"):
        return "e2e-fuzz-stack"  # its module-scoped stack, in the worker's own process
    names = getattr(item, "fixturenames", ())
    return next((group for name, group in SHARED_STACKS.items() if name in names), None)


class Groups:
    """Registered in every pytest process of a run with pytest-xdist and --dist loadgroup."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        if not self.is_worker and not os.environ.get(GROUPS_FILE):
            handle, path = tempfile.mkstemp(prefix="exttests-xdist-groups-", suffix=".json")
            os.close(handle)
            os.environ[GROUPS_FILE] = path  # the workers start after pytest_configure

    @pytest.hookimpl(trylast=True)  # after deselection (-k, -m)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if not self.is_worker:
            return
        groups = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
        worker = self.config.workerinput["workerid"]  # type: ignore[attr-defined]
        Path(f"{os.environ[GROUPS_FILE]}.{worker}").write_text(json.dumps(groups), encoding="utf-8")

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling

        class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
            def __init__(self, config: pytest.Config, log: Any) -> None:
                super().__init__(config, log)
                self.groups: dict[str, str] = {}

            def schedule(self) -> None:
                if self.collection is None:  # the first call: every worker has collected
                    for path in Path(os.environ[GROUPS_FILE]).parent.glob(
                        Path(os.environ[GROUPS_FILE]).name + ".*"
                    ):
                        self.groups.update(json.loads(path.read_text(encoding="utf-8")))
                super().schedule()

            def _split_scope(self, nodeid: str) -> str:
                return self.groups.get(nodeid, nodeid)

        return GroupScheduling(config, log)

    def pytest_unconfigure(self) -> None:
        if self.is_worker:
            return
        path = Path(os.environ.pop(GROUPS_FILE, ""))
        for leftover in [path, *path.parent.glob(path.name + ".*")] if path.name else []:
            leftover.unlink(missing_ok=True)


def register(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # a worker (its `dist` option is "no"): the controller decided
        wanted = bool(os.environ.get(GROUPS_FILE))
    else:
        wanted = config.pluginmanager.hasplugin("xdist") and config.getvalue("dist") == "loadgroup"
    if wanted:
        config.pluginmanager.register(Groups(config), "exttests-xdist-groups")
