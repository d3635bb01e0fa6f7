"""`qip renditions`: check the renditions file and show what each image gets."""

from __future__ import annotations

import argparse

from qip.cli import output
from qip.cli.exits import Exit
from qip.core.errors import ConfigurationError


def renditions(args: argparse.Namespace) -> Exit:
    from qip.tooling import renditions as checker

    parameters = dict(_pair(p) for p in args.parameter or [])
    checked = checker.check(parameters, args.file or checker.RENDITIONS_FILE)
    if args.json:
        output.print_json({"version": checked.version, **checked.to_dict()})
        return Exit.OK
    output.out.print(f"{args.file or checker.RENDITIONS_FILE}: valid, version {checked.version}", highlight=False)
    for name, rendition in sorted(checked.renditions.items()):
        box = f"{rendition.width or '-'}x{rendition.height or '-'}"
        crop = f" ({rendition.crop})" if rendition.fit == "cover" else ""
        keep = f", keeps {', '.join(rendition.keep)}" if rendition.keep else ""
        output.out.print(f"  {name:16} {box:11} {rendition.fit}{crop}, {', '.join(rendition.formats)}{keep}",
                         highlight=False)
    for rule in checked.rules:
        output.out.print(f"  keys under {rule.prefix!r}: {', '.join(rule.renditions)}", highlight=False)
    output.out.print(f"  other keys: {', '.join(checked.default)}", highlight=False)
    return Exit.OK


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ConfigurationError(f"--parameter {text!r}: expected KEY=VALUE, e.g. MaxSide=1600")
    return name, value
