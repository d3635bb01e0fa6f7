"""`qip reprocess`: bring images processed with other renditions up to date."""

from __future__ import annotations

import argparse

from qip.cli import output, targets
from qip.cli.exits import Exit
from qip.client.pipeline import Pipeline
from qip.core.errors import ConfigurationError


def reprocess(args: argparse.Namespace) -> Exit:
    pipeline = Pipeline(targets.stack(args))
    selection = pipeline.renditions()
    if args.rendition and args.rendition not in selection.digests_by_name:
        raise ConfigurationError(f"--rendition {args.rendition!r} is not a rendition of the stack; "
                                 f"it has {', '.join(sorted(selection.digests_by_name))}")
    checked = 0
    stale: list[str] = []
    queued: list[str] = []
    moved: list[str] = []
    with output.progress_bar() as progress:
        task = progress.add_task("checking" if args.dry_run else "queueing", total=None)
        for record, is_stale in pipeline.reprocess_plan(selection, args.prefix, args.rendition):
            checked += 1
            if is_stale:
                stale.append(record["image_key"])
                if not args.dry_run:
                    (queued if pipeline.reprocess(record) else moved).append(record["image_key"])
            progress.update(task, completed=checked, description=f"{len(stale)} stale of {checked} checked")
    summary = {"renditions_version": selection.version, "checked": checked, "stale": len(stale),
               "up_to_date": checked - len(stale), "queued": len(queued), "changed_meanwhile": len(moved),
               "dry_run": args.dry_run, "keys": stale}
    exit_status = Exit.OK
    if args.wait and queued:
        records = output.wait_all(pipeline, queued, args.timeout)
        summary["completed"] = sum(r.get("status") == "COMPLETED" for r in records.values())
        summary["failed"] = sorted(k for k, r in records.items() if r.get("status") != "COMPLETED")
        exit_status = Exit.INCOMPLETE if summary["failed"] else Exit.OK
    if args.json:
        output.print_json(summary)
        return exit_status
    verb = "would queue" if args.dry_run else "queued"
    output.out.print(f"renditions {selection.version}: checked {checked} completed image(s), {len(stale)} stale, "
                     f"{checked - len(stale)} up to date; {verb} {len(stale) if args.dry_run else len(queued)}"
                     + (f" ({len(moved)} changed meanwhile, skipped)" if moved else ""), highlight=False)
    for key in stale[:50] if args.dry_run else []:
        output.out.print(f"  {key}", highlight=False)
    if "completed" in summary:
        output.out.print(f"completed {summary['completed']} of {len(queued)}", highlight=False)
    return exit_status
