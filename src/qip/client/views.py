"""What the command line and the dashboard show of a record (`qip status --json` is a contract)."""

from __future__ import annotations

from typing import Any

from qip.core.model import COMPLETED, DELETED, FAILED, REJECTED, Rejection


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What `qip status --json` shows of a record (a contract: keep the field names stable)."""
    if record["status"] == DELETED:  # a tombstone: that the key was erased, and when; nothing of the image
        return {"key": record["image_key"], "status": DELETED, "deleted_at": record.get("deleted_at"),
                "erased": record.get("erased") or {}}
    view: dict[str, Any] = {
        "key": record["image_key"],
        "status": record["status"],
        "uploaded_at": record.get("uploaded_at"),
        "size": record.get("size"),
        "content_type": record.get("content_type"),
        "attempt": record.get("attempt"),
    }
    metadata = record.get("metadata") or {}
    if metadata:
        view["format"] = metadata.get("format")
        view["width"], view["height"] = metadata.get("width"), metadata.get("height")
    stages = record.get("stages") or {}
    if stages:
        view["stages"] = {name: stage.get("completed_at") for name, stage in stages.items()}
    if record["status"] == COMPLETED:
        outputs = record.get("outputs") or {}
        view["outputs"] = [outputs.get("original"), outputs.get("display"), *outputs.get("thumbnails", [])]
        view["outputs"] += [o["uri"] for o in outputs.get("outputs", []) if o.get("uri") not in view["outputs"]]
        view["outputs"] = [uri for uri in view["outputs"] if uri]
        view["manifest"] = outputs.get("manifest")
        view["renditions_version"] = outputs.get("renditions_version")
        view["display_dimensions"] = outputs.get("dimensions")
    if record["status"] == REJECTED:
        rejection = Rejection.from_dict(record.get("reason") or {})
        view["reason"], view["reason_code"] = rejection.message, rejection.code
    if record["status"] == FAILED:
        view["error"] = record.get("error")
        view["final"] = record.get("final_failure", False)
    return view


