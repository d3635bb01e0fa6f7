"""What the steps that write to the archive share: the renditions in force, writing outputs,
and taking them back when the run lost the image meanwhile.

A step writes its objects, then records its stage, a write allowed only while its execution
owns the record (the step frame). If an erasure (or a newer upload or run) took the record in the
meantime, that write is refused and the step deletes the exact versions it wrote (`take_back`):
an erasure's sweep begins after its tombstone, so whatever a step wrote before that check is
either seen by the sweep or taken back by the step itself, and no run can recreate an erased
image's outputs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

import qip
from qip.core import config, layout, objects
from qip.functions import runtime
from qip.imaging import Derivative, RenditionSet


def renditions_file() -> Path:
    return config.RENDITIONS_FILE.get() or Path(qip.__file__).resolve().parent.parent / "renditions.yaml"


@cache
def renditions() -> RenditionSet:
    """The renditions in force: the shipped file (checked by `qip up`/`qip deploy`) with the
    template's MaxSide, ThumbnailSizes and ThumbnailFormat for the built-in ones. Loaded once per
    warm environment, before any image is looked at."""
    path = renditions_file()
    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    return RenditionSet.from_mapping(data, runtime.render_options())


class Written:
    """The object versions one step invocation made in the archive bucket."""

    def __init__(self) -> None:
        self.bucket = runtime.required(config.ARCHIVE_BUCKET)
        self.versions: list[objects.Version] = []

    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        version = objects.write(runtime.s3(), self.bucket, key, data, content_type)
        self.versions.append(objects.Version(key, version))
        return version

    def copy(self, source_bucket: str, source_key: str, key: str, tags: dict[str, str] | None = None) -> str | None:
        version = objects.copy(runtime.s3(), source_bucket, source_key, self.bucket, key, tags)
        self.versions.append(objects.Version(key, version))
        return version

    def delete(self, key: str) -> None:
        marker = objects.delete(runtime.s3(), self.bucket, key)
        if marker:
            self.versions.append(objects.Version(key, marker))

    def output(self, image_key: str, derivative: Derivative) -> dict[str, Any]:
        """Write a rendition's output under the image's archive prefix; its pointer."""
        key = layout.archive_key(image_key, layout.derivative_name(derivative.name, derivative.format))
        version = self.put(key, derivative.data, derivative.content_type)
        return {"bucket": self.bucket, "key": key, "uri": layout.s3_uri(self.bucket, key),
                "bytes": len(derivative.data), "version_id": version, **derivative.to_dict()}

    def take_back(self) -> None:
        """Delete every version written: the run lost the image (erased, or a newer upload or run)."""
        runtime.logger.info("the image was erased or taken by another run meanwhile; taking back what "
                            "this step wrote", extra={"versions": len(self.versions)})
        exact = [v for v in self.versions if v.version_id]
        objects.delete_versions(runtime.s3(), self.bucket, exact)
        for version in self.versions:
            if not version.version_id:  # an unversioned bucket: the object itself
                objects.delete(runtime.s3(), self.bucket, version.key)
