"""The local stack's stand-in for Lambda's DynamoDB stream event source mapping
(local/events.StreamPublisher): batches of the template's size, in order, a failed batch and what
follows it retried, the delivery woken once something was published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.events import StreamPublisher
from local.lambda_dispatch import FunctionSpec, InvocationLog, Outcome, Throttled


def record(n: int) -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": str(n), "Keys": {"PK": {"S": f"OUTBOX#{n}"}, "SK": {"S": "E"}}},
    }


class ScriptedPublisher:
    """Answers each invocation from a script: "ok", "throttled", "failed" or a set of
    sequence numbers to report as batch item failures."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.batches: list[list[str]] = []
        self.log = InvocationLog()

    def invoke(self, spec: FunctionSpec, event: Any) -> Outcome:
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        answer = self.script.pop(0) if self.script else "ok"
        if answer == "throttled":
            raise Throttled()
        if answer == "failed":
            return Outcome(json.dumps({"errorType": "Boom"}).encode(), failed=True)
        failures = [{"itemIdentifier": s} for s in sorted(answer)] if isinstance(answer, set) else []
        return Outcome(json.dumps({"batchItemFailures": failures}).encode())


def publisher(invoker: ScriptedPublisher, woken: list[int]) -> StreamPublisher:
    return StreamPublisher(
        "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1",
        FunctionSpec("publisher", Path(".")),
        invoker,
        "us-east-1",
        on_published=lambda: woken.append(1),
    )


def test_a_burst_is_published_in_batches_of_25_in_order_at_once() -> None:
    invoker, woken = ScriptedPublisher(), []
    left = publisher(invoker, woken)._publish([record(n) for n in range(60)])
    assert left == []
    assert [len(b) for b in invoker.batches] == [25, 25, 10]
    assert [s for b in invoker.batches for s in b] == [str(n) for n in range(60)]
    assert len(woken) == 3


def test_a_failed_batch_and_everything_after_it_are_kept_for_the_retry() -> None:
    invoker, woken = ScriptedPublisher("ok", "failed"), []
    stream = publisher(invoker, woken)
    left = stream._publish([record(n) for n in range(60)])
    assert [r["dynamodb"]["SequenceNumber"] for r in left] == [str(n) for n in range(25, 60)]
    assert stream.published == 25 and len(woken) == 1


def test_only_the_reported_item_failures_of_a_batch_are_retried_with_what_follows() -> None:
    invoker, woken = ScriptedPublisher({"3", "7"}), []
    stream = publisher(invoker, woken)
    left = stream._publish([record(n) for n in range(30)])
    assert [r["dynamodb"]["SequenceNumber"] for r in left] == ["3", "7", *(str(n) for n in range(25, 30))]
    assert stream.published == 23 and len(woken) == 1


def test_a_throttled_invocation_publishes_nothing_and_wakes_nobody() -> None:
    invoker, woken = ScriptedPublisher("throttled"), []
    stream = publisher(invoker, woken)
    assert len(stream._publish([record(n) for n in range(5)])) == 5
    assert stream.published == 0 and woken == []
