"""`qip` imports only what the command that runs uses (the timings: bench/cli_startup.py).

Each case runs `qip` in a new interpreter and lists the modules loaded by its end. `status` runs
against a port where no engine listens: it imports everything a real `status` does before its
first request, and fails at the health check (the clients it would then make load no module the
checks below name).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
from qip.cli.app import main
sys.exit(main(sys.argv[1:]))
"""
NEVER = ("PIL", "cfnlint", "samtranslator", "yaml", "starlette", "jinja2", "hypercorn", "ministack", "moto",
         "qip.dashboard", "qip.imaging.decode", "pillow_heif")


def modules_after(*argv: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_help_loads_no_sdk_no_rich_no_images():
    modules = modules_after("--help")
    assert loaded(modules, (*NEVER, "boto3", "botocore", "rich", "qip.client.pipeline", "qip.tooling.engine")) == []


def test_status_loads_the_sdk_but_nothing_for_deploying_images_or_the_dashboard(closed_port, tmp_path):
    modules = modules_after("--port", str(closed_port), "--home", str(tmp_path), "status", "photo.jpg")
    assert "boto3" in modules and "qip.client.pipeline" in modules  # it did get as far as a real status
    assert loaded(modules, (*NEVER, "rich.progress", "qip.cli.commands.stack", "qip.cli.commands.operations")) == []
