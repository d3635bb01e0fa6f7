"""`qip`, run in-process: help texts, and clear errors with the right exit codes (no engine needed)."""

from __future__ import annotations

import argparse
import socket

import pytest

from qip.cli import app as cli

COMMAND_FLAGS = {
    "up": [],
    "down": [],
    "outputs": ["--json"],
    "upload": ["PATH", "--prefix", "--wait", "--timeout"],
    "status": ["KEY", "--json"],
    "list": ["--status", "--date", "--prefix", "--limit", "--json"],
    "demo": ["--timeout", "--prefix"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def flat(text: str) -> str:
    """Terminal output with its line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def offline(monkeypatch, tmp_path, closed_port) -> list[str]:
    """Global flags that point `qip` at a local engine that is not running, with its own state folder."""
    for name in ("QIP_PORT", "QIP_HOME", "QIP_STACK_NAME", "QIP_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return ["--port", str(closed_port), "--home", str(tmp_path / "home")]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in COMMAND_FLAGS:
        assert command in text
    for flag in ("--debug", "--port", "--home", "--stack"):
        assert flag in text


@pytest.mark.parametrize("command", sorted(COMMAND_FLAGS))
def test_command_help_names_its_flags(capsys, command):
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert f"qip {command}" in text
    for flag in COMMAND_FLAGS[command]:
        assert flag in text, (command, flag)


def test_every_command_has_working_help(capsys):
    for command, parser in subcommands().items():
        with pytest.raises(SystemExit) as exited:
            cli.main([command, "--help"])
        assert exited.value.code == 0, command
        assert capsys.readouterr().out.strip(), command
        assert parser.description, f"`qip {command}` has no description"


def test_status_without_an_engine_says_so(capsys, offline, closed_port, tmp_path):
    code = cli.main([*offline, "status", "holiday/photo.jpg"])
    assert code == cli.Exit.ENGINE
    captured = capsys.readouterr()
    error = flat(captured.err)
    assert error.startswith("qip: error:")
    assert "not running" in error and f"127.0.0.1:{closed_port}" in error
    assert "qip up" in error  # tells what to do
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "home" / "engine.pid").exists()  # asking did not start anything


@pytest.mark.parametrize("command", [["list"], ["outputs"], ["list", "--status", "failed"]])
def test_other_reads_without_an_engine_fail_the_same_way(capsys, offline, command):
    assert cli.main([*offline, *command]) == cli.Exit.ENGINE
    assert "not running" in flat(capsys.readouterr().err)


def test_down_without_an_engine_is_not_an_error(capsys, offline, closed_port):
    assert cli.main([*offline, "down"]) == cli.Exit.OK
    assert f"port {closed_port}" in flat(capsys.readouterr().err)


def test_upload_of_a_missing_path_names_it(capsys, offline, tmp_path):
    missing = tmp_path / "no such photo.jpg"
    code = cli.main([*offline, "upload", str(missing)])
    assert code == cli.Exit.USAGE == 2
    error = flat(capsys.readouterr().err)
    assert str(missing) in error and "no such file" in error


def test_debug_shows_the_traceback_instead(offline):
    from qip.tooling.errors import EngineError

    with pytest.raises(EngineError):
        cli.main(["--debug", *offline, "status", "photo.jpg"])


@pytest.mark.parametrize(("argv", "mentions"), [
    (["list", "--date", "2026-13-45"], "--date"),
    (["list", "--status", "LOST"], "--status"),
    (["status"], "KEY"),
    (["upload"], "PATH"),
    (["no-such-command"], "no-such-command"),
])
def test_usage_errors_exit_2_and_name_the_argument(capsys, argv, mentions):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert mentions in capsys.readouterr().err
