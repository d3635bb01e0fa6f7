"""What the pipeline benchmarks share: a stack on an engine of their own, CPU and memory by
process read from /proc, the machine's own load, and gentle waiting on the records.

Every engine command must run under the machine's engine lock:

    flock /tmp/qip-engine.lock .venv/bin/python bench/<benchmark>.py

CPU is counted per process from /proc/<pid>/stat (user + system), for the engine's server and
for each Lambda worker it runs (named by its function, read from the worker's command line).
A worker that exits between two readings is counted by the server's reaped-children time, as
"exited workers". The benchmark's own process (uploads, polling) is counted as "client".
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from qip.client.pipeline import Pipeline
from qip.client.stack import StackInfo
from qip.core.clock import parse_iso
from qip.core.model import TERMINAL, is_settled
from qip.tooling import local_stack
from qip.tooling.engine import Engine

TICK = os.sysconf("SC_CLK_TCK")
CORES = len(os.sched_getaffinity(0))
STEP_FUNCTIONS = ("validate", "extract-metadata", "resize", "thumbnails", "archive")
_WORKER = re.compile(r"ministack-lambda-(?P<name>.+)-[a-z0-9_]{8}/_worker\.py")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------- /proc
def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, reaped children's CPU seconds) of a process, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14-17
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return ppid, own, children


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user + system) a live process has spent."""
    found = _stat(pid)
    if found is None:
        raise RuntimeError(f"process {pid} is gone")
    return found[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Every process below `root` (the engine's workers are its children)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat[0]
    found, frontier = [], {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        found.extend(sorted(children))
        frontier = children
    return found


def function_of(pid: int, stack: str) -> str:
    """The Lambda function a worker runs, without the stack's prefix (`validate`), or `other`."""
    match = _WORKER.search(_cmdline(pid))
    if not match:
        return "other"
    return match.group("name").removeprefix(f"{stack}-")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, every process of every user."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


@dataclass
class Snapshot:
    at: float
    server: float
    reaped: float
    workers: dict[int, tuple[str, float]]
    client: float
    machine: tuple[int, int]


def snapshot(engine_pid: int, stack: str) -> Snapshot:
    stat = _stat(engine_pid)
    if stat is None:
        raise RuntimeError(f"the engine (pid {engine_pid}) is gone")
    workers = {}
    for pid in descendants(engine_pid):
        worker = _stat(pid)
        if worker is not None:
            workers[pid] = (function_of(pid, stack), worker[1])
    times = os.times()
    return Snapshot(time.monotonic(), stat[1], stat[2], workers, times.user + times.system, machine_jiffies())


@dataclass
class Usage:
    """CPU seconds used between two snapshots, by part, and how busy the cores were."""

    wall: float
    server: float
    by_function: dict[str, float]
    exited: float
    client: float
    machine_busy: float  # fraction of all cores busy, whoever used them

    @property
    def image_work(self) -> float:
        return sum(v for k, v in self.by_function.items() if k in STEP_FUNCTIONS)

    @property
    def rest(self) -> float:
        return sum(v for k, v in self.by_function.items() if k not in STEP_FUNCTIONS) + self.exited + self.client

    @property
    def total(self) -> float:
        return self.server + self.image_work + self.rest

    @property
    def ours_busy(self) -> float:
        return self.total / (self.wall * CORES) if self.wall else 0.0


def usage(before: Snapshot, after: Snapshot) -> Usage:
    by_function: dict[str, float] = {}
    for pid, (name, cpu) in after.workers.items():
        earlier = before.workers.get(pid)
        by_function[name] = by_function.get(name, 0.0) + cpu - (earlier[1] if earlier else 0.0)
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    return Usage(after.at - before.at, after.server - before.server, by_function,
                 after.reaped - before.reaped, after.client - before.client, busy / total if total else 0.0)


def memory(engine_pid: int, stack: str) -> dict[str, Any]:
    """RSS and PSS (shared pages split between their users) of the engine and its workers, in MB."""
    def read(pid: int) -> tuple[float, float]:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            return 0.0, 0.0
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:] if ":" in line}
        return values.get("Rss", 0) / 1024, values.get("Pss", 0) / 1024

    server_rss, server_pss = read(engine_pid)
    workers = [(function_of(pid, stack), *read(pid)) for pid in descendants(engine_pid)]
    return {"server_rss": server_rss, "server_pss": server_pss, "workers": len(workers),
            "workers_rss": sum(w[1] for w in workers), "workers_pss": sum(w[2] for w in workers),
            "by_function": {name: sum(1 for w in workers if w[0] == name) for name in sorted({w[0] for w in workers})}}


def describe_memory(mem: dict[str, Any]) -> str:
    return (f"engine server {mem['server_rss']:.0f} MB RSS; {mem['workers']} workers "
            f"{mem['workers_rss']:.0f} MB RSS ({mem['workers_pss']:.0f} MB PSS: shared pages counted once); "
            f"together {mem['server_rss'] + mem['workers_rss']:.0f} MB RSS, "
            f"{mem['server_pss'] + mem['workers_pss']:.0f} MB PSS")


def describe_usage(use: Usage, images: int) -> list[str]:
    per = images or 1
    functions = ", ".join(f"{k} {v / per:.3f}" for k, v in sorted(use.by_function.items(), key=lambda kv: -kv[1])
                          if v >= 0.0005)
    return [
        f"CPU-s per image: engine server {use.server / per:.3f}, image work (step workers) {use.image_work / per:.3f},"
        f" rest {use.rest / per:.3f} (total {use.total / per:.3f})",
        f"  by process: {functions}; exited workers {use.exited / per:.3f}; client {use.client / per:.3f}",
        f"cores busy: {use.ours_busy:.0%} of {CORES} cores by this run; machine-wide {use.machine_busy:.0%}"
        + ("  <- others were using the machine" if use.machine_busy > use.ours_busy + 0.15 else ""),
    ]


# ---------------------------------------------------------------------- the baseline
def plain_pillow(paths: list[Path]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `plain_pillow.py` on `paths`, from launch to exit: the
    baseline the pipeline benchmarks run beside the pipeline, in the same run."""
    with tempfile.TemporaryDirectory(prefix="qip-plain-") as out:
        before = _children_cpu()
        started = time.monotonic()
        subprocess.run([sys.executable, str(Path(__file__).with_name("plain_pillow.py")), out,
                        *map(str, paths)], check=True, capture_output=True)
        return time.monotonic() - started, _children_cpu() - before


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


# ---------------------------------------------------------------------- the stack
@dataclass
class Bench:
    """A stack on an engine of the benchmark's own (a temporary state folder)."""

    engine: Engine
    info: StackInfo
    stack: str
    up_seconds: float
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = Pipeline(self.info)

    @property
    def engine_pid(self) -> int:
        pid = self.engine.pid()
        if pid is None:
            raise RuntimeError("the engine is not running")
        return pid

    def snapshot(self) -> Snapshot:
        return snapshot(self.engine_pid, self.stack)

    def memory(self) -> dict[str, Any]:
        return memory(self.engine_pid, self.stack)


@contextmanager
def bench_stack(stack: str, port: int | None = None, parameters: dict[str, str] | None = None,
                engine_env: dict[str, str] | None = None, keep: bool = False) -> Iterator[Bench]:
    """`qip up` on a fresh state folder (timed), and `qip down` plus cleanup at the end."""
    home = Path(tempfile.mkdtemp(prefix=f"{stack}-", dir=ROOT / "build" if (ROOT / "build").is_dir() else None))
    engine = Engine(port=port or free_port(), home=home)
    try:
        started = time.monotonic()
        info = local_stack.up(engine, stack, progress=lambda _: None, parameters=parameters, engine_env=engine_env)
        yield Bench(engine, info, stack, time.monotonic() - started)
    finally:
        engine.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def upload_all(info: StackInfo, items: dict[str, bytes], threads: int = 4) -> float:
    """Put every object in the upload bucket; returns the wall-clock time the upload began (epoch)."""
    from concurrent.futures import ThreadPoolExecutor

    s3 = info.client("s3")
    began = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=info.upload_bucket, Key=kv[0], Body=kv[1],
                                               ContentType="image/jpeg"), items.items()))
    return began


def wait_settled(pipeline: Pipeline, keys: list[str], since_epoch: float, timeout: float = 600.0,
                 poll: float = 1.0) -> dict[str, dict[str, Any]]:
    """The records of `keys` once each is settled, found with one status-index query per terminal
    status and poll (gentle: a handful of requests a second, however many images)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since_epoch - 1)) + ".000Z"
    wanted, found = set(keys), {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in TERMINAL:
            for item in pipeline.store.iter_pages(pipeline.store.by_status, status=status, since=since, limit=500):
                if item["image_key"] in wanted and is_settled(item):
                    found[item["image_key"]] = item
        if len(found) == len(wanted):
            return found
        time.sleep(poll)
    for key in wanted - found.keys():
        found[key] = pipeline.store.get(key) or {"image_key": key, "status": "MISSING"}
    return found


def finished_at(record: dict[str, Any]) -> float | None:
    """When the record reached its final status (epoch seconds), from the record itself."""
    parsed = parse_iso(record.get("completed_at") or record.get("failed_at") or record.get("updated_at"))
    return parsed.timestamp() if parsed else None


def uploaded_at(record: dict[str, Any]) -> float | None:
    parsed = parse_iso(record.get("uploaded_at"))
    return parsed.timestamp() if parsed else None
