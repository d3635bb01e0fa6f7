"""What a million images cost on AWS, from a real run on the local stack.

Counting comes from what the run really did, never from a list kept by hand:
- each function's calls (invocations, measured duration, and every AWS call it made by service
  and operation, with its billing units) from the closing line the handler frame writes on the
  local engine (`qip.functions.runtime.invocation_line`), read back from the function's log;
- the configured memory and architecture of each function, from the deployed functions;
- Step Functions state transitions and execution durations, from the executions' histories;
- DynamoDB read and write units as DynamoDB itself counted them for each request (its consumed
  capacity, by table and by index; the handler frame's closing line carries them), item sizes
  from the store and the audit table for storage; stored bytes from the buckets;
- log bytes from the function log groups (the closing lines themselves are left out: AWS's own
  REPORT line is not billed as ingestion of ours).
What the services do on their own is derived from those counts by rule: EventBridge delivers each
event on the bus to the audit queue and each upload to the processing queue and the project bus;
the SQS event source mapping receives and deletes once per batch it invokes with.

Prices come from a dated price file (us-east-1, `prices-us-east-1.json`); free tiers are left out.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qip.client.stack import StackInfo
from qip.core import aws, layout
from qip.core.audit_trail import AuditTrail
from qip.core.model import ImagePointer
from qip.core.store import MetadataStore

PRICES = Path(__file__).with_name("prices-us-east-1.json")
INVOCATION = "qip_invocation"  # qip.functions.runtime.INVOCATION (client code imports no function code)
INDEX_ENTRY_OVERHEAD = 100  # bytes DynamoDB adds to each index entry when it sizes the entry
MILLION = 1_000_000
KB = 1024


@dataclass
class FunctionUse:
    invocations: int = 0
    ms: float = 0.0
    memory_mb: int = 128
    arch: str = "x86_64"
    calls: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    log_bytes: int = 0
    info_log_bytes: int = 0


@dataclass(frozen=True)
class IndexUse:
    """One global secondary index of the metadata table, as deployed: its writes are counted by
    DynamoDB itself (`dynamodb.wcu.<table>/<index>`); its entries' size prices their storage."""

    name: str
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    entry_bytes: float  # mean size of an entry as DynamoDB bills it


@dataclass
class Run:
    """What one run on the local stack did, counted."""

    images: int
    functions: dict[str, FunctionUse]
    executions: int
    transitions: int
    execution_ms: list[float]
    record_bytes: float
    audit_item_bytes: float
    audit_items: int
    upload_bytes: float
    archived: dict[str, float]  # per image: original, derivatives (bytes), derivative count
    tables: dict[str, str]  # logical name -> table name
    workflow: str = "STANDARD"  # the deployed state machine's type
    batching: dict[str, tuple[int, int]] = field(default_factory=dict)  # function -> (BatchSize, window s)
    indexes: list[IndexUse] = field(default_factory=list)  # the metadata table's, as deployed
    other_executions: int = 0  # runs of other uploads during the run: the functions' counts include them

    def calls(self, *names: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for name, use in self.functions.items():
            if not names or name in names:
                total.update(use.calls)
        return total

    def units(self, *names: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for name, use in self.functions.items():
            if not names or name in names:
                total.update(use.units)
        return total


# ---------------------------------------------------------------------- counting
def collect(info: StackInfo, keys: list[str], since: float) -> Run:
    """Count what the run of `keys`, started at `since` (epoch seconds), did."""
    lambda_client = info.client("lambda")
    logs = info.client("logs")
    functions: dict[str, FunctionUse] = {}
    prefix = f"{info.stack_name}-"
    for page in lambda_client.get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            if not config["FunctionName"].startswith(prefix):
                continue
            use = FunctionUse(memory_mb=int(config.get("MemorySize", 128)),
                              arch=(config.get("Architectures") or ["x86_64"])[0])
            _read_log(logs, f"/aws/lambda/{config['FunctionName']}", int(since * 1000), use)
            functions[config["FunctionName"].removeprefix(prefix)] = use
    store = MetadataStore(aws.table(info.metadata_table, info.endpoint_url, info.region))
    records = [r for k in keys if (r := store.get(k)) is not None]
    executions, others, transitions, durations = _executions(info, since, records)
    workflow = str(info.client("stepfunctions").describe_state_machine(
        stateMachineArn=info.state_machine_arn).get("type", "STANDARD"))
    batching = {}
    for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        name = mapping["FunctionArn"].rsplit(":", 1)[-1].removeprefix(prefix)
        batching[name] = (int(mapping.get("BatchSize", 10)), int(mapping.get("MaximumBatchingWindowInSeconds", 0)))
    done = [r for r in records if r.get("status") == "COMPLETED"]
    table = info.client("dynamodb").describe_table(TableName=info.metadata_table)["Table"]
    trail = AuditTrail(aws.table(info.audit_table, info.endpoint_url, info.region))
    audit_sizes = [item_bytes(item) for k in keys for item in trail._items(k)]
    s3 = info.client("s3")
    original, derivatives, count = 0, 0, 0
    for record in done:
        listing = s3.list_objects_v2(Bucket=info.archive_bucket, Prefix=f"images/{record['image_key']}/")
        for item in listing.get("Contents", []):
            if item["Key"].endswith("/original"):
                original += item["Size"]
            else:
                derivatives += item["Size"]
                count += 1
    images = max(len(done), 1)
    return Run(
        images=len(done), functions=functions, executions=executions, transitions=transitions,
        execution_ms=durations, record_bytes=_mean([item_bytes(r) for r in records]),
        audit_item_bytes=_mean(audit_sizes), audit_items=len(audit_sizes),
        upload_bytes=_mean([float(r.get("size") or 0) for r in done]),
        archived={"original": original / images, "derivatives": derivatives / images,
                  "derivative_count": count / images},
        tables={"metadata": info.metadata_table, "audit": info.audit_table},
        workflow=workflow, batching=batching, indexes=index_uses(table, records), other_executions=others,
    )


def index_uses(table: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[IndexUse]:
    """The table's global secondary indexes (from DescribeTable) and the entries the records make."""
    table_keys = [k["AttributeName"] for k in table["KeySchema"]]
    uses = []
    for index in table.get("GlobalSecondaryIndexes", []):
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        projection = index["Projection"]["ProjectionType"]
        listed = set(table_keys + keys + list(index["Projection"].get("NonKeyAttributes", [])))
        entries = [r for r in records if all(k in r for k in keys)]  # an index holds only items with its keys
        sizes = [item_bytes(r) if projection == "ALL" else
                 item_bytes({k: v for k, v in r.items() if k in listed}) + INDEX_ENTRY_OVERHEAD for r in entries]
        uses.append(IndexUse(index["IndexName"], projection, _mean(sizes)))
    return uses


def _read_log(logs: Any, group: str, since_ms: int, use: FunctionUse) -> None:
    try:
        pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms))
    except Exception:
        return
    for page in pages:
        for event in page["events"]:
            message = event["message"]
            if f'"{INVOCATION}"' in message:
                try:
                    line = json.loads(message[message.index("{"):])[INVOCATION]
                except (ValueError, KeyError):
                    continue
                use.invocations += 1
                use.ms += float(line.get("ms", 0))
                use.calls.update(line.get("calls", {}))
                use.units.update(line.get("units", {}))
                continue
            size = len(message.encode()) + 26  # CloudWatch Logs bills 26 bytes of overhead per event
            use.log_bytes += size
            if '"level":"INFO"' in message or '"level": "INFO"' in message:
                use.info_log_bytes += size


def run_names(records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The execution-name stems of the records' uploads: every run of one of them (any attempt,
    any generation) starts with its stem, and no run of another upload does."""
    return tuple(layout.execution_name_of(ImagePointer.from_record(r, attempt=1)).removesuffix("-a1") + "-"
                 for r in records)


def _executions(info: StackInfo, since: float,
                records: Sequence[Mapping[str, Any]]) -> tuple[int, int, int, list[float]]:
    """The runs of the records' uploads (count, transitions, durations), and how many runs of other
    uploads started in the same window (their work is not counted here, but is in the functions' logs)."""
    sfn = info.client("stepfunctions")
    stems = run_names(records)
    count, others, transitions, durations = 0, 0, 0, []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=info.state_machine_arn):
        for execution in page["executions"]:
            if execution["startDate"].timestamp() < since - 1:
                continue
            if not execution["name"].startswith(stems):
                others += 1
                continue
            count += 1
            if execution.get("stopDate"):
                durations.append((execution["stopDate"] - execution["startDate"]).total_seconds() * 1000)
            for history in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
                transitions += sum(1 for e in history["events"] if e["type"].endswith("StateEntered"))
    return count, others, transitions, durations


def item_bytes(value: Any) -> int:
    """A DynamoDB item's size as DynamoDB bills it (approximately): attribute names and values,
    strings and binaries by length, numbers about half their digits, 3 bytes per list or map."""
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + item_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(1 + item_bytes(v) for v in value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return len(value.value)
    if isinstance(value, bool) or value is None:
        return 1
    return 1 + math.ceil(len(str(value).replace("-", "").replace(".", "")) / 2)


def _mean(values: list[float] | list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


# ---------------------------------------------------------------------- pricing
@dataclass(frozen=True)
class Options:
    """The choices whose cost the page compares."""

    workflow: str | None = None  # STANDARD or EXPRESS; None: as deployed
    architecture: str | None = "arm64"  # the template's default on AWS (the local engine runs this machine's)
    xray_sampling: float = 0.05  # X-Ray's default rule: 1 a second, then 5%
    log_level: str = "INFO"  # WARNING drops the INFO lines the functions wrote
    audit: bool = True
    renditions: bool = True  # the thumbnails step and its outputs


@dataclass(frozen=True)
class Term:
    service: str
    what: str
    per_image: float  # units per image
    unit_usd: float
    function: str | None = None

    @property
    def per_million_usd(self) -> float:
        return self.per_image * self.unit_usd * MILLION


def prices(path: Path = PRICES) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


DEFAULT = Options()


def terms(run: Run, price: dict[str, Any], options: Options = DEFAULT) -> list[Term]:
    """Every priced term, per image, for the configuration the options describe."""
    n = max(run.images, 1)
    skip = set()
    if not options.audit:
        skip.add("audit")
    if not options.renditions:
        skip.add("thumbnails")
    used = {name: use for name, use in run.functions.items() if name not in skip}
    out: list[Term] = []
    lam = price["lambda"]
    calls = Counter[str]()
    units = Counter[str]()
    for use in used.values():
        calls.update(use.calls)
        units.update(use.units)
    bus_events = units["events.entries_64kb"] / n
    invocations = {name: use.invocations / n for name, use in used.items()}
    batch_size, window = run.batching.get("audit", (10, 0))
    if "audit" in invocations and window > 0:
        # The engine ignores MaximumBatchingWindowInSeconds (docs/engine-notes/esm-batching-window.md):
        # on AWS the window fills batches of BatchSize, so the audit function runs that much less often.
        invocations["audit"] = min(invocations["audit"], (bus_events + 1.0) / batch_size)
    for name, use in sorted(used.items()):
        if not use.invocations:
            continue
        arch = options.architecture or use.arch
        out.append(Term("Lambda", f"{name}: requests", invocations[name], lam["request"], name))
        gb_s = use.memory_mb / 1024 * math.ceil(use.ms / use.invocations) / 1000 * use.invocations
        out.append(Term("Lambda", f"{name}: GB-seconds ({use.memory_mb} MB, {arch})", gb_s / n,
                        lam["gb_second"][arch], name))
    sfn = price["stepfunctions"]
    executions = run.executions / n
    transitions = run.transitions / n - (0 if options.renditions else executions)  # one Task state fewer
    if (options.workflow or run.workflow) == "EXPRESS":
        out.append(Term("Step Functions", "Express: requests", executions, sfn["express_request"]))
        mean_ms = _mean(run.execution_ms)
        step = sfn["express_duration_granularity_ms"]
        billed_s = math.ceil(mean_ms / step) * step / 1000
        out.append(Term("Step Functions", "Express: GB-seconds (64 MB floor)",
                        executions * sfn["express_memory_floor_mb"] / 1024 * billed_s, sfn["express_gb_second"]))
    else:
        out.append(Term("Step Functions", "Standard: state transitions", transitions, sfn["standard_transition"]))
    event_usd = price["eventbridge"]["custom_event_64kb"]
    out.append(Term("EventBridge", "events put on the project bus", bus_events, event_usd))
    out.append(Term("EventBridge", "upload events copied to the project bus", 1.0, event_usd))
    out.append(Term("SNS", "publishes (64 KB chunks)", units["sns.publish_64kb"] / n, price["sns"]["publish_64kb"]))
    sqs = price["sqs"]["request_64kb"]
    out.append(Term("SQS", "functions' SendMessage", units["sqs.requests_64kb"] / n, sqs))
    out.append(Term("SQS", "EventBridge deliveries to the processing queue", 1.0, sqs))
    batches = sum(invocations.get(name, 0.0) for name in ("dispatcher", "audit"))
    out.append(Term("SQS", "event source mappings: receive + delete per batch", 2 * batches, sqs))
    if options.audit:
        out.append(Term("SQS", "EventBridge deliveries to the audit queue", bus_events + 1.0, sqs))
    ddb = price["dynamodb"]
    metadata, audit = run.tables["metadata"], run.tables["audit"]
    out.append(Term("DynamoDB", f"metadata writes ({run.record_bytes / KB:.1f} KB final item)",
                    units[f"dynamodb.wcu.{metadata}"] / n, ddb["write_request_unit"]))
    for index in run.indexes:
        out.append(Term("DynamoDB", f"index {index.name} writes ({index.projection})",
                        units[f"dynamodb.wcu.{metadata}/{index.name}"] / n, ddb["write_request_unit"]))
    reads = sum(v for k, v in units.items()
                if k == f"dynamodb.rcu.{metadata}" or k.startswith(f"dynamodb.rcu.{metadata}/"))
    out.append(Term("DynamoDB", "metadata reads", reads / n, ddb["read_request_unit"]))
    if options.audit:
        out.append(Term("DynamoDB", f"audit writes ({run.audit_item_bytes / KB:.1f} KB item)",
                        units[f"dynamodb.wcu.{audit}"] / n, ddb["write_request_unit"]))
    s3 = price["s3"]["standard"]
    out.append(Term("S3", "PUT and COPY (with the user's upload)",
                    (calls["s3.PutObject"] + calls["s3.CopyObject"]) / n + 1.0, s3["put"]))
    out.append(Term("S3", "GET and HEAD", (calls["s3.GetObject"] + calls["s3.HeadObject"]) / n, s3["get"]))
    # KMS is not per image: SNS reuses a topic's data key for up to 5 minutes per publishing
    # principal (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), SQS for its
    # KmsDataKeyReusePeriodSeconds, S3 through bucket keys, DynamoDB per table key and connection:
    # a few requests per key and period, with the monthly fixed costs (`fixed_monthly`).
    dropped = options.log_level != "INFO"
    # A function's log lines are mostly per call (START, END, REPORT, its metrics): where AWS calls it
    # less often than the engine did (the audit function's batching window), its lines shrink alike.
    log_bytes = sum((use.log_bytes - (use.info_log_bytes if dropped else 0))
                    * invocations[name] / (use.invocations / n) if use.invocations else 0.0
                    for name, use in used.items())
    out.append(Term("CloudWatch Logs", f"ingestion at {options.log_level} (with EMF metrics)", log_bytes / n / 2**30,
                    price["logs"]["ingest_gb"]))
    out.append(Term("X-Ray", f"traces recorded at {options.xray_sampling:.0%} sampling",
                    executions * 2 * options.xray_sampling, price["xray"]["trace_recorded"]))
    return [term for term in out if term.per_image > 0]


def storage_year(run: Run, price: dict[str, Any]) -> list[Term]:
    """A year of storage for one image (per million: x 1e6): originals to colder classes by the
    archive's lifecycle (Standard 30 days, Standard-IA to day 180, Glacier IR after), objects
    under 128 KB never; derivatives and the record stay where they are."""
    s3 = price["s3"]
    gb = 1 / 2**30
    original = run.archived["original"]
    out = []
    if original >= s3["standard_ia"]["minimum_object_bytes"]:
        out += [Term("S3 storage", "archived original: Standard, 1 month", original * gb, s3["standard"]["gb_month"]),
                Term("S3 storage", "archived original: Standard-IA, 5 months", original * gb * 5,
                     s3["standard_ia"]["gb_month"]),
                Term("S3 storage", "archived original: Glacier IR, 6 months", original * gb * 6,
                     s3["glacier_ir"]["gb_month"]),
                Term("S3 storage", "lifecycle transition to Standard-IA", 1, s3["standard_ia"]["transition"]),
                Term("S3 storage", "lifecycle transition to Glacier IR", 1, s3["glacier_ir"]["transition"])]
    else:
        out.append(Term("S3 storage", "archived original (under 128 KB: stays Standard)", original * gb * 12,
                        s3["standard"]["gb_month"]))
    out += [Term("S3 storage", "derivatives and manifest: Standard, 12 months", run.archived["derivatives"] * gb * 12,
                 s3["standard"]["gb_month"]),
            Term("S3 storage", "the upload itself, kept in the upload bucket: Standard, 12 months",
                 run.upload_bytes * gb * 12, s3["standard"]["gb_month"])]
    ddb = price["dynamodb"]
    record_gb = (run.record_bytes + sum(index.entry_bytes for index in run.indexes)) * gb
    out += [Term("DynamoDB storage", f"record and its {len(run.indexes)} index entries, 12 months (+ PITR)",
                 record_gb * 12,
                 ddb["storage_gb_month"] + ddb["pitr_gb_month"]),
            Term("DynamoDB storage", "audit items, kept 90 days (+ PITR)",
                 run.audit_items / max(run.images, 1) * run.audit_item_bytes * gb * 3,
                 ddb["storage_gb_month"] + ddb["pitr_gb_month"])]
    return [term for term in out if term.per_image > 0]


FIXED_MONTHLY = {
    "KMS: the data key": ("kms", "key_month", 1),
    "CloudWatch: custom metrics (stage x metric)": ("cloudwatch", "custom_metric_month", 24),
}


MONTH_SECONDS = 30 * 24 * 3600
SNS_DATA_KEY_REUSE_SECONDS = 300  # "Amazon SNS reuses a data key for up to 5 minutes"


def fixed_monthly(price: dict[str, Any], publishers: int = 0) -> dict[str, float]:
    """What the stack costs per month whatever the volume (alarms, dashboard and pollers aside).

    `publishers`: the functions that published to the encrypted topic in the run; SNS asks KMS
    for a data key (GenerateDataKey and Decrypt: two requests) per publishing principal and reuse
    period: R = B / D * 2 * P (the SNS guide's own formula).
    """
    fixed = {label: price[service][item] * count for label, (service, item, count) in FIXED_MONTHLY.items()}
    if publishers:
        requests = MONTH_SECONDS / SNS_DATA_KEY_REUSE_SECONDS * 2 * publishers
        fixed[f"KMS: SNS data keys ({publishers} publishing functions, each key reused 5 minutes)"] = (
            requests * price["kms"]["request"])
    return fixed


def report(run: Run, price: dict[str, Any], options: Options = DEFAULT) -> dict[str, Any]:
    """The cost per million images, its terms, the biggest three, and a year of storage."""
    found = terms(run, price, options)
    total = sum(t.per_million_usd for t in found)
    storage = storage_year(run, price)
    return {
        "per_million_usd": round(total, 2),
        "options": {**options.__dict__, "workflow": options.workflow or run.workflow},
        "prices": {"region": price["region"], "as_of": price["as_of"], "free_tiers": "left out"},
        "run": {"images": run.images, "executions": run.executions, "other_executions": run.other_executions,
                "transitions_per_image":
                round(run.transitions / max(run.images, 1), 2),
                "invocations_per_image": {k: round(v.invocations / max(run.images, 1), 2)
                                          for k, v in run.functions.items() if v.invocations},
                "calls_per_image": {k: round(v / max(run.images, 1), 2) for k, v in sorted(run.calls().items())}},
        "terms": [{"service": t.service, "what": t.what, "per_image": round(t.per_image, 6),
                   "unit_usd": t.unit_usd, "per_million_usd": round(t.per_million_usd, 2)} for t in found],
        "biggest": [t.what for t in sorted(found, key=lambda t: -t.per_million_usd)[:3]],
        "storage_year_per_million_usd": round(sum(t.per_million_usd for t in storage), 2),
        "storage_terms": [{"service": t.service, "what": t.what, "per_million_usd": round(t.per_million_usd, 2)}
                          for t in storage],
        "fixed_monthly_usd": {label: round(usd, 2) for label, usd in fixed_monthly(
            price, sum(1 for use in run.functions.values() if use.calls["sns.Publish"])).items()},
    }


def choices(run: Run, price: dict[str, Any]) -> dict[str, float]:
    """What each choice the page discusses costs per million images."""
    variants = {
        f"as deployed ({run.workflow}, X-Ray 5%, INFO, audit on, renditions on, arm64)": Options(),
        "Standard workflows": Options(workflow="STANDARD"),
        "Express workflows": Options(workflow="EXPRESS"),
        "X-Ray off": Options(xray_sampling=0.0),
        "X-Ray 100%": Options(xray_sampling=1.0),
        "log level WARNING": Options(log_level="WARNING"),
        "audit trail off": Options(audit=False),
        "no renditions (thumbnails step off)": Options(renditions=False),
        "x86_64 instead of arm64": Options(architecture="x86_64"),
    }
    return {label: round(sum(t.per_million_usd for t in terms(run, price, options)), 2)
            for label, options in variants.items()}


def wait_for_logs(seconds: float = 2.0) -> None:
    """The engine writes a call's log lines just after it answers: give the last ones a moment."""
    time.sleep(seconds)
