"""Load test: a burst of small uploads at once, some not images, on a fresh local engine.

    flock /tmp/qip-engine.lock .venv/bin/python bench/load_test.py [--images 300] [--invalid 0.10]
                                                                    [--fault-rate 0]

Starts its own engine (a free port, a temporary state folder), deploys the stack (`qip up`, so the
workers are pre-warmed), optionally injects transient faults into a fraction of step tries, runs
the baseline on the same files (`plain_pillow.py`, the image work as a plain multiprocessing
Pillow script does it, skipping what it cannot read), then uploads everything at once and waits
(bounded by --timeout; polled gently through the status index). Then it checks that every key has
exactly one terminal status, that the counts match what was uploaded, that no image ran more
executions than it had attempts, and that the DLQ holds only permanent failures; and prints
throughput, upload-to-final latency, CPU by part, the memory of the engine and its workers, and
each function's invocations and requests per upload, beside the baseline's throughput in this run
and the figures measured before this work (main at 54b6ba5, this machine: 166 images/minute,
median 48.6 s, ~4.8 GB for ~50 workers). It also prints the bound the run's own CPU cost sets:
with every core busy the whole time, no faster than cores / CPU-s per image, and the median no
earlier than half the burst at that rate. Targets: >= 500 images/minute, median <= 10 s. Exit
status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

from qip.client import cost
from qip.client.metrics import percentile
from qip.core import faults, layout
from qip.core.clock import elapsed_ms
from qip.core.model import STEPS
from tests import imaging_corpus as corpus

BASELINE = "before (main 54b6ba5, recorded): 166 images/minute, median 48.6 s, ~4.8 GB RSS for ~50 workers"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300, help="uploads (default 300)")
    parser.add_argument("--invalid", type=float, default=0.10, help="fraction that are not valid images")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of step tries that fail")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds to wait for every image")
    parser.add_argument("--port", type=int, help="engine port (default: a free one)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter to deploy with (repeatable), e.g. MaxRunningImages=8")
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.parameter)

    with harness.bench_stack("qip-load", args.port, parameters) as bench:
        print(f"parameters: {parameters or 'as qip up deploys them'}", flush=True)
        info, pipeline = bench.info, bench.pipeline
        print(f"qip up on a fresh state folder: {bench.up_seconds:.1f} s", flush=True)
        if args.fault_rate:
            faults.write(bench.engine.faults_file,
                         {stage: faults.Rule("fail", rate=args.fault_rate) for stage in STEPS})
        rng = random.Random(7)
        good = [corpus.make_jpeg(rng.randint(400, 1200), rng.randint(300, 900)) for _ in range(8)]
        bad = [data for data, _ in corpus.bad_images().values()]
        uploads = {}
        for i in range(args.images):
            invalid = rng.random() < args.invalid
            uploads[f"load/{i:04d}{'-bad' if invalid else ''}.jpg"] = (rng.choice(bad) if invalid else
                                                                       rng.choice(good))
        print(f"uploading {len(uploads)} ({sum(k.endswith('-bad.jpg') for k in uploads)} invalid), "
              f"faults at {args.fault_rate:.0%} of step tries", flush=True)
        baseline_wall, baseline_cpu = plain_pillow(uploads)
        print(f"baseline (plain Pillow, multiprocessing, the same {len(uploads)} files, this run): "
              f"{baseline_wall:.1f} s, {len(uploads) / baseline_wall * 60:.0f} images/minute, "
              f"{baseline_cpu / len(uploads):.3f} CPU-s per image", flush=True)
        before = bench.snapshot()
        started = time.monotonic()
        began = harness.upload_all(info, uploads, threads=16)
        uploaded_in = time.monotonic() - started
        records = harness.wait_settled(pipeline, list(uploads), began, timeout=args.timeout, poll=2.0)
        after = bench.snapshot()
        end = max((t for r in records.values() if (t := harness.finished_at(r)) is not None), default=time.time())
        result = check(pipeline, info, uploads, records, end - began, uploaded_in)
        print(f"pipeline / baseline (wall time): {(end - began) / baseline_wall:.1f}")
        print(f"final statuses per {WINDOW_SECONDS} s after the first upload: "
              + " ".join(map(str, pace(records, began))))
        use = harness.usage(before, after)
        for line in harness.describe_usage(use, len(uploads)):
            print(line)
        per_image = use.total / len(uploads)
        ceiling = harness.CORES / per_image
        print(f"bound at this CPU cost ({per_image:.3f} CPU-s per image): with all {harness.CORES} cores busy "
              f"throughout, at most {ceiling * 60:.0f} images/minute, and a median of at least "
              f"{len(uploads) / 2 / ceiling:.1f} s")
        print(f"memory after the burst: {harness.describe_memory(bench.memory())}")
        print(calls_per_image(info, list(uploads), began))
        print(BASELINE)
        return result


WINDOW_SECONDS = 5


def pace(records: dict[str, dict[str, Any]], began: float) -> list[int]:
    """How many images reached their final status in each window after the first upload (a steady
    pace, or a slow start, or a long tail), from the records' own finish times."""
    counts: list[int] = []
    for record in records.values():
        if (finished := harness.finished_at(record)) is not None:
            window = max(0, int((finished - began) // WINDOW_SECONDS))
            counts.extend([0] * (window + 1 - len(counts)))
            counts[window] += 1
    return counts


def calls_per_image(info: Any, keys: list[str], began: float) -> str:
    """Each function's invocations and AWS requests per upload in this burst, counted as `qip cost`
    counts them (each call's closing line in the function's log)."""
    cost.wait_for_logs()
    functions = cost.collect(info, keys, began - 1).functions
    used = sorted(((name, use) for name, use in functions.items() if use.invocations),
                  key=lambda item: -item[1].invocations)
    requests = sum(sum(use.calls.values()) for _, use in used)
    return (f"per upload: {requests / len(keys):.1f} AWS requests by the functions; invocations: "
            + ", ".join(f"{name} {use.invocations / len(keys):.2f}" for name, use in used))


def plain_pillow(uploads: dict[str, bytes]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the baseline on the uploads, written to files first (not timed)."""
    with tempfile.TemporaryDirectory(prefix="qip-load-files-") as folder:
        files = {Path(folder) / key.replace("/", "_"): data for key, data in uploads.items()}
        for path, data in files.items():
            path.write_bytes(data)
        return harness.plain_pillow(list(files))


def check(pipeline, info, uploads, records, elapsed, uploaded_in) -> int:
    statuses: dict[str, int] = {}
    for record in records.values():
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    invalid = {k for k in uploads if k.endswith("-bad.jpg")}
    problems = []
    if sum(statuses.values()) != len(uploads):
        problems.append(f"{len(uploads)} uploaded but {sum(statuses.values())} records")
    unfinished = {k: r["status"] for k, r in records.items() if r["status"] in ("UPLOADED", "PROCESSING", "MISSING")}
    if unfinished:
        problems.append(f"{len(unfinished)} not terminal, e.g. {list(unfinished.items())[:3]}")
    wrong = [k for k in invalid if records[k]["status"] != "REJECTED"]
    if wrong:
        problems.append(f"{len(wrong)} invalid uploads not REJECTED, e.g. {wrong[:3]}")

    sfn = info.client("stepfunctions")
    names: dict[str, int] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=info.state_machine_arn):
        for execution in page["executions"]:
            names[execution["name"]] = names.get(execution["name"], 0) + 1
    twice = []
    for key, record in records.items():
        if "sequencer" not in record:
            continue
        runs = [n for a in range(1, 4)
                if (n := layout.execution_name(record["bucket"], key, record["sequencer"].lstrip("0"), a)) in names]
        if len(runs) > max(int(record.get("attempt") or 0), 1) or any(names[n] > 1 for n in runs):
            twice.append(key)
    if twice:
        problems.append(f"{len(twice)} images ran more executions than attempts, e.g. {twice[:3]}")

    failed = {k for k, r in records.items() if r["status"] == "FAILED"}
    letters = {letter.image_key for letter in pipeline.dead_letters(limit=1000) if letter.kind == "pipeline"}
    if letters != failed:
        problems.append(f"DLQ holds {sorted(letters)[:5]}... but FAILED are {sorted(failed)[:5]}...")

    latencies = [ms for r in records.values() if r["status"] in ("COMPLETED", "FAILED", "REJECTED")
                 and (ms := elapsed_ms(r["uploaded_at"], r.get("completed_at") or r.get("failed_at")
                                       or r.get("updated_at"))) is not None]
    print(f"\nstatuses: {statuses}")
    print(f"uploads took {uploaded_in:.1f} s; the last final status {elapsed:.1f} s after the first upload")
    print(f"RESULT throughput: {len(uploads) / elapsed * 60:.0f} images/minute (target >= 500)")
    print(f"RESULT upload-to-final latency: p50 {percentile(latencies, 50) / 1000:.1f} s (target <= 10 s), "
          f"p95 {percentile(latencies, 95) / 1000:.1f} s (n={len(latencies)})")
    print(f"executions: {len(names)} for {len(uploads) - len(invalid)} valid images; "
          f"DLQ pipeline messages: {len(letters)}")
    retried = [r for r in records.values() if int(r.get("attempt") or 0) > 1]
    if retried:
        causes: dict[str, int] = {}
        for record in retried:
            error = record.get("error") or {}
            cause = f"{error.get('stage', '?')}: {error.get('type', '?')}" if error else "earlier attempt failed"
            causes[cause] = causes.get(cause, 0) + 1
        print(f"images that needed a second pipeline attempt: {len(retried)} ({causes})")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("OK: every check passed" if not problems else f"{len(problems)} check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
