"""The sweeper: finds attempts nobody is looking after through the sparse GSI, never a Scan."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from exttests import wiring
from exttests.adapters.dynamo import keys
from exttests.adapters.dynamo.store import DynamoStore
from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.usecases.workflow_tasks import sweep

NOW = datetime.now(UTC)


class ReadCounter:
    """Counts DynamoDB round trips and items read, from botocore's after-call events."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        self.items = 0
        self._lock = threading.Lock()
        client.meta.events.register("after-call.dynamodb", self._count)

    def _count(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.append(model.name)
            if "Items" in parsed:
                self.items += len(parsed["Items"])
            if parsed.get("Item"):
                self.items += 1
            for items in (parsed.get("Responses") or {}).values():
                self.items += len(items)


def attempt(n: int, *, status: AttemptStatus, due: datetime, deadline: datetime | None = None) -> Attempt:
    final = status in (AttemptStatus.FINALIZED, AttemptStatus.EXPIRED)
    return Attempt(
        student_id=f"student-bulk-{n}",
        lesson_id="lesson-edu-testout-math-g5",
        attempt=1,
        sourced_id=f"ear-bulk-{n}",
        line_item_id=f"eali-bulk-{n}",
        status=status,
        tool_provider="edulastic",
        lesson_type="test-out",
        assignment_id=f"asg-{n}",
        class_id="class-int-1",
        test_id="edu-test-algebra-1",
        test_url="https://example.test/t",
        workflow_started=True,
        enrollment=EnrollmentStatus.NOT_DUE if final else None,
        deadline=(deadline or NOW + timedelta(days=30)).isoformat(),
        due_at=due.isoformat(),
        version=1,
    )


def put_all(store: DynamoStore, attempts: list[Attempt]) -> None:
    client = boto3.client("dynamodb")
    for start in range(0, len(attempts), 25):
        batch = attempts[start : start + 25]
        client.batch_write_item(
            RequestItems={
                store.table: [
                    {
                        "PutRequest": {
                            "Item": store._attempt_item(a, keys.attempt_head(a.student_id, a.lesson_id))
                        }
                    }
                    for a in batch
                ]
            }
        )


@pytest.fixture
def seeded(service: Any) -> dict[str, list[Attempt]]:
    store = DynamoStore(service.table)
    past = NOW - timedelta(hours=2)
    groups = {
        "final": [attempt(i, status=AttemptStatus.FINALIZED, due=past) for i in range(1000)],
        "stuck": [attempt(2000 + i, status=AttemptStatus.ASSIGNED, due=past) for i in range(10)],
        "alive": [
            attempt(3000 + i, status=AttemptStatus.ASSIGNED, due=NOW + timedelta(hours=1)) for i in range(20)
        ],
    }
    put_all(store, [a for group in groups.values() for a in group])
    return groups


def executions(service: Any) -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions")
    found: list[dict[str, Any]] = client.list_executions(stateMachineArn=service.resources.state_machine_arn)[
        "executions"
    ]
    return found


def test_sweeper_reads_only_the_stuck_attempts_and_restarts_them(
    service: Any, seeded: dict[str, Any]
) -> None:
    deps = wiring.deps()
    counter = ReadCounter(deps.store.client)  # type: ignore[attr-defined]

    report = sweep(deps, limit=100)

    assert "Scan" not in counter.calls
    # 10 index entries + 10 attempts re-read before the conditional restart
    assert counter.items == 20
    assert report.examined == 10 and len(report.restarted) == 10
    started = {e["name"] for e in executions(service)}
    assert started == set(report.restarted)
    for stuck in seeded["stuck"]:
        head = deps.store.get_head(stuck.student_id, stuck.lesson_id)
        assert head is not None and head.workflow_generation == 1
        assert datetime.fromisoformat(head.due_at or "") > NOW  # not picked up again right away
