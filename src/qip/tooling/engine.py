"""Start and stop the embedded local AWS engine (MiniStack) for this project.

The engine listens on 127.0.0.1 only, keeps its state and log under the project's state
folder (so a restart keeps the stack and its data), and runs as its own process group, so
stopping it also ends every Lambda worker process it started.

It runs as AWS does for the stack's own principals: IAM enforced (`AUTH=true`: each function
runs with session credentials of its own execution role, and requests must be signed), over
HTTPS only. TLS is what lets the buckets' "deny without TLS" policy hold locally without
denying the functions themselves: the engine judges `aws:SecureTransport` by the request's
real scheme. The certificate is made for this engine (loopback names only) and kept in its
state folder; the engine's workers and the project's clients trust exactly that certificate.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qip.core import aws
from qip.core.clock import iso
from qip.tooling.errors import EngineError

HOST = "127.0.0.1"
# Only what the stack uses; fewer services start faster and open fewer listeners.
SERVICES = "s3,sqs,sns,dynamodb,lambda,stepfunctions,events,iam,sts,kms,logs,cloudwatch,cloudformation,scheduler"
STOP_GRACE_SECONDS = 15.0
CERTIFICATE_DAYS = 825  # the longest validity TLS clients accept for a leaf certificate


@dataclass(frozen=True)
class UncleanStop:
    """An engine that ended without saving its state: everything but the buckets' objects is as it
    was at `last_clean_stop` (None: never saved; the stack itself is gone)."""

    last_clean_stop: datetime | None

    def describe(self) -> str:
        since = (f"since its last clean stop ({iso(self.last_clean_stop)})" if self.last_clean_stop
                 else "since it was first started (it never stopped cleanly)")
        return ("the local engine stopped without saving its state (killed or crashed): objects in the "
                "buckets are kept (written to disk when acknowledged), but queue messages, records, events, "
                f"runs and logs {since} are lost; reconciling")


@dataclass(frozen=True)
class Engine:
    """One local engine: its port and its state folder."""

    port: int
    home: Path

    @property
    def endpoint_url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def certificate(self) -> Path:
        """The engine's TLS certificate (self-signed, for 127.0.0.1 and localhost): what clients trust."""
        return self.home / "tls" / "engine.crt"

    @property
    def private_key(self) -> Path:
        return self.home / "tls" / "engine.key"

    @property
    def pid_file(self) -> Path:
        return self.home / "engine.pid"

    @property
    def port_file(self) -> Path:
        """The port this state folder's engine serves on: fixed once the folder is first used."""
        return self.home / "engine.port"

    @property
    def log_file(self) -> Path:
        return self.home / "engine.log"

    @property
    def faults_file(self) -> Path:
        """Fault injection rules, read by the Lambda workers at each step (see qip.core.faults)."""
        return self.home / "faults.json"

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The engine's environment: loopback only, persistent state, local Lambda workers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "QIP_"))}
        env.update(
            GATEWAY_PORT=str(self.port),
            BIND_HOST=HOST,
            MINISTACK_HOST="localhost",
            PERSIST_STATE="1",
            STATE_DIR=str(self.home / "state"),
            S3_PERSIST="1",
            S3_DATA_DIR=str(self.home / "s3"),
            LAMBDA_EXECUTOR="local",
            IOT_MTLS_ENABLED="0",
            SFTP_ENABLED="0",
            SERVICES=SERVICES,
            LOG_LEVEL="WARNING",
            TMPDIR=str(self.home / "tmp"),
            AUTH="true",
            USE_SSL="1",
            MINISTACK_SSL_CERT=str(self.certificate),
            MINISTACK_SSL_KEY=str(self.private_key),
            AWS_CA_BUNDLE=str(self.certificate),  # inherited by the Lambda workers
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the local engine's fixed dummy credentials
            AWS_DEFAULT_REGION="us-east-1",
            QIP_FAULTS_FILE=str(self.faults_file),  # local only: the workers inherit it, AWS never has it
        )
        env.update(extra or {})
        return env

    # ------------------------------------------------------------------ state
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            context = ssl.create_default_context(cafile=str(self.certificate))
            with urllib.request.urlopen(f"{self.endpoint_url}/_ministack/health", timeout=timeout,  # noqa: S310 - https
                                        context=context) as response:
                return response.status == 200 and "services" in json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def ensure_certificate(self) -> None:
        """Make the engine's certificate and key once (openssl, as the engine itself would)."""
        if self.certificate.exists() and self.private_key.exists():
            return
        self.certificate.parent.mkdir(parents=True, exist_ok=True)
        self.certificate.parent.chmod(0o700)
        try:
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                ["openssl",  # noqa: S607 - openssl from PATH, as the engine itself would use
                 "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", str(CERTIFICATE_DAYS), "-subj", "/CN=qip local engine",
                 "-keyout", str(self.private_key), "-out", str(self.certificate),
                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                check=True, capture_output=True, timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise EngineError(f"could not make the local engine's TLS certificate with openssl: {error}") from error
        self.private_key.chmod(0o600)

    def unclean_stop(self) -> UncleanStop | None:
        """What is known of an engine of this folder that ended without a clean stop (killed, crashed,
        hung), or None: `qip down` removes the pid file, so one left behind means the engine did not
        save its state when it ended. Ask before `start`, which clears the evidence."""
        if not self.pid_file.exists() or (self.pid() and self.healthy()):
            return None
        saved = [path.stat().st_mtime for path in (self.home / "state").glob("*.json")]
        return UncleanStop(last_clean_stop=datetime.fromtimestamp(max(saved), UTC) if saved else None)

    def check_port(self) -> None:
        """Refuse another port than the one this state folder was first used with.

        The engine names its port in every queue URL it keeps (the stack's outputs, the functions'
        settings, its own queue store), and cannot move them: on another port the uploads' events
        reach no queue and nothing is processed. A folder from before this check adopts its port.
        """
        try:
            first = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return
        if first != self.port:
            raise EngineError(
                f"the state folder {self.home} belongs to an engine on port {first}, not {self.port}: the engine "
                f"keeps its queues at URLs that name the port and cannot move them. Use --port {first} (or "
                f"QIP_PORT={first}), or give port {self.port} a state folder of its own with --home DIR (or QIP_HOME)"
            )

    def port_taken(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            return probe.connect_ex((HOST, self.port)) == 0

    # ------------------------------------------------------------------ start / stop
    def start(self, timeout: float = 60.0, extra_env: dict[str, str] | None = None) -> bool:
        """Start the engine unless ours already runs; True if it was started now."""
        self.check_port()  # before anything: an engine of this folder may be running on its own port
        if self.pid() and self.healthy():
            return False
        if self.pid():  # ours, but not answering: a crash or a hang; clear it and start again
            self.stop()
        if self.port_taken():
            raise EngineError(
                f"port {self.port} on {HOST} is in use by another program; stop it, or choose "
                f"another port with --port or QIP_PORT"
            )
        for folder in ("state", "s3", "tmp"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        self.port_file.write_text(f"{self.port}\n")
        self.ensure_certificate()
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child process
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "ministack"],
            cwd=self.home,
            env=self.environment(extra_env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise EngineError(
                    f"the local engine exited with code {process.returncode} while starting; "
                    f"see {self.log_file}:\n{_tail(self.log_file)}"
                )
            if self.healthy(timeout=1.0):
                return True
            time.sleep(0.2)
        self.stop()
        raise EngineError(f"the local engine did not answer within {timeout:.0f} s; see {self.log_file}")

    def stop(self) -> bool:
        """Stop the engine and every process it started; True if something was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        # Over TLS the engine's shutdown waits for every open connection to close, and its idle
        # Lambda workers (and this process's clients) hold some: stopping took 17-20 s, and risked
        # a kill before the engine saved its state. So the workers get SIGTERM together with the
        # engine (the whole group), and this process drops its own connections first.
        aws.release_connections()
        _kill_group(pid, signal.SIGTERM)  # the engine saves its state on SIGTERM
        _wait_gone(lambda: _alive(pid), STOP_GRACE_SECONDS)
        _kill_group(pid, signal.SIGTERM)
        if not _wait_gone(lambda: _group_alive(pid), 5.0):
            _kill_group(pid, signal.SIGKILL)
            _wait_gone(lambda: _group_alive(pid), 5.0)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if the engine is our own child (started in this process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_gone(alive: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive():
            return True
        time.sleep(0.1)
    return not alive()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
