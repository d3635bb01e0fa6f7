"""Reproduction: a silent Lambda handler costs ~50 ms more per call than one that prints a line."""

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3


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
        sources = {"silent": "def handler(event, context):\n    return 1\n",
                   "prints": "import sys\ndef handler(event, context):\n    print(file=sys.stderr)\n    return 1\n"}
        for name, source in sources.items():
            client.create_function(FunctionName=name, Runtime="python3.12", Handler="handler.handler",
                                   Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": zipped(source)})
            client.invoke(FunctionName=name)  # cold start, not timed
            started = time.perf_counter()
            for _ in range(20):
                client.invoke(FunctionName=name)
            print(f"{name}: {(time.perf_counter() - started) / 20 * 1000:.1f} ms per call")
    finally:
        os.killpg(engine.pid, 15)
        engine.wait(10)


if __name__ == "__main__":
    main()
