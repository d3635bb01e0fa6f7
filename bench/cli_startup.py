"""How quickly `qip` answers, from a cold process, side by side with `python -c pass` and `aws --version`.

    .venv/bin/python bench/cli_startup.py [--runs 9]             # starts its own engine (under the lock)
    .venv/bin/python bench/cli_startup.py --existing [--key KEY]  # a running stack: QIP_PORT, QIP_HOME...

Every command runs as a new process (nothing warm but the file cache), the cases interleaved round
by round so that a busy moment of the machine hits them all alike, one round discarded first. It
prints the median and the fastest run of each, their ratios to the two baselines, and the targets
(`qip --help` under 0.3 s, `qip status KEY` under 0.8 s). `status` reads a real record: without
--existing the benchmark takes /tmp/qip-engine.lock, starts an engine in a temporary folder,
deploys, processes one image, measures, and stops the engine.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.imaging_corpus

BIN = Path(sys.executable).parent
LOCK = Path("/tmp/qip-engine.lock")  # noqa: S108 - the lock every engine user on this machine shares
STACK = "qip-startup"
TARGETS = {"qip --help": 0.3, "qip status KEY": 0.8}


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def measure(cases: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_number in range(runs + 1):
        for name, command in cases.items():
            elapsed = timed(command, env)
            if round_number:  # the first round only fills the file cache
                times[name].append(elapsed)
        time.sleep(0.2)  # let the engine settle between rounds
    return times


def report(times: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    python, aws = median["python -c pass"], median["aws --version"]
    print(f"{'command':34} {'median':>8} {'fastest':>8} {'x python':>9} {'x aws':>7}  target")
    for name, values in times.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"< {target} s: {'met' if median[name] < target else 'MISSED'}"
        print(f"{name:34} {median[name]:7.3f}s {min(values):7.3f}s {median[name] / python:8.1f}x "
              f"{median[name] / aws:6.2f}x  {verdict}")
    print(f"({len(next(iter(times.values())))} cold runs each, interleaved; python: {sys.executable})")


@contextmanager
def engine_lock() -> Iterator[None]:
    with open(LOCK, "a") as handle:
        print(f"waiting for {LOCK} (one engine at a time on this machine)...", file=sys.stderr)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def own_stack() -> Iterator[tuple[dict[str, str], str, str]]:
    """An engine in a temporary folder, the stack deployed, one image COMPLETED: (env, key, prefix)."""
    from qip.client.pipeline import Pipeline
    from qip.tooling import local_stack
    from qip.tooling.engine import Engine
    from tests import imaging_corpus as corpus
    from tests.integration.stack import free_port

    home = Path(tempfile.mkdtemp(prefix="qip-startup-"))
    engine = Engine(port=free_port(), home=home)
    try:
        with engine_lock():
            print("starting an engine and deploying the stack...", file=sys.stderr)
            info = local_stack.up(engine, STACK, progress=lambda _: None)
            key = "startup/bench photo é.jpg"
            info.client("s3").put_object(Bucket=info.upload_bucket, Key=key, Body=corpus.make_jpeg(640, 480))
            record = Pipeline(info).wait([key], timeout=300, poll=1.0)[key]  # a gentle poll
            if record.get("status") != "COMPLETED":
                raise SystemExit(f"the benchmark's image did not complete: {record.get('status')}")
            time.sleep(3)  # the engine's workers go quiet
            yield {**os.environ, "QIP_PORT": str(engine.port), "QIP_HOME": str(home), "QIP_STACK_NAME": STACK}, \
                key, "startup/"
            print("stopping the engine...", file=sys.stderr)
            engine.stop()
    finally:
        engine.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def existing_stack(key: str | None) -> Iterator[tuple[dict[str, str], str, str]]:
    from qip.cli import targets
    from qip.cli.app import build_parser
    from qip.client.pipeline import Pipeline

    pipeline = Pipeline(targets.stack(build_parser().parse_args(["status", "x"])))
    if key is None:
        newest, _ = pipeline.page(limit=1)
        if not newest:
            raise SystemExit("the stack has no image yet: upload one, or pass --key")
        key = str(newest[0]["key"])
    yield dict(os.environ), key, key.rsplit("/", 1)[0] + "/" if "/" in key else key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="cold runs of each command (default 9)")
    parser.add_argument("--existing", action="store_true",
                        help="measure the running stack that QIP_PORT, QIP_HOME and QIP_STACK_NAME name")
    parser.add_argument("--key", help="with --existing: the image whose status is read (default: the newest)")
    args = parser.parse_args()
    stack = existing_stack(args.key) if args.existing else own_stack()
    with stack as (env, key, prefix):
        env = {name: value for name, value in env.items() if not name.startswith("AWS_")}
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "aws --version": [str(BIN / "aws"), "--version"],
            "qip --help": [str(BIN / "qip"), "--help"],
            "qip env": [str(BIN / "qip"), "env"],
            "qip status KEY": [str(BIN / "qip"), "status", key],
            "qip list --prefix P --limit 5": [str(BIN / "qip"), "list", "--prefix", prefix, "--limit", "5"],
        }
        report(measure(cases, env, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
