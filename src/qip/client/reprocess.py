"""Which images are stale after a change of renditions, and queueing them for a new run.

An image is stale when its manifest was made by another version of the renditions and what its
key gets now differs from what it got then (a rendition added, removed or changed). An image
whose renditions did not change is left alone, even if the file changed elsewhere: its outputs
would come out the same. A queued image becomes UPLOADED as the next generation (a conditional
write: a second `qip reprocess`, or two at once, queue it once), and its message goes through
the processing queue, so the dispatcher's admission control paces the runs like uploads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from qip.client import listing
from qip.core.model import COMPLETED, ImagePointer
from qip.core.store import MetadataStore
from qip.imaging.renditions import Selection


def recorded(record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(renditions version, {rendition: digest}) the record's last run made."""
    outputs = record.get("outputs") or {}
    return str(outputs.get("renditions_version") or ""), dict(outputs.get("renditions") or {})


def is_stale(record: dict[str, Any], selection: Selection, rendition: str | None = None) -> bool:
    """Does the image need a new run for the renditions in force (only for `rendition`, if named)?"""
    version, made = recorded(record)
    if version == selection.version:
        return False
    wanted = selection.digests(record["image_key"])
    if rendition is None:
        return made != wanted
    return made.get(rendition) != wanted.get(rendition)


@dataclass
class Plan:
    """What a reprocessing found: every COMPLETED image checked, and the stale ones."""

    checked: int = 0
    stale: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> int:
        return self.checked - len(self.stale)


def plan(store: MetadataStore, selection: Selection, prefix: str | None = None,
         rendition: str | None = None) -> Iterator[tuple[dict[str, Any], bool]]:
    """Each COMPLETED record under the prefix, with whether it is stale (read page by page)."""
    for record in listing.records(store, listing.Query(COMPLETED, None, prefix)):
        yield record, is_stale(record, selection, rendition)


def queue(store: MetadataStore, sqs: Any, queue_url: str, record: dict[str, Any]) -> ImagePointer | None:
    """Mark the image for its next generation and queue it; None if the record moved on meanwhile."""
    generation = int(record.get("generation") or 0)
    if not store.request_reprocess(record["image_key"], record["sequencer"], generation):
        return None
    pointer = ImagePointer.from_record({**record, "generation": generation + 1}, attempt=1)
    sqs.send_message(QueueUrl=queue_url, MessageBody=pointer.to_message())
    return pointer
