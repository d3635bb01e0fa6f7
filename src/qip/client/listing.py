"""Listing image records, newest first across statuses: pages with opaque tokens, or every match.

The one listing of the project: `qip list` (`Pipeline.list`, `Pipeline.page`) and the dashboard's
image list both come here.

A key prefix is answered from the store's by-key index (upload bucket, image key), whose key
condition reads the entries of that prefix and nothing else. Its entries are small (key and upload
time: no status, so that an image's status changes do not rewrite its entry), so the whole prefix
is read, sorted newest first and filtered by day; records are then read in full (BatchGetItem),
in that order, and filtered by status until the page is full. A page therefore costs the prefix's
index entries plus the records read for it (with a status asked for, also those of other
statuses passed over), however large the table.

Without a prefix, the store pages one index at a time (one status, or one upload day), and its
tokens only go forward. "All statuses" is therefore a merge of the five status streams by upload
time. The page token keeps, for each stream, the store token of the store page its next record
is on and how many records of that page were already shown, so only the store's own tokens are
ever used. A status within a day is filtered on the day's stream, and one request reads at most
`scan` records: the page then comes back short, with a token to read on.

Records change status while someone pages; one may then show twice or not at all, as in any
live listing.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from qip.core.errors import ConfigurationError
from qip.core.model import STATUSES
from qip.core.store import BATCH_GET_MAX, MetadataStore, Page

STORE_PAGE = 50  # records per store query; fixed, so a token's skip count means the same page again
Cursor = tuple[str | None, int] | None  # (store token, records of that page already shown); None: done
PREFIX_STREAM = "prefix"  # the token's name for a position in a prefix listing


@dataclass(frozen=True)
class Query:
    """What the list shows: one status and/or one upload day (YYYY-MM-DD), and a key prefix."""

    status: str | None = None
    date: str | None = None
    prefix: str | None = None

    def matches(self, item: dict[str, Any]) -> bool:
        """Whether a record is in the answer."""
        return self.may_match(item) and not (self.status and item.get("status") != self.status)

    def may_match(self, entry: dict[str, Any]) -> bool:
        """Whether a by-key index entry (key and upload time, no status) may be in the answer."""
        if self.prefix and not entry["image_key"].startswith(self.prefix):
            return False
        return not (self.date and not (entry.get("uploaded_at") or "").startswith(self.date))


class BadToken(ConfigurationError, ValueError):
    """The page token was not made by this module (edited, or from another listing)."""


def browse(store: MetadataStore, query: Query, limit: int = 25, token: str | None = None,
           scan: int = 1000) -> Page:
    """One page of records for `query`, and the token of the next page (None at the end)."""
    if query.prefix:
        return _browse_prefix(store, query, limit, token)
    streams = _streams(store, query)
    cursors: dict[str, Cursor] = _decode(token, streams) if token else dict.fromkeys(streams, (None, 0))
    merged = heapq.merge(*(_tagged(name, _stream(streams[name], cursor)) for name, cursor in cursors.items()
                           if cursor is not None),
                         key=lambda entry: entry[0].get("uploaded_at") or "", reverse=True)
    items: list[dict[str, Any]] = []
    scanned = 0
    for item, after, name in merged:
        cursors[name] = after
        scanned += 1  # noqa: SIM113 - counts reads, not matches; the loop breaks on either
        if query.matches(item):
            items.append(item)
        if len(items) >= limit or scanned >= scan:
            break
    else:
        return Page(items, None)
    return Page(items, _encode(cursors) if any(c is not None for c in cursors.values()) else None)


def records(store: MetadataStore, query: Query) -> Iterator[dict[str, Any]]:
    """Every record matching `query`, newest upload first, read page by page as it is consumed."""
    if query.prefix:
        return _records_of(store, query, _prefix_entries(store, query))
    streams = _streams(store, query)
    merged = heapq.merge(*(_stream(fetch, (None, 0)) for fetch in streams.values()),
                         key=lambda entry: entry[0].get("uploaded_at") or "", reverse=True)
    return (item for item, _ in merged if query.matches(item))


# ---------------------------------------------------------------------- a key prefix: the by-key index
def _order(entry: dict[str, Any]) -> tuple[str, str]:
    """Newest upload first; the key breaks ties, so a position is exact."""
    return entry.get("uploaded_at") or "", entry["image_key"]


def _prefix_entries(store: MetadataStore, query: Query) -> list[dict[str, Any]]:
    """The prefix's index entries that may match the query, newest first."""
    return sorted((entry for entry in store.keys_with_prefix(query.prefix or "") if query.may_match(entry)),
                  key=_order, reverse=True)


def _records_of(store: MetadataStore, query: Query, entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The full records of `entries`, in their order, read in batches as they are consumed.

    A record that changed since its index entry was read (the index is eventually consistent)
    is checked again, and left out if it no longer matches or no longer exists.
    """
    for first in range(0, len(entries), BATCH_GET_MAX):
        chunk = [entry["image_key"] for entry in entries[first:first + BATCH_GET_MAX]]
        found = store.get_many(chunk)
        yield from (found[key] for key in chunk if key in found and query.matches(found[key]))


def _browse_prefix(store: MetadataStore, query: Query, limit: int, token: str | None) -> Page:
    entries = _prefix_entries(store, query)
    if token:
        after = _decode_position(token)
        entries = [entry for entry in entries if _order(entry) < after]
    items: list[dict[str, Any]] = []
    read = 0  # entries whose records were looked at, in order
    while len(items) < limit and read < len(entries):
        chunk = entries[read:read + min(BATCH_GET_MAX, limit - len(items))]
        found = store.get_many([entry["image_key"] for entry in chunk])
        for entry in chunk:
            read += 1
            record = found.get(entry["image_key"])
            if record is not None and query.matches(record):
                items.append(record)
    more = read < len(entries)
    return Page(items, _encode({PREFIX_STREAM: list(_order(entries[read - 1]))}) if more and read else None)


def _decode_position(token: str) -> tuple[str, str]:
    try:
        uploaded_at, key = json.loads(base64.urlsafe_b64decode(token.encode()))[PREFIX_STREAM]
        return str(uploaded_at), str(key)
    except (ValueError, KeyError, TypeError) as error:
        raise BadToken("this page link is no longer valid; start from the first page") from error


# ---------------------------------------------------------------------- no prefix: status or day streams
def _streams(store: MetadataStore, query: Query) -> dict[str, Callable[..., Page]]:
    """One fetch function per index stream the query reads."""
    if query.date:
        return {"date": lambda **kw: store.by_upload_date(query.date, **kw)}
    statuses = [query.status] if query.status else list(STATUSES)
    return {status: (lambda s: lambda **kw: store.by_status(s, **kw))(status) for status in statuses}


def _stream(fetch: Callable[..., Page], cursor: tuple[str | None, int]) -> Iterator[tuple[dict[str, Any], Cursor]]:
    """Records from `cursor` on, each with the cursor that resumes right after it."""
    token, skip = cursor
    while True:
        page = fetch(limit=STORE_PAGE, token=token)
        for index in range(skip, len(page.items)):
            last = index + 1 == len(page.items)
            after: Cursor = ((page.next_token, 0) if page.next_token else None) if last else (token, index + 1)
            yield page.items[index], after
        if not page.next_token:
            return
        token, skip = page.next_token, 0


def _tagged(name: str, stream: Iterator[tuple[dict[str, Any], Cursor]]) -> Iterator[tuple[dict[str, Any], Cursor, str]]:
    for item, after in stream:
        yield item, after, name


def _encode(cursors: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursors, separators=(",", ":")).encode()).decode()


def _decode(token: str, streams: dict[str, Callable[..., Page]]) -> dict[str, Cursor]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode()))
        cursors = {name: (None if raw[name] is None else (raw[name][0], int(raw[name][1]))) for name in streams}
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise BadToken("this page link is no longer valid; start from the first page") from error
    return cursors
