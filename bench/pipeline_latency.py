"""Time the local stack: `up` on a fresh state folder, then upload-to-COMPLETED for one image and
for bursts of 50 (the first burst meets cold workers, the second warm ones).

    .venv/bin/python bench/pipeline_latency.py

Starts its own engine on a free port in a temporary folder and stops it at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.imaging_corpus

from qip.client.pipeline import Pipeline
from qip.tooling import local_stack
from qip.tooling.engine import Engine
from tests import imaging_corpus as corpus
from tests.integration.stack import free_port


def burst(pipeline: Pipeline, prefix: str, count: int, data: bytes) -> float:
    keys = [f"{prefix}/{i:03d}.jpg" for i in range(count)]
    s3 = pipeline.stack.client("s3")
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=pipeline.stack.upload_bucket, Key=key, Body=data), keys))
    records = pipeline.wait(keys, timeout=600, poll=0.25)
    elapsed = time.monotonic() - started
    statuses = {r["status"] for r in records.values()}
    if statuses != {"COMPLETED"}:
        raise SystemExit(f"{prefix}: not all COMPLETED: {statuses}")
    return elapsed


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="qip-latency-"))
    engine = Engine(port=free_port(), home=home)
    try:
        started = time.monotonic()
        info = local_stack.up(engine, "qip-latency", progress=lambda _: None)
        ready = time.monotonic() - started
        pipeline = Pipeline(info)
        photo = corpus.make_jpeg(1600, 1200)
        first = burst(pipeline, "one-cold", 1, photo)
        second = burst(pipeline, "one-warm", 1, photo)
        cold = burst(pipeline, "fifty-a", 50, photo)
        warm = burst(pipeline, "fifty-b", 50, photo)
        print(f"qip up on a fresh state folder to ready: {ready:.1f} s")
        print(f"one image upload -> COMPLETED: first (cold workers) {first:.1f} s, again (warm) {second:.1f} s")
        print(f"50 images at once -> all COMPLETED: first burst {cold:.1f} s, second burst (warm) {warm:.1f} s")
        return 0
    finally:
        engine.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
