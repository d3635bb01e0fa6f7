"""The README's shell examples, read from README.md itself, and how the tests run each of them.

Every ```sh block of the README is listed in RUN_BY with the test that runs it, and
tests/unit/test_readme.py fails if a block is added that no test runs, or a named test is gone.
Tests take the text from here (never a copy), so an example cannot rot:

- Quick start, `./dev demo`: run as written by the main-job test, against the session's stack, with
  the browser and the package managers made unreachable (the main job needs neither).
- Quick start, `./dev test`: the suite itself. `.ci/run` runs exactly this line (a test compares
  them), and a test runs the same line restricted to collecting one file, so the wrapper is shown
  to work without running the suite inside the suite.
- Any AWS client works: run as written by bash (the real `eval`, the real AWS CLI of the venv),
  against the session's stack, in a folder that holds a photo.jpg; the image must reach COMPLETED.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

RUN_BY = {
    ("Quick start", 0): "tests/integration/test_pipeline.py::test_the_readme_main_job_qip_demo_processes_the_samples",
    ("Quick start", 1): "tests/unit/test_readme.py::test_ci_runs_exactly_the_readme_s_test_command",
    ("Any AWS client works", 0):
        "tests/integration/test_aws_clients.py::test_the_readme_aws_client_example_runs_as_written",
}


@dataclass(frozen=True)
class Block:
    """One ```sh block: the heading it is under, its place among that heading's blocks, and its text."""

    section: str
    ordinal: int
    text: str
    line: int


def shell_blocks(text: str | None = None) -> list[Block]:
    blocks: list[Block] = []
    counts: dict[str, int] = {}
    lines = (text if text is not None else README.read_text()).splitlines()
    section, index = "", 0
    while index < len(lines):
        line = lines[index]
        heading = re.match(r"#+\s+(.*)", line)
        if heading:
            section = heading.group(1).strip()
        elif line.strip() in ("```sh", "```bash", "```shell", "```console"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            ordinal = counts.get(section, 0)
            counts[section] = ordinal + 1
            blocks.append(Block(section, ordinal, "\n".join(lines[index + 1:end]) + "\n", index + 1))
            index = end
        index += 1
    return blocks


def block(section: str, ordinal: int = 0) -> str:
    """The text of one block; KeyError if the README no longer has it."""
    for found in shell_blocks():
        if (found.section, found.ordinal) == (section, ordinal):
            return found.text
    raise KeyError(f"README.md has no shell block {ordinal} under {section!r}")


def unreachable_tools(folder: Path) -> dict[str, str]:
    """A PATH on which a browser and the package managers fail loudly and leave a mark in `folder`.

    Returns the environment changes; `touched(folder)` lists what was called.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("chromium", "chromium-browser", "google-chrome", "apt", "apt-get", "dpkg", "sudo"):
        shim = folder / tool
        shim.write_text(f'#!/bin/sh\necho "$0 $*" >> "{folder}/called"\necho "{tool} must not be needed" >&2\n'
                        "exit 97\n")
        shim.chmod(0o755)
    return {"PATH": os.pathsep.join([str(folder), os.environ.get("PATH", "")]), "QIP_TEST_CHROMIUM": ""}


def touched(folder: Path) -> list[str]:
    called = folder / "called"
    return called.read_text().splitlines() if called.exists() else []


def run_block(text: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """A block as a user runs it: bash, stopping at the first failing command."""
    return subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
