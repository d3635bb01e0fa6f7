"""Fault injection for the local engine: make a chosen stage fail, on purpose, to test recovery.

Off unless the local engine set `QIP_FAULTS_FILE` in its environment (its Lambda workers
inherit it) and the function talks to an engine on this machine: on AWS neither holds, so a
fault can never be switched on there by accident. The file is JSON, one rule per stage:

    {"resize": {"mode": "fail", "times": 2}}          fail the first 2 tries of each run, then work
    {"resize": {"mode": "fail"}}                      fail every try (the image ends FAILED)
    {"thumbnails": {"mode": "slow", "seconds": 90}}   sleep past the function's timeout
    {"archive": {"mode": "crash", "times": 1}}        kill the worker process mid-invocation
    {"validate": {"mode": "fail", "rate": 0.05}}      fail 5% of tries (chosen by a hash, so a retry differs)

`key_contains` limits a rule to keys containing that text. `qip faults` writes the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from qip.core.errors import TransientError

FAULTS_FILE_ENV = "QIP_FAULTS_FILE"
MODES = ("fail", "slow", "crash")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class InjectedFault(TransientError):
    """A failure injected on purpose by the local engine's fault switch."""


@dataclass(frozen=True)
class Rule:
    """How one stage misbehaves."""

    mode: str
    times: int | None = None
    rate: float | None = None
    seconds: float = 0.0
    key_contains: str | None = None

    def applies(self, key: str, execution: str, retry: int) -> bool:
        if self.key_contains and self.key_contains not in key:
            return False
        if self.times is not None and retry >= self.times:
            return False
        if self.rate is not None:
            digest = hashlib.sha256(f"{key}\0{execution}\0{retry}".encode()).digest()
            return int.from_bytes(digest[:4], "big") / 2**32 < self.rate
        return True


def enabled() -> Path | None:
    """The faults file, when this process runs on the local engine and one is configured."""
    path = os.environ.get(FAULTS_FILE_ENV)
    endpoint = urlparse(os.environ.get("AWS_ENDPOINT_URL", "")).hostname
    if not path or endpoint not in LOCAL_HOSTS:
        return None
    return Path(path)


def rules(path: Path) -> dict[str, Rule]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {stage: Rule(**spec) for stage, spec in raw.items()}


def inject(stage: str, key: str, execution: str, retry: int) -> None:
    """Misbehave as configured for this stage, or return at once."""
    path = enabled()
    rule = rules(path).get(stage) if path else None
    if rule is None or not rule.applies(key, execution, retry):
        return
    if rule.mode == "slow":
        time.sleep(rule.seconds)
    elif rule.mode == "crash":
        os._exit(137)  # as if the worker were killed: no response, no cleanup
    else:
        raise InjectedFault(f"injected fault in {stage} (try {retry + 1})")


def write(path: Path, configured: dict[str, Rule]) -> None:
    """Replace the faults file atomically (workers may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({stage: {k: v for k, v in vars(rule).items() if v is not None}
                               for stage, rule in configured.items()}, indent=2))
    tmp.replace(path)
