"""The README cannot rot: each shell example is run by a named test (tests/readme.py says how), CI
runs exactly the README's test command, and the command table names only commands and flags
that `qip` has."""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess

import pytest

from qip.cli import app as cli
from tests import readme


def defined_tests(path: str) -> set[str]:
    tree = ast.parse((readme.ROOT / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_shell_example_is_run_by_a_test_that_exists():
    blocks = {(b.section, b.ordinal): b for b in readme.shell_blocks()}
    assert blocks, "no ```sh block found: has the README's format changed?"
    unclaimed = [f"README.md:{b.line} ({b.section!r} #{b.ordinal})" for key, b in blocks.items()
                 if key not in readme.RUN_BY]
    assert not unclaimed, f"add each to tests/readme.py RUN_BY with the test that runs it: {unclaimed}"
    assert set(readme.RUN_BY) <= set(blocks), "RUN_BY names a block the README no longer has"
    for node in readme.RUN_BY.values():
        path, name = node.split("::")
        assert name in defined_tests(path), node


def test_the_extraction_finds_blocks_by_heading_and_order():
    text = "# A\n```sh\none\n```\n\n## B\n```\nnot shell\n```\n```sh\ntwo\nthree\n```\n```sh\nfour\n```\n"
    found = [(b.section, b.ordinal, b.text) for b in readme.shell_blocks(text)]
    assert found == [("A", 0, "one\n"), ("B", 0, "two\nthree\n"), ("B", 1, "four\n")]


def test_ci_runs_exactly_the_readme_s_test_command():
    """`./dev test` is the suite itself: CI's one command must be the README's, character for character."""
    command = readme.block("Quick start", 1).strip()
    ci = [line.strip() for line in (readme.ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == [command]
    # and the command works as a command (install check, browser check, pytest), stopped at collection
    # so the suite does not run inside itself
    result = subprocess.run(["bash", "-c", f"{command} --collect-only -q tests/unit/test_readme.py"],
                            cwd=readme.ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTEST_ADDOPTS": "-p no:cacheprovider"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "test_ci_runs_exactly_the_readme_s_test_command" in result.stdout


def command_table() -> list[tuple[str, list[str]]]:
    """(command, flags) for each row of the README's command table."""
    rows = []
    for line in readme.README.read_text().splitlines():
        match = re.match(r"\| `(qip [^`]+)`(?: / `(qip [^`]+)`)? \|", line)
        if match:
            for usage in filter(None, match.groups()):
                words = usage.split()
                rows.append((words[1], re.findall(r"--[a-z][a-z-]*", usage)))
    return rows


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_command_table_names_only_real_commands_and_flags():
    rows = command_table()
    parsers = subcommands()
    assert len(rows) >= 15
    for command, flags in rows:
        assert command in parsers, command
        known = {option for action in parsers[command]._actions for option in action.option_strings}
        assert set(flags) <= known, (command, set(flags) - known)
    assert {command for command, _ in rows} == set(parsers), "a command is missing from the README's table"


@pytest.mark.parametrize("flag", ["--debug", "--port", "--home", "--stack", "--aws", "--region", "--profile"])
def test_the_readme_lists_the_global_options(flag):
    assert flag in readme.README.read_text().split("| command |")[0]
