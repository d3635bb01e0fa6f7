"""Which stack a command works on: the one on the local engine, or with --aws the one on AWS."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from qip.client.errors import StackNotFoundError
from qip.client.stack import StackInfo
from qip.core import config
from qip.tooling import local_stack

if TYPE_CHECKING:
    from qip.tooling.engine import Engine


def engine(args: argparse.Namespace) -> Engine:
    return local_stack.engine(args.port, args.home)


def stack(args: argparse.Namespace) -> StackInfo:
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
    return local_stack.info(engine(args), config.STACK_NAME.get(args.stack))
