"""`qip env`: the variables that make any AWS CLI or SDK talk to the local stack with no flags.

`AWS_ENDPOINT_URL` is the SDKs' and the AWS CLI's own variable (botocore 1.31+, AWS CLI 1.29+ and
2.13+, and the other SDKs of 2023 on); `AWS_CA_BUNDLE` makes them trust the engine's certificate.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from qip.cli import targets
from qip.cli.exits import Exit
from qip.core import config
from qip.tooling.errors import EngineError

# The engine's fixed dummy credentials (not a secret: it accepts them from anyone on loopback).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Set elsewhere, these would belong to another account (a session token, a profile that may not exist).
CLEARED = ("AWS_SESSION_TOKEN", "AWS_PROFILE")
NAMES = ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", *CREDENTIALS, "AWS_DEFAULT_REGION", "AWS_REGION", *CLEARED)


def env(args: argparse.Namespace) -> Exit:
    targets.local_only(args, "on AWS the standard credential chain and your profile apply as they are")
    variables: dict[str, str | None] = dict.fromkeys(NAMES) if args.unset else _variables(args)
    if args.json:
        print(json.dumps(variables, indent=2))
    else:
        print("\n".join(_line(args.shell, name, value) for name, value in variables.items()))
        print(_hint(args.shell, args.unset))
    return Exit.OK


def _variables(args: argparse.Namespace) -> dict[str, str | None]:
    engine = targets.engine(args)
    if not engine.certificate.exists():
        raise EngineError(f"no local engine has run with the state folder {engine.home} yet (no certificate "
                          f"{engine.certificate}): run `qip up` first")
    if not engine.healthy():
        print(f"qip: warning: the local engine is not running on {engine.endpoint_url}; `qip up` starts it "
              f"(the variables are right for it all the same)", file=sys.stderr)
    region = config.REGION.get()
    return {"AWS_ENDPOINT_URL": engine.endpoint_url, "AWS_CA_BUNDLE": str(engine.certificate), **CREDENTIALS,
            "AWS_DEFAULT_REGION": region, "AWS_REGION": region, **dict.fromkeys(CLEARED)}


def _line(shell: str, name: str, value: str | None) -> str:
    """One variable set (or, for None, removed) in the syntax of `shell`."""
    if shell == "fish":
        return f"set -e {name};" if value is None else f"set -gx {name} {_fish_quote(value)};"
    if shell == "powershell":
        if value is None:
            return f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"
        return f"$Env:{name} = '{value.replace(chr(39), chr(39) * 2)}'"
    return f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _hint(shell: str, unset: bool) -> str:
    flag = " --unset" if unset else ""
    use = {"fish": f"qip env --shell fish{flag} | source",
           "powershell": f"qip env --shell powershell{flag} | Invoke-Expression"}.get(shell, f'eval "$(qip env{flag})"')
    return f"# {use}" + ("" if unset else "  (then any AWS CLI or SDK reaches the local stack; --unset undoes it)")
