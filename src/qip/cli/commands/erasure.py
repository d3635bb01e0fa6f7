"""`qip delete`: erase images on request (the upload, every archived object and version, the audit
trail; the record becomes a tombstone)."""

from __future__ import annotations

import argparse
import sys

from qip.cli import output, targets
from qip.cli.exits import Exit
from qip.client.errors import NotFoundError
from qip.client.pipeline import Pipeline
from qip.core.errors import ConfigurationError


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask on the terminal; without one (a script, CI), refuse unless --yes was given."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigurationError(f"{question} needs confirmation: run it in a terminal or add --yes")
    answer = output.console.input(f"{question} This cannot be undone. Type 'yes' to go on: ")
    return answer.strip().lower() == "yes"


def delete(args: argparse.Namespace) -> Exit:
    if bool(args.key) == bool(args.prefix):
        raise ConfigurationError("give a KEY or --prefix P (not both)")
    pipeline = Pipeline(targets.stack(args))
    keys = [args.key] if args.key else pipeline.keys(args.prefix)
    if args.prefix and not keys:
        raise NotFoundError(f"no image has a key starting with {args.prefix!r}")
    what = f"Erase {args.key!r}?" if args.key else f"Erase the {len(keys)} image(s) under {args.prefix!r}?"
    if not confirm(what, args.yes):
        output.console.print("nothing erased")
        return Exit.OK
    results = []
    with output.progress_bar() as progress:
        task = progress.add_task("erasing", total=len(keys))
        for key in keys:
            results.append(pipeline.delete(key))
            progress.advance(task)
    if args.json:
        output.print_json(results)
    else:
        for result in results:
            extra = f"; stopped its run {result['stopped_execution']}" if result.get("stopped_execution") else ""
            output.out.print(f"erased {result['key']!r}: upload {'deleted' if result['upload'] else 'absent'}, "
                             f"{result['archive_versions']} archive object version(s), "
                             f"{result['audit_events']} audit event(s){extra}", highlight=False)
            for note in result.get("notes") or []:
                output.console.print(f"  note: {note}", highlight=False)
    return Exit.OK
