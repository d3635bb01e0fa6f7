"""`qip env`: what it prints, read back by a real shell (bash, and dash as a plain POSIX sh; fish and
PowerShell are not installed here, so their lines are checked as text).

No engine is needed to print the variables; a state folder that has a certificate is. The AWS CLI
and boto3 using them against the real engine are in tests/integration/test_aws_clients.py.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from qip.cli import app as cli
from qip.cli.commands.environment import NAMES


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A state folder whose path needs quoting, with the engine's certificate in it (engine not running)."""
    for name in ("QIP_PORT", "QIP_HOME", "QIP_REGION"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "it's my $HOME (é)"
    (folder / "tls").mkdir(parents=True)
    (folder / "tls" / "engine.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return folder


def qip_env(capsys, home, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--home", str(home), "--port", "4733", "env", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shell_env(shell: str, script: str, before: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `shell` ends up with after evaluating `script` (as `eval "$(qip env)"` would)."""
    result = subprocess.run([shell, "-c", 'eval "$QIP_ENV_SCRIPT" && env -0'], capture_output=True, check=True,
                            env={"PATH": "/usr/bin:/bin", "QIP_ENV_SCRIPT": script, **(before or {})})
    pairs = (entry.split("=", 1) for entry in result.stdout.decode().split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name.startswith("AWS_")}


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_eval_sets_exactly_the_variables_aws_tools_read(capsys, home, shell):
    code, out, err = qip_env(capsys, home)
    assert code == 0
    assert "not running" in err and "qip up" in err  # said on stderr, so `eval` never sees it
    stale = {"AWS_SESSION_TOKEN": "from another account", "AWS_PROFILE": "work"}
    assert shell_env(shell, out, stale) == {
        "AWS_ENDPOINT_URL": "https://127.0.0.1:4733",
        "AWS_CA_BUNDLE": str(home / "tls" / "engine.crt"),
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    }


def test_unset_undoes_it(capsys, home):
    _, out, _ = qip_env(capsys, home)
    _, undo, _ = qip_env(capsys, home, "--unset")
    assert shell_env("bash", out + "\n" + undo, {"AWS_PROFILE": "work"}) == {}


def test_json_gives_every_variable_with_null_for_the_ones_to_unset(capsys, home):
    code, out, _ = qip_env(capsys, home, "--json")
    variables = json.loads(out)
    assert code == 0 and tuple(variables) == NAMES
    assert variables["AWS_CA_BUNDLE"] == str(home / "tls" / "engine.crt")
    assert variables["AWS_SESSION_TOKEN"] is None and variables["AWS_PROFILE"] is None


def test_fish_and_powershell_syntax(capsys, home):
    _, fish, _ = qip_env(capsys, home, "--shell", "fish")
    bundle = str(home / "tls" / "engine.crt").replace("'", "\\'")
    assert f"set -gx AWS_CA_BUNDLE '{bundle}';" in fish.splitlines()
    assert "set -e AWS_SESSION_TOKEN;" in fish.splitlines() and "| source" in fish
    _, pwsh, _ = qip_env(capsys, home, "--shell", "powershell")
    assert f"$Env:AWS_CA_BUNDLE = '{str(home / 'tls' / 'engine.crt').replace(chr(39), chr(39) * 2)}'" in pwsh
    assert "Remove-Item Env:AWS_PROFILE -ErrorAction SilentlyContinue" in pwsh and "Invoke-Expression" in pwsh


def test_without_a_certificate_it_says_to_run_up_first(capsys, tmp_path):
    code, out, err = qip_env(capsys, tmp_path / "fresh")
    assert code == cli.Exit.ENGINE and out == ""
    assert "qip up" in " ".join(err.split())
