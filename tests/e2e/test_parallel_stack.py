"""The parallel local stack over HTTP: functions in worker processes, the sweeper on its schedule,
the data kept across a restart (LOCAL_STATE_DIR), and request log lines nobody can forge.

`-s` prints the figures quoted in docs/reliability.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.e2e.conftest import (
    WRITEBACK_PATH,
    WRITEBACK_SCOPE,
    StackProcess,
    Student,
    e2e_student,
    max_concurrency,
    running_stack,
    write_roster,
)
from tests.support import wait_until

pytestmark = pytest.mark.e2e

EDU_TESTOUT = "lesson-edu-testout-math-g5"
MT_TESTOUT = "lesson-mt-testout-math-g5"
NEXT_COURSE = "course-math-g6"
EDULASTIC_ASSIGN_CALL = "POST /assignments/v2/assign"
RACERS = 10  # per wave: partial write-backs first, then finalizing ones


def ok(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def write_back_body(score: float, status: str, processed: bool, **extra: Any) -> dict[str, Any]:
    return {
        "assessmentResult": {
            "scoreStatus": status,
            "score": score,
            "scoreDate": "2026-01-05",
            "metadata": {"masteryTrackProcessed": processed, "totalQuestions": 20, "correctQuestions": 19},
            **extra,
        }
    }


# --- many writers on one attempt -------------------------------------------------------------


def test_racing_write_backs_lose_nothing_and_finalize_once(stack: StackProcess, student: Student) -> None:
    since = time.time()
    ok(stack.assign(student.id, MT_TESTOUT))
    head = stack.wait_for_callback(student.id, MT_TESTOUT)
    url = stack.api_url + WRITEBACK_PATH.format(quote(head["sourced_id"], safe=""))
    headers = {"Authorization": f"Bearer {stack.token(WRITEBACK_SCOPE)}"}

    def put(body: dict[str, Any]) -> int:
        return requests.put(url, json=body, headers=headers, timeout=60).status_code

    partial = [
        write_back_body(50 + i, "partially graded", False, comment=f"writer {i}") for i in range(RACERS)
    ]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        assert list(pool.map(put, partial)) == [200] * RACERS
    stored = stack.head(student.id, MT_TESTOUT)
    assert stored is not None and stored["status"] != "finalized"
    # A PUT replaces the record: the stored one is exactly one writer's, never a mix of several.
    written = stored["writeback"]
    winner = int(written["comment"].removeprefix("writer "))
    assert written["score"] == 50 + winner and stored["score"] == 50 + winner

    final = [write_back_body(95, "fully graded", True) for _ in range(RACERS)]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        assert list(pool.map(put, final)) == [200] * RACERS

    # The write-back woke the waiting workflow, which enrolls and ends; once.
    [execution] = wait_until(
        lambda: [e for e in stack.executions(student.id, MT_TESTOUT) if e["status"] != "RUNNING"], 30
    )
    assert execution["status"] == "SUCCEEDED"
    stored = stack.head(student.id, MT_TESTOUT)
    assert stored is not None
    assert (stored["status"], stored["score"], stored["enrollment"]) == ("finalized", 95, "enrolled")
    assert stack.enrollments(student.id) == [NEXT_COURSE]
    assert [item["SK"]["S"] for item in stack.result_items(student.id, MT_TESTOUT)] == ["HEAD"]

    ran = stack.invocations("WriteBackFunction", since)
    assert len(ran) == 2 * RACERS and {i["outcome"] for i in ran} == {"ok"}
    assert max_concurrency(ran) > 1 and len({i["pid"] for i in ran}) >= 2
    print(
        f"\n{2 * RACERS} racing write-backs: {len({i['pid'] for i in ran})} worker processes, "
        f"at most {max_concurrency(ran)} at once; one whole record kept, final once"
    )


# --- a restart with LOCAL_STATE_DIR ------------------------------------------------------------


@dataclass
class Restart:
    stack: StackProcess  # the second stack, on the first one's state
    student: Student
    assigned: dict[str, Any]  # the first stack's answer
    generation: int  # the attempt's workflow generation before the restart


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restart]:
    directory = tmp_path_factory.mktemp("restart")
    roster = write_roster(directory, "restart", 1)
    student = e2e_student(0, "restart")
    # A workflow that polls every second and is due to the sweeper a second after it stops.
    settings = {
        "LOCAL_STATE_DIR": str(directory / "state"),
        "WORKFLOW_WAIT_SECONDS": "1",
        "SWEEPER_GRACE_SECONDS": "1",
        "CALLBACK_TIMEOUT_SECONDS": "3600",
    }
    with running_stack(roster, settings) as first:
        assigned = ok(first.assign(student.id, EDU_TESTOUT))
        wait_until(lambda: first.executions(student.id, EDU_TESTOUT))
        head = first.head(student.id, EDU_TESTOUT)
        assert head is not None
    assert (directory / "state" / "moto-state.pickle").exists()
    # Executions are not kept: the restarted stack has none until its sweeper restarts one.
    with running_stack(roster, {**settings, "SWEEPER_INTERVAL_SECONDS": "1", "LOG_LEVEL": "INFO"}) as second:
        yield Restart(second, student, assigned, int(head["workflow_generation"]))


def test_attempts_and_their_credentials_survive_a_restart_with_local_state_dir(restarted: Restart) -> None:
    stack, student = restarted.stack, restarted.student
    assert restarted.assigned["credentials"]["password"]

    again = ok(stack.assign(student.id, EDU_TESTOUT))

    # The same attempt, assignment and password: the table and the KMS key that encrypted the
    # password came back; nothing was asked of the (new, empty) provider simulator.
    assert again == restarted.assigned
    assert stack.edulastic_state()["calls"].get(EDULASTIC_ASSIGN_CALL, 0) == 0
    progress = ok(stack.progress(student.id, EDU_TESTOUT))
    assert progress["attempt"] == 1 and progress["finalized"] is False


def test_the_sweeper_runs_on_its_interval_and_restarts_workflows_lost_in_a_restart(
    restarted: Restart,
) -> None:
    stack, student = restarted.stack, restarted.student

    [execution] = wait_until(lambda: stack.executions(student.id, EDU_TESTOUT), 30)
    head = stack.head(student.id, EDU_TESTOUT)
    assert head is not None and head["workflow_generation"] == restarted.generation + 1
    assert execution["name"].endswith(f"g{restarted.generation + 1}")
    sweeps = wait_until(lambda: (found := stack.invocations("SweeperFunction")) and len(found) >= 2 and found)
    assert {sweep["outcome"] for sweep in sweeps} == {"ok"}


def test_control_characters_in_a_path_cannot_split_or_forge_a_log_line(restarted: Restart) -> None:
    stack = restarted.stack
    forged = "2026-01-05 12:00:00,000 ERROR local.gateway: FORGED"

    assert stack.request("GET", f"/powerpath/x%0D%0A{forged}%1B[2J").status_code == 404

    lines = wait_until(lambda: [line for line in list(stack.output) if "FORGED" in line])
    assert len(lines) == 1  # one line, the request's own, with every character visible
    assert f"GET /powerpath/x\\x0d\\x0a{forged}\\x1b[2J -> 404" in lines[0]
    assert not lines[0].startswith(forged)
