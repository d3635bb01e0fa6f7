"""Operating a running stack: metrics, redrive, reconcile, faults, dashboard."""

from __future__ import annotations

import argparse

from rich.table import Table

from qip.cli import output, targets
from qip.cli.exits import Exit
from qip.client.pipeline import Pipeline
from qip.core import config
from qip.core.errors import ConfigurationError
from qip.core.reconciliation import summarise


def metrics(args: argparse.Namespace) -> Exit:
    report = Pipeline(targets.stack(args)).metrics(args.since)
    if args.json:
        output.print_json(report)
        return Exit.OK
    table = Table(title="Per stage (from the metrics the functions emitted)")
    for column in ("stage", "succeeded", "failed", "p50 ms", "p95 ms"):
        table.add_column(column)
    for stage, figures in report["stages"].items():
        table.add_row(stage, str(figures["succeeded"]), str(figures["failed"]), str(figures["p50_ms"]),
                      str(figures["p95_ms"]))
    output.out.print(table)
    latency = report["end_to_end"]
    output.out.print(f"end to end: {latency['count']} images, p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms; "
              f"rejected {report['images_rejected']}; bytes processed {report['bytes_processed']}")
    return Exit.OK


def redrive(args: argparse.Namespace) -> Exit:
    result = Pipeline(targets.stack(args)).redrive()
    output.console.print(f"moved {len(result.moved)} message(s) back to the processing queue; "
                  f"kept {result.kept} that are not pipeline messages", highlight=False)
    return Exit.OK


def reconcile(args: argparse.Namespace) -> Exit:
    result = Pipeline(targets.stack(args)).reconcile(args.older_than, config.PIPELINE_MAX_ATTEMPTS.get(),
                                                     uploads=args.uploads)
    if args.json:
        output.print_json(result)
    else:
        output.console.print(summarise(result), highlight=False)
    return Exit.OK


def faults(args: argparse.Namespace) -> Exit:
    from qip.core import faults

    targets.local_only(args, "faults are injected into the local engine's functions only, never on AWS")
    path = targets.engine(args).faults_file
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
    output.print_json({stage: vars(rule) for stage, rule in configured.items()})
    return Exit.OK


def dashboard(args: argparse.Namespace) -> Exit:
    serve_dashboard(Pipeline(targets.stack(args)), args.host, args.dashboard_port, args.open)
    return Exit.OK


def serve_dashboard(pipeline: Pipeline, host: str, port: int, open_browser: bool) -> None:
    """Serve the dashboard until Ctrl-C (the only command that keeps running)."""
    from qip.dashboard.server import DashboardServer

    server = DashboardServer(pipeline, host, port).start()
    output.console.print(f"[green]dashboard[/]: {server.url}  (Ctrl-C stops it)", highlight=False)
    if host not in ("127.0.0.1", "localhost", "::1"):
        output.console.print(f"[yellow]warning[/]: listening on {host}; anyone who reaches this machine can use it")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.wait()
    except KeyboardInterrupt:
        output.console.print("dashboard stopped")
