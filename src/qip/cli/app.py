"""`qip`: run the image pipeline on the local engine, upload images, and read their records.

One place (`main`) turns errors into a short message and an exit code; `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qip.client.errors import NotFoundError, StackNotFoundError, UploadError
from qip.client.pipeline import Pipeline
from qip.client.stack import StackInfo
from qip.core import config
from qip.core.errors import ConfigurationError, QipError
from qip.core.model import STATUSES, STEPS
from qip.tooling import local_stack
from qip.tooling.errors import BuildError, DeployError, EngineError

if TYPE_CHECKING:
    from qip.tooling.engine import Engine

console = Console(stderr=True)
out = Console(soft_wrap=True)


class Exit(IntEnum):
    """Exit statuses of `qip`."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    ENGINE = 4
    DEPLOY = 5
    UPLOAD = 6
    INCOMPLETE = 7


_EXITS = {NotFoundError: Exit.NOT_FOUND, StackNotFoundError: Exit.NOT_FOUND, EngineError: Exit.ENGINE,
          DeployError: Exit.DEPLOY, UploadError: Exit.UPLOAD, ConfigurationError: Exit.USAGE, BuildError: Exit.DEPLOY}


# ---------------------------------------------------------------------- helpers
def _engine(args: argparse.Namespace) -> Engine:
    return local_stack.engine(args.port, args.home)


def _stack(args: argparse.Namespace) -> StackInfo:
    if args.aws:  # the stack on AWS, through the standard credential chain
        from botocore.exceptions import ClientError

        from qip.tooling import aws_deploy as release

        target = release.resolve_target(args.region, args.profile, None)
        name = config.STACK_NAME.get(args.stack)
        try:
            outputs = release.stack_outputs(name, target)
        except ClientError as error:
            raise StackNotFoundError(f"stack {name!r} is not deployed in {target.region}: {error}") from error
        return StackInfo.from_outputs(outputs, None, target.region)
    return local_stack.info(_engine(args), config.STACK_NAME.get(args.stack))


def _print_json(value: Any) -> None:
    out.print_json(json.dumps(value, default=str, ensure_ascii=False))


def _keys_for(paths: Sequence[str], prefix: str) -> list[tuple[Path, str]]:
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


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _upload_all(pipeline: Pipeline, pairs: list[tuple[Path, str]]) -> list[str]:
    with _progress() as progress:
        task = progress.add_task("uploading", total=len(pairs))
        for path, key in pairs:
            pipeline.upload(path, key)
            progress.advance(task)
    return [key for _, key in pairs]


def _wait_all(pipeline: Pipeline, keys: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    with _progress() as progress:
        task = progress.add_task("processing", total=len(keys))
        return pipeline.wait(keys, timeout=timeout, progress=lambda done, _: progress.update(task, completed=done))


def _results_table(pipeline: Pipeline, records: dict[str, dict[str, Any]]) -> Table:
    from qip.client.views import public_view

    table = Table(title="Results", show_lines=True)
    for column in ("key", "status", "dimensions", "outputs / reason"):
        table.add_column(column, overflow="fold")
    for key, record in records.items():
        if "image_key" not in record or record.get("status") == "MISSING":
            table.add_row(key, "MISSING", "", "no record (still in flight?)")
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
        table.add_row(key, f"[{style}]{view['status']}[/]" if style else view["status"], dims, detail)
    return table


# ---------------------------------------------------------------------- commands
def _up_progress(args: argparse.Namespace) -> Callable[[str], None]:
    """What `up` and `demo` print while deploying: the steps, and each resource only with --verbose."""
    if getattr(args, "verbose", False):
        return console.print
    return lambda line: None if line.startswith("  ") else console.print(line, highlight=False)


def cmd_up(args: argparse.Namespace) -> Exit:
    info = local_stack.up(_engine(args), config.STACK_NAME.get(args.stack), progress=_up_progress(args))
    console.print(f"[green]ready[/]: upload to s3://{info.upload_bucket} at {info.endpoint_url}")
    return Exit.OK


def cmd_down(args: argparse.Namespace) -> Exit:
    engine = _engine(args)
    if engine.stop():
        console.print(f"local engine on port {engine.port} stopped; state kept in {engine.home}")
    else:
        console.print(f"no local engine of this project was running on port {engine.port}")
    return Exit.OK


def cmd_outputs(args: argparse.Namespace) -> Exit:
    info = _stack(args)
    if args.json:
        _print_json(info.to_dict())
    else:
        for name, value in info.to_dict().items():
            out.print(f"{name:18} {value}")
    return Exit.OK


def cmd_upload(args: argparse.Namespace) -> Exit:
    pairs = _keys_for(args.paths, args.prefix)  # a wrong path is named before the stack is looked up
    pipeline = Pipeline(_stack(args))
    keys = _upload_all(pipeline, pairs)
    for key in keys:
        out.print(f"s3://{pipeline.stack.upload_bucket}/{key}", highlight=False)
    if args.wait:
        records = _wait_all(pipeline, keys, args.timeout)
        out.print(_results_table(pipeline, records))
        if any(r.get("status") in (None, "MISSING", "UPLOADED", "PROCESSING") for r in records.values()):
            return Exit.INCOMPLETE
    return Exit.OK


def cmd_status(args: argparse.Namespace) -> Exit:
    view = Pipeline(_stack(args)).status(args.key)
    if args.json:
        _print_json(view)
    else:
        for name, value in view.items():
            out.print(f"{name:18} {value}", highlight=False)
    return Exit.OK


def cmd_list(args: argparse.Namespace) -> Exit:
    items = Pipeline(_stack(args)).list(status=args.status, date=args.date, prefix=args.prefix, limit=args.limit)
    if args.json:
        _print_json(items)
        return Exit.OK
    table = Table()
    for column in ("key", "status", "uploaded_at", "size"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(item["key"], item["status"], item.get("uploaded_at") or "", str(item.get("size") or ""))
    out.print(table)
    return Exit.OK


def cmd_build(args: argparse.Namespace) -> Exit:
    from qip.tooling import build

    artifact = build.build(args.arch, args.out, progress=console.print)
    console.print(f"dependencies pinned in {artifact.requirements}")
    out.print(artifact.summary(), highlight=False)
    return Exit.OK


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--parameter {pair!r}: expected KEY=VALUE")
        parameters[key] = value
    return parameters


def cmd_deploy(args: argparse.Namespace) -> Exit:
    from qip.core import aws
    from qip.tooling import aws_deploy as release

    target = release.resolve_target(args.region, args.profile, args.endpoint_url)
    engine = _engine(args)
    if args.endpoint_url and args.endpoint_url == engine.endpoint_url and engine.certificate.exists():
        aws.trust(engine.endpoint_url, str(engine.certificate))  # the local engine's own TLS certificate
    outputs = release.ship(config.STACK_NAME.get(args.stack), target, _parameters(args.parameter or []), args.arch,
                           args.artifacts_bucket, progress=console.print, timeout=args.timeout)
    console.print("[green]deployed[/]; outputs:")
    for name, value in sorted(outputs.items()):
        out.print(f"{name:18} {value}", highlight=False)
    return Exit.OK


def cmd_demo(args: argparse.Namespace) -> Exit:
    from qip.cli.samples import write_samples

    started = time.monotonic()
    info = local_stack.up(_engine(args), config.STACK_NAME.get(args.stack), progress=_up_progress(args))
    console.print(f"stack ready in {time.monotonic() - started:.1f} s")
    pipeline = Pipeline(info)
    prefix = args.prefix or time.strftime("demo/%Y%m%d-%H%M%S/")
    with tempfile.TemporaryDirectory() as folder:
        keys = _upload_all(pipeline, _keys_for([str(p) for p in write_samples(Path(folder))], prefix))
    records = _wait_all(pipeline, keys, args.timeout)
    out.print(_results_table(pipeline, records))
    console.print(f"done in {time.monotonic() - started:.1f} s. Try: qip status '{keys[0]}' --json ; qip down")
    if args.dashboard:
        _serve_dashboard(pipeline, "127.0.0.1", args.dashboard_port, open_browser=False)
    return Exit.INCOMPLETE if any(r.get("status") in (None, "MISSING", "UPLOADED", "PROCESSING")
                                  for r in records.values()) else Exit.OK


def cmd_dashboard(args: argparse.Namespace) -> Exit:
    _serve_dashboard(Pipeline(_stack(args)), args.host, args.dashboard_port, args.open)
    return Exit.OK


def _serve_dashboard(pipeline: Pipeline, host: str, port: int, open_browser: bool) -> None:
    """Serve the dashboard until Ctrl-C (the only command that keeps running)."""
    from qip.dashboard.server import DashboardServer

    server = DashboardServer(pipeline, host, port).start()
    console.print(f"[green]dashboard[/]: {server.url}  (Ctrl-C stops it)", highlight=False)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning[/]: listening on {host}; anyone who reaches this machine can use it")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.wait()
    except KeyboardInterrupt:
        console.print("dashboard stopped")


def cmd_history(args: argparse.Namespace) -> Exit:
    events = Pipeline(_stack(args)).history(args.key)
    if not events:
        raise NotFoundError(f"no events recorded for {args.key!r} (is the key right? events arrive within seconds)")
    if args.json:
        _print_json(events)
        return Exit.OK
    table = Table()
    for column in ("time", "event", "stage", "status", "attempt", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        detail = event.get("detail") or {}
        details = detail.get("error") or ({"duration_ms": detail["duration_ms"]} if "duration_ms" in detail else "")
        table.add_row(detail.get("timestamp") or event.get("time", ""), event.get("detail-type", ""),
                      detail.get("stage", ""), detail.get("status", ""), str(detail.get("attempt", "")),
                      json.dumps(details, ensure_ascii=False) if details else "")
    out.print(table)
    return Exit.OK


def cmd_metrics(args: argparse.Namespace) -> Exit:
    report = Pipeline(_stack(args)).metrics(args.since)
    if args.json:
        _print_json(report)
        return Exit.OK
    table = Table(title="Per stage (from the metrics the functions emitted)")
    for column in ("stage", "succeeded", "failed", "p50 ms", "p95 ms"):
        table.add_column(column)
    for stage, figures in report["stages"].items():
        table.add_row(stage, str(figures["succeeded"]), str(figures["failed"]), str(figures["p50_ms"]),
                      str(figures["p95_ms"]))
    out.print(table)
    latency = report["end_to_end"]
    out.print(f"end to end: {latency['count']} images, p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms; "
              f"rejected {report['images_rejected']}; bytes processed {report['bytes_processed']}")
    return Exit.OK


def cmd_retry(args: argparse.Namespace) -> Exit:
    pointer = Pipeline(_stack(args)).retry(args.key)
    console.print(f"queued {args.key!r} again as attempt {pointer.attempt}", highlight=False)
    return Exit.OK


def cmd_redrive(args: argparse.Namespace) -> Exit:
    result = Pipeline(_stack(args)).redrive()
    console.print(f"moved {len(result.moved)} message(s) back to the processing queue; "
                  f"kept {result.kept} that are not pipeline messages", highlight=False)
    return Exit.OK


def cmd_reconcile(args: argparse.Namespace) -> Exit:
    result = Pipeline(_stack(args)).reconcile(args.older_than, config.PIPELINE_MAX_ATTEMPTS.get())
    if args.json:
        _print_json(result)
    else:
        console.print(f"checked {result['checked']}: {len(result['running'])} still running, "
                      f"{len(result['requeued'])} requeued, {len(result['dead_lettered'])} dead-lettered")
    return Exit.OK


def cmd_faults(args: argparse.Namespace) -> Exit:
    from qip.core import faults

    path = _engine(args).faults_file
    configured = faults.rules(path)
    if args.action == "clear":
        configured = {} if not args.stage else {k: v for k, v in configured.items() if k != args.stage}
    elif args.action == "set":
        if not args.stage or not args.mode:
            raise ConfigurationError("`qip faults set` needs STAGE and MODE, "
                                     "e.g. `qip faults set resize fail --times 2`")
        configured[args.stage] = faults.Rule(args.mode, args.times, args.rate, args.seconds, args.key_contains)
    if args.action != "show":
        faults.write(path, configured)
    _print_json({stage: vars(rule) for stage, rule in configured.items()})
    return Exit.OK


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qip",
        description="Quantum Image Processor: run the serverless image pipeline on a local AWS engine "
                    "(no AWS account needed), upload images, and follow them.",
        epilog="Start with `qip demo`. Every command has --help.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--port", type=int, help=f"local engine port (env {config.ENGINE_PORT.env}, "
                                                 f"default {config.ENGINE_PORT.default})")
    parser.add_argument("--home", type=Path, help=f"state folder of the local engine (env {config.STATE_DIR.env}, "
                                                  f"default {config.STATE_DIR.default})")
    parser.add_argument("--stack", help=f"stack name (env {config.STACK_NAME.env}, "
                                        f"default {config.STACK_NAME.default})")
    parser.add_argument("--aws", action="store_true", help="read the stack on AWS (standard credential chain), "
                                                           "not on the local engine")
    parser.add_argument("--region", help="AWS region for --aws and deploy (default: AWS_REGION or the profile's)")
    parser.add_argument("--profile", help="AWS profile for --aws and deploy (default: AWS_PROFILE or the default)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="start the local engine and deploy the stack (safe to repeat)",
                             description="Start the local engine on 127.0.0.1 if it is not running, then "
                                         "create or update the stack from template.yaml. Returns when ready.")
    up.add_argument("--verbose", action="store_true", help="show every resource change and stack event")
    up.set_defaults(run=cmd_up)
    down = commands.add_parser("down", help="stop the local engine (its state is kept)",
                               description="Stop the local engine and all its worker processes. State stays "
                                           "in the state folder; `qip up` brings it all back.")
    down.set_defaults(run=cmd_down)

    outputs = commands.add_parser("outputs", help="where the stack's resources are",
                                  description="Print the stack's endpoint, region, buckets, table, queues, "
                                              "state machine, bus and topic.")
    outputs.add_argument("--json", action="store_true", help="print one JSON object (for tools)")
    outputs.set_defaults(run=cmd_outputs)

    upload = commands.add_parser("upload", help="upload files or folders to the upload bucket",
                                 description="Upload files (folders recursively) to the upload bucket; each "
                                             "upload starts the pipeline.")
    upload.add_argument("paths", nargs="+", metavar="PATH", help="file or folder to upload")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. 'holiday/2026/'")
    upload.add_argument("--wait", action="store_true", help="wait for the results and print them")
    upload.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
    upload.set_defaults(run=cmd_upload)

    status = commands.add_parser("status", help="the record of one image",
                                 description="Show an image's status; outputs when COMPLETED, the reason when "
                                             "REJECTED, the error when FAILED.")
    status.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    status.add_argument("--json", action="store_true", help="print one JSON object (for tools)")
    status.set_defaults(run=cmd_status)

    listing = commands.add_parser("list", help="records by status, upload date or key prefix",
                                  description="List image records, newest first, through the store's indexes.")
    listing.add_argument("--status", choices=STATUSES, type=str.upper, help="only this status")
    listing.add_argument("--date", metavar="YYYY-MM-DD", type=_date, help="only uploads of this day (UTC)")
    listing.add_argument("--prefix", help="only keys starting with this")
    listing.add_argument("--limit", type=int, help="at most this many")
    listing.add_argument("--json", action="store_true", help="print a JSON array (for tools)")
    listing.set_defaults(run=cmd_list)

    build_cmd = commands.add_parser("build", help="build the Lambda deployment artifact (zip)",
                                    description="Build the one zip every function runs from: the qip package and "
                                                "every runtime dependency (pinned by requirements.lock), native "
                                                "wheels for the chosen architecture. Cached by content hash.")
    build_cmd.add_argument("--arch", choices=["arm64", "x86_64"], default="arm64", help="default arm64")
    build_cmd.add_argument("--out", type=Path, default=Path("build"), help="output folder (default build/)")
    build_cmd.set_defaults(run=cmd_build)

    ship = commands.add_parser("deploy", help="build, upload and deploy the stack to AWS (change set)",
                               description="Build the artifact, upload it to the artifacts bucket, create or update "
                                           "the stack through a change set (changes shown, then executed), show "
                                           "its events, and print its outputs. Parameters not given keep the "
                                           "template's defaults.")
    ship.add_argument("--stack", default=argparse.SUPPRESS, help="stack name (default qip)")
    ship.add_argument("--region", default=argparse.SUPPRESS, help="AWS region (default: AWS_REGION or the profile's)")
    ship.add_argument("--profile", default=argparse.SUPPRESS, help="AWS profile (default: AWS_PROFILE or default)")
    ship.add_argument("--parameter", action="append", metavar="KEY=VALUE", help="a template parameter (repeatable)")
    ship.add_argument("--arch", choices=["arm64", "x86_64"], help="functions' architecture (default: the template's)")
    ship.add_argument("--artifacts-bucket", help="bucket for the artifacts (default qip-artifacts-<account>-<region>)")
    ship.add_argument("--endpoint-url", help="deploy to this endpoint instead of AWS (e.g. the local engine)")
    ship.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the stack (default 1800)")
    ship.set_defaults(run=cmd_deploy)

    history = commands.add_parser("history", help="every event about one image, in order (audit trail)",
                                  description="Show the events the project's bus carried about an image: upload, "
                                              "each stage started/succeeded/failed/retried, the outcome.")
    history.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    history.add_argument("--json", action="store_true", help="print the events as a JSON array")
    history.set_defaults(run=cmd_history)

    metrics = commands.add_parser("metrics", help="per-stage counts and latency percentiles",
                                  description="Per-stage successes, failures and p50/p95 durations, end-to-end "
                                              "latency, rejections and bytes processed, read from the metrics the "
                                              "functions emitted (CloudWatch EMF records in their log groups).")
    metrics.add_argument("--since", type=float, metavar="SECONDS", help="only the last SECONDS (default: all)")
    metrics.add_argument("--json", action="store_true", help="print one JSON object")
    metrics.set_defaults(run=cmd_metrics)

    retry = commands.add_parser("retry", help="process a FAILED image again",
                                description="Queue a FAILED image again as its next attempt.")
    retry.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    retry.set_defaults(run=cmd_retry)

    redrive = commands.add_parser("redrive", help="send the dead-letter queue's images back for processing",
                                  description="Move every pipeline message of the DLQ back to the processing "
                                              "queue, each as a new attempt.")
    redrive.set_defaults(run=cmd_redrive)

    reconcile = commands.add_parser("reconcile", help="requeue or settle images stuck in UPLOADED or PROCESSING",
                                    description="Find images UPLOADED or PROCESSING for longer than --older-than "
                                                "minutes with no run going, and queue them again (or, with their "
                                                "attempts spent, record them FAILED and dead-letter them). The "
                                                "stack also runs this on a schedule.")
    reconcile.add_argument("--older-than", type=float, default=30.0, metavar="MINUTES",
                           help="how long an image may sit before it counts as stuck (default 30)")
    reconcile.add_argument("--json", action="store_true", help="print one JSON object")
    reconcile.set_defaults(run=cmd_reconcile)

    faults_cmd = commands.add_parser(
        "faults", help="make a stage fail on purpose (local engine only)",
        description="Fault injection for the local engine (never on AWS): make STAGE fail (`fail`), sleep "
                    "(`slow`, past its timeout) or kill its worker (`crash`), for every try, the first N tries "
                    "of each run (--times), or a fraction of tries (--rate). Takes effect at once.")
    faults_cmd.add_argument("action", choices=("show", "set", "clear"))
    faults_cmd.add_argument("stage", nargs="?", choices=[str(step) for step in STEPS])
    faults_cmd.add_argument("mode", nargs="?", choices=("fail", "slow", "crash"))
    faults_cmd.add_argument("--times", type=int, help="fail the first N tries of each run, then work")
    faults_cmd.add_argument("--rate", type=float, help="fail this fraction of tries (0-1)")
    faults_cmd.add_argument("--seconds", type=float, default=0.0, help="how long `slow` sleeps")
    faults_cmd.add_argument("--key-contains", help="only keys containing this text")
    faults_cmd.set_defaults(run=cmd_faults)

    demo = commands.add_parser("demo", help="the whole pipeline on sample images, end to end",
                               description="Start the engine, deploy the stack, upload sample images (and two "
                                           "files that must be rejected), wait, and print what happened.")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for results (default 300)")
    demo.add_argument("--prefix", help="key prefix (default demo/<time>/)")
    demo.add_argument("--dashboard", action="store_true", help="then serve the web dashboard until Ctrl-C")
    demo.add_argument("--dashboard-port", type=int, default=8765, help="port of --dashboard (default 8765)")
    demo.add_argument("--verbose", action="store_true", help="show every resource change and stack event")
    demo.set_defaults(run=cmd_demo)

    dashboard = commands.add_parser("dashboard", help="the web dashboard of the stack (until Ctrl-C)",
                                    description="Serve a web dashboard of the running stack: counts, throughput, "
                                                "latency, queues, images with derivatives and timelines, uploads, "
                                                "retries and redrives.")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dashboard.add_argument("--port", dest="dashboard_port", type=int, default=8765, help="port (default 8765)")
    dashboard.add_argument("--open", action="store_true", help="open it in the default web browser")
    dashboard.set_defaults(run=cmd_dashboard)
    return parser


def _date(value: str) -> str:
    time.strptime(value, "%Y-%m-%d")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except QipError as error:
        if args.debug:
            raise
        console.print(f"[red]qip: error:[/] {error}", highlight=False)
        return int(_EXITS.get(type(error), Exit.ERROR))
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
