"""The habits are enforced, not hoped for: ruff and mypy at zero findings, every `noqa` explained.

ruff runs the rule selection of pyproject.toml (including RUF100, so a `noqa` for a rule that is
not enabled or not needed is itself a finding); mypy is strict on what ships to Lambda
(`qip.core`, `qip.imaging`, `qip.functions`) and checks every other package's annotations.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("src", "tests", "bench")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run("ruff", "check", "--no-cache", *CHECKED)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_mypy_finds_nothing():
    result = run("mypy")
    assert result.returncode == 0, "\n".join(line for line in result.stdout.splitlines()
                                              if ": note:" not in line)[-5000:]


def test_every_noqa_names_its_rules_and_says_why():
    unexplained = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                match = re.search(r"#\s*noqa\b(.*)", line)
                if match and not re.match(r":\s*[A-Z]+\d+(,\s*[A-Z]+\d+)*\s+-\s+\S", match.group(1)):
                    unexplained.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not unexplained
