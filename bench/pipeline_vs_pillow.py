"""The whole local pipeline against a plain multiprocessing Pillow script: same images, same run.

    flock /tmp/qip-engine.lock .venv/bin/python bench/pipeline_vs_pillow.py [--images 24] [--rounds 3]

1. Makes N photo-like 12 MP JPEGs (4000 x 3000, q90, camera EXIF; every third one stored on its
   side with EXIF orientation 6), cached in build/bench-images.
2. `qip up` on a fresh state folder (its own engine, port and stack), then one untimed round
   through the pipeline so the stack is warm.
3. Each round runs both sides, one after the other (the order alternates between rounds):
   - baseline: `bench/plain_pillow.py` on the files (open, EXIF, transpose, fit 2048, three
     thumbnails, a copy of the original; one process per core), from launch to exit;
   - pipeline: every image uploaded at once (4 threads), until the last record is final; the end
     is the latest `completed_at` in the records themselves, polled once a second.
   and prints the ratio, CPU-seconds per image by part (engine server, image work in the step
   workers, the rest: dispatcher, tracker, audit, exited workers and this client) and how busy the
   cores were (by this run, and machine-wide: other users of the machine show up there).

`--parameter Name=Value` deploys with a template parameter changed (e.g. MaxRunningImages=8), to
compare settings in the same way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

from tests import imaging_corpus as corpus

IMAGE_CACHE = harness.ROOT / "build" / "bench-images"
DISTINCT_PIXELS = 4  # pixel sets; each file differs by its EXIF, so every upload is its own object


def make_images(count: int) -> list[Path]:
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    paths = [IMAGE_CACHE / f"photo-12mp-{i:03d}.jpg" for i in range(count)]
    missing = [i for i, path in enumerate(paths) if not path.exists()]
    pixels: dict[int, object] = {}
    for i in missing:
        seed = i % DISTINCT_PIXELS
        if seed not in pixels:
            pixels[seed] = corpus.photo(4000, 3000)
        image = pixels[seed]
        exif = corpus.camera_exif()
        exif[0x0132] = f"2024:05:01 12:{i // 60:02d}:{i % 60:02d}"
        if i % 3 == 2:
            image = image.transpose(corpus.Image.Transpose.ROTATE_90)  # type: ignore[attr-defined]
            exif[0x0112] = 6
        paths[i].write_bytes(corpus.make_jpeg(image=image, exif=exif, quality=90))  # type: ignore[arg-type]
    return paths


def run_pipeline(bench: harness.Bench, paths: list[Path], prefix: str) -> dict[str, object]:
    items = {f"{prefix}/{path.stem}.jpg": path.read_bytes() for path in paths}
    before = bench.snapshot()
    began = harness.upload_all(bench.info, items)
    records = harness.wait_settled(bench.pipeline, list(items), began)
    statuses = {r["status"] for r in records.values()}
    if statuses != {"COMPLETED"}:
        raise SystemExit(f"{prefix}: not every image COMPLETED: {sorted(statuses)}")
    end = max(t for r in records.values() if (t := harness.finished_at(r)) is not None)
    _settle_audit(bench)
    after = bench.snapshot()
    latencies = sorted(t - u for r in records.values()
                       if (t := harness.finished_at(r)) is not None and (u := harness.uploaded_at(r)) is not None)
    stage_ms = {}
    for stage in ("validate", "extract_metadata", "resize", "thumbnails", "archive"):
        stage_ms[stage] = statistics.median(r["stages"][stage]["duration_ms"] for r in records.values())
    return {"wall": end - began, "use": harness.usage(before, after), "latency_p50": statistics.median(latencies),
            "stage_ms": stage_ms}


def _settle_audit(bench: harness.Bench, timeout: float = 15.0) -> None:
    """Let the audit trail catch up, so its CPU is counted with the run that caused it."""
    sqs = bench.info.client("sqs")
    url = sqs.get_queue_url(QueueName=_audit_queue_name(bench))["QueueUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if not any(int(v) for v in attributes.values()):
            return
        time.sleep(0.5)


def _audit_queue_name(bench: harness.Bench) -> str:
    cloudformation = bench.info.client("cloudformation")
    for resource in cloudformation.describe_stack_resources(StackName=bench.stack)["StackResources"]:
        if resource["LogicalResourceId"] == "AuditQueue":
            return str(resource["PhysicalResourceId"]).rsplit("/", 1)[-1]
    raise SystemExit("the stack has no AuditQueue")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24, help="12 MP JPEGs per round (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, each running both sides (default 3)")
    parser.add_argument("--port", type=int, help="engine port (default: a free one)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter to deploy with (repeatable)")
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.parameter)

    paths = make_images(args.images)
    size_mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"{len(paths)} photo-like 12 MP JPEGs ({size_mb:.0f} MB); {harness.CORES} cores; "
          f"parameters {parameters or 'as qip up deploys them'}", flush=True)
    with harness.bench_stack("qip-ratio", args.port, parameters) as bench:
        print(f"qip up on a fresh state folder: {bench.up_seconds:.1f} s", flush=True)
        warm = run_pipeline(bench, paths, "warmup")
        print(f"warm-up round (not counted): {warm['wall']:.1f} s", flush=True)
        ratios = []
        for number in range(1, args.rounds + 1):
            sides = {}
            order = ("baseline", "pipeline") if number % 2 else ("pipeline", "baseline")
            for side in order:
                sides[side] = (harness.plain_pillow(paths) if side == "baseline"
                               else run_pipeline(bench, paths, f"r{number}"))
            base_wall, base_cpu = sides["baseline"]  # type: ignore[misc]
            pipe = sides["pipeline"]
            ratio = pipe["wall"] / base_wall  # type: ignore[index,operator]
            ratios.append(ratio)
            use = pipe["use"]  # type: ignore[index]
            print(f"\nround {number} ({' then '.join(order)}):")
            print(f"  baseline (plain Pillow, multiprocessing): {base_wall:.2f} s, "
                  f"{base_cpu / len(paths):.3f} CPU-s per image")
            print(f"  pipeline (upload to last COMPLETED):      {pipe['wall']:.2f} s, "  # type: ignore[index]
                  f"median upload-to-COMPLETED {pipe['latency_p50']:.2f} s")  # type: ignore[index]
            print(f"  ratio pipeline / baseline: {ratio:.2f}")
            for line in harness.describe_usage(use, len(paths)):  # type: ignore[arg-type]
                print(f"  {line}")
            print("  median step durations (ms, from the records): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in pipe["stage_ms"].items()))  # type: ignore[index,union-attr]
        print(f"\nmemory after the run: {harness.describe_memory(bench.memory())}")
        print(f"RESULT ratio median {statistics.median(ratios):.2f} (rounds: "
              + ", ".join(f"{r:.2f}" for r in ratios) + "); target <= 2.0, stretch <= 1.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
