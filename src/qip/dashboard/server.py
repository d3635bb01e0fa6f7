"""Serving the dashboard: Hypercorn (already a dependency of the local engine) in a thread.

The same `DashboardServer` runs under `qip dashboard`, after `qip demo --dashboard`, and in the
browser tests: start() returns once the server answers, stop() returns once it has closed its
port, so nothing is left listening.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

from hypercorn.asyncio import serve
from hypercorn.config import Config

from qip.client.pipeline import Pipeline
from qip.core.errors import QipError
from qip.dashboard.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy


class DashboardError(QipError):
    """The dashboard server could not start (the port is taken, or it did not answer in time)."""


class DashboardServer:
    """The dashboard of one stack, served on host:port from a background thread."""

    def __init__(self, pipeline: Pipeline, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 relay: bool | None = None) -> None:
        self.host, self.port = host, port
        # A wildcard bind is reached under any name; otherwise only under loopback names or the host.
        wildcard = host in ("0.0.0.0", "::")  # noqa: S104 - recognises a wildcard, does not bind one
        hosts = ("*",) if wildcard else tuple(dict.fromkeys((*LOOPBACK_NAMES, host)))
        self.app = create_app(pipeline, hosts, relay)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - recognises it
        return f"http://{host}:{self.port}/"

    def start(self, timeout: float = 15.0) -> DashboardServer:
        self._thread = threading.Thread(target=self._run, name="qip-dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None or not self._thread.is_alive():
                raise DashboardError(f"the dashboard could not listen on {self.host}:{self.port}: {self._error}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise DashboardError(f"the dashboard did not answer on {self.url} within {timeout:.0f} s")

    def wait(self) -> None:
        """Block until stop() (or Ctrl-C, which stops the server and is raised again)."""
        try:
            while self._thread and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        config = Config()
        config.bind = [f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"]
        config.accesslog = None
        config.errorlog = None  # errors are answered as pages or JSON; nothing to print in the terminal
        config.graceful_timeout = 2.0
        try:
            # hypercorn types ASGI scopes as TypedDicts, Starlette as MutableMapping: the same dicts at runtime
            asyncio.run(serve(self.app, config, shutdown_trigger=self._stopped))  # type: ignore[arg-type]
        except BaseException as error:
            self._error = error

    async def _stopped(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with _DIRECT.open(self.url + "healthz", timeout=1) as response:
                status: int = response.status
                return status == 200
        except OSError:
            return False
