"""Load test: hundreds of uploads at once, some invalid, with transient faults, on a fresh local engine.

    .venv/bin/python bench/load_test.py [--images 500] [--invalid 0.10] [--fault-rate 0.05]

Starts its own engine (a free port, a temporary state folder), deploys the stack, injects
transient faults into a fraction of step tries, uploads everything at once, and waits (bounded by
--timeout). Then it checks that every key has exactly one terminal status, that the counts match
what was uploaded, that no image ran more executions than it had attempts, and that the DLQ holds
only permanent failures; and prints throughput and upload-to-terminal latency. Exit status 1 if
a check fails.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.imaging_corpus

from qip.client.metrics import percentile
from qip.client.pipeline import Pipeline
from qip.core import faults, layout
from qip.core.clock import elapsed_ms
from qip.core.model import STEPS
from qip.tooling import local_stack
from qip.tooling.engine import Engine
from tests import imaging_corpus as corpus
from tests.integration.stack import free_port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500, help="uploads (default 500)")
    parser.add_argument("--invalid", type=float, default=0.10, help="fraction that are not valid images")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="fraction of step tries that fail")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds to wait for every image")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="qip-load-"))
    engine = Engine(port=free_port(), home=home)
    try:
        info = local_stack.up(engine, "qip-load", progress=lambda m: print(f"  {m}", flush=True))
        pipeline = Pipeline(info)
        faults.write(engine.faults_file, {stage: faults.Rule("fail", rate=args.fault_rate) for stage in STEPS})

        rng = random.Random(7)
        good = [corpus.make_jpeg(rng.randint(400, 1200), rng.randint(300, 900)) for _ in range(8)]
        bad = [data for data, _ in corpus.bad_images().values()]
        uploads = {}
        for i in range(args.images):
            invalid = rng.random() < args.invalid
            uploads[f"load/{i:04d}{'-bad' if invalid else ''}.jpg"] = (rng.choice(bad) if invalid else
                                                                       rng.choice(good))
        s3 = info.client("s3")
        print(f"uploading {len(uploads)} ({sum(k.endswith('-bad.jpg') for k in uploads)} invalid), "
              f"faults at {args.fault_rate:.0%} of step tries", flush=True)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda item: s3.put_object(Bucket=info.upload_bucket, Key=item[0], Body=item[1]),
                          uploads.items()))
        uploaded_in = time.monotonic() - started

        def report(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                print(f"  {done}/{total} terminal after {time.monotonic() - started:.0f} s", flush=True)

        records = pipeline.wait(list(uploads), timeout=args.timeout, poll=2.0, progress=report)
        elapsed = time.monotonic() - started
        return check(pipeline, info, uploads, records, elapsed, uploaded_in)
    finally:
        engine.stop()
        shutil.rmtree(home, ignore_errors=True)


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
    print(f"uploads took {uploaded_in:.1f} s; all terminal after {elapsed:.1f} s")
    print(f"throughput: {len(uploads) / elapsed * 60:.0f} images/minute")
    print(f"upload-to-terminal latency: p50 {percentile(latencies, 50) / 1000:.1f} s, "
          f"p95 {percentile(latencies, 95) / 1000:.1f} s (n={len(latencies)})")
    print(f"executions: {len(names)} for {len(uploads) - len(invalid)} valid images; "
          f"DLQ pipeline messages: {len(letters)}")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("OK: every check passed" if not problems else f"{len(problems)} check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
