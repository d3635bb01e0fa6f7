"""Any AWS tool works against the local stack with only what `qip env` prints: the README's example run
as written (bash's own `eval`, the AWS CLI of the venv), the AWS CLI with `qip env --json`'s
variables, and a plain `boto3.client("s3")` with no argument but the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import imaging_corpus as corpus
from tests import readme

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def user_env(stack) -> dict[str, str]:
    """A user's environment with no AWS_* variable of its own, whose `qip` finds the session's stack."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "QIP_"))}
    env.update(QIP_PORT=str(stack.engine.port), QIP_HOME=str(stack.engine.home), QIP_STACK_NAME=stack.name,
               COLUMNS="200")
    return env


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The project as a user has it (every top-level entry linked), plus their photo.jpg."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    for entry in readme.ROOT.iterdir():
        if entry.name not in (".git", ".qip"):
            (folder / entry.name).symlink_to(entry)
    (folder / "photo.jpg").write_bytes(corpus.make_jpeg(800, 600))
    return folder


def test_the_readme_aws_client_example_runs_as_written(stack, user_env, checkout):
    example = readme.block("Any AWS client works")
    result = readme.run_block(example, checkout, user_env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads(result.stdout[result.stdout.index("\n{") + 1:])  # the last command's JSON
    assert record["key"] == "any key/é+1.jpg" and record["status"] == "COMPLETED", record
    assert any(uri.endswith("/display.jpg") for uri in record["outputs"])
    assert "Traceback" not in result.stderr


def test_qip_env_json_is_all_the_aws_cli_and_boto3_need(stack, user_env, tmp_path):
    result = subprocess.run([str(VENV_BIN / "qip"), "env", "--json"], env=user_env, capture_output=True, text=True,
                            check=True, timeout=60)
    variables = json.loads(result.stdout)
    assert variables["AWS_CA_BUNDLE"] == str(stack.engine.certificate)
    env = {**user_env, **{name: value for name, value in variables.items() if value is not None}}
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(corpus.make_jpeg(640, 480))
    key = "done when/café au lait+1.jpg"
    copied = subprocess.run([str(VENV_BIN / "aws"), "s3", "cp", str(photo), f"s3://{stack.info.upload_bucket}/{key}"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    assert stack.wait([key], timeout=180)[key]["status"] == "COMPLETED"

    plain = ("import boto3, sys; listed = boto3.client('s3').list_objects_v2(Bucket=sys.argv[1], Prefix=sys.argv[2]);"
             " print(sorted(o['Key'].rsplit('/', 1)[1] for o in listed.get('Contents', [])))")
    listed = subprocess.run([sys.executable, "-c", plain, stack.info.archive_bucket, f"images/{key}/"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == str(sorted(["original", "display.jpg", "thumb-512.webp", "thumb-256.webp",
                                                "thumb-128.webp", "manifest.json"]))
