"""The artifact that ships is the one that runs: alone in a clean interpreter, on the local engine,
and through `qip deploy` (the AWS code path) pointed at the local engine.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from qip.cli import app as cli
from qip.core import aws
from qip.core.clock import now_iso
from qip.core.store import MetadataStore, Upload
from qip.tooling import build
from qip.tooling import cloudformation as deploy
from qip.tooling.errors import DeployError
from qip.tooling.parameters import LOCAL_PARAMETERS
from qip.tooling.paths import TEMPLATE
from tests.integration.stack import wait_until

EVENTS = Path(__file__).parents[1] / "events"
SAMPLE_KEY, SAMPLE_EVENT_KEY = "holiday/2026/my photo+1.jpg", "holiday/2026/my+photo%2B1.jpg"

# Runs in the clean interpreter: only the stdlib and the unpacked artifact are importable.
DRIVER = r'''
import importlib, json, sys, sysconfig
folder, cases_file, results_file = sys.argv[1:4]

class Context:
    function_name = "isolated"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:isolated"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/isolated"
    log_stream_name = "isolated"
    def get_remaining_time_in_millis(self):
        return 60000

results = []
for case in json.load(open(cases_file)):
    try:
        handler = importlib.import_module(case["module"]).handler
        results.append({"name": case["name"], "ok": True, "result": handler(case["event"], Context())})
    except Exception as error:
        results.append({"name": case["name"], "ok": False, "error": f"{type(error).__name__}: {error}"})
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted({f"{name}: {module.__file__}" for name, module in list(sys.modules.items())
                  if getattr(module, "__file__", None) not in (None, __file__)
                  and not module.__file__.startswith((folder, *stdlib))})
import PIL, boto3, site
json.dump({"results": results, "outside": outside, "sys_path": sys.path, "pil": PIL.__file__,
           "boto3": boto3.__file__, "site_imported": "site" in sys.modules and hasattr(site, "getsitepackages") and
           any("site-packages" in p for p in sys.path)}, open(results_file, "w"))
'''


def _jpeg(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _event(name: str, replacements: dict[str, str]) -> dict:
    text = (EVENTS / f"{name}.json").read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def _isolated_resources(stack, run: str) -> dict[str, str]:
    """A queue, a DLQ and a trivial state machine of this test's own, so the stack's real
    dispatcher and pipeline never pick up what the handlers send."""
    sqs, sfn = stack.client("sqs"), stack.client("stepfunctions")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = stack.client("iam").create_role(RoleName=f"isolated-{run}", AssumeRolePolicyDocument=json.dumps(trust))
    machine = sfn.create_state_machine(
        name=f"isolated-{run}", roleArn=role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))
    return {"QUEUE_URL": sqs.create_queue(QueueName=f"isolated-{run}")["QueueUrl"],
            "DLQ_URL": sqs.create_queue(QueueName=f"isolated-{run}-dlq")["QueueUrl"],
            "STATE_MACHINE_ARN": machine["stateMachineArn"]}


def test_the_artifact_alone_in_a_clean_interpreter_runs_every_handler(stack, tmp_path):
    artifact = build.build(build.machine_arch())  # x86_64 here: the machine's, the one the engine runs
    folder = tmp_path / "artifact"
    folder.mkdir()
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(folder)
    run = uuid.uuid4().hex[:8]
    info = stack.info
    keys = {letter: f"isolated/{run}/{letter}/my photo+1.jpg" for letter in "abcd"}
    for key in keys.values():
        stack.put(key, _jpeg(), "image/jpeg")

    def event(name: str, letter: str) -> dict:
        key = keys[letter]
        return _event(name, {SAMPLE_KEY: key, SAMPLE_EVENT_KEY: key.replace(" ", "+").replace("+1", "%2B1"),
                             "qip-uploads": info.upload_bucket, "qip-archive": info.archive_bucket})

    def case(name: str, module: str, letter: str) -> dict:
        return {"name": f"{name}/{letter}", "module": f"qip.functions.{module}", "event": event(name, letter)}

    # Records as ingest leaves them, so each key's pipeline steps have something to move on.
    store = MetadataStore(aws.table(info.metadata_table, info.endpoint_url, info.region))
    for letter in "abc":
        sample = event("tracker_started", letter)["image"]
        head = stack.client("s3").head_object(Bucket=info.upload_bucket, Key=keys[letter])
        assert store.record_upload(Upload(sample["bucket"], sample["key"], head["ContentLength"], "image/jpeg",
                                          head["ETag"].strip('"'), sample["sequencer"], now_iso()))
    handlers = set(re.findall(r"Handler:\s*qip\.functions\.(\w+)\.handler", TEMPLATE.read_text()))
    flow = [("tracker_started", "tracker", "a"), ("step_validate", "validate", "a"),
            ("step_extract_metadata", "extract_metadata", "a"), ("step_resize", "resize", "a"),
            ("step_thumbnails", "thumbnails", "a"), ("step_archive", "archive", "a"),
            ("tracker_completed", "tracker", "a"),
            ("tracker_started", "tracker", "b"), ("tracker_rejected", "tracker", "b"),
            ("tracker_started", "tracker", "c"), ("tracker_failed", "tracker", "c"),
            ("sqs_processing_batch", "dispatcher", "a"), ("s3_object_created", "ingest", "d"),
            ("sqs_audit_batch", "audit", "a"), ("scheduled_sweep", "reconciler", "a"),
            ("operations_renditions", "operations", "a")]
    cases = [case(name, module, letter) for name, module, letter in flow if module in handlers]
    assert handlers <= {c["module"].rsplit(".", 1)[1] for c in cases}, "a handler without a sample event run"
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    driver_dir = tmp_path / "driver"
    driver_dir.mkdir()
    (driver_dir / "driver.py").write_text(DRIVER)
    isolated = _isolated_resources(stack, run)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PYTHONPATH": str(folder),  # the artifact and nothing else; -S: no site-packages at all
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",  # the engine's dummy keys
           "AWS_REGION": info.region, "AWS_DEFAULT_REGION": info.region, "AWS_ENDPOINT_URL": info.endpoint_url,
           "AWS_CA_BUNDLE": str(stack.engine.certificate),
           "TABLE_NAME": info.metadata_table, "UPLOAD_BUCKET": info.upload_bucket,
           "ARCHIVE_BUCKET": info.archive_bucket, "EVENT_BUS_NAME": info.event_bus, "TOPIC_ARN": info.topic_arn,
           "POWERTOOLS_SERVICE_NAME": "qip", "POWERTOOLS_METRICS_NAMESPACE": "QuantumImageProcessor",
           "AUDIT_TABLE_NAME": info.audit_table, "PIPELINE_RETRY_DELAY_SECONDS": "1", **isolated}
    result = subprocess.run([sys.executable, "-S", "-s", str(driver_dir / "driver.py"), str(folder),
                             str(tmp_path / "cases.json"), str(tmp_path / "results.json")],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())

    failures = [r for r in report["results"] if not r["ok"]]
    assert not failures, failures
    assert report["outside"] == [], "imported from outside the artifact and the stdlib"
    assert report["pil"].startswith(str(folder)) and report["boto3"].startswith(str(folder))
    assert not [p for p in report["sys_path"] if "site-packages" in p or ".venv" in p]
    by_name = {r["name"]: r["result"] for r in report["results"]}
    assert by_name["tracker_started/a"] == {"proceed": True}
    assert by_name["step_validate/a"]["verdict"] == "accepted"
    assert by_name["tracker_completed/a"] == {"status": "COMPLETED"}
    assert by_name["tracker_failed/c"]["requeued"] is True
    if "sqs_processing_batch/a" in by_name:
        assert by_name["sqs_processing_batch/a"] == {"batchItemFailures": []}
    assert by_name["sqs_audit_batch/a"] == {"batchItemFailures": []}
    assert stack.pipeline.history(keys["a"])[0]["detail-type"] == "Stage Succeeded"
    assert by_name["scheduled_sweep/a"]["checked"] >= 0 and by_name["scheduled_sweep/a"]["requeued"] == []
    assert by_name["operations_renditions/a"]["default"][0] == "display"  # the renditions file shipped in the zip
    # the effects landed in the stack's own table and archive bucket
    assert stack.pipeline.status(keys["a"])["status"] == "COMPLETED"
    assert stack.pipeline.status(keys["b"])["status"] == "REJECTED"
    assert stack.pipeline.status(keys["c"])["status"] == "FAILED"
    archived = stack.client("s3").list_objects_v2(Bucket=info.archive_bucket, Prefix=f"images/{keys['a']}/")
    names = {o["Key"].rsplit("/", 1)[1] for o in archived.get("Contents", [])}
    assert {"original", "display.jpg"} <= names and any(n.startswith("thumb-") for n in names)
    # the handlers' messages and executions went to this test's own queue and state machine
    sfn = stack.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=isolated["STATE_MACHINE_ARN"])["executions"]


def _worker_libraries(engine_pid: int, marker: str) -> dict[int, set[str]]:
    """For each process of the engine's process group, the mapped files whose path has `marker`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != engine_pid:
                continue
            maps = (entry / "maps").read_text()
        except (OSError, ProcessLookupError):
            continue
        paths = {line.split()[-1] for line in maps.splitlines() if marker in line}
        if paths:
            found[int(entry.name)] = paths
    return found


def test_the_local_engine_runs_qip_from_its_code_zip_and_the_locked_dependencies_from_the_venv(stack):
    """The engine runs the thin local zip (build.build_local): qip's shipped packages with their
    bytecode; the dependencies are this venv's, at the versions requirements.lock pins. (The full
    artifact, dependencies and all, runs alone in a clean interpreter in the test above.)"""
    key = f"from-artifact/{uuid.uuid4().hex[:8]}/photo.jpg"
    stack.put(key, _jpeg(), "image/jpeg")
    assert stack.wait([key])[key]["status"] == "COMPLETED"
    build.build_local()  # raises BuildError if this venv's runtime dependencies differ from the lock
    engine_pid = stack.engine.pid()
    workers = wait_until(lambda: _worker_libraries(engine_pid, "PIL/_imaging.cpython"), 30,
                         message="a warm Lambda worker with PIL loaded")
    mapped = {path for paths in workers.values() for path in paths}
    assert all(path.startswith(sys.prefix) for path in mapped), mapped
    checked = 0
    for pid in workers:
        try:
            code = Path(os.readlink(f"/proc/{pid}/cwd"))
        except FileNotFoundError:
            continue  # the worker ended since it was listed
        if str(code).endswith(" (deleted)"):
            continue  # a worker the engine is retiring (its folder already removed, the process not yet gone)
        assert "/ministack-lambda-" in str(code), code
        assert (code / "qip" / "functions" / "validate.py").is_file()
        assert list((code / "qip" / "functions" / "__pycache__").glob("validate.*.pyc")), "shipped without bytecode"
        assert not (code / "PIL").exists() and not (code / "boto3").exists(), "dependencies in the local zip"
        checked += 1
    assert checked, f"every listed worker ended or was retired before it could be checked: {sorted(workers)}"


@pytest.fixture
def shipped_stack(stack):
    name = f"qip-ship-{uuid.uuid4().hex[:6]}"
    yield name
    cloudformation = stack.client("cloudformation")
    cloudformation.delete_stack(StackName=name)
    deploy._wait_deleted(cloudformation, name, 120)


def test_qip_deploy_creates_then_updates_through_change_sets(stack, shipped_stack, capsys, monkeypatch):
    endpoint = stack.info.endpoint_url
    argv = ["deploy", "--endpoint-url", endpoint, "--stack", shipped_stack, "--arch", build.machine_arch()]
    monkeypatch.setattr(deploy, "TEMPLATE_BODY_LIMIT", 1000)  # this template goes through TemplateURL here

    assert cli.main(argv + ["--parameter", "MaxSide=1024"]) == 0
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert f"creating stack {shipped_stack}" in text and "Add" in text and "ResizeFunction" in text
    assert "UploadBucket" in printed.out and "CREATE_COMPLETE" in text
    cloudformation = stack.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=shipped_stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    # an AWS-style deploy: template defaults plus explicit values, nothing of the local engine's
    assert parameters["MaxSide"] == "1024" and parameters["Architecture"] == build.machine_arch()
    assert parameters["EngineRetryableError"] != LOCAL_PARAMETERS["EngineRetryableError"]
    assert parameters["PipelineRetryDelaySeconds"] == "30"
    bucket = "qip-artifacts-000000000000-us-east-1"
    s3 = stack.client("s3")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="templates/")["KeyCount"] >= 1
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]

    assert cli.main(argv + ["--parameter", "MaxSide=1024"]) == 0
    assert "up to date" in capsys.readouterr().err

    assert cli.main(argv + ["--parameter", "MaxSide=800"]) == 0
    text = "".join(capsys.readouterr())
    assert f"updating stack {shipped_stack}" in text and "Modify" in text and "UPDATE_COMPLETE" in text

    assert cli.main(argv + ["--parameter", "MaxSide=3"]) == cli.Exit.DEPLOY
    assert "MaxSide" in capsys.readouterr().err


def test_a_failed_deploy_rolls_back_and_says_why(stack, shipped_stack):
    cloudformation = stack.client("cloudformation")
    missing = deploy.Artifact("qip-artifacts", "statemachine/missing.json")
    code = deploy.Artifact("qip-artifacts", "code/missing.zip")
    template = deploy.packaged_template(deploy.TEMPLATE, code, missing)
    with pytest.raises(DeployError) as failure:
        deploy.deploy(cloudformation, shipped_stack, template, dict(LOCAL_PARAMETERS), timeout=300,
                      s3=stack.client("s3"), bucket="qip-artifacts")
    message = str(failure.value)
    assert "ROLLBACK_COMPLETE" in message and "rolled back" in message
    assert "ProcessingPipeline CREATE_FAILED" in message and "missing.json" in message
