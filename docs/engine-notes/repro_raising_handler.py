"""Reproduction: a handler that raises loses its worker, and its error is named Runtime.HandlerError.

Deploys one function whose handler returns its process id, or raises ValueError when asked, and
invokes it three times (the first cold), once raising, then twice more. On AWS the environment
survives a handled exception (the same process answers the next call, warm) and the error
payload's errorType is the exception's class, "ValueError". The script prints what the engine
does.
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

SOURCE = """import os
def handler(event, context):
    print("called")
    if event.get("raise"):
        raise ValueError("asked to raise")
    return os.getpid()
"""


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
    env = {**os.environ, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "SERVICES": "lambda,iam,sts",
           "LOG_LEVEL": "WARNING", "TMPDIR": tempfile.mkdtemp()}
    engine = subprocess.Popen([sys.executable, "-m", "ministack"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        for _ in range(100):
            try:
                client.list_functions()
                break
            except Exception:
                time.sleep(0.2)
        client.create_function(FunctionName="raises", Runtime="python3.12", Handler="handler.handler",
                               Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": zipped(SOURCE)})

        def invoke(event: dict[str, bool], label: str) -> None:
            started = time.perf_counter()
            response = client.invoke(FunctionName="raises", Payload=json.dumps(event).encode())
            took = (time.perf_counter() - started) * 1000
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                answer = f"FunctionError {response['FunctionError']}, errorType {payload.get('errorType')!r}"
            else:
                answer = f"worker pid {payload}"
            print(f"{label:<22} {took:7.1f} ms  {answer}")

        invoke({}, "first call (cold)")
        invoke({}, "second call (warm)")
        invoke({}, "third call (warm)")
        invoke({"raise": True}, "a call that raises")
        invoke({}, "the next call")
        invoke({}, "and the one after")
    finally:
        os.killpg(engine.pid, 15)
        engine.wait(10)


if __name__ == "__main__":
    main()
