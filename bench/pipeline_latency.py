"""Cold start of the local stack: `qip up` on a fresh state folder, then the first image.

    flock /tmp/qip-engine.lock .venv/bin/python bench/pipeline_latency.py [--rounds 2]

For each round, twice on fresh state folders (own engine, port and stack), side by side:
  - as `qip up` deploys (workers pre-warmed: QIP_PREWARM_WORKERS=-1, the default);
  - baseline: without pre-warming (QIP_PREWARM_WORKERS=0), so the first image meets cold workers;
it prints `qip up`'s own time (the artifact already built), the time from `qip up` returning to
the first image's COMPLETED (a 12 MP photo-like JPEG, finish time from its record), a second image
right after (warm), and the engine's memory. Target: first image <= 3 s after `qip up` returns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

from qip.tooling import local_stack
from tests import imaging_corpus as corpus


def one_image(bench: harness.Bench, key: str, data: bytes, ready: float) -> float:
    """Seconds from `ready` (epoch) to the image's COMPLETED, read from its record."""
    harness.upload_all(bench.info, {key: data}, threads=1)
    record = harness.wait_settled(bench.pipeline, [key], ready, poll=0.25)[key]
    if record["status"] != "COMPLETED":
        raise SystemExit(f"{key}: {record['status']}")
    finished = harness.finished_at(record)
    assert finished is not None
    return finished - ready


def measure(prewarm: bool, data: bytes, port: int | None) -> dict[str, float | str]:
    os.environ["QIP_PREWARM_WORKERS"] = "-1" if prewarm else "0"
    local_stack.local_artifact(progress=lambda _: None)  # built before the clock starts
    with harness.bench_stack("qip-cold", port) as bench:
        ready = time.time()
        first = one_image(bench, "cold/first.jpg", data, ready)
        again = time.time()
        second = one_image(bench, "cold/second.jpg", data, again)
        return {"up": bench.up_seconds, "first": first, "second": second,
                "memory": harness.describe_memory(bench.memory())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, help="engine port (default: a free one)")
    args = parser.parse_args()
    data = corpus.make_jpeg(image=corpus.photo(4000, 3000), exif=corpus.camera_exif(), quality=90)
    results: dict[bool, list[dict[str, float | str]]] = {True: [], False: []}
    for number in range(args.rounds):
        for prewarm in ((True, False) if number % 2 == 0 else (False, True)):
            results[prewarm].append(measure(prewarm, data, args.port))
            r = results[prewarm][-1]
            label = "pre-warmed (default)" if prewarm else "baseline, no pre-warming"
            print(f"round {number + 1}, {label}: qip up {r['up']:.1f} s; first image COMPLETED "
                  f"{r['first']:.2f} s after qip up returned; second image {r['second']:.2f} s", flush=True)
            print(f"  memory: {r['memory']}", flush=True)
    for prewarm in (True, False):
        rows = results[prewarm]
        label = "pre-warmed (default)" if prewarm else "baseline, no pre-warming"
        print(f"RESULT {label}: qip up median {statistics.median(float(r['up']) for r in rows):.1f} s, "
              f"first image median {statistics.median(float(r['first']) for r in rows):.2f} s "
              f"(target <= 3 s), second {statistics.median(float(r['second']) for r in rows):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
