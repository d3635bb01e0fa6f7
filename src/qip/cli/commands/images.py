"""Commands about images: upload, status, list, history, retry."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from qip.cli import output, targets
from qip.cli.exits import Exit
from qip.client.errors import NotFoundError
from qip.client.pipeline import Pipeline
from qip.core.model import is_settled


def upload(args: argparse.Namespace) -> Exit:
    pairs = output.keys_for(args.paths, args.prefix)  # a wrong path is named before the stack is looked up
    pipeline = Pipeline(targets.stack(args))
    keys = output.upload_all(pipeline, pairs)
    for key in keys:
        output.out.print(f"s3://{pipeline.stack.upload_bucket}/{key}", highlight=False, markup=False)
    if args.wait:
        records = output.wait_all(pipeline, keys, args.timeout)
        output.out.print(output.results_table(pipeline, records))
        if any(r.get("status") in (None, "MISSING", "UPLOADED", "PROCESSING") for r in records.values()):
            return Exit.INCOMPLETE
    return Exit.OK


def status(args: argparse.Namespace) -> Exit:
    pipeline = Pipeline(targets.stack(args))
    settled = True
    if args.wait:
        record = pipeline.wait([args.key], timeout=args.timeout)[args.key]
        settled = is_settled(record)
        if record.get("status") == "MISSING":
            raise NotFoundError(f"no image with key {args.key!r} appeared in {args.timeout:g} s (is the key right? "
                                f"did the upload reach s3://{pipeline.stack.upload_bucket}?)")
    view = pipeline.status(args.key)
    if args.json:
        output.print_json(view)
    else:
        for name, value in view.items():
            output.out.print(f"{name:18} {value}", highlight=False, markup=False)
    return Exit.OK if settled else Exit.INCOMPLETE


def list_records(args: argparse.Namespace) -> Exit:
    pipeline = Pipeline(targets.stack(args))
    token = None
    if args.limit is not None or args.after:
        items, token = pipeline.page(args.status, args.date, args.prefix, args.limit or 25, args.after)
    else:
        items = pipeline.list(status=args.status, date=args.date, prefix=args.prefix)
    if args.json:
        output.print_json(items)
    else:
        table = Table()
        for column in ("key", "status", "uploaded_at", "size"):
            table.add_column(column, overflow="fold")
        for item in items:
            table.add_row(escape(item["key"]), item["status"], item.get("uploaded_at") or "",
                          str(item.get("size") or ""))
        output.out.print(table)
    if token:
        output.console.print(f"more: the next page is --after {token}", highlight=False, soft_wrap=True)
    return Exit.OK


def history(args: argparse.Namespace) -> Exit:
    events = Pipeline(targets.stack(args)).history(args.key)
    if not events:
        raise NotFoundError(f"no events recorded for {args.key!r} (is the key right? events arrive within seconds)")
    if args.json:
        output.print_json(events)
        return Exit.OK
    table = Table()
    for column in ("time", "event", "stage", "status", "attempt", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        detail = event.get("detail") or {}
        details = detail.get("error") or ({"duration_ms": detail["duration_ms"]} if "duration_ms" in detail else "")
        table.add_row(detail.get("timestamp") or event.get("time", ""), event.get("detail-type", ""),
                      detail.get("stage", ""), detail.get("status", ""), str(detail.get("attempt", "")),
                      escape(json.dumps(details, ensure_ascii=False)) if details else "")
    output.out.print(table)
    return Exit.OK


def retry(args: argparse.Namespace) -> Exit:
    pointer = Pipeline(targets.stack(args)).retry(args.key)
    output.console.print(f"queued {args.key!r} again as attempt {pointer.attempt}", highlight=False, markup=False)
    return Exit.OK
