"""The DynamoDB implementation of the Store port: one table, JSON documents, optimistic locking.

Every attempt write is conditional on the version read, so concurrent imports, write-backs and
workflow tasks never lose an update: the loser gets VersionConflict, re-reads and re-applies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ...domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ...domain.events import DomainEvent
from ...domain.models import Lesson, ProviderAccount, Student, ToolProvider
from ...domain.roster import lesson_from_documents, student_from_user
from ...errors import Busy
from ...ports import (
    AttemptKey,
    AttemptView,
    CachedDocument,
    ClaimStatus,
    Context,
    CourseMissing,
    DueAttempt,
    EnrollmentClaim,
    VersionConflict,
)
from .. import aws
from . import keys
from .keys import DOC, GSI1, GSI1PK, GSI1SK, PK, SK, TTL

STUDENT, LESSON = "student", "lesson"
FRESH_UNTIL = "freshUntil"
CACHE_RETENTION = timedelta(days=1)
CLAIM, CLAIM_UNTIL = "claim", "claimUntil"
_VIEW_PARTITION = {AttemptView.ENROLLMENT_FAILED: keys.ENROLLMENT_FAILED, AttemptView.EXPIRED: keys.EXPIRED}
# Outbox items only need to outlive the stream's 24 h retention (and a publisher outage).
OUTBOX_RETENTION = timedelta(days=7)


def _doc(item: dict[str, Any] | None) -> Any:
    if not item or DOC not in item:
        return None
    return json.loads(item[DOC]["S"])


def attempt_of(item: dict[str, Any] | None) -> Attempt | None:
    doc = _doc(item)
    return Attempt.from_dict(doc) if doc is not None else None


def student_of(item: dict[str, Any] | None) -> Student | None:
    doc = _doc(item)
    return student_from_user(doc) if isinstance(doc, dict) else None


def lesson_of(item: dict[str, Any] | None) -> Lesson | None:
    doc = _doc(item)
    if not isinstance(doc, dict) or not isinstance(doc.get("componentResource"), dict):
        return None
    return lesson_from_documents(doc["componentResource"], doc.get("resource"))


def _key_str(key: dict[str, dict[str, str]]) -> tuple[str, str]:
    return key[PK]["S"], key[SK]["S"]


def parse_results_pk(pk: str) -> tuple[str, str]:
    """Inverse of keys.results_pk (length-prefixed student id)."""
    body = pk.removeprefix("RESULT#")
    length, _, rest = body.partition(":")
    size = int(length)
    return rest[:size], rest[size + 1 :]


def _fresh(item: dict[str, Any] | None, now: float) -> bool:
    return item is not None and FRESH_UNTIL in item and float(item[FRESH_UNTIL]["N"]) > now


def _conditional_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


# Deliberately alike: the methods repeat `ports.Store`'s signatures (an adapter matches its port;
# the `duplicates` tool pairs save_enrollment with the port's).
class DynamoStore:
    """`roster_cache=False`: the roster is the loaded file's items, authoritative. True: students
    and lessons are a live roster's cache entries, read in the same batch; missing or expired
    ones are named in `Context.stale` for the roster to fetch."""

    client = aws.LazyClient("dynamodb")

    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        *,
        roster_cache: bool = False,
        due_shards: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table_name
        self._client = client
        self.roster_cache = roster_cache
        self.due_shards = due_shards
        self._clock = clock

    # --- reads ---------------------------------------------------------------------------

    def _batch_get(self, key_list: list[dict[str, dict[str, str]]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": key_list, "ConsistentRead": True}}
        while request:
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table, []):
                found[(item[PK]["S"], item[SK]["S"])] = item
            request = answer.get("UnprocessedKeys") or {}
        return found

    def load_context(self, student_id: str, lesson_id: str) -> Context:
        if self.roster_cache:
            user_key, lesson_key = keys.cached(STUDENT, student_id), keys.cached(LESSON, lesson_id)
        else:
            user_key, lesson_key = keys.user(student_id), keys.lesson(lesson_id)
        head_key = keys.attempt_head(student_id, lesson_id)
        account_keys = {p: keys.provider_account(student_id, p.value) for p in ToolProvider}
        items = self._batch_get([user_key, lesson_key, head_key, *account_keys.values()])
        accounts = {}
        for provider, account_key in account_keys.items():
            doc = _doc(items.get(_key_str(account_key)))
            if doc is not None:
                accounts[provider] = ProviderAccount.from_dict(doc)
        user_item, lesson_item = items.get(_key_str(user_key)), items.get(_key_str(lesson_key))
        stale: set[str] = set()
        if self.roster_cache:
            now = self._clock()
            if not _fresh(user_item, now):
                stale.add(STUDENT)
            if not _fresh(lesson_item, now):
                stale.add(LESSON)
        return Context(
            student=None if STUDENT in stale else student_of(user_item),
            lesson=None if LESSON in stale else lesson_of(lesson_item),
            head=attempt_of(items.get(_key_str(head_key))),
            accounts=accounts,
            stale=frozenset(stale),
        )

    # --- the live roster's cache ---------------------------------------------------------

    def read_cache(self, kind: str, id: str) -> CachedDocument | None:
        item = self._get(keys.cached(kind, id))
        if item is None:
            return None
        return CachedDocument(kind, id, _doc(item), float(item[FRESH_UNTIL]["N"]))

    def write_cache(self, documents: Sequence[CachedDocument]) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **keys.cached(d.kind, d.id),
                        DOC: {"S": json.dumps(d.doc)},
                        FRESH_UNTIL: {"N": str(d.fresh_until)},
                        # Kept a while past freshness, then DynamoDB's TTL removes it.
                        TTL: {"N": str(int(d.fresh_until + CACHE_RETENTION.total_seconds()))},
                    }
                }
            }
            for d in documents
        ]
        while requests:
            answer = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = (answer.get("UnprocessedItems") or {}).get(self.table) or []

    def _get(self, key: dict[str, dict[str, str]]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def get_head(self, student_id: str, lesson_id: str) -> Attempt | None:
        return attempt_of(self._get(keys.attempt_head(student_id, lesson_id)))

    def attempts_of(self, student_id: str, lesson_id: str) -> list[Attempt]:
        found: list[Attempt] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": {":pk": {"S": keys.results_pk(student_id, lesson_id)}},
            "ConsistentRead": True,
        }
        while True:
            answer = self.client.query(**request)
            found += [a for a in (attempt_of(item) for item in answer.get("Items", [])) if a is not None]
            if "LastEvaluatedKey" not in answer:
                return sorted(found, key=lambda a: a.attempt)
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_enrollment(self, student_id: str, course_id: str) -> dict[str, Any] | None:
        record = _doc(self._get(keys.enrollment(student_id, course_id)))
        return record if isinstance(record, dict) else None

    def get_attempt(self, student_id: str, lesson_id: str, attempt: int) -> Attempt | None:
        items = self._batch_get(
            [keys.attempt_head(student_id, lesson_id), keys.attempt_archive(student_id, lesson_id, attempt)]
        )
        for item in items.values():
            found = attempt_of(item)
            if found is not None and found.attempt == attempt:
                return found
        return None

    def find_track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        wanted = [keys.subject_track(subject, grade, org_id)] if org_id else []
        wanted.append(keys.subject_track(subject, grade, None))
        items = self._batch_get(wanted)
        for key in wanted:  # the org-specific track wins over the global one
            item = items.get(_key_str(key))
            if item and item.get("courseId", {}).get("S"):
                course: str = item["courseId"]["S"]
                return course
        return None

    def find_by_sourced_id(self, sourced_id: str) -> tuple[Context, Attempt] | None:
        """The attempt a OneRoster AssessmentResult id belongs to, with its student and lesson."""
        alias = _doc(self._get(keys.result_alias(sourced_id)))
        if not isinstance(alias, dict):
            return None
        ctx = self.load_context(alias["student"], alias["lesson"])
        number = int(alias["attempt"])
        attempt = ctx.head if ctx.head is not None and ctx.head.attempt == number else None
        attempt = attempt or self.get_attempt(alias["student"], alias["lesson"], number)
        return (ctx, attempt) if attempt is not None else None

    def _query_view(
        self, partition: str, since: str | None, until: str | None, limit: int
    ) -> list[dict[str, Any]]:
        names = {"#pk": GSI1PK}
        values: dict[str, Any] = {":pk": {"S": partition}}
        condition = "#pk = :pk"
        if since is not None or until is not None:
            names["#sk"] = GSI1SK
        if since is not None and until is not None:
            condition += " AND #sk BETWEEN :since AND :until"
            values |= {":since": {"S": since}, ":until": {"S": until}}
        elif until is not None:
            condition += " AND #sk <= :until"
            values[":until"] = {"S": until}
        elif since is not None:
            condition += " AND #sk >= :since"
            values[":since"] = {"S": since}
        answer = self.client.query(
            TableName=self.table,
            IndexName=GSI1,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            Limit=limit,
        )
        items: list[dict[str, Any]] = answer.get("Items", [])
        return items

    def _view_items(
        self, view: AttemptView, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        if view is AttemptView.DUE:
            partitions = keys.due_partitions(self.due_shards)
        else:
            partitions = [_VIEW_PARTITION[view]]
        found: list[dict[str, Any]] = []
        for partition in partitions:  # each shard sorted; merged below
            found += self._query_view(
                partition, since.isoformat() if since else None, until.isoformat() if until else None, limit
            )
        return sorted(found, key=lambda item: item[GSI1SK]["S"])[:limit]

    def due_attempts(self, now: datetime, limit: int) -> list[DueAttempt]:
        """Attempts whose workflow should have shown a sign of life by now (sparse GSI, no Scan)."""
        found = []
        for item in self._view_items(AttemptView.DUE, None, now, limit):
            student, lesson = parse_results_pk(item[PK]["S"])
            found.append(DueAttempt(student, lesson, datetime.fromisoformat(item[GSI1SK]["S"])))
        return found

    def list_attempts(
        self,
        view: AttemptView,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AttemptKey]:
        keys_found = []
        for item in self._view_items(view, since, until, limit):
            student, lesson = parse_results_pk(item[PK]["S"])
            sort_key = item[SK]["S"]
            number = None if sort_key == "HEAD" else int(sort_key.removeprefix("ATTEMPT#"))
            keys_found.append(AttemptKey(student, lesson, number, item[GSI1SK]["S"]))
        return keys_found

    # --- writes --------------------------------------------------------------------------

    def _attempt_item(self, attempt: Attempt, sk_key: dict[str, dict[str, str]]) -> dict[str, Any]:
        item: dict[str, Any] = {
            **sk_key,
            DOC: {"S": attempt.to_json()},
            "version": {"N": str(attempt.version)},
        }
        entry = self._index_entry(attempt)
        if entry is not None:
            item[GSI1PK], item[GSI1SK] = {"S": entry[0]}, {"S": entry[1]}
        return item

    def _index_entry(self, attempt: Attempt) -> tuple[str, str] | None:
        """Where the attempt stands on the sparse index: the view it belongs to, if any."""
        if attempt.needs_workflow and attempt.due_at:
            return keys.due_partition(attempt.student_id, attempt.lesson_id, self.due_shards), attempt.due_at
        if attempt.enrollment is EnrollmentStatus.FAILED:
            return keys.ENROLLMENT_FAILED, attempt.updated_at or ""
        if attempt.status is AttemptStatus.EXPIRED:
            return keys.EXPIRED, attempt.updated_at or ""
        return None

    def _head_put(self, attempt: Attempt, expected_version: int | None) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": self._attempt_item(attempt, keys.attempt_head(attempt.student_id, attempt.lesson_id)),
        }
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
        return put

    def _account_put(self, student_id: str, account: ProviderAccount, *, new: bool) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                **keys.provider_account(student_id, account.provider.value),
                DOC: {"S": account.to_json()},
            },
        }
        if new:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        return put

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _conditional_failure(error):
                raise VersionConflict(str(error.response.get("Error", {}).get("Code"))) from error
            raise

    def begin_attempt(
        self, intent: Attempt, previous: Attempt | None, new_account: ProviderAccount | None
    ) -> bool:
        items: list[dict[str, Any]] = [
            {"Put": self._head_put(intent, previous.version if previous else None)},
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        **keys.result_alias(intent.sourced_id),
                        DOC: {
                            "S": json.dumps(
                                {
                                    "student": intent.student_id,
                                    "lesson": intent.lesson_id,
                                    "attempt": intent.attempt,
                                }
                            )
                        },
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
        if previous is not None:
            archive_key = keys.attempt_archive(previous.student_id, previous.lesson_id, previous.attempt)
            items.append(
                {"Put": {"TableName": self.table, "Item": self._attempt_item(previous, archive_key)}}
            )
        if new_account is not None:
            items.append({"Put": self._account_put(intent.student_id, new_account, new=True)})
        try:
            self._transact(items)
        except VersionConflict:
            return False
        return True

    def abandon_attempt(self, intent: Attempt, previous: Attempt | None) -> None:
        items: list[dict[str, Any]] = [
            {"Delete": {"TableName": self.table, "Key": keys.result_alias(intent.sourced_id)}}
        ]
        head_key = keys.attempt_head(intent.student_id, intent.lesson_id)
        condition = {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(intent.version)}},
        }
        if previous is None:
            items.append({"Delete": {"TableName": self.table, "Key": head_key, **condition}})
        else:
            restored = previous.evolve({"version": intent.version + 1})
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._attempt_item(restored, head_key),
                        **condition,
                    }
                }
            )
            archive_key = keys.attempt_archive(previous.student_id, previous.lesson_id, previous.attempt)
            items.append({"Delete": {"TableName": self.table, "Key": archive_key}})
        try:
            self._transact(items)
        except VersionConflict:
            # Someone took the intent over (our lease ran out): theirs is now the truth.
            return

    def _outbox_puts(self, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
        """The change's events, written in its transaction; the stream publishes them."""
        puts = []
        for event in events:
            expires = datetime.fromisoformat(event.time) + OUTBOX_RETENTION
            puts.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **keys.outbox(event.event_id),
                            DOC: {"S": event.to_json()},
                            TTL: {"N": str(int(expires.timestamp()))},
                        },
                    }
                }
            )
        return puts

    def save(
        self,
        attempt: Attempt,
        *,
        account: ProviderAccount | None = None,
        events: Sequence[DomainEvent] = (),
    ) -> Attempt:
        saved = attempt.evolve({"version": attempt.version + 1})
        put = self._head_put(saved, attempt.version)
        if account is None and not events:
            try:
                self.client.put_item(**put)
            except ClientError as error:
                if _conditional_failure(error):
                    raise VersionConflict("attempt changed") from error
                raise
            return saved
        items = [{"Put": put}, *self._outbox_puts(events)]
        if account is not None:
            items.append({"Put": self._account_put(attempt.student_id, account, new=False)})
        self._transact(items)
        return saved

    def save_account(self, student_id: str, account: ProviderAccount) -> None:
        self.client.put_item(**self._account_put(student_id, account, new=False))

    def save_enrollment(
        self,
        attempt: Attempt,
        course_id: str,
        record: dict[str, Any],
        *,
        events: Sequence[DomainEvent] = (),
        claim_holder: str | None = None,
    ) -> Attempt:
        saved = attempt.evolve({"version": attempt.version + 1})
        enrollment_key = keys.enrollment(attempt.student_id, course_id)
        if claim_holder is None:
            enrollment_items: list[dict[str, Any]] = [
                {
                    # if_not_exists: enrolling twice keeps the first record (a no-op).
                    "Update": {
                        "TableName": self.table,
                        "Key": enrollment_key,
                        "UpdateExpression": "SET #doc = if_not_exists(#doc, :doc)",
                        "ExpressionAttributeNames": {"#doc": DOC},
                        "ExpressionAttributeValues": {":doc": {"S": json.dumps(record)}},
                    }
                },
                {
                    # Checked in the same transaction instead of a separate read: one round trip.
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": keys.course(course_id),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        else:
            enrollment_items = [
                {
                    # Made on the platform under our claim: the record replaces the claim.
                    "Update": {
                        "TableName": self.table,
                        "Key": enrollment_key,
                        "UpdateExpression": "SET #doc = :doc REMOVE #claim, #until",
                        "ConditionExpression": "#claim = :holder",
                        "ExpressionAttributeNames": {"#doc": DOC, "#claim": CLAIM, "#until": CLAIM_UNTIL},
                        "ExpressionAttributeValues": {
                            ":doc": {"S": json.dumps(record)},
                            ":holder": {"S": claim_holder},
                        },
                    }
                }
            ]
        items = [
            {"Put": self._head_put(saved, attempt.version)},
            *enrollment_items,
            *self._outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise VersionConflict("attempt changed") from error
            if claim_holder is not None and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise Busy("the enrollment was taken over by another request", retry_after=5) from error
            if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                raise CourseMissing(course_id) from error
            if _conditional_failure(error):
                raise VersionConflict("attempt changed") from error
            raise
        return saved

    def claim_enrollment(self, student_id: str, course_id: str, holder: str, until: float) -> EnrollmentClaim:
        key = keys.enrollment(student_id, course_id)
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #claim = :holder, #until = :until",
                ConditionExpression=(
                    "attribute_not_exists(#doc) AND "
                    "(attribute_not_exists(#claim) OR #until < :now OR #claim = :holder)"
                ),
                ExpressionAttributeNames={"#doc": DOC, "#claim": CLAIM, "#until": CLAIM_UNTIL},
                ExpressionAttributeValues={
                    ":holder": {"S": holder},
                    ":until": {"N": str(until)},
                    ":now": {"N": str(self._clock())},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise
            item = self._get(key)
            record = _doc(item)
            if isinstance(record, dict):
                return EnrollmentClaim(ClaimStatus.ENROLLED, record=record)
            return EnrollmentClaim(ClaimStatus.BUSY)
        previous = answer.get("Attributes") or {}
        # Any earlier claim ended without a record: its platform call may still have worked.
        return EnrollmentClaim(ClaimStatus.CLAIMED, taken_over=CLAIM in previous)

    def release_enrollment(self, student_id: str, course_id: str, holder: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=keys.enrollment(student_id, course_id),
                UpdateExpression="SET #until = :zero",
                ConditionExpression="#claim = :holder",
                ExpressionAttributeNames={"#claim": CLAIM, "#until": CLAIM_UNTIL},
                ExpressionAttributeValues={":holder": {"S": holder}, ":zero": {"N": "0"}},
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise

    def touch_due(self, attempt: Attempt, due: datetime) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=keys.attempt_head(attempt.student_id, attempt.lesson_id),
                UpdateExpression="SET #sk = :due",
                # Only an attempt on the due view (not a failed enrollment or an expiry).
                ConditionExpression="begins_with(#pk, :view) AND version = :v",
                ExpressionAttributeNames={"#sk": GSI1SK, "#pk": GSI1PK},
                ExpressionAttributeValues={
                    ":due": {"S": due.isoformat()},
                    ":v": {"N": str(attempt.version)},
                    ":view": {"S": keys.DUE},
                },
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise
