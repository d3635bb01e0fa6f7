"""The local engine's life through `qip`: up (twice), outputs, down, restart with state kept,
recovery after a crash, loopback only, a taken port, and a deploy that fails with reasons.

A separate engine from the session's, so stopping and killing it disturbs no other test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from qip.cli import app as cli
from qip.tooling import cloudformation as deploy
from qip.tooling.engine import Engine
from qip.tooling.errors import DeployError
from tests import imaging_corpus as corpus
from tests.integration.stack import free_port

CONTRACT = {"endpoint_url", "region", "upload_bucket", "archive_bucket", "metadata_table", "queue_url", "dlq_url",
            "state_machine_arn", "event_bus", "topic_arn"}


def qip(capsys, engine: Engine, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--port", str(engine.port), "--home", str(engine.home), "--stack", "life", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def engine_pids(engine: Engine) -> list[int]:
    pid = engine.pid()
    if pid is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pid:
                    found.append(int(entry))
            except ProcessLookupError:
                continue
    return found


def listening_addresses(pids: list[int]) -> list[str]:
    """Local addresses of the TCP sockets these processes listen on (from `ss`)."""
    output = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    addresses = []
    for line in output.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & set(pids):
            addresses.append(line.split()[3])
    return addresses


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = Engine(port=free_port(), home=tmp_path_factory.mktemp("life"))
    yield engine
    engine.stop()


def test_up_outputs_down_restart_and_crash_recovery(engine, capsys):
    started = time.monotonic()
    code, _, err = qip(capsys, engine, "up")
    assert code == 0, err
    assert "ready" in err and time.monotonic() - started < 180

    code, out, _ = qip(capsys, engine, "outputs", "--json")
    outputs = json.loads(out)
    assert code == 0 and set(outputs) >= CONTRACT
    assert outputs["endpoint_url"].startswith("https://127.0.0.1:")

    # only loopback listeners, for the engine and every process it started
    pids = engine_pids(engine)
    addresses = listening_addresses(pids)
    assert addresses and all(a.startswith(("127.0.0.1:", "[::1]:")) for a in addresses), addresses

    # twice is harmless: nothing restarts, nothing changes
    pid = engine.pid()
    code, _, err = qip(capsys, engine, "up")
    assert code == 0 and "already running" in err and engine.pid() == pid

    # an image processed before a restart is still there after it
    from qip.tooling import local_stack

    info = local_stack.info(engine, "life")
    key = "life/before restart.jpg"
    info.client("s3").put_object(Bucket=info.upload_bucket, Key=key, Body=corpus.make_jpeg())
    from qip.client.pipeline import Pipeline

    assert Pipeline(info).wait([key], timeout=120)[key]["status"] == "COMPLETED"

    code, _, err = qip(capsys, engine, "down")
    assert code == 0 and "stopped" in err
    assert engine_pids(engine) == [] and engine.pid() is None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", engine.port)) != 0  # the port is free again

    code, _, err = qip(capsys, engine, "up")
    assert code == 0, err
    code, out, _ = qip(capsys, engine, "status", key, "--json")
    assert code == 0 and json.loads(out)["status"] == "COMPLETED"

    # a crash (the whole engine killed) in the middle of a command: that command says so in one line
    # (exit 4), and the next `qip up` recovers, with no clean-up by hand
    waiting = subprocess.Popen([sys.executable, "-m", "qip.cli.app", "--port", str(engine.port), "--home",
                                str(engine.home), "--stack", "life", "status", "never uploaded.jpg", "--wait"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # started, found the stack, and polling the record
    os.killpg(engine.pid(), signal.SIGKILL)
    _, gone = waiting.communicate(timeout=120)
    assert waiting.returncode == cli.Exit.ENGINE, gone
    assert len(gone.strip().splitlines()) == 1 and "Traceback" not in gone
    assert "stopped answering" in gone and "qip up" in gone and str(engine.log_file) in " ".join(gone.split())
    time.sleep(0.5)
    code, _, err = qip(capsys, engine, "up")
    assert code == 0, err
    code, out, _ = qip(capsys, engine, "outputs", "--json")
    assert code == 0 and json.loads(out)["upload_bucket"] == outputs["upload_bucket"]


def test_a_taken_port_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        code = cli.main(["--port", str(port), "--home", str(tmp_path), "up"])
    err = capsys.readouterr().err
    assert code == cli.Exit.ENGINE
    assert f"port {port}" in err and "in use" in err and "--port" in err


def test_a_command_without_a_running_engine_says_how_to_start_it(tmp_path, capsys):
    code = cli.main(["--port", str(free_port()), "--home", str(tmp_path), "status", "x.jpg"])
    assert code == cli.Exit.ENGINE
    assert "qip up" in capsys.readouterr().err


def test_a_failed_deploy_reports_the_stack_s_reasons(stack):
    broken = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
            "Metrics": [{"Id": "m", "Expression": "1", "ReturnData": True}]}}},
    }
    cloudformation = stack.client("cloudformation")
    with pytest.raises(DeployError) as raised:
        deploy.deploy(cloudformation, "broken-stack", broken, {}, progress=lambda _: None)
    assert "Alarm" in str(raised.value) and "ROLLBACK" in str(raised.value)
