"""Commands about the stack itself: up, down, outputs, build, deploy, demo."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from qip.cli import output, targets
from qip.cli.commands.operations import serve_dashboard
from qip.cli.exits import Exit
from qip.client.pipeline import Pipeline
from qip.core import config
from qip.core.errors import ConfigurationError
from qip.tooling import local_stack


def up(args: argparse.Namespace) -> Exit:
    targets.local_only(args, "to deploy to AWS use `qip deploy --stack NAME`")
    info = local_stack.up(targets.engine(args), config.STACK_NAME.get(args.stack), progress=output.up_progress(args))
    output.console.print(f"[green]ready[/]: upload to s3://{info.upload_bucket} at {info.endpoint_url}")
    return Exit.OK


def down(args: argparse.Namespace) -> Exit:
    targets.local_only(args, "a stack on AWS keeps running until you delete it with CloudFormation")
    engine = targets.engine(args)
    if engine.stop():
        output.console.print(f"local engine on port {engine.port} stopped; state kept in {engine.home}")
    else:
        output.console.print(f"no local engine of this project was running on port {engine.port}")
    return Exit.OK


def outputs(args: argparse.Namespace) -> Exit:
    values = targets.stack(args).to_dict()
    if args.name:
        if args.name not in values:
            raise ConfigurationError(f"the stack has no output {args.name!r}; it has {', '.join(values)}")
        print(values[args.name] if values[args.name] is not None else "")  # bare, for $(...)
    elif args.json:
        output.print_json(values)
    else:
        for name, value in values.items():
            output.out.print(f"{name:18} {value}", highlight=False, markup=False)
    return Exit.OK


def build(args: argparse.Namespace) -> Exit:
    from qip.tooling import build

    artifact = build.build(args.arch, args.out, progress=output.console.print)
    output.console.print(f"dependencies pinned in {artifact.requirements}")
    output.out.print(artifact.summary(), highlight=False)
    return Exit.OK


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--parameter {pair!r}: expected KEY=VALUE")
        parameters[key] = value
    return parameters


def deploy(args: argparse.Namespace) -> Exit:
    from qip.core import aws
    from qip.tooling import aws_deploy as release

    if not args.endpoint_url:
        targets.refuse_local_aws_endpoint()
    target = release.resolve_target(args.region, args.profile, args.endpoint_url)
    engine = targets.engine(args)
    if args.endpoint_url and args.endpoint_url == engine.endpoint_url and engine.certificate.exists():
        aws.trust(engine.endpoint_url, str(engine.certificate))  # the local engine's own TLS certificate
    outputs = release.ship(config.STACK_NAME.get(args.stack), target, _parameters(args.parameter or []), args.arch,
                           args.artifacts_bucket, progress=output.console.print, timeout=args.timeout)
    output.console.print("[green]deployed[/]; outputs:")
    for name, value in sorted(outputs.items()):
        output.out.print(f"{name:18} {value}", highlight=False, markup=False)
    return Exit.OK


def demo(args: argparse.Namespace) -> Exit:
    from qip.cli.samples import write_samples

    targets.local_only(args, "upload your own files to a stack on AWS with `qip upload PATH --aws`")
    started = time.monotonic()
    info = local_stack.up(targets.engine(args), config.STACK_NAME.get(args.stack), progress=output.up_progress(args))
    output.console.print(f"stack ready in {time.monotonic() - started:.1f} s")
    pipeline = Pipeline(info)
    prefix = args.prefix or time.strftime("demo/%Y%m%d-%H%M%S/")
    with tempfile.TemporaryDirectory() as folder:
        keys = output.upload_all(pipeline, output.keys_for([str(p) for p in write_samples(Path(folder))], prefix))
    records = output.wait_all(pipeline, keys, args.timeout)
    output.out.print(output.results_table(pipeline, records))
    output.console.print(f"done in {time.monotonic() - started:.1f} s. Try: qip status '{keys[0]}' --json ; qip down",
                         markup=False)
    if args.dashboard:
        serve_dashboard(pipeline, "127.0.0.1", args.dashboard_port, open_browser=False)
    return Exit.INCOMPLETE if any(r.get("status") in (None, "MISSING", "UPLOADED", "PROCESSING")
                                  for r in records.values()) else Exit.OK
