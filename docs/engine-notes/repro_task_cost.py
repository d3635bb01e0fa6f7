"""Reproduction: what one Lambda Task state costs the engine, against a Pass state.

Three Express state machines of 20 states each: Pass states; Lambda Tasks calling a handler that
does nothing but print one line (so the stderr drain ends at once); the same Tasks with
TimeoutSeconds. Each runs 10 times with StartSyncExecution, one after the other. Printed per
state: the CPU the engine's own process spent (read from /proc), the CPU its Lambda workers spent,
and the wall time. Linux only (reads /proc).
"""

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
from botocore.config import Config

STATES = 20
RUNS = 10
TICK = os.sysconf("SC_CLK_TCK")
HANDLER = "import sys\ndef handler(event, context):\n    print(file=sys.stderr)\n    return event\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def zipped(source: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("handler.py", source)
    return out.getvalue()


def cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its live children) of a process."""
    own = _seconds(pid)
    children = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    stat = file.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                children += _seconds(int(entry))
    return own, children


def _seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def chain(state: dict) -> str:
    names = [f"S{i}" for i in range(STATES)]
    states = {name: {**state, **({"Next": names[i + 1]} if i + 1 < STATES else {"End": True})}
              for i, name in enumerate(names)}
    return json.dumps({"StartAt": names[0], "States": states})


def main() -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1",
           "SERVICES": "lambda,iam,sts,stepfunctions", "LOG_LEVEL": "WARNING", "TMPDIR": tempfile.mkdtemp()}
    engine = subprocess.Popen([sys.executable, "-m", "ministack"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name="us-east-1")
        lam, sfn = session.client("lambda", endpoint_url=endpoint), session.client(
            "stepfunctions", endpoint_url=endpoint, config=Config(inject_host_prefix=False))  # no "sync-" host
        for _ in range(100):
            try:
                lam.list_functions()
                break
            except Exception:
                time.sleep(0.2)
        role = "arn:aws:iam::000000000000:role/r"
        arn = lam.create_function(FunctionName="noop", Runtime="python3.12", Handler="handler.handler", Role=role,
                                  Code={"ZipFile": zipped(HANDLER)})["FunctionArn"]
        lam.invoke(FunctionName="noop")["Payload"].read()  # cold start, not measured
        machines = {
            "Pass state": {"Type": "Pass"},
            "Lambda Task": {"Type": "Task", "Resource": arn},
            "Lambda Task, TimeoutSeconds": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 60},
        }
        for label, state in machines.items():
            machine = sfn.create_state_machine(name=label.replace(" ", "").replace(",", "-"), definition=chain(state),
                                               roleArn=role, type="EXPRESS")["stateMachineArn"]
            sfn.start_sync_execution(stateMachineArn=machine, input="{}")  # not measured
            (own, children), started = cpu(engine.pid), time.perf_counter()
            for _ in range(RUNS):
                result = sfn.start_sync_execution(stateMachineArn=machine, input="{}")
                if result["status"] != "SUCCEEDED":
                    raise SystemExit(f"{label}: the execution did not succeed: {result}")
            wall = time.perf_counter() - started
            own_after, children_after = cpu(engine.pid)
            per = STATES * RUNS
            print(f"{label:28} per state: engine {(own_after - own) / per * 1000:5.2f} ms CPU, "
                  f"workers {(children_after - children) / per * 1000:5.2f} ms CPU, "
                  f"{(wall - RUNS * 0.15) / per * 1000:5.1f} ms wall (the 0.15 s start of each run left out)")
    finally:
        os.killpg(engine.pid, 15)
        engine.wait(10)


if __name__ == "__main__":
    main()
