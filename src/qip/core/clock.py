"""Time as the project writes it: UTC, ISO 8601 with milliseconds, and the arithmetic on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(moment: datetime) -> str:
    """`2026-11-28T15:00:00.123Z`: the one timestamp format of the project."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time in the project's format."""
    return iso(datetime.now(UTC))


def ago_iso(delta: timedelta) -> str:
    """The time `delta` ago, in the project's format (a cutoff for "older than")."""
    return iso(datetime.now(UTC) - delta)


def parse_iso(value: str | None) -> datetime | None:
    """A timestamp of `now_iso()`'s format (or any ISO 8601) as an aware datetime; None if absent or bad."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def elapsed_ms(start: str | None, end: str | None) -> int | None:
    """Milliseconds between two timestamps; None when either is missing."""
    begin, finish = parse_iso(start), parse_iso(end)
    if begin is None or finish is None:
        return None
    return round((finish - begin).total_seconds() * 1000)


def age_seconds(value: str | None) -> float | None:
    """Seconds since a timestamp (never negative); None when it is missing."""
    at = parse_iso(value)
    if at is None:
        return None
    return max(0.0, (datetime.now(UTC) - at).total_seconds())
