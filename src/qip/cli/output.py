"""What `qip` prints: JSON for tools, tables and progress bars for people (rich, on stderr)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # imported when used: `qip status` and `qip list` draw no progress bar
    from rich.progress import Progress
    from rich.table import Table

from qip.client.pipeline import Pipeline
from qip.core.errors import ConfigurationError

console = Console(stderr=True)
out = Console(soft_wrap=True)


def print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str, ensure_ascii=False))


def keys_for(paths: Sequence[str], prefix: str) -> list[tuple[Path, str]]:
    """(file, key) for each file, and each file under each folder (keys keep the relative path)."""
    pairs: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            pairs += [(file, prefix + file.relative_to(path).as_posix()) for file in files]
        elif path.is_file():
            pairs.append((path, prefix + path.name))
        else:
            raise ConfigurationError(f"{raw}: no such file or folder")
    return pairs


def progress_bar() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def upload_all(pipeline: Pipeline, pairs: list[tuple[Path, str]]) -> list[str]:
    with progress_bar() as progress:
        task = progress.add_task("uploading", total=len(pairs))
        for path, key in pairs:
            pipeline.upload(path, key)
            progress.advance(task)
    return [key for _, key in pairs]


def wait_all(pipeline: Pipeline, keys: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    with progress_bar() as progress:
        task = progress.add_task("processing", total=len(keys))
        return pipeline.wait(keys, timeout=timeout, progress=lambda done, _: progress.update(task, completed=done))


def results_table(pipeline: Pipeline, records: dict[str, dict[str, Any]]) -> Table:
    from rich.table import Table

    from qip.client.views import public_view

    table = Table(title="Results", show_lines=True)
    for column in ("key", "status", "dimensions", "outputs / reason"):
        table.add_column(column, overflow="fold")
    for key, record in records.items():
        if "image_key" not in record or record.get("status") == "MISSING":
            table.add_row(escape(key), "MISSING", "", "no record (still in flight?)")
            continue
        view = public_view(record)
        dims = f"{view['width']}x{view['height']}" if view.get("width") else ""
        if view["status"] == "COMPLETED":
            folder = view["outputs"][0].rsplit("/", 1)[0] + "/"
            detail = folder + "\n  " + ", ".join(uri.rsplit("/", 1)[1] for uri in view["outputs"])
        elif view["status"] == "REJECTED":
            detail = f"{view.get('reason_code')}: {view.get('reason')}"
        elif view["status"] == "FAILED":
            error = view.get("error") or {}
            detail = f"{error.get('stage')}: {error.get('type')}: {error.get('message')}"
        else:
            detail = "still in flight"
        style = {"COMPLETED": "green", "REJECTED": "yellow", "FAILED": "red"}.get(view["status"], "")
        table.add_row(escape(key), f"[{style}]{view['status']}[/]" if style else view["status"], dims, escape(detail))
    return table


def up_progress(args: argparse.Namespace) -> Callable[[str], None]:
    """What `up` and `demo` print while deploying: the steps, and each resource only with --verbose."""
    if getattr(args, "verbose", False):
        return console.print
    return lambda line: None if line.startswith("  ") else console.print(line, highlight=False)
