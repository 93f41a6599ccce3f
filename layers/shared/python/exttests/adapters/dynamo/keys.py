"""Primary keys of every item kind in the single table.

One table holds the roster (loaded from a OneRoster-shaped file), the per-attempt results
and the enrollments. Each item keeps its JSON document in the `doc` attribute (a string),
which sidesteps DynamoDB's Decimal numbers and keeps reads to one attribute.
"""

from __future__ import annotations

import hashlib
from functools import partial

PK = "PK"
SK = "SK"
DOC = "doc"
GSI1 = "GSI1"  # sparse: only attempts that still need the workflow carry GSI1PK
GSI1PK = "GSI1PK"
GSI1SK = "GSI1SK"
TTL = "ttl"

GLOBAL_ORG = "*"


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {PK: {"S": pk}, SK: {"S": sk}}


def _entity(kind: str, entity_id: str) -> dict[str, dict[str, str]]:
    """A roster entity's item: partition `KIND#id`, sort key `KIND` (one item per entity)."""
    return key(f"{kind}#{entity_id}", kind)


user = partial(_entity, "USER")
org = partial(_entity, "ORG")
course = partial(_entity, "COURSE")
course_component = partial(_entity, "COMPONENT")
resource = partial(_entity, "RESOURCE")
# A ComponentResource with its Resource and CourseComponent embedded (denormalized at load).
lesson = partial(_entity, "LESSON")


def subject_track(subject: str, grade: str, org_id: str | None) -> dict[str, dict[str, str]]:
    """Keyed as `domain.roster.track_key` normalizes (lower-case subject, canonical grade)."""
    return key(f"TRACK#{subject.strip().lower()}#{grade}", f"ORG#{org_id or GLOBAL_ORG}")


def enrollment(user_id: str, course_id: str) -> dict[str, dict[str, str]]:
    return key(f"USER#{user_id}", f"ENROLLMENT#{course_id}")


def provider_account(user_id: str, provider: str) -> dict[str, dict[str, str]]:
    return key(f"USER#{user_id}", f"PROVIDER#{provider}")


def results_pk(student_id: str, lesson_id: str) -> str:
    # Length-prefixed so ids that contain "#" can never make two pairs share a partition.
    return f"RESULT#{len(student_id)}:{student_id}#{lesson_id}"


def attempt_head(student_id: str, lesson_id: str) -> dict[str, dict[str, str]]:
    """The current attempt lives in HEAD, so one BatchGetItem reads it with the student and lesson."""
    return key(results_pk(student_id, lesson_id), "HEAD")


def attempt_archive(student_id: str, lesson_id: str, attempt: int) -> dict[str, dict[str, str]]:
    """Earlier (final) attempts are copied here when the next attempt starts."""
    return key(results_pk(student_id, lesson_id), f"ATTEMPT#{attempt:05d}")


def result_alias(sourced_id: str) -> dict[str, dict[str, str]]:
    """AssessmentResult sourcedId → (student, lesson, attempt), for the OneRoster write-back route."""
    return key(f"AR#{sourced_id}", "AR")


OUTBOX_PREFIX = "OUTBOX#"


# The sparse index GSI1 holds three views of the attempts, each its own partition(s):
DUE = "PENDING"  # attempts the workflow still owes work, sorted by when the sweeper should look
ENROLLMENT_FAILED = "ENROLLMENT_FAILED"  # final attempts whose enrollment failed, by time
EXPIRED = "EXPIRED"  # attempts whose deadline passed before they were final, by time


def due_partition(student_id: str, lesson_id: str, shards: int) -> str:
    """The due view is spread over `shards` partitions (one partition takes about 1,000 writes a
    second; every state change of an unfinished attempt writes it). Shard 0 keeps the unsharded
    name, so a table written before sharding is still read. Shards may be added, never removed."""
    shard = int(hashlib.sha256(results_pk(student_id, lesson_id).encode()).hexdigest()[:8], 16) % shards
    return DUE if shard == 0 else f"{DUE}#{shard}"


def due_partitions(shards: int) -> list[str]:
    return [DUE, *(f"{DUE}#{n}" for n in range(1, shards))]


def outbox(event_id: str) -> dict[str, dict[str, str]]:
    """A domain event waiting in the outbox (the table's stream publishes it; TTL removes it)."""
    return key(f"{OUTBOX_PREFIX}{event_id}", "OUTBOX")


def cached(kind: str, object_id: str) -> dict[str, dict[str, str]]:
    """A live roster's cached document (student, lesson, or the Subject Tracks)."""
    return key(f"RCACHE#{kind}#{object_id}", "RCACHE")
