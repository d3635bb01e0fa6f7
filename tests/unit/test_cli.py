"""`qip`, run in-process: help texts, and clear errors with the right exit codes (no engine needed)."""

from __future__ import annotations

import argparse
import re
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


# ---------------------------------------------------------------------- global options, before or after
GLOBALS = ["--debug", "--port", "--home", "--stack", "--aws", "--region", "--profile"]


@pytest.mark.parametrize("argv", [
    ["status", "k.jpg", "--aws", "--region", "eu-west-1", "--profile", "ops", "--stack", "prod", "--debug"],
    ["--aws", "--region", "eu-west-1", "status", "k.jpg", "--profile", "ops", "--stack", "prod", "--debug"],
    ["--aws", "--region", "eu-west-1", "--profile", "ops", "--stack", "prod", "--debug", "status", "k.jpg"],
])
def test_global_options_work_before_or_after_the_command(argv):
    args = cli.build_parser().parse_args(argv)
    assert (args.aws, args.region, args.profile, args.stack, args.debug, args.key) == (
        True, "eu-west-1", "ops", "prod", True, "k.jpg")


def test_an_option_before_the_command_is_not_reset_by_the_command():
    args = cli.build_parser().parse_args(["--port", "4999", "--home", "/tmp/h", "list"])
    assert (args.port, str(args.home), args.aws, args.debug) == (4999, "/tmp/h", False, False)
    args = cli.build_parser().parse_args(["list", "--port", "4999"])
    assert args.port == 4999
    assert cli.build_parser().parse_args(["--port", "1", "list", "--port", "2"]).port == 2  # the last one wins


def test_deploy_and_dashboard_keep_their_own_options():
    args = cli.build_parser().parse_args(["deploy", "--stack", "prod", "--region", "eu-west-1", "--profile", "ops"])
    assert (args.stack, args.region, args.profile) == ("prod", "eu-west-1", "ops")
    args = cli.build_parser().parse_args(["--stack", "prod", "deploy", "--region", "eu-west-1"])
    assert (args.stack, args.region, args.profile) == ("prod", "eu-west-1", None)
    args = cli.build_parser().parse_args(["--port", "4999", "dashboard", "--port", "9000", "--aws"])
    assert (args.port, args.dashboard_port, args.aws) == (4999, 9000, True)  # after `dashboard`, --port is its own


def test_every_command_shows_the_global_options_with_the_same_help(capsys):
    def help_of(option: str, text: str) -> str:
        match = re.search(rf"^  {re.escape(option)}(?= |$)[^\n]*(\n {{10,}}\S[^\n]*)*", text, re.MULTILINE)
        assert match, option
        return flat(match.group(0).split(option, 1)[1]).removeprefix(option[2:].upper()).strip()

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    for command in subcommands():
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        for option in GLOBALS:
            if command == "dashboard" and option == "--port":
                assert "the engine's --port goes before the command" in flat(text)
                continue
            assert help_of(option, text) == help_of(option, top), (command, option)


@pytest.mark.parametrize("command", [["up"], ["down"], ["demo"], ["faults", "show"], ["env"]])
def test_local_only_commands_refuse_aws_and_say_what_to_use(capsys, offline, command):
    assert cli.main([*offline, *command, "--aws"]) == cli.Exit.USAGE
    error = flat(capsys.readouterr().err)
    assert "local engine only" in error and "--aws" in error


def test_options_after_the_command_reach_the_engine(capsys, offline, closed_port):
    assert cli.main(["status", "photo.jpg", *offline]) == cli.Exit.ENGINE
    assert f"127.0.0.1:{closed_port}" in flat(capsys.readouterr().err)


def test_aws_is_refused_while_aws_endpoint_url_points_at_this_machine(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://127.0.0.1:4566")
    for argv in (["status", "k.jpg", "--aws", "--region", "us-east-1"], ["deploy", "--region", "us-east-1"]):
        assert cli.main(argv) == cli.Exit.USAGE
        error = flat(capsys.readouterr().err)
        assert "AWS_ENDPOINT_URL" in error and "qip env --unset" in error
