"""The outbox publisher: the table's stream → the service's EventBridge bus.

Each state change writes its events to the table in the same transaction (outbox items); the
stream delivers those inserts here. A record whose event cannot be published is reported as a
batch item failure, so Lambda retries it (and only it) — an event is never lost once its change
is stored, and never exists for a change that was not. Delivery is at least once: consumers
deduplicate on `detail.eventId`.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from exttests import wiring
from exttests.adapters.dynamo.keys import DOC, OUTBOX_PREFIX, PK
from exttests.adapters.event_bus import EventBusPublisher
from exttests.config import Settings
from exttests.domain.events import DomainEvent
from exttests.invocation import task_handler
from exttests.observability import logger

# A batch that fails as a whole is reported record by record too (not raised): Lambda retries
# exactly the reported records, and the IteratorAge alarm tells when they keep failing.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
_publisher: tuple[Settings, EventBusPublisher] | None = None


def publisher() -> EventBusPublisher:
    """One publisher (and EventBridge client) per configuration: kept across warm invocations,
    rebuilt when the configuration is (wiring.reset)."""
    global _publisher
    settings = wiring.settings()
    if _publisher is None or _publisher[0] is not settings:
        _publisher = (settings, EventBusPublisher(settings.event_bus_name, settings.event_source))
    return _publisher[1]


def publish_record(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if record.event_name is not DynamoDBRecordEventName.INSERT or not image:
        return  # the TTL removal of a published event, or not ours (the mapping filters these too)
    if not str(image.get(PK, "")).startswith(OUTBOX_PREFIX):
        return
    event = DomainEvent.from_dict(json.loads(image[DOC]))
    publisher().publish(event)
    logger.info("event published", extra={"detail_type": event.detail_type.value, "event_id": event.event_id})


def publish_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )


handler = task_handler(publish_batch)
