"""Which stack a command works on: the one on the local engine, or with --aws the one on AWS."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from qip.client.errors import StackNotFoundError
from qip.client.stack import StackInfo
from qip.core import config
from qip.core.errors import ConfigurationError
from qip.tooling import local_stack

if TYPE_CHECKING:
    from qip.tooling.engine import Engine

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def engine(args: argparse.Namespace) -> Engine:
    return local_stack.engine(args.port, args.home)


def local_only(args: argparse.Namespace, instead: str) -> None:
    """Refuse --aws on a command that only works on the local engine, saying what to use instead."""
    if args.aws:
        raise ConfigurationError(f"`qip {args.command}` works on the local engine only (--aws given); {instead}")


def refuse_local_aws_endpoint() -> None:
    """Refuse to work "on AWS" while AWS_ENDPOINT_URL points at this machine (left by `qip env`).

    The SDK would honour that variable, so a command meant for AWS would reach the local engine.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if urlsplit(endpoint).hostname in LOOPBACK:
        raise ConfigurationError(f"AWS_ENDPOINT_URL is {endpoint} (set by `qip env`?), so this command would reach "
                                 f"the local engine, not AWS: run `eval \"$(qip env --unset)\"` (or unset "
                                 f"AWS_ENDPOINT_URL and AWS_CA_BUNDLE) first")


def stack(args: argparse.Namespace) -> StackInfo:
    if args.aws:  # the stack on AWS, through the standard credential chain
        from botocore.exceptions import ClientError

        from qip.tooling import aws_deploy as release

        refuse_local_aws_endpoint()
        target = release.resolve_target(args.region, args.profile, None)
        if target.profile:  # the stack's clients (qip.core.aws) read the standard chain: give it the profile
            os.environ["AWS_PROFILE"] = target.profile
        name = config.STACK_NAME.get(args.stack)
        try:
            outputs = release.stack_outputs(name, target)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("ValidationError", "ResourceNotFoundException"):
                raise  # access denied, an expired token...: the CLI's error funnel says what to do
            raise StackNotFoundError(f"stack {name!r} is not deployed in {target.region}; check --stack and "
                                     f"--region, or deploy it with `qip deploy`") from error
        return StackInfo.from_outputs(outputs, None, target.region)
    return local_stack.info(engine(args), config.STACK_NAME.get(args.stack))
