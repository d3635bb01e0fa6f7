"""The CLI's error funnel (`qip.cli.failures`): one line that says what to do, an exit status chosen
by the error's class, and for an unexpected error a bug report on file. Run in-process with
`cli.main([...])`; the engine going away in the middle of a command is in tests/integration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    SSOTokenLoadError,
)

from qip.cli import app as cli
from qip.cli import failures
from qip.cli.commands import images
from qip.cli.exits import Exit, exit_for
from qip.client.errors import NotFoundError, StackNotFoundError, UploadError
from qip.core.errors import ConfigurationError, QipError, TransientError
from qip.tooling.errors import EngineError


def flat(text: str) -> str:
    return " ".join(text.split())


def aws_error(code: str, message: str, operation: str = "GetItem", status: int = 400) -> ClientError:
    """A ClientError as botocore builds it from AWS's answer."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.fixture
def failing(monkeypatch, tmp_path):
    """`qip status KEY` raising the given error where its first AWS call would be."""
    for name in ("QIP_PORT", "QIP_HOME", "QIP_STACK_NAME", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(error: BaseException, *extra: str) -> tuple[int, str, str]:
        def raise_it(args):
            raise error

        monkeypatch.setattr(images.targets, "stack", raise_it)
        return cli.main(["--home", str(tmp_path / "home"), "--port", "4731", "status", "photo.jpg", *extra])

    return run


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert "\n" not in captured.err.strip(), captured.err  # one line, however long
    text = flat(captured.err)
    assert text.startswith(("qip: error:", "qip: bug:")), text
    return text


def test_exit_statuses_follow_the_class_hierarchy():
    class StaleStack(StackNotFoundError):
        """A subclass nobody listed."""

    assert exit_for(StaleStack("x")) == Exit.NOT_FOUND == 3
    assert exit_for(failures.EngineUnreachable("x")) == Exit.ENGINE
    assert exit_for(failures.AccessError("x")) == Exit.ACCESS == 8
    assert exit_for(UploadError("x")) == Exit.UPLOAD
    assert exit_for(ConfigurationError("x")) == Exit.USAGE
    assert exit_for(TransientError("x")) == exit_for(QipError("x")) == Exit.ERROR


@pytest.mark.parametrize(("error", "status", "says"), [
    (aws_error("AccessDeniedException", "User: arn:aws:iam::1:user/me is not authorized to perform: "
                                         "dynamodb:GetItem"), Exit.ACCESS, ["GetItem", "lack that permission",
                                                                           "--profile"]),
    (aws_error("ExpiredTokenException", "The security token included in the request is expired"), Exit.ACCESS,
     ["expired or wrong", "aws sso login"]),
    (aws_error("UnrecognizedClientException", "The security token is invalid"), Exit.ACCESS, ["refresh them"]),
    (aws_error("ThrottlingException", "Rate exceeded"), Exit.ERROR, ["wait a moment"]),
    (aws_error("ResourceNotFoundException", "Requested resource not found"), Exit.NOT_FOUND,
     ["does not exist", "--stack"]),
    (aws_error("ValidationException", "Key too long"), Exit.USAGE, ["check the arguments"]),
    (aws_error("InternalServerError", "oops", status=500), Exit.ERROR, ["InternalServerError", "run the command"]),
])
def test_aws_refusals_are_one_line_that_says_what_to_do(failing, capsys, error, status, says):
    assert failing(error, "--aws", "--region", "eu-west-1", "--profile", "ops") == status
    text = one_line(capsys)
    assert "AWS (profile ops) refused" in text
    for words in says:
        assert words in text, (words, text)


def test_a_refusal_by_the_local_engine_names_the_engine(failing, capsys):
    assert failing(aws_error("AccessDenied", "no")) == Exit.ACCESS
    assert "the local engine at https://127.0.0.1:4731 refused GetItem" in one_line(capsys)


@pytest.mark.parametrize("error", [
    EndpointConnectionError(endpoint_url="https://127.0.0.1:4731/"),
    ConnectionClosedError(endpoint_url="https://127.0.0.1:4731/"),
    ReadTimeoutError(endpoint_url="https://127.0.0.1:4731/"),
])
def test_the_local_engine_going_away_says_how_to_bring_it_back(failing, capsys, tmp_path, error):
    assert failing(error) == Exit.ENGINE
    text = one_line(capsys)
    assert "stopped answering" in text and "qip up" in text and str(tmp_path / "home" / "engine.log") in text


def test_aws_out_of_reach_is_a_network_problem(failing, capsys):
    error = EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")
    assert failing(error, "--aws") == Exit.ERROR
    text = one_line(capsys)
    assert "AWS could not be reached" in text and "network" in text


def test_an_expired_sso_session_says_to_log_in(failing, capsys):
    assert failing(SSOTokenLoadError(error_msg="the SSO session has expired"), "--aws") == Exit.ACCESS
    assert "aws sso login" in one_line(capsys)


def test_no_credentials_at_all_on_aws(monkeypatch, tmp_path, capsys):
    """The real path: the SDK's own credential chain finds nothing (no network is needed to find that out)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli.main(["status", "photo.jpg", "--aws", "--region", "eu-west-1"]) == Exit.USAGE  # found at the lookup
    text = one_line(capsys)
    assert "no AWS credentials" in text and "configure them" in text


def test_credentials_lost_later_in_a_command(failing, capsys):
    assert failing(NoCredentialsError(), "--aws") == Exit.ACCESS
    text = one_line(capsys)
    assert "no usable AWS credentials" in text and "aws configure" in text


def test_a_profile_that_does_not_exist(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert cli.main(["list", "--aws", "--profile", "nobody", "--region", "eu-west-1"]) == Exit.USAGE
    assert "--profile nobody" in one_line(capsys)


def test_project_errors_keep_their_message_and_status(failing, capsys):
    assert failing(NotFoundError("no image with key 'photo.jpg' [x]")) == Exit.NOT_FOUND
    assert "no image with key 'photo.jpg' [x]" in one_line(capsys)  # markup-like text is shown as it is
    assert failing(EngineError("the local engine is not running")) == Exit.ENGINE


def test_a_file_problem_names_the_file(failing, capsys, tmp_path):
    assert failing(PermissionError(13, "Permission denied", str(tmp_path / "state"))) == Exit.ERROR
    text = one_line(capsys)
    assert f"{tmp_path / 'state'}: Permission denied" in text and "permissions" in text


def test_a_missing_module_says_to_install(failing, capsys):
    assert failing(ModuleNotFoundError("No module named 'starlette'", name="starlette")) == Exit.ERROR
    assert "'starlette' is not installed" in one_line(capsys)


def test_an_unexpected_error_is_a_bug_with_its_report_on_file(failing, capsys, tmp_path):
    assert failing(ZeroDivisionError("division by zero")) == Exit.BUG == 70
    text = one_line(capsys)
    assert text.startswith("qip: bug: unexpected ZeroDivisionError: division by zero")
    assert "--debug" in text and "report it" in text
    [report] = (tmp_path / "home" / "bug-reports").iterdir()
    assert str(report) in text
    written = report.read_text()
    assert "status photo.jpg" in written and "Traceback" in written and "ZeroDivisionError" in written


def test_the_bug_report_goes_to_the_temporary_folder_if_the_state_folder_is_not_writable(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    args = cli.build_parser().parse_args(["--home", str(blocked), "list"])
    path = failures.write_bug_report(RuntimeError("x"), args, ["list"])
    assert path.parent == tmp_path / "tmp" and "RuntimeError" in path.read_text()


def test_debug_shows_the_traceback_of_any_error(failing):
    with pytest.raises(ClientError):
        failing(aws_error("AccessDenied", "no"), "--debug")
    with pytest.raises(ZeroDivisionError):
        failing(ZeroDivisionError("x"), "--debug")


def test_ctrl_c_exits_130(failing, capsys):
    assert failing(KeyboardInterrupt()) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`qip env | head -0`-style: the reader is gone before qip writes; no traceback, status 141."""
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "engine.crt").write_text("cert")
    read, write = os.pipe()
    os.close(read)
    result = subprocess.run([sys.executable, "-m", "qip.cli.app", "--home", str(tmp_path), "--port", "4732", "env"],
                            stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[2])})
    os.close(write)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
