"""Where things live: archive bucket layout and Step Functions execution names.

The archive bucket layout is a stable contract (documented in the README):

    images/<image key>/original          the upload, byte for byte
    images/<image key>/<rendition>.<ext> one object per rendition and format: display.jpg and
                                         thumb-<N>.webp by default (src/renditions.yaml)
    images/<image key>/manifest.json     every output by rendition and format, with its size,
                                         dimensions and checksum, and the renditions' version

Nothing is ever written to the upload bucket, so outputs cannot trigger the pipeline again.
"""

from __future__ import annotations

import hashlib
import re

from qip.core.model import ImagePointer, padded_sequencer

ARCHIVE_ROOT = "images/"
ORIGINAL_TAG = {"qip-object": "original"}
"""The tag on each archived original: the archive's lifecycle moves only these to colder storage."""
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXTENSIONS = {"jpeg": "jpg"}
MANIFEST = "manifest.json"
ORIGINAL = "original"


def archive_prefix(image_key: str) -> str:
    return f"{ARCHIVE_ROOT}{image_key}/"


def archive_key(image_key: str, name: str) -> str:
    return archive_prefix(image_key) + name


def derivative_name(name: str, image_format: str) -> str:
    """`display.jpg`, `thumb-512.webp`: the file name of a derivative in the archive."""
    return f"{name}.{_EXTENSIONS.get(image_format, image_format)}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def execution_name(bucket: str, key: str, sequencer: str, attempt: int, generation: int = 0) -> str:
    """A deterministic name (<= 80 chars) so a repeated message cannot start a second run.

    The same upload (bucket, key, sequencer), generation and attempt always map to the same name;
    a new upload of the key has a new sequencer, a reprocessing a new generation (`-g<N>`, absent
    for the first), and a pipeline retry a new attempt number.
    """
    digest = hashlib.sha256(f"{bucket}\0{key}\0{padded_sequencer(sequencer)}".encode()).hexdigest()
    readable = _NAME_UNSAFE.sub("-", key.rsplit("/", 1)[-1]).strip("-")[:36] or "image"
    run = f"-g{generation}" if generation else ""
    return f"{readable}-{digest[:32]}{run}-a{attempt}"


def execution_name_of(image: ImagePointer) -> str:
    """The execution name of an image pointer's run."""
    return execution_name(image.bucket, image.key, image.sequencer, image.attempt, image.generation)


def is_own_output(image_key: str, object_key: str) -> bool:
    """Is this archive object one of the image's own (`images/<key>/<name>`)? Not one of a key
    below it: `images/a/b/original` belongs to `a/b`, not to `a`."""
    prefix = archive_prefix(image_key)
    return object_key.startswith(prefix) and "/" not in object_key[len(prefix):]
