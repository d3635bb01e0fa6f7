"""`qip`: run the image pipeline on the local engine, upload images, and read their records.

Start-up stays cheap: the parser names each command's function as "module:function" in
`qip.cli.commands`, and only the module of the command that runs is imported (so `qip --help`
loads no AWS SDK, no rich and no image library). Global options (`--debug`, `--port`, `--aws`...)
are accepted before or after the command. One place (`main`) turns every expected error, AWS's
included, into one line that says what to do and an exit code; anything else is reported as a bug
with its traceback saved to a file (`qip.cli.failures`); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from qip.cli import failures
from qip.cli.exits import Exit
from qip.core import config
from qip.core.model import STATUSES, STEPS

GLOBAL_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--debug", {"action": "store_true", "help": "show tracebacks on errors"}),
    ("--port", {"type": int, "help": f"local engine port (env {config.ENGINE_PORT.env}, "
                                     f"default {config.ENGINE_PORT.default})"}),
    ("--home", {"type": Path, "help": f"state folder of the local engine (env {config.STATE_DIR.env}, "
                                      "default .qip in the project folder)"}),
    ("--stack", {"help": f"stack name (env {config.STACK_NAME.env}, default {config.STACK_NAME.default})"}),
    ("--aws", {"action": "store_true", "help": "read the stack on AWS (standard credential chain), "
                                               "not on the local engine"}),
    ("--region", {"help": "AWS region for --aws and deploy (default: AWS_REGION or the profile's)"}),
    ("--profile", {"help": "AWS profile for --aws and deploy (default: AWS_PROFILE or the default)"}),
]


def add_global_options(parser: argparse.ArgumentParser, top: bool, skip: tuple[str, ...] = ()) -> None:
    """The global options, on the main parser or (also accepted after the command) on a command's.

    On a command's parser they default to SUPPRESS, so an option given before the command is not
    reset by the command's parser; the help is the same text in both places.
    """
    group = parser if top else parser.add_argument_group(
        "global options", "also accepted before the command: `qip --aws status KEY` = `qip status KEY --aws`")
    suppressed: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    for flag, options in GLOBAL_OPTIONS:
        if flag not in skip:
            group.add_argument(flag, **options, **suppressed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qip",
        description="Quantum Image Processor: run the serverless image pipeline on a local AWS engine "
                    "(no AWS account needed), upload images, and follow them.",
        epilog="Start with `qip demo`. Every command has --help.",
    )
    add_global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="start the local engine and deploy the stack (safe to repeat)",
                             description="Start the local engine on 127.0.0.1 if it is not running, then "
                                         "create or update the stack from template.yaml. Returns when ready.")
    up.add_argument("--verbose", action="store_true", help="show every resource change and stack event")
    up.set_defaults(run="stack:up")
    down = commands.add_parser("down", help="stop the local engine (its state is kept)",
                               description="Stop the local engine and all its worker processes. State stays "
                                           "in the state folder; `qip up` brings it all back.")
    down.set_defaults(run="stack:down")

    outputs = commands.add_parser("outputs", help="where the stack's resources are",
                                  description="Print the stack's endpoint, region, buckets, table, queues, "
                                              "state machine, bus and topic, and the certificate its endpoint "
                                              "needs trusted (ca_bundle: the local engine's; null on AWS).")
    outputs.add_argument("name", nargs="?", metavar="NAME",
                         help="print only this one, bare (e.g. upload_bucket), for scripts")
    outputs.add_argument("--json", action="store_true", help="print one JSON object (for tools)")
    outputs.set_defaults(run="stack:outputs")

    upload = commands.add_parser("upload", help="upload files or folders to the upload bucket",
                                 description="Upload files (folders recursively) to the upload bucket; each "
                                             "upload starts the pipeline.")
    upload.add_argument("paths", nargs="+", metavar="PATH", help="file or folder to upload")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. 'holiday/2026/'")
    upload.add_argument("--wait", action="store_true", help="wait for the results and print them")
    upload.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
    upload.set_defaults(run="images:upload")

    status = commands.add_parser("status", help="the record of one image",
                                 description="Show an image's status; outputs when COMPLETED, the reason when "
                                             "REJECTED, the error when FAILED.")
    status.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    status.add_argument("--json", action="store_true", help="print one JSON object (for tools)")
    status.add_argument("--wait", action="store_true",
                        help="first wait until the image has a final status (COMPLETED, REJECTED, or FAILED "
                             "for good); exit 7 if it has none at --timeout")
    status.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
    status.set_defaults(run="images:status")

    listing = commands.add_parser("list", help="records by status, upload date or key prefix",
                                  description="List image records, newest first, through the store's indexes: "
                                              "by status, by upload day, and for --prefix the by-key index, "
                                              "which reads only the records under the prefix.")
    listing.add_argument("--status", choices=STATUSES, type=str.upper, help="only this status")
    listing.add_argument("--date", metavar="YYYY-MM-DD", type=_date, help="only uploads of this day (UTC)")
    listing.add_argument("--prefix", help="only keys starting with this")
    listing.add_argument("--limit", type=int, help="at most this many; the next page's --after is printed "
                                                   "on stderr")
    listing.add_argument("--after", metavar="TOKEN", help="the page after the one that printed this token")
    listing.add_argument("--json", action="store_true", help="print a JSON array (for tools)")
    listing.set_defaults(run="images:list_records")

    build_cmd = commands.add_parser("build", help="build the Lambda deployment artifact (zip)",
                                    description="Build the one zip every function runs from: the qip package and "
                                                "every runtime dependency (pinned by requirements.lock), native "
                                                "wheels for the chosen architecture. Cached by content hash.")
    build_cmd.add_argument("--arch", choices=["arm64", "x86_64"], default="arm64", help="default arm64")
    build_cmd.add_argument("--out", type=Path, default=Path("build"), help="output folder (default build/)")
    build_cmd.set_defaults(run="stack:build")

    ship = commands.add_parser("deploy", help="build, upload and deploy the stack to AWS (change set)",
                               description="Build the artifact, upload it to the artifacts bucket, create or update "
                                           "the stack through a change set (changes shown, then executed), show "
                                           "its events, and print its outputs. Parameters not given keep the "
                                           "template's defaults.")
    ship.add_argument("--parameter", action="append", metavar="KEY=VALUE", help="a template parameter (repeatable)")
    ship.add_argument("--arch", choices=["arm64", "x86_64"], help="functions' architecture (default: the template's)")
    ship.add_argument("--artifacts-bucket", help="bucket for the artifacts (default qip-artifacts-<account>-<region>)")
    ship.add_argument("--endpoint-url", help="deploy to this endpoint instead of AWS (e.g. the local engine)")
    ship.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the stack (default 1800)")
    ship.set_defaults(run="stack:deploy")

    history = commands.add_parser("history", help="every event about one image, in order (audit trail)",
                                  description="Show the events the project's bus carried about an image: upload, "
                                              "each stage started/succeeded/failed/retried, the outcome.")
    history.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    history.add_argument("--json", action="store_true", help="print the events as a JSON array")
    history.set_defaults(run="images:history")

    metrics = commands.add_parser("metrics", help="per-stage counts and latency percentiles",
                                  description="Per-stage successes, failures and p50/p95 durations, end-to-end "
                                              "latency, rejections and bytes processed, read from the metrics the "
                                              "functions emitted (CloudWatch EMF records in their log groups).")
    metrics.add_argument("--since", type=float, metavar="SECONDS", help="only the last SECONDS (default: all)")
    metrics.add_argument("--json", action="store_true", help="print one JSON object")
    metrics.set_defaults(run="operations:metrics")

    cost = commands.add_parser(
        "cost", help="what a million images cost on AWS, from a run on the local stack",
        description="Upload photo-like JPEGs to the local stack, count what processing them really did "
                    "(function calls and their AWS requests, durations and memory, state transitions, item "
                    "sizes, stored bytes, log bytes) and price it per million images with the dated "
                    "us-east-1 price file (free tiers left out). See docs/cost.md.")
    cost.add_argument("--images", type=int, default=10, help="images to run (default 10)")
    cost.add_argument("--megapixels", type=float, default=12.0, help="size of each image (default 12 MP)")
    cost.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the run (default 300)")
    cost.add_argument("--json", action="store_true", help="print one JSON object (per_million_usd and its terms)")
    cost.set_defaults(run="cost:cost")

    retry = commands.add_parser("retry", help="process a FAILED image again",
                                description="Queue a FAILED image again as its next attempt.")
    retry.add_argument("key", metavar="KEY", help="the image's key in the upload bucket")
    retry.set_defaults(run="images:retry")

    redrive = commands.add_parser("redrive", help="send the dead-letter queue's images back for processing",
                                  description="Move every pipeline message of the DLQ back to the processing "
                                              "queue, each as a new attempt.")
    redrive.set_defaults(run="operations:redrive")

    reconcile = commands.add_parser("reconcile", help="requeue or settle images stuck in UPLOADED or PROCESSING",
                                    description="Find images UPLOADED or PROCESSING for longer than --older-than "
                                                "minutes with no run going, and queue them again (or, with their "
                                                "attempts spent, record them FAILED and dead-letter them). The "
                                                "stack also runs this on a schedule.")
    reconcile.add_argument("--older-than", type=float, default=30.0, metavar="MINUTES",
                           help="how long an image may sit before it counts as stuck (default 30)")
    reconcile.add_argument("--uploads", action="store_true",
                           help="also page through the upload bucket and queue every upload (older than "
                                "--older-than) that has no record, as after a crash that lost its event; "
                                "reads the whole bucket's listing")
    reconcile.add_argument("--json", action="store_true", help="print one JSON object")
    reconcile.set_defaults(run="operations:reconcile")

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
    faults_cmd.set_defaults(run="operations:faults")

    delete = commands.add_parser(
        "delete", help="erase an image (or every image under a prefix) on request",
        description="Erase images: the upload, the archived original, every derivative and manifest, every "
                    "noncurrent version in the archive, the audit trail. The record becomes a tombstone (status "
                    "DELETED, nothing about the image) and an `Image Deleted` event and notification go out. A "
                    "run in progress is stopped first. A later upload of the key is processed as new.")
    delete.add_argument("key", nargs="?", metavar="KEY", help="the image's key in the upload bucket")
    delete.add_argument("--prefix", help="every image whose key starts with this")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--json", action="store_true", help="print what was erased as a JSON array")
    delete.set_defaults(run="erasure:delete")

    reprocess = commands.add_parser(
        "reprocess", help="run images again whose renditions changed",
        description="Queue every COMPLETED image whose outputs were made by other renditions than the stack's "
                    "(src/renditions.yaml, deployed by `qip up` or `qip deploy`) for a new run, paced by the "
                    "dispatcher's admission control like uploads. Outputs of renditions an image no longer has "
                    "are removed. Running it again queues nothing new.")
    reprocess.add_argument("--prefix", help="only keys starting with this")
    reprocess.add_argument("--rendition", metavar="NAME", help="only images whose rendition NAME is stale")
    reprocess.add_argument("--dry-run", action="store_true", help="list the stale images; queue nothing")
    reprocess.add_argument("--wait", action="store_true", help="then wait for the runs to finish")
    reprocess.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits (default 600)")
    reprocess.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    reprocess.set_defaults(run="reprocess:reprocess")

    renditions = commands.add_parser(
        "renditions", help="check the renditions file and show what each image gets",
        description="Validate src/renditions.yaml against schemas/renditions.schema.json and the template's "
                    "parameters (what `qip up` and `qip deploy` do first; run it before `sam build`).")
    renditions.add_argument("--file", type=Path, help="another renditions file to check")
    renditions.add_argument("--parameter", action="append", metavar="KEY=VALUE",
                            help="a template parameter the stack is deployed with (MaxSide, ThumbnailSizes, ...)")
    renditions.add_argument("--json", action="store_true", help="print the resolved renditions as JSON")
    renditions.set_defaults(run="renditions:renditions")

    demo = commands.add_parser("demo", help="the whole pipeline on sample images, end to end",
                               description="Start the engine, deploy the stack, upload sample images (and two "
                                           "files that must be rejected), wait, and print what happened.")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for results (default 300)")
    demo.add_argument("--prefix", help="key prefix (default demo/<time>/)")
    demo.add_argument("--dashboard", action="store_true", help="then serve the web dashboard until Ctrl-C")
    demo.add_argument("--dashboard-port", type=int, default=8765, help="port of --dashboard (default 8765)")
    demo.add_argument("--verbose", action="store_true", help="show every resource change and stack event")
    demo.set_defaults(run="stack:demo")

    dashboard = commands.add_parser("dashboard", help="the web dashboard of the stack (until Ctrl-C)",
                                    description="Serve a web dashboard of the running stack: counts, throughput, "
                                                "latency, queues, images with derivatives and timelines, uploads, "
                                                "retries and redrives.")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dashboard.add_argument("--port", dest="dashboard_port", type=int, default=8765,
                           help="the dashboard's port (default 8765); the engine's --port goes before the command")
    dashboard.add_argument("--open", action="store_true", help="open it in the default web browser")
    dashboard.set_defaults(run="operations:dashboard")

    env = commands.add_parser(
        "env", help="variables that point any AWS CLI or SDK at the local stack: eval \"$(qip env)\"",
        description="Print the shell commands that make the AWS CLI, boto3 and the other AWS SDKs talk to the "
                    "local engine with no flags: AWS_ENDPOINT_URL, AWS_CA_BUNDLE (the engine's certificate), "
                    "the engine's dummy credentials (test/test) and the region (AWS_DEFAULT_REGION, AWS_REGION); "
                    "AWS_SESSION_TOKEN and AWS_PROFILE are unset, since they would belong to another account. "
                    "sh, bash, zsh: eval \"$(qip env)\"; fish: qip env --shell fish | source; PowerShell: "
                    "qip env --shell powershell | Invoke-Expression. --unset prints the commands that undo it.")
    env.add_argument("--shell", choices=("sh", "fish", "powershell"), default="sh", help="default sh (bash, zsh)")
    env.add_argument("--json", action="store_true", help="print the variables as one JSON object (null: unset)")
    env.add_argument("--unset", action="store_true", help="print the commands that remove the variables")
    env.set_defaults(run="environment:env")

    for name, command_parser in commands.choices.items():
        # `dashboard --port` is the dashboard's own port: there the engine's port goes before the command
        add_global_options(command_parser, top=False, skip=("--port",) if name == "dashboard" else ())
    return parser


def _date(value: str) -> str:
    time.strptime(value, "%Y-%m-%d")
    return value


def command(args: argparse.Namespace) -> Callable[[argparse.Namespace], Exit]:
    """The function of the command `args` names, imported now."""
    module, _, name = str(args.run).partition(":")
    run: Callable[[argparse.Namespace], Exit] = getattr(import_module(f"qip.cli.commands.{module}"), name)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(command(args)(args))
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at the interpreter's exit
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`qip list | head`): nothing more to say
        failures.silence_stdout()
        return 128 + 13  # as if killed by SIGPIPE, like other command-line tools
    except Exception as error:
        if args.debug:
            raise
        return failures.report(error, args, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
