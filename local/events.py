"""The domain events locally, end to end as in AWS: outbox → stream → publisher → bus → webhook.

- `StreamPublisher` stands in for Lambda's DynamoDB event source mapping: it reads the table's
  stream (moto in server mode serves it), keeps the records the template's filter keeps
  (inserted `OUTBOX#` items), and invokes the real publisher function with them through the
  worker pools; records it reports as batch item failures are retried with backoff, in order.
- `EventDelivery` stands in for the API destination: a rule on the service's bus sends every
  event of EVENT_SOURCE to an SQS queue (moto delivers to SQS targets, not to HTTP ones); this
  drains it, keeps the events for `GET /_local/events`, prints one line each to the console,
  and POSTs each one — the EventBridge envelope — to EVENTS_WEBHOOK_URL, retrying (the message
  is deleted only once the webhook answered 2xx).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import requests

from local.lambda_dispatch import (
    FunctionSpec,
    Invoker,
    Throttled,
    dynamodb_paused,
    wait_for_a_table_write,
    wake_table_watchers,
)

log = logging.getLogger("local.events")

OUTBOX_PREFIX = "OUTBOX#"
# The readers below are woken by what they wait for (a table write, a publish); this is only
# how long they go without looking when no wake-up comes (a missed one, a redelivery).
IDLE_POLL_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0
WEBHOOK_SECRET_HEADER = "x-exttests-webhook-secret"


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it to a function (creation time in epoch seconds)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    elif isinstance(created, str):
        dynamodb["ApproximateCreationDateTime"] = datetime.fromisoformat(created).timestamp()
    return {
        **{k: v for k, v in record.items() if k != "dynamodb"},
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _kept_by_filter(record: dict[str, Any]) -> bool:
    # The template's FilterCriteria: inserted outbox items only.
    keys = record.get("dynamodb", {}).get("Keys", {})
    return record.get("eventName") == "INSERT" and str(keys.get("PK", {}).get("S", "")).startswith(
        OUTBOX_PREFIX
    )


def forget_read_stream_records(stream_arn: str, last_read: int) -> None:
    """Drop the table's stream records up to `last_read` from moto's memory (this publisher, the
    only reader, holds what it still has to publish). moto keeps every record forever and
    deep-copies them with the table in each transaction: without this, writes get slower as the
    stack runs. Sequence numbers stay as they were."""
    from moto.dynamodb.models import dynamodb_backends

    for backends in dynamodb_backends.values():
        for backend in backends.values():
            for table in list(backend.tables.values()):
                shard = table.stream_shard
                if shard is None or table.latest_stream_label is None or table.table_arn not in stream_arn:
                    continue
                with dynamodb_paused():
                    drop = min(last_read + 1 - shard.starting_sequence_number, len(shard.items))
                    if drop > 0:
                        del shard.items[:drop]
                        shard.starting_sequence_number += drop


class StreamPublisher:
    def __init__(
        self,
        stream_arn: str,
        function: FunctionSpec,
        invoker: Invoker,
        region: str,
        on_published: Callable[[], None] = lambda: None,
    ) -> None:
        self.stream_arn = stream_arn
        self.function = function
        self.invoker = invoker
        self.on_published = on_published
        self.streams = boto3.client("dynamodbstreams", region_name=region)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self.published = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        wake_table_watchers()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 1.0
        pending: list[dict[str, Any]] = []  # records whose publishing failed, oldest first
        while not self._stop.is_set():
            if pending:
                self._stop.wait(backoff)
            else:
                wait_for_a_table_write(IDLE_POLL_SECONDS)
            if self._stop.is_set():
                break
            try:
                pending += [r for r in self._new_records() if _kept_by_filter(r)]
                if pending:
                    pending = self._publish(pending)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2) if pending else 1.0
            except Exception:  # the stack keeps running; the next round tries again
                log.exception("reading the table's stream failed")

    def _new_records(self) -> list[dict[str, Any]]:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        found: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            answer = self.streams.get_records(ShardIterator=iterator)
            records = answer.get("Records", [])
            found += records
            self._iterators[shard_id] = answer.get("NextShardIterator")
            if records:
                forget_read_stream_records(self.stream_arn, int(records[-1]["dynamodb"]["SequenceNumber"]))
        return found

    def _publish(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Invoke the publisher with batches of the template's BatchSize, in order, until one
        fails; returns the records to retry (that batch's failures and everything after it)."""
        while records:
            batch, rest = records[:25], records[25:]
            retry = self._publish_batch(batch)
            if len(retry) < len(batch):
                self.on_published()  # the delivery reads the bus now rather than on its next look
            if retry:
                return retry + rest
            records = rest
        return []

    def _publish_batch(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        event = {"Records": [_lambda_record(r, self.stream_arn) for r in batch]}
        try:
            outcome = self.invoker.invoke(self.function, event)
        except Throttled:
            return batch
        if outcome.failed:
            log.warning("the event publisher failed (%s); its batch is retried", outcome.error_type)
            return batch
        failures = {f.get("itemIdentifier") for f in (outcome.value() or {}).get("batchItemFailures", [])}
        retry = [r for r in batch if r["dynamodb"].get("SequenceNumber") in failures]
        self.published += len(batch) - len(retry)
        return retry


class EventDelivery:
    def __init__(
        self,
        bus_name: str,
        source: str,
        region: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        echo: Callable[[str], None] = print,
        keep: int = 1000,
    ) -> None:
        self.bus_name = bus_name
        self.source = source
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.echo = echo
        self.events = boto3.client("events", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.received: deque[dict[str, Any]] = deque(maxlen=keep)
        self.delivery_attempts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_url = ""
        self._session = requests.Session()

    def start(self) -> None:
        queue_url = self.sqs.create_queue(QueueName=f"{self.bus_name}-local-delivery")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule = f"{self.bus_name}-local-delivery"
        self.events.put_rule(
            Name=rule, EventBusName=self.bus_name, EventPattern=json.dumps({"source": [self.source]})
        )
        self.events.put_targets(
            Rule=rule, EventBusName=self.bus_name, Targets=[{"Id": "local", "Arn": queue_arn}]
        )
        self._queue_url = queue_url
        self._thread = threading.Thread(target=self._run, name="event-delivery", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was published on the bus: read the queue now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.close()

    def events_so_far(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def _run(self) -> None:
        seen: set[str] = set()
        backoff = 1.0
        retrying = False  # a message whose POST failed comes back after `backoff`
        while not self._stop.is_set():
            try:
                # A short poll, then a wait for the publisher's wake-up rather than SQS's long
                # poll, which would hold stop() (and every test's teardown) for up to a second.
                answer = self.sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
                )
            except Exception:
                log.exception("reading the local delivery queue failed")
                self._stop.wait(1)
                continue
            if not answer.get("Messages"):
                self._wake.wait(min(IDLE_POLL_SECONDS, backoff) if retrying else IDLE_POLL_SECONDS)
                self._wake.clear()
            for message in answer.get("Messages", []):
                envelope = json.loads(message["Body"])
                if envelope["id"] not in seen:  # a redelivery after a failed POST is not shown twice
                    seen.add(envelope["id"])
                    with self._lock:
                        self.received.append(envelope)
                    self.echo(_console_line(envelope))
                if self._deliver(envelope):
                    self.sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                    backoff, retrying = 1.0, False
                else:
                    # Visible again after the backoff: delivered at least once, in the end.
                    self.sqs.change_message_visibility(
                        QueueUrl=self._queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=int(backoff),
                    )
                    backoff, retrying = min(MAX_BACKOFF_SECONDS, backoff * 2), True

    def _deliver(self, envelope: dict[str, Any]) -> bool:
        if not self.webhook_url:
            return True
        headers = {"content-type": "application/json"}
        if self.webhook_secret:
            headers[WEBHOOK_SECRET_HEADER] = self.webhook_secret
        self.delivery_attempts += 1
        try:
            answer = self._session.post(
                self.webhook_url,
                data=json.dumps(envelope),
                headers=headers,
                timeout=10,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            log.warning("webhook delivery of %s failed: %s; retrying", envelope["id"], type(error).__name__)
            return False
        if 200 <= answer.status_code < 300:
            return True
        log.warning("webhook answered %s to %s; retrying", answer.status_code, envelope["id"])
        return False


def _console_line(envelope: dict[str, Any]) -> str:
    detail = envelope.get("detail") or {}
    extra = ""
    if envelope.get("detail-type") == "External Test Finalized":
        extra = f" score={detail.get('score')} xp={detail.get('xp')}"
    elif envelope.get("detail-type") == "Student Enrolled":
        extra = f" course={detail.get('courseId')}"
    elif envelope.get("detail-type") == "Enrollment Failed":
        extra = f" reason={detail.get('reason')!r}"
    return (
        f"event  {envelope.get('detail-type')}: student={detail.get('student')} lesson={detail.get('lesson')}"
        f" attempt={detail.get('attempt')}{extra}"
    )
