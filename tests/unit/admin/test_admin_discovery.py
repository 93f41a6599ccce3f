"""The discovery file: written by a started local stack, read by the CLI, removed at a clean stop;
it never holds a secret and never points the CLI at a stack that is gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from exttests.admin.local_stack import (
    FILE_VARIABLE,
    LocalStackFacts,
    LocalStackUnavailable,
    find_file,
    read_running,
)
from local import discovery

HANDLER_ENV = {
    "WORKFLOW_WAIT_SECONDS": "1,1,2",
    "MASTERY_THRESHOLD": "80",
    "TABLE_NAME": "exttests-local-ResultsTable",
    "EDULASTIC_PASSWORD": "edu-secret-password",
    "MASTERY_TRACK_API_KEY": "mt-secret-key",
    "LOCAL_CLIENT_SECRET": "local-secret",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def a_stack() -> Any:
    resources = SimpleNamespace(
        region="us-east-1",
        table_name="exttests-local-ResultsTable",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:exttests-local-finalization",
        kms_key_id="key-1",
    )
    return SimpleNamespace(
        resources=resources,
        moto_endpoint="http://127.0.0.1:5001",
        api_url="http://127.0.0.1:3000",
        token_url="http://127.0.0.1:3000/oauth2/token",
        client_secret="local-secret",
    )


def facts(pid: int) -> LocalStackFacts:
    return replace(discovery.facts_of(a_stack(), HANDLER_ENV), pid=pid)


def a_finished_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_file_tells_how_to_reach_the_stack_and_its_settings_but_no_secret() -> None:
    written = discovery.facts_of(a_stack(), HANDLER_ENV).to_json()
    document = json.loads(written)
    assert document["awsEndpoint"] == "http://127.0.0.1:5001" and document["pid"] == os.getpid()
    assert document["settings"] == {"WORKFLOW_WAIT_SECONDS": "1,1,2", "MASTERY_THRESHOLD": "80"}
    for secret in ("edu-secret-password", "mt-secret-key", "local-secret", "testing"):
        assert secret not in written
    read = LocalStackFacts.from_json(written, "stack.json")
    assert read.environment() == {
        "WORKFLOW_WAIT_SECONDS": "1,1,2",
        "MASTERY_THRESHOLD": "80",
        "TABLE_NAME": "exttests-local-ResultsTable",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:exttests-local-finalization",
        "CREDENTIALS_KMS_KEY_ID": "key-1",
    }


def test_announce_writes_a_private_file_and_a_clean_stop_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "state" / "stack.json"
    assert discovery.announce(a_stack(), path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_running(path).api_url == "http://127.0.0.1:3000"
    assert [p.name for p in path.parent.iterdir()] == ["stack.json"]  # no temporary left behind
    discovery.withdraw(path)
    assert not path.exists()


def test_a_file_held_by_another_live_stack_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    theirs = facts(os.getppid()).to_json()  # a live process that is not this one
    path.write_text(theirs, encoding="utf-8")
    assert discovery.announce(a_stack(), path) is None
    discovery.withdraw(path)
    assert path.read_text(encoding="utf-8") == theirs


def test_the_file_of_a_stack_that_died_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text(facts(a_finished_pid()).to_json(), encoding="utf-8")
    assert discovery.announce(a_stack(), path) == path
    assert read_running(path).pid == os.getpid()


def test_the_cli_is_told_plainly_when_no_stack_is_running(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    with pytest.raises(LocalStackUnavailable, match="no local stack is running .*make run"):
        read_running(path)
    path.write_text(facts(a_finished_pid()).to_json(), encoding="utf-8")
    with pytest.raises(LocalStackUnavailable, match=r"\(pid \d+\) is no longer running"):
        read_running(path)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"format": 2}),
        json.dumps({**json.loads(facts(1).to_json()), "pid": "1"}),
        json.dumps({**json.loads(facts(1).to_json()), "pid": 0}),
        json.dumps({**json.loads(facts(1).to_json()), "tableName": ""}),
        json.dumps({**json.loads(facts(1).to_json()), "settings": {"EDULASTIC_PASSWORD": "x"}}),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stack.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LocalStackUnavailable, match=str(path)):
        read_running(path)


def test_the_file_is_found_from_the_variable_or_in_a_parent_directory(tmp_path: Path) -> None:
    nested = tmp_path / "repo" / "docs" / "deep"
    nested.mkdir(parents=True)
    assert find_file({}, nested) == nested / ".local-state" / "stack.json"  # none yet: where it would be
    announced = tmp_path / "repo" / ".local-state" / "stack.json"
    announced.parent.mkdir()
    announced.write_text("{}", encoding="utf-8")
    assert find_file({}, nested) == announced
    assert find_file({FILE_VARIABLE: str(tmp_path / "elsewhere.json")}, nested) == tmp_path / "elsewhere.json"
    assert discovery.default_path({FILE_VARIABLE: "/tmp/x.json"}) == Path("/tmp/x.json")
    assert discovery.default_path({}) == discovery.REPO_ROOT / ".local-state" / "stack.json"
