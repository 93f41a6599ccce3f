"""The outbox publisher (functions/event_publisher) on moto: stream records in, events on the bus
out; a record that cannot be published is reported alone, so only it is retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exttests.domain.events import DomainEvent, EventType
from tests.event_schemas import assert_valid_detail
from tests.support import ROOT

BUS = "exttests-test-events"


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service's bus with a rule copying every event of its source to a queue."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": "unused",
        "EVENT_BUS_NAME": BUS,
        "EVENT_SOURCE": "exttests",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from exttests import wiring

        wiring.reset()
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["exttests"]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        yield queue
        wiring.reset()


@pytest.fixture
def lambda_context() -> Any:
    from local.lambda_dispatch import make_context

    return make_context("EventPublisherFunction", timeout_seconds=60)


def _handler() -> Any:
    from local.lambda_dispatch import load_handler

    return load_handler(ROOT / "functions" / "event_publisher")


def _event() -> DomainEvent:
    detail = {
        "eventId": "4f6e2f7e-6d5c-4b8a-9a51-6c1f0e8d9b27",
        "student": "student-ada",
        "lesson": "lesson-mt-testout-math-g5",
        "attempt": 1,
        "toolProvider": "mastery-track",
        "lessonType": "test-out",
        "assignmentId": "asg-1",
        "courseId": "course-math-g6",
        "enrollmentId": "enr-1",
    }
    return DomainEvent(
        event_id=detail["eventId"],
        detail_type=EventType.ENROLLED,
        time="2026-11-02T09:00:00+00:00",
        detail=detail,
    )


def _record(sequence: str, pk: str, doc: str, name: str = "INSERT") -> dict[str, Any]:
    return {
        "eventID": sequence,
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"PK": {"S": pk}, "SK": {"S": "OUTBOX"}},
            "NewImage": {"PK": {"S": pk}, "SK": {"S": "OUTBOX"}, "doc": {"S": doc}},
            "SequenceNumber": sequence,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _published(queue: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_an_inserted_outbox_record_is_published_as_its_event(bus: str, lambda_context: Any) -> None:
    event = _event()
    answer = _handler()(
        {"Records": [_record("1", f"OUTBOX#{event.event_id}", event.to_json())]}, lambda_context
    )
    assert answer == {"batchItemFailures": []}
    (published,) = _published(bus)
    assert published["source"] == "exttests" and published["detail-type"] == "Student Enrolled"
    assert published["detail"] == event.detail
    assert_valid_detail(published["detail-type"], published["detail"])


def test_removals_modifications_and_other_items_publish_nothing(bus: str, lambda_context: Any) -> None:
    event = _event()
    records = [
        _record("1", f"OUTBOX#{event.event_id}", event.to_json(), name="REMOVE"),  # the TTL cleaning up
        _record("2", f"OUTBOX#{event.event_id}", event.to_json(), name="MODIFY"),
        _record("3", "RESULT#1:a#b", "{}"),
    ]
    assert _handler()({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert _published(bus) == []


def test_a_record_that_cannot_be_published_is_the_only_one_reported_for_retry(
    bus: str, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _event()
    good = _record("1", f"OUTBOX#{event.event_id}", event.to_json())
    broken = _record("2", "OUTBOX#broken", "not json")
    answer = _handler()({"Records": [good, broken]}, lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert len(_published(bus)) == 1
    # EventBridge refusing (the bus is gone): the record is reported, not lost.
    boto3.client("events").delete_event_bus(Name=BUS)
    assert _handler()({"Records": [good]}, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "1"}]}
