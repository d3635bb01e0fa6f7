"""The metadata store: one DynamoDB item per image key, written only by conditional updates.

Statuses move forward only (UPLOADED -> PROCESSING -> COMPLETED | REJECTED | FAILED, and
FAILED -> PROCESSING for a pipeline retry; COMPLETED -> UPLOADED only when reprocessing is asked
for, as a new generation; any -> DELETED, a tombstone, on erasure). Each write names the upload it belongs to (its S3
sequencer) and, inside the pipeline, the execution, so a late or duplicated event can never
move a record backwards or overwrite a newer upload of the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import ConditionBase

if TYPE_CHECKING:
    from types_boto3_dynamodb.service_resource import Table

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from qip.core.clock import now_iso
from qip.core.errors import TransientError
from qip.core.model import (
    COMPLETED,
    DELETED,
    FAILED,
    PROCESSING,
    REJECTED,
    UPLOADED,
    ImagePointer,
    Rejection,
    Status,
    padded_sequencer,
)

BY_STATUS = "by-status"
BY_UPLOAD_DATE = "by-upload-date"
BY_KEY = "by-key"  # keyed by upload bucket and image key: what a key-prefix listing reads
BATCH_GET_MAX = 100  # keys per BatchGetItem call (DynamoDB's limit)


@dataclass(frozen=True)
class Upload:
    """An object that arrived in the upload bucket, as the ingest function saw it."""

    bucket: str
    key: str
    size: int
    content_type: str
    etag: str
    sequencer: str
    uploaded_at: str
    version_id: str | None = None

    def pointer(self, attempt: int = 1) -> ImagePointer:
        """The S3 pointer the pipeline passes between steps (never the bytes)."""
        return ImagePointer(bucket=self.bucket, key=self.key, etag=self.etag, sequencer=self.sequencer,
                            size=self.size, content_type=self.content_type, version_id=self.version_id,
                            attempt=attempt)


@dataclass(frozen=True)
class Page:
    """One page of a query, and the token that fetches the next one (None at the end)."""

    items: list[dict[str, Any]]
    next_token: str | None


_OWNED = "#status = :owner_status AND execution = :execution"  # this execution owns the PROCESSING record


def _owner(execution: str) -> dict[str, Any]:
    return {":owner_status": PROCESSING, ":execution": execution}


def run_digest(run_id: str) -> str:
    """A short fingerprint of an execution's id: enough to tell two runs of one name apart."""
    return hashlib.sha256(run_id.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; give callers ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dynamo(value: Any) -> Any:
    """Floats are not accepted by DynamoDB; store them as Decimal."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_plain(key)).encode()).decode()


def _decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    start: dict[str, Any] = _dynamo(json.loads(base64.urlsafe_b64decode(token.encode())))
    return start


class MetadataStore:
    """Reads and conditional writes of image records."""

    def __init__(self, table: Table, upload_bucket: str | None = None) -> None:
        self._table = table
        self.upload_bucket = upload_bucket  # needed only by keys_with_prefix (the by-key index's partition)

    # ------------------------------------------------------------------ writes
    def record_upload(self, upload: Upload, status: Status = UPLOADED, reason: Rejection | None = None) -> bool:
        """Create or replace the record for a new upload; False if it is stale or a duplicate.

        A duplicate of an upload still UPLOADED is written again (returns True) so that a
        crash between recording and enqueueing cannot strand it: the caller enqueues again
        and the deterministic execution name keeps the pipeline from running twice.
        """
        at = now_iso()
        item: dict[str, Any] = {
            "image_key": upload.key,
            "bucket": upload.bucket,
            "size": upload.size,
            "content_type": upload.content_type,
            "etag": upload.etag,
            "sequencer": padded_sequencer(upload.sequencer),
            "uploaded_at": upload.uploaded_at,
            "upload_date": upload.uploaded_at[:10],
            "status": status,
            "attempt": 0,
            "updated_at": at,
            "history": [{"status": status, "at": at}],
            "stages": {},
        }
        if upload.version_id:
            item["version_id"] = upload.version_id
        if reason:
            item["reason"] = reason.to_dict()
        try:
            self._table.put_item(
                Item=_dynamo(item),
                ConditionExpression=(
                    "attribute_not_exists(image_key) OR sequencer < :seq"
                    " OR (sequencer = :seq AND #status = :uploaded)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":seq": item["sequencer"], ":uploaded": UPLOADED},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def start_processing(self, key: str, sequencer: str, execution: str, attempt: int,
                         run_id: str | None = None) -> bool:
        """Mark PROCESSING for this execution; False if another upload or run owns the record.

        `run_id` names this one execution (Step Functions' `$$.Execution.Id`). A Standard
        workflow never runs two executions of one name, but an Express workflow does (it is
        at-least-once and does not deduplicate names): only the run that took the record, or a
        retry of that same run, may take it again; a second execution of the name is refused.
        The record keeps a digest of it (`run_digest`): the ARN alone would be 130 of the
        record's bytes, which every later write of the image pays for (a write unit per KB).
        """
        return self._update(
            key,
            "SET #status = :processing, execution = :execution, run_id = :run, attempt = :attempt,"
            " started_at = :at, stages = :empty REMOVE #error, last_error",
            (
                "sequencer = :seq AND ((#status = :uploaded)"
                " OR (#status = :failed AND attempt < :attempt)"
                " OR (#status = :processing AND execution = :execution AND run_id = :run))"
            ),
            {
                ":processing": PROCESSING,
                ":uploaded": UPLOADED,
                ":failed": FAILED,
                ":execution": execution,
                ":run": run_digest(run_id or execution),
                ":attempt": attempt,
                ":seq": padded_sequencer(sequencer),
                ":empty": {},
            },
            history=PROCESSING,
            names={"#error": "error"},
        )

    def complete_stage(self, key: str, execution: str, stage: str, record: dict[str, Any],
                       extra: dict[str, Any] | None = None) -> bool:
        """Record a stage's completion (timestamps, duration) and any data it produced."""
        sets = ["stages.#stage = :record"]
        values: dict[str, Any] = {":record": record}
        names = {"#stage": stage}
        for index, (name, value) in enumerate((extra or {}).items()):
            sets.append(f"#x{index} = :x{index}")
            names[f"#x{index}"] = name
            values[f":x{index}"] = value
        return self._owned_update(key, execution, "SET " + ", ".join(sets), values, names)

    def record_stage_error(self, key: str, execution: str, error: dict[str, Any]) -> bool:
        """Keep the details of a failed step attempt, so FAILED can say where and why."""
        return self._owned_update(key, execution, "SET last_error = :error", {":error": error})

    def complete(self, key: str, execution: str, outputs: dict[str, Any]) -> dict[str, Any] | None:
        """Mark COMPLETED with the outputs: the record as written, or None if this run does not own
        it. The record comes back with the write, so the final notification needs no read after it."""
        return self._write(
            key,
            "SET #status = :completed, outputs = :outputs, completed_at = :at",
            _OWNED,
            {":completed": COMPLETED, ":outputs": outputs, **_owner(execution)},
            history=COMPLETED,
            returning=True,
        )

    def reject(self, key: str, execution: str, reason: Rejection) -> bool:
        return self._owned_update(
            key,
            execution,
            "SET #status = :rejected, reason = :reason, completed_at = :at",
            {":rejected": REJECTED, ":reason": reason.to_dict()},
            history=REJECTED,
        )

    def fail(self, key: str, execution: str, error: dict[str, Any], final: bool, sequencer: str | None = None) -> bool:
        """FAILED, by the run that owns the record; or, given the upload's sequencer, by a run that
        died before it could take the record from UPLOADED (so the image is not stranded)."""
        condition = "#status = :owner_status AND execution = :execution"
        values: dict[str, Any] = {":failed": FAILED, ":error": error, ":final": final,
                                  ":owner_status": PROCESSING, ":execution": execution}
        if sequencer is not None:
            condition = f"({condition}) OR (#status = :uploaded AND sequencer = :seq)"
            values.update({":uploaded": UPLOADED, ":seq": padded_sequencer(sequencer)})
        return self._update(
            key,
            "SET #status = :failed, #error = :error, final_failure = :final, failed_at = :at, execution = :execution",
            condition,
            values,
            history=FAILED,
            names={"#error": "error"},
        )

    def fail_stranded(self, key: str, sequencer: str, error: dict[str, Any]) -> bool:
        """FAILED for good, for an upload no run could finish (used by the reconciler)."""
        return self._update(
            key,
            "SET #status = :failed, #error = :error, final_failure = :final, failed_at = :at",
            "sequencer = :seq AND #status IN (:uploaded, :processing)",
            {":failed": FAILED, ":error": error, ":final": True, ":seq": padded_sequencer(sequencer),
             ":uploaded": UPLOADED, ":processing": PROCESSING},
            history=FAILED,
            names={"#error": "error"},
        )

    def request_reprocess(self, key: str, sequencer: str, generation: int) -> bool:
        """COMPLETED -> UPLOADED as generation `generation + 1` (a new run with new renditions);
        False if the record moved on (another reprocess, a new upload, an erasure): run twice,
        queue once."""
        condition = "#status = :completed AND sequencer = :seq AND "
        condition += ("(attribute_not_exists(generation) OR generation = :gen)" if generation == 0
                      else "generation = :gen")
        return self._update(
            key,
            "SET #status = :uploaded, generation = :next, attempt = :zero, reprocess_requested_at = :at",
            condition,
            {":completed": COMPLETED, ":uploaded": UPLOADED, ":seq": padded_sequencer(sequencer),
             ":gen": generation, ":next": generation + 1, ":zero": 0},
            history=UPLOADED,
        )

    def tombstone(self, key: str, sequencer: str | None, erased: dict[str, int] | None = None) -> bool:
        """Replace the record with a tombstone: DELETED, the erased upload's sequencer (so only a
        newer upload of the key makes a record again), times and status history; nothing about the
        image. `sequencer` None: no record existed. False if another upload replaced the record
        since it was read (the caller reads it again)."""
        at = now_iso()
        current = self.get(key) or {}
        history = [*current.get("history", []), {"status": DELETED, "at": at}]
        item: dict[str, Any] = {"image_key": key, "status": DELETED, "sequencer": padded_sequencer(sequencer),
                                "deleted_at": at, "updated_at": at, "history": history, "erased": erased or {}}
        condition = "attribute_not_exists(image_key)" if sequencer is None else "sequencer = :seq"
        kwargs: dict[str, Any] = {"Item": _dynamo(item), "ConditionExpression": condition}
        if sequencer is not None:
            kwargs["ExpressionAttributeValues"] = {":seq": item["sequencer"]}
        try:
            self._table.put_item(**kwargs)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def record_erasure(self, key: str, erased: dict[str, int]) -> bool:
        """What the erasure removed, on the tombstone (counts only)."""
        return self._update(key, "SET erased = :erased", "#status = :deleted",
                            {":erased": erased, ":deleted": DELETED})

    def _owned_update(self, key: str, execution: str, expression: str, values: dict[str, Any],
                      names: dict[str, str] | None = None, history: Status | None = None) -> bool:
        """An update allowed only while this execution owns the PROCESSING record."""
        return self._update(key, expression, _OWNED, {**values, **_owner(execution)}, history=history, names=names)

    def _update(self, key: str, expression: str, condition: str, values: dict[str, Any],
                history: Status | None = None, names: dict[str, str] | None = None) -> bool:
        return self._write(key, expression, condition, values, history, names) is not None

    def _write(self, key: str, expression: str, condition: str, values: dict[str, Any],
               history: Status | None = None, names: dict[str, str] | None = None,
               returning: bool = False) -> dict[str, Any] | None:
        """A conditional update: the record as written (empty unless `returning`), None if refused."""
        at = now_iso()
        values = dict(values)
        attribute_names = {"#status": "status", **(names or {})}
        if history:
            expression = expression.replace(
                "SET ",
                "SET history = list_append(if_not_exists(history, :no_history), :history),"
                " updated_at = :at, ",
                1,
            )
            values[":history"] = [{"status": history, "at": at}]
            values[":no_history"] = []
        if ":at" in expression:
            values[":at"] = at
        try:
            response = self._table.update_item(
                Key={"image_key": key},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=attribute_names,
                ExpressionAttributeValues=_dynamo(values),
                ReturnValues="ALL_NEW" if returning else "NONE",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        written: dict[str, Any] = _plain(response.get("Attributes") or {})
        return written

    # ------------------------------------------------------------------ reads
    def get(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"image_key": key}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def by_status(self, status: str, *, since: str | None = None, until: str | None = None,
                  limit: int = 100, token: str | None = None) -> Page:
        """Records with a status, newest upload first, through the by-status index."""
        return self._query(BY_STATUS, _time_range(Key("status").eq(status), since, until), limit, token,
                           lambda record: record.get("status") == status)

    def by_upload_date(self, date: str, *, since: str | None = None, until: str | None = None,
                       limit: int = 100, token: str | None = None) -> Page:
        """Records uploaded on a day (YYYY-MM-DD), newest first, through the by-upload-date index."""
        condition = _time_range(Key("upload_date").eq(date), since, until)
        return self._query(BY_UPLOAD_DATE, condition, limit, token, lambda record: record.get("upload_date") == date)

    def keys_with_prefix(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Index entries (bucket, image_key, uploaded_at) of the keys starting with `prefix`, in key order.

        The by-key index projects only those attributes, so reading every entry of a prefix costs
        little, and nothing outside the prefix is read (a key condition, not a filter). It projects
        no status: an entry is then written once per upload, not again at each status change.
        """
        if not self.upload_bucket:
            raise ValueError("keys_with_prefix needs the store's upload bucket (MetadataStore(table, bucket))")
        condition = Key("bucket").eq(self.upload_bucket) & Key("image_key").begins_with(prefix)
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"IndexName": BY_KEY, "KeyConditionExpression": condition}
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._table.query(**kwargs)
            yield from (_plain(item) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records of `keys` that exist (BatchGetItem, strongly consistent), by key."""
        client = self._table.meta.client  # the table's resource client: plain values in and out
        unique = list(dict.fromkeys(keys))  # a request may not name a key twice
        found: dict[str, dict[str, Any]] = {}
        for first in range(0, len(unique), BATCH_GET_MAX):
            chunk = unique[first:first + BATCH_GET_MAX]
            request: Any = {self._table.name: {"Keys": [{"image_key": key} for key in chunk],
                                               "ConsistentRead": True}}
            for attempt in range(8):
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table.name, []):
                    found[str(item["image_key"])] = _plain(item)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))  # throttled: back off, as the SDKs advise
            else:
                raise TransientError(f"the store kept {len(request[self._table.name]['Keys'])} key(s) unread")
        return found

    def count_by_status(self, status: str, at_most: int | None = None) -> int:
        """How many records have a status (a COUNT query: no items are read back); with `at_most`,
        counting stops there (the query reads no more index entries than that)."""
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {"IndexName": BY_STATUS, "KeyConditionExpression": Key("status").eq(status),
                                      "Select": "COUNT"}
            if at_most is not None:
                kwargs["Limit"] = max(at_most - total, 1)
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._table.query(**kwargs)
            total += int(response.get("Count", 0))
            start = response.get("LastEvaluatedKey")
            if not start or (at_most is not None and total >= at_most):
                return total

    def iter_pages(self, fetch: Callable[..., Page], **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated query: `store.iter_pages(store.by_status, status="FAILED")`."""
        token = None
        while True:
            page = fetch(**kwargs, token=token)
            yield from page.items
            token = page.next_token
            if not token:
                return

    def _query(self, index: str, condition: ConditionBase, limit: int, token: str | None,
               still: Callable[[dict[str, Any]], bool]) -> Page:
        """One page of an index, newest first, as full records.

        The by-status and by-upload-date indexes keep only keys (KEYS_ONLY): an entry is written
        when a record is made and moved when its status changes, never rewritten by the other
        writes of a run, which keeps each image's index writes to a few small ones. The page's
        records are then read whole (one BatchGetItem); a record that moved on since its entry
        was read (the index is eventually consistent) is left out when `still` says it no longer
        belongs to the page.
        """
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = _decode_token(token)
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        keys = [str(entry["image_key"]) for entry in response.get("Items", [])]
        found = self.get_many(keys)  # no keys: no request
        items = [found[key] for key in keys if key in found and still(found[key])]
        return Page(items, _encode_token(response.get("LastEvaluatedKey")))


def _time_range(condition: ConditionBase, since: str | None, until: str | None) -> ConditionBase:
    if since and until:
        return condition & Key("uploaded_at").between(since, until)
    if since:
        return condition & Key("uploaded_at").gte(since)
    if until:
        return condition & Key("uploaded_at").lte(until)
    return condition
