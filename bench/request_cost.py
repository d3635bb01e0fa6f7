"""What one AWS request costs on the local engine: the engine's CPU and the caller's, per request.

    flock /tmp/qip-engine.lock .venv/bin/python bench/request_cost.py [--calls 200]

Deploys the stack on a fresh engine (`qip up`) and runs --images small JPEGs through the pipeline,
counting the requests each made as `qip cost` counts them (each function call's closing line).
Then it makes each kind of request a pipeline step makes (PutEvents, SNS Publish, DynamoDB
UpdateItem, S3 GetObject of one of those JPEGs, and PutObject of 4 KB to a new key each time)
--calls times in a row, over one kept-alive TLS connection (the two callers interleaved, in both
orders), and prints the CPU per request of the engine's server process (from /proc) and of this
process (the caller's botocore), side by side for two callers:
  - baseline: the engine's root credentials, for which the engine evaluates no IAM policy;
  - a step function's role (the archive function's, assumed through STS), as the workers call:
    every request is evaluated against the role's policies (IAM enforcement, on by default).
Last, what an image's requests of those kinds alone cost, by the counts: a floor under the
pipeline's CPU per image, whatever it does around them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
import harness

from qip.client import cost
from qip.core import aws, layout
from tests import imaging_corpus as corpus

SETTLE_SECONDS = 5.0
QUIET_SECONDS = 2.5  # the audit queue delivers 1 s after a send (AuditDelaySeconds)
UPLOAD = "bench/count-000.jpg"  # read as the steps read uploads: one the counting run uploaded, settled
# The requests a run counts (`qip cost`'s counting) that are measured here as one of the five kinds.
SAME_AS = {"dynamodb.PutItem": "dynamodb.UpdateItem", "s3.CopyObject": "s3.PutObject"}


def requests(client: Callable[[str], Any], bench: harness.Bench) -> dict[str, Callable[[], Any]]:
    """The five kinds of request, made with clients from `client(service)`."""
    info = bench.info
    events, sns, s3, dynamodb = client("events"), client("sns"), client("s3"), client("dynamodb")
    serial = itertools.count()
    detail = json.dumps({"image": {"bucket": info.upload_bucket, "key": UPLOAD}, "stage": "bench"})
    return {
        "events.PutEvents": lambda: events.put_events(Entries=[{
            "EventBusName": info.event_bus, "Source": "qip.bench", "DetailType": "Bench", "Detail": detail}]),
        "sns.Publish": lambda: sns.publish(TopicArn=info.topic_arn, Subject="bench", Message=detail),
        "dynamodb.UpdateItem": lambda: dynamodb.update_item(
            TableName=info.metadata_table, Key={"image_key": {"S": "bench/no-such-upload"}},
            UpdateExpression="SET bench = :v", ExpressionAttributeValues={":v": {"S": "x"}}),
        "s3.GetObject": lambda: s3.get_object(Bucket=info.upload_bucket, Key=UPLOAD)["Body"].read(),
        # a new key each time, as the steps write (a key's versions make each later put of it dearer)
        "s3.PutObject": lambda: s3.put_object(Bucket=info.archive_bucket, Key=layout.archive_key(
            f"bench/{next(serial)}.jpg", "output.bin"), Body=b"x" * 4096),
    }


def archive_role_clients(bench: harness.Bench) -> Callable[[str], Any]:
    """Clients as the archive function's role (assumed through STS), configured as the functions' are."""
    info = bench.info
    lam, sts = info.client("lambda"), info.client("sts")
    role = next(f["Role"] for f in lam.list_functions()["Functions"] if f["FunctionName"].endswith("-archive"))
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="qip-bench")["Credentials"]
    session: Any = boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                         aws_secret_access_key=credentials["SecretAccessKey"],
                                         aws_session_token=credentials["SessionToken"])
    return lambda service: session.client(service, endpoint_url=info.endpoint_url, region_name=info.region,
                                          config=aws._CONFIG, verify=info.ca_bundle)


def measure(call: Callable[[], Any], engine_pid: int, calls: int) -> tuple[float, float]:
    """(engine ms, caller ms) of CPU per request, after a few untimed ones (connection, caches)."""
    for _ in range(5):
        call()
    engine, caller = harness.cpu_seconds(engine_pid), time.process_time()
    for _ in range(calls):
        call()
    return ((harness.cpu_seconds(engine_pid) - engine) / calls * 1000, (time.process_time() - caller) / calls * 1000)


def requests_per_image(bench: harness.Bench, images: int, kinds: Iterable[str]) -> tuple[dict[str, float], float]:
    """How many requests of each of `kinds` a valid image made, and how many of other kinds,
    counted as `qip cost` counts them (each function call's closing line), from a real run."""
    images = max(images, 1)
    uploads = {f"bench/count-{i:03d}.jpg": corpus.make_jpeg(800, 600) for i in range(images)}
    began = harness.upload_all(bench.info, uploads)
    harness.wait_settled(bench.pipeline, list(uploads), began)
    cost.wait_for_logs()
    calls = cost.collect(bench.info, list(uploads), began - 1).calls()
    per_image = dict.fromkeys(kinds, 0.0)
    others = 0.0
    for name, count in calls.items():
        kind = SAME_AS.get(name, name)
        if kind in per_image:
            per_image[kind] += count / images
        else:
            others += count / images
    return per_image, others


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="requests of each kind per caller (default 200)")
    parser.add_argument("--images", type=int, default=20,
                        help="small JPEGs run through the pipeline to count an image's requests (default 20)")
    parser.add_argument("--port", type=int, help="engine port (default: a free one)")
    args = parser.parse_args()
    with harness.bench_stack("qip-requests", args.port) as bench:
        print(f"qip up on a fresh state folder: {bench.up_seconds:.1f} s; {args.calls} requests of each kind per "
              f"caller; CPU ms per request (engine server / caller)", flush=True)
        # the baseline: the engine's root credentials, as this process's own clients use them
        callers = {"baseline": requests(bench.info.client, bench), "role": requests(archive_role_clients(bench), bench)}
        per_image, others = requests_per_image(bench, args.images, callers["baseline"])  # before any measuring
        print(f"requests per image, counted from the functions' own lines in a run of {args.images} small "
              f"JPEGs: " + ", ".join(f"{kind} {count:.2f}" for kind, count in per_image.items())
              + f"; {others:.2f} of other kinds (not measured here)", flush=True)
        time.sleep(SETTLE_SECONDS)  # the run's last audit batches and log lines
        results: dict[str, dict[str, tuple[float, float]]] = {"baseline": {}, "role": {}}
        for kind in callers["baseline"]:
            # interleaved, in both orders, so a drift of the machine's speed falls on both callers alike
            halves: dict[str, list[tuple[float, float]]] = {name: [] for name in callers}
            for order in (("baseline", "role"), ("role", "baseline")):
                for name in order:
                    halves[name].append(measure(callers[name][kind], bench.engine_pid, max(args.calls // 2, 1)))
                    time.sleep(QUIET_SECONDS)  # what the requests set off (the audit of events) ends first
            for name, measured in halves.items():
                results[name][kind] = (sum(e for e, _ in measured) / 2, sum(c for _, c in measured) / 2)
        baseline, role = results.values()
        print(f"\n{'request':22} {'baseline':>16} {'step role':>16} {'ratio (engine)':>15}")
        for kind in baseline:
            (b_engine, b_caller), (r_engine, r_caller) = baseline[kind], role[kind]
            print(f"{kind:22} {b_engine:7.2f} / {b_caller:5.2f} {r_engine:7.2f} / {r_caller:5.2f} "
                  f"{r_engine / b_engine if b_engine else float('nan'):15.2f}")
        engine_s = sum(count * role[kind][0] for kind, count in per_image.items()) / 1000
        caller_s = sum(count * role[kind][1] for kind, count in per_image.items()) / 1000
        base_s = sum(count * baseline[kind][0] for kind, count in per_image.items()) / 1000
        print(f"RESULT the {sum(per_image.values()):.1f} requests of these kinds an image makes cost "
              f"{engine_s:.3f} CPU-s of the engine's and {caller_s:.3f} of the functions' (the baseline without "
              f"IAM evaluation: {base_s:.3f} of the engine's), on an otherwise idle machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
