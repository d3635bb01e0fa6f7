"""A crash of the local engine in the middle of a burst, and what the project recovers from it.

Shared by the integration test (tests/integration/test_crash_recovery.py) and the benchmark for
bigger runs (bench/crash_recovery.py). One run:

1. `qip up` on the given engine; a first batch is uploaded and, while it is in flight, the engine
   is stopped cleanly and started again (`qip down` + `qip up`): its records are saved as they
   stood, UPLOADED or PROCESSING with no run left to finish them.
2. A burst from several threads; once `kill_after` uploads are acknowledged (put_object returned
   success), the engine's whole process group gets SIGKILL, as an OOM kill or a power cut would.
   The threads go on until their puts fail; a put that failed is not acknowledged.
3. `qip up` again, which reports the unclean stop and reconciles; then every acknowledged upload
   must reach a final status, once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from qip.client.pipeline import Pipeline
from qip.client.stack import StackInfo
from qip.core.model import FAILED, is_settled
from qip.tooling import local_stack
from qip.tooling.engine import Engine
from tests import imaging_corpus as corpus

ONE_TRY = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10)


@dataclass
class CrashRun:
    """What one run did and found."""

    acknowledged: list[str] = field(default_factory=list)
    refused: int = 0
    up_lines: list[str] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    settle_seconds: float = 0.0
    kill_seconds: float = 0.0

    @property
    def crash_recovery(self) -> dict[str, Any]:
        """The reconciliation `qip up` ran after the unclean stop (the last one)."""
        return self.recoveries[-1]

    def outcomes(self) -> Counter[str]:
        return Counter(str(record.get("status")) for record in self.records.values())

    def problems(self) -> list[str]:
        """Every acknowledged upload that did not reach one final status, described."""
        found = []
        for key in self.acknowledged:
            record = self.records.get(key, {"status": "MISSING"})
            if not is_settled(record) or record.get("status") == FAILED:
                found.append(f"{key}: {record.get('status')}")
                continue
            finals = [entry for entry in record.get("history", []) if entry.get("status") == record["status"]]
            if len(finals) != 1:
                found.append(f"{key}: {record['status']} recorded {len(finals)} times")
        return found


def run(engine: Engine, stack: str, first_batch: int = 8, burst: int = 40, kill_after: int = 20,
        threads: int = 8, timeout: float = 300.0, log: Callable[[str], None] = lambda _: None,
        **up_options: Any) -> CrashRun:
    crash = CrashRun()

    def up() -> StackInfo:
        return local_stack.up(engine, stack, progress=crash.up_lines.append, recovered=crash.recoveries.append,
                              **up_options)

    info = up()
    jpeg = corpus.make_jpeg(640, 480)
    s3 = _client(info, engine)
    first = [f"crash/first/{i:03d}.jpg" for i in range(first_batch)]
    for key in first:
        s3.put_object(Bucket=info.upload_bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
    crash.acknowledged += first
    time.sleep(0.5)  # in flight: ingested, some processing
    engine.stop()  # qip down: a clean stop, the engine saves its state as it stands
    info = up()
    log(f"first batch of {first_batch} saved mid-flight by a clean restart")

    s3 = _client(info, engine)
    acked: list[str] = []
    lock, killed = threading.Lock(), threading.Event()
    started = time.monotonic()

    def put(key: str) -> None:
        try:
            s3.put_object(Bucket=info.upload_bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
        except (BotoCoreError, ClientError):
            crash.refused += 1
            return
        with lock:
            acked.append(key)
            if len(acked) >= kill_after and not killed.is_set():
                killed.set()
                os.killpg(_pid(engine), signal.SIGKILL)  # the whole group: the server and every worker
                crash.kill_seconds = time.monotonic() - started

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, [f"crash/burst/{i:03d}.jpg" for i in range(burst)]))
    assert killed.is_set(), f"only {len(acked)} uploads were acknowledged; the engine was never killed"
    crash.acknowledged += acked
    log(f"engine killed after {len(acked)} acknowledged uploads ({crash.refused} refused after the kill)")

    began = time.time()
    info = up()
    crash.records = Pipeline(info).wait(crash.acknowledged, timeout=timeout, poll=1.0)
    crash.settle_seconds = _last_final(crash.records) - began
    log(f"settled: {dict(crash.outcomes())}")
    return crash


def _client(info: StackInfo, engine: Engine) -> Any:
    """An S3 client that tries once: a put the dead engine did not answer is not acknowledged."""
    return boto3.client("s3", endpoint_url=info.endpoint_url, region_name=info.region, config=ONE_TRY,
                        aws_access_key_id="test", aws_secret_access_key="test",  # the engine's dummy keys
                        verify=str(engine.certificate))


def _pid(engine: Engine) -> int:
    pid = engine.pid()
    assert pid, "the engine is not running"
    return pid


def _last_final(records: dict[str, dict[str, Any]]) -> float:
    """When the last record reached its final status (its history's last entry), wall clock."""
    from qip.core.clock import parse_iso

    times = [parse_iso(record["history"][-1]["at"]) for record in records.values() if record.get("history")]
    return max(moment.timestamp() for moment in times if moment) if times else time.time()
