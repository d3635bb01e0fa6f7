"""Reproduction: a throttled Lambda Task fails as Lambda.Unknown, not Lambda.TooManyRequestsException.

Deploys a function with reserved concurrency 0 (every call throttled: AWS answers Invoke with
TooManyRequestsException) and two state machines of one Task that calls it (through
lambda:invoke, and by the function's ARN), each with a Retry on Lambda.TooManyRequestsException.
On AWS the Task's error is Lambda.TooManyRequestsException: retried twice, then the execution
fails with that error. The script prints the direct Invoke's error, and each execution's error
and how many times its Task was tried.
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

ROLE = "arn:aws:iam::000000000000:role/r"
MACHINE = {"StartAt": "Call", "States": {"Call": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "throttled", "Payload": {}},
    "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2,
               "BackoffRate": 1.0}],
    "End": True}}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def zipped(source: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("handler.py", source)
    return out.getvalue()


def main() -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1",
           "SERVICES": "lambda,stepfunctions,iam,sts", "LOG_LEVEL": "WARNING", "TMPDIR": tempfile.mkdtemp()}
    engine = subprocess.Popen([sys.executable, "-m", "ministack"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name="us-east-1")
        endpoint = f"http://127.0.0.1:{port}"
        lam = session.client("lambda", endpoint_url=endpoint)
        sfn = session.client("stepfunctions", endpoint_url=endpoint)
        for _ in range(100):
            try:
                lam.list_functions()
                break
            except Exception:
                time.sleep(0.2)
        lam.create_function(FunctionName="throttled", Runtime="python3.12", Handler="handler.handler", Role=ROLE,
                            Code={"ZipFile": zipped("def handler(event, context):\n    return 1\n")})
        lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
        try:
            lam.invoke(FunctionName="throttled")
            print("direct Invoke: not throttled")
        except lam.exceptions.TooManyRequestsException as error:
            print(f"direct Invoke: {error.response['Error']['Code']} (as on AWS)")
        function_arn = lam.get_function(FunctionName="throttled")["Configuration"]["FunctionArn"]
        direct = json.loads(json.dumps(MACHINE))
        direct["States"]["Call"].update(Resource=function_arn, Parameters={})
        for name, machine in (("lambda:invoke", MACHINE), ("function ARN", direct)):
            arn = sfn.create_state_machine(name=f"calls-throttled-{len(name)}", definition=json.dumps(machine),
                                           roleArn=ROLE)["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
            for _ in range(200):
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.1)
            events = sfn.get_execution_history(executionArn=execution)["events"]
            tries = sum(1 for event in events if event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
            print(f"Task as {name}: execution {described['status']}, error {described.get('error')!r}, "
                  f"tried {tries} time(s)")
        print("(AWS: FAILED with error 'Lambda.TooManyRequestsException' after 3 tries, the Retry applying)")
    finally:
        os.killpg(engine.pid, 15)
        engine.wait(10)


if __name__ == "__main__":
    main()
