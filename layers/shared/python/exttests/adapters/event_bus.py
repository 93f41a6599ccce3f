"""Publishes domain events to the service's EventBridge bus (called by the outbox publisher)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..domain.events import DomainEvent
from . import aws


class PublishFailed(Exception):
    """EventBridge did not take the event; the stream record is retried."""


class EventBusPublisher:
    client = aws.LazyClient("events")

    def __init__(self, bus_name: str, source: str, client: Any | None = None) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client

    def publish(self, event: DomainEvent) -> None:
        answer = self.client.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": event.detail_type.value,
                    "Detail": json.dumps(event.detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                    "Time": datetime.fromisoformat(event.time),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            entry = (answer.get("Entries") or [{}])[0]
            raise PublishFailed(f"{entry.get('ErrorCode', 'unknown')}: {entry.get('ErrorMessage', '')}"[:300])
