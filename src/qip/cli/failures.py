"""What `qip` says when a command fails: one line that says what to do, or a bug report.

Expected errors are the project's own (`QipError`) and those of the world around it: AWS refusing
a request (botocore `ClientError`: access denied, expired token, throttling...), credentials or a
region missing, the local engine or AWS unreachable (also in the middle of a command), a file
that cannot be read. Each becomes a project error with a message that names what to do, and its
class chooses the exit status (`qip.cli.exits`). Anything else is a bug: its traceback is written
to a file under the state folder (or the temporary folder), and the one line says so and points
to `--debug`. Nothing here imports botocore unless botocore is already loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from qip.core.errors import ConfigurationError, QipError, TransientError
from qip.tooling.errors import EngineError

if TYPE_CHECKING:
    from qip.tooling.engine import Engine


class AccessError(QipError):
    """AWS (or the engine) refused the caller: no credentials, expired or wrong ones, or no permission."""


class ServiceError(QipError):
    """A service refused the request for a reason of its own (the message gives AWS's code)."""


class EngineUnreachable(EngineError):
    """The local engine did not answer (it stopped, or was never started on that port)."""


class AwsUnreachable(TransientError):
    """AWS did not answer: the network, a proxy, or the region's endpoint."""


# AWS error codes, by what the user has to do about them.
CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId", "UnrecognizedClientException",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSignatureException", "InvalidToken",
    "AuthFailure", "MissingAuthenticationToken", "IncompleteSignature"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                          "Forbidden", "403"})
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                              "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown",
                              "RequestThrottled", "RequestThrottledException"})
INVALID_CODES = frozenset({"ValidationException", "ValidationError", "InvalidParameterValue",
                           "InvalidParameterException", "InvalidArgument"})
REFRESH_CREDENTIALS = ("refresh them (`aws sso login`, a new session, or `aws configure`) or choose another "
                       "--profile, and run the command again")


def report(error: Exception, args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Print the one line for `error` and return its exit status (a bug: write its report first)."""
    from rich.markup import escape

    from qip.cli.exits import Exit, exit_for
    from qip.cli.output import console

    known = explain(error, args)
    if known is not None:
        console.print(f"[red]qip: error:[/] {escape(str(known))}", highlight=False, soft_wrap=True)
        return int(exit_for(known))
    where = write_bug_report(error, args, argv)
    console.print(f"[red]qip: bug:[/] unexpected {type(error).__name__}: {escape(_first_line(error))}. This is a "
                  f"bug in qip, not in what you did; the traceback is in {escape(str(where))}. Rerun with --debug to "
                  f"see it here, and please report it with that file.", highlight=False, soft_wrap=True)
    return int(Exit.BUG)


def explain(error: BaseException, args: argparse.Namespace) -> QipError | None:
    """The project error that an expected error means, with what to do; None if it is not expected."""
    if isinstance(error, QipError):
        return error
    if "botocore" in sys.modules:  # an AWS error can only come from a loaded botocore
        translated = _aws(error, args)
        if translated is not None:
            return translated
    if isinstance(error, ModuleNotFoundError):
        return QipError(f"the Python module {error.name!r} is not installed here: run `./dev install` (or install "
                        f"the project with its extras), then the command again")
    if isinstance(error, OSError) and not isinstance(error, ConnectionError):
        subject = f"{error.filename}: " if error.filename else ""
        return QipError(f"{subject}{error.strerror or error}; check the path, its permissions and the free space")
    return None


def _aws(error: BaseException, args: argparse.Namespace) -> QipError | None:
    from boto3.exceptions import S3UploadFailedError
    from botocore import exceptions as aws

    if isinstance(error, aws.ClientError):
        return _client_error(error, args)
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return AccessError(f"no usable AWS credentials were found ({_first_line(error)}): configure them "
                           f"(`aws configure`, `aws sso login`, AWS_PROFILE or --profile) and run the command again")
    if isinstance(error, aws.ProfileNotFound):
        return AccessError(f"{_first_line(error)}: pass a profile that exists (`aws configure list-profiles`) "
                           f"with --profile or AWS_PROFILE")
    if isinstance(error, aws.TokenRetrievalError | aws.SSOError | aws.CredentialRetrievalError):
        return AccessError(f"your AWS credentials could not be refreshed ({_first_line(error)}): "
                           f"{REFRESH_CREDENTIALS}")
    if isinstance(error, aws.NoRegionError):
        return ConfigurationError("no AWS region is set: pass --region (or set AWS_REGION, or the profile's region)")
    if isinstance(error, aws.SSLError):
        return _unreachable(error, args, "its TLS certificate was not accepted")
    if isinstance(error, aws.ConnectionError | aws.HTTPClientError):  # refused, closed, timed out, a proxy
        return _unreachable(error, args, _first_line(error))
    if isinstance(error, aws.ParamValidationError):
        return ConfigurationError(f"the request was refused before it was sent: {_first_line(error)}")
    if isinstance(error, S3UploadFailedError):
        return ServiceError(f"the upload failed: {_first_line(error)}")
    if isinstance(error, aws.BotoCoreError):
        return ServiceError(f"the AWS SDK failed: {_first_line(error)}; run the command again, or with --debug")
    return None


def _client_error(error: object, args: argparse.Namespace) -> QipError:
    from qip.core.aws import error_code, is_missing

    response = getattr(error, "response", {}) or {}
    code = error_code(error)  # type: ignore[arg-type]  # a ClientError
    message = _first_line(response.get("Error", {}).get("Message") or "")
    operation = getattr(error, "operation_name", "the request")
    said = f"{_target(args)} refused {operation} ({code}: {message})" if message else \
        f"{_target(args)} refused {operation} ({code})"
    if code in CREDENTIAL_CODES:
        return AccessError(f"{said}: the credentials are expired or wrong; {REFRESH_CREDENTIALS}")
    if code in DENIED_CODES:
        return AccessError(f"{said}: the credentials in use lack that permission; use a profile or role that has "
                           f"it (--profile), or ask for it to be granted")
    if code in THROTTLING_CODES:
        return TransientError(f"{said}: too many requests right now; wait a moment and run the command again")
    if is_missing(error):  # type: ignore[arg-type]  # a ClientError
        from qip.client.errors import NotFoundError

        return NotFoundError(f"{said}: it does not exist there; check --stack, --region and the name given")
    if code in INVALID_CODES:
        return ConfigurationError(f"{said}; check the arguments given")
    return ServiceError(f"{said}; run the command again, or with --debug for the details")


def _unreachable(error: BaseException, args: argparse.Namespace, why: str) -> QipError:
    endpoint = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
    host = urlsplit(endpoint).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or (not endpoint and not _on_aws(args)):
        engine = _engine(args)
        return EngineUnreachable(
            f"the local engine at {endpoint or engine.endpoint_url} stopped answering ({why}): is it still running? "
            f"`qip up` starts it again (state is kept); its log is {engine.log_file}")
    return AwsUnreachable(f"AWS could not be reached at {endpoint or 'its endpoint'} ({why}): check the network "
                          f"(and any proxy) and --region, then run the command again")


def _on_aws(args: argparse.Namespace) -> bool:
    """Whether the command talks to AWS itself, not to the local engine."""
    deploying = getattr(args, "run", "") == "stack:deploy"
    return bool(getattr(args, "aws", False) or (deploying and not getattr(args, "endpoint_url", None)))


def _target(args: argparse.Namespace) -> str:
    if _on_aws(args):
        profile = f" (profile {args.profile})" if getattr(args, "profile", None) else ""
        return f"AWS{profile}"
    return f"the local engine at {_engine(args).endpoint_url}"


def _engine(args: argparse.Namespace) -> Engine:
    from qip.cli import targets

    return targets.engine(args)


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ---------------------------------------------------------------------- bugs
def write_bug_report(error: BaseException, args: argparse.Namespace, argv: Sequence[str]) -> Path:
    """Write the traceback and what ran to a new file; its path (state folder, else the temporary folder)."""
    import tempfile
    import traceback

    from qip.core import config
    from qip.tooling.paths import DEFAULT_HOME

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    text = "".join([
        f"qip {' '.join(argv)}\n",
        f"at {stamp}, python {sys.version.split()[0]} on {sys.platform}, pid {os.getpid()}\n\n",
        *traceback.format_exception(error),
    ])
    folder = Path(config.STATE_DIR.get(getattr(args, "home", None)) or DEFAULT_HOME) / "bug-reports"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"qip-{stamp}-{os.getpid()}.log"
        path.write_text(text)
    except OSError:
        handle, name = tempfile.mkstemp(prefix=f"qip-bug-{stamp}-", suffix=".log")
        with os.fdopen(handle, "w") as file:
            file.write(text)
        path = Path(name)
    return path


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of a closed pipe is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
