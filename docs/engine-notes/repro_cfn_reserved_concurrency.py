"""Reproduction: ReservedConcurrentExecutions in a stack's AWS::Lambda::Function is not applied.

Creates a one-resource stack whose function has ReservedConcurrentExecutions: 1 and prints what
GetFunctionConcurrency and GetFunction say (AWS answers 1 and {"ReservedConcurrentExecutions": 1}),
then sets the same with PutFunctionConcurrency, which the engine does keep.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3

TEMPLATE = {"Resources": {"Function": {"Type": "AWS::Lambda::Function", "Properties": {
    "FunctionName": "reserved", "Runtime": "python3.12", "Handler": "index.handler",
    "Role": "arn:aws:iam::000000000000:role/r", "ReservedConcurrentExecutions": 1,
    "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}}}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
           "TMPDIR": tempfile.mkdtemp()}
    engine = subprocess.Popen([sys.executable, "-m", "ministack"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name="us-east-1")
        cloudformation = session.client("cloudformation", endpoint_url=endpoint)
        lam = session.client("lambda", endpoint_url=endpoint)
        for _ in range(100):
            try:
                lam.list_functions()
                break
            except Exception:
                time.sleep(0.2)
        cloudformation.create_stack(StackName="reserved", TemplateBody=json.dumps(TEMPLATE))
        for _ in range(100):
            status = cloudformation.describe_stacks(StackName="reserved")["Stacks"][0]["StackStatus"]
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(0.2)
        print(f"stack: {status}")
        print("GetFunctionConcurrency:", lam.get_function_concurrency(FunctionName="reserved")
              .get("ReservedConcurrentExecutions"))
        print("GetFunction's Concurrency:", lam.get_function(FunctionName="reserved").get("Concurrency"))
        lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
        print("after PutFunctionConcurrency, GetFunctionConcurrency:",
              lam.get_function_concurrency(FunctionName="reserved").get("ReservedConcurrentExecutions"))
    finally:
        os.killpg(engine.pid, 15)
        engine.wait(10)


if __name__ == "__main__":
    main()
