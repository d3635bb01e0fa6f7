"""Reading and writing objects in S3; the only module that knows S3's byte-level API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import GetObjectOutputTypeDef

from dataclasses import dataclass
from urllib.parse import unquote_plus, urlencode

from botocore.exceptions import ClientError

from qip.core.aws import error_code, is_missing


@dataclass(frozen=True)
class ObjectHead:
    """What S3 says about an object without reading it."""

    key: str
    size: int
    content_type: str
    etag: str
    version_id: str | None
    start: bytes = b""  # the object's first bytes, when they were asked for (`peek`)


def head(s3: S3Client, bucket: str, key: str) -> ObjectHead | None:
    try:
        response = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    return ObjectHead(
        key=key,
        size=int(response.get("ContentLength", 0)),
        content_type=response.get("ContentType") or "application/octet-stream",
        etag=(response.get("ETag") or "").strip('"'),
        version_id=response.get("VersionId"),
    )


def _first_bytes(s3: S3Client, bucket: str, key: str, limit: int) -> GetObjectOutputTypeDef | None:
    """A GET of the object's first `limit` bytes; None for an empty object, which has no byte 0."""
    try:
        return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max(limit - 1, 0)}")
    except ClientError as error:
        if error_code(error) == "InvalidRange":
            return None
        raise


def peek(s3: S3Client, bucket: str, key: str, limit: int) -> ObjectHead | None:
    """The object's head and its first `limit` bytes, from one ranged GET (no HEAD besides)."""
    try:
        response = _first_bytes(s3, bucket, key, limit)
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    if response is None:  # an empty object: its head says the rest
        return head(s3, bucket, key)
    with response["Body"] as body:
        start = body.read(limit)
    whole = (response.get("ContentRange") or "").rpartition("/")[2]  # "bytes 0-4095/7559535"
    return ObjectHead(
        key=key,
        size=int(whole) if whole.isdigit() else int(response.get("ContentLength", 0)),
        content_type=response.get("ContentType") or "application/octet-stream",
        etag=(response.get("ETag") or "").strip('"'),
        version_id=response.get("VersionId"),
        start=start,
    )


def find(s3: S3Client, bucket: str, event_key: str, etag: str | None = None,
         first_bytes: int = 0) -> ObjectHead | None:
    """Head the object an event names, whether the event left its key raw or URL-encoded; with
    `first_bytes`, read that many of its first bytes in the same request.

    AWS URL-encodes keys in S3 events (`my photo+1.jpg` arrives as `my+photo%2B1.jpg`); the local
    engine sends them raw. Both readings are tried, and where both name an object, the one
    whose ETag matches the event's wins, so `a+b` and `a b` are never confused.
    """
    candidates = list(dict.fromkeys([event_key, unquote_plus(event_key)]))
    looks = [peek(s3, bucket, key, first_bytes) if first_bytes else head(s3, bucket, key) for key in candidates]
    found = [h for h in looks if h is not None]
    clean_etag = (etag or "").strip('"')
    matching = [h for h in found if clean_etag and h.etag == clean_etag]
    chosen = matching or found
    return chosen[0] if chosen else None


def read(s3: S3Client, bucket: str, key: str, limit: int | None = None) -> bytes:
    """The object's bytes; with `limit`, at most that many (a ranged read)."""
    if limit is None:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    response = _first_bytes(s3, bucket, key, limit)
    return response["Body"].read() if response else b""


def write(s3: S3Client, bucket: str, key: str, data: bytes, content_type: str) -> str | None:
    """Put an object; the version it made (None in an unversioned bucket)."""
    return s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type).get("VersionId")


def copy(s3: S3Client, source_bucket: str, source_key: str, bucket: str, key: str,
         tags: dict[str, str] | None = None) -> str | None:
    """A server-side copy, the version it made (None in an unversioned bucket); with `tags`, the copy
    carries those instead of the source's."""
    extra: dict[str, str] = {}
    if tags:
        extra = {"TaggingDirective": "REPLACE", "Tagging": urlencode(tags)}
    response = s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": source_bucket, "Key": source_key},
        MetadataDirective="COPY",
        **extra,  # type: ignore[arg-type]
    )
    return response.get("VersionId")


@dataclass(frozen=True)
class Version:
    """One version of an object, or a delete marker (version None: an unversioned object)."""

    key: str
    version_id: str | None


def children(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """Keys of the current objects directly under `prefix` (not in folders below it)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def versions(s3: S3Client, bucket: str, prefix: str) -> list[Version]:
    """Every version and delete marker directly under `prefix` (not in folders below it)."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            version = item.get("VersionId")
            found.append(Version(item["Key"], None if version in (None, "null") else version))
    return found


def delete(s3: S3Client, bucket: str, key: str) -> str | None:
    """Delete the current object (in a versioned bucket: a delete marker, whose version is returned)."""
    return s3.delete_object(Bucket=bucket, Key=key).get("VersionId")


def delete_versions(s3: S3Client, bucket: str, found: list[Version]) -> int:
    """Delete exactly these versions (for good); how many went. Errors raise (nothing is skipped).

    One DeleteObject per version rather than a DeleteObjects batch: the local engine authorises a
    batch of versions as s3:DeleteObject for its first key (AWS asks s3:DeleteObjectVersion for
    each), and an image has a handful of versions, so the batch would save little.
    """
    for version in found:
        if version.version_id:
            s3.delete_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        else:
            s3.delete_object(Bucket=bucket, Key=version.key)
    return len(found)
