"""The Lambda deployment artifact: what it contains, for which machine, and what a deploy sends.

The builds use pip against PyPI the first time (pinned by requirements.lock) and are cached by
content hash under build/, so later runs are offline and instant.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from qip.core.errors import ConfigurationError
from qip.tooling import aws_deploy as release
from qip.tooling import build
from qip.tooling import cloudformation as deploy
from qip.tooling.parameters import LOCAL_ONLY_PARAMETERS, LOCAL_PARAMETERS

AARCH64, X86_64 = 183, 62
DEV_TOOLS = ("pip/", "setuptools/", "wheel/", "pkg_resources/", "_distutils_hack/", "pytest/", "_pytest/",
             "ministack/", "moto/", "cfnlint/", "rich/", "ruff/", "samtranslator/", "awscli/")


@pytest.fixture(scope="module")
def arm64() -> build.Artifact:
    return build.build("arm64")


@pytest.fixture(scope="module")
def x86_64() -> build.Artifact:
    return build.build("x86_64")


def _names(artifact: build.Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return archive.namelist()


def test_arm64_artifact_holds_aarch64_native_libraries_only(arm64):
    libraries = build.native_libraries(arm64.path)
    assert any(name.startswith("PIL/_imaging.cpython-311-") for name in libraries)
    assert any(name.startswith("_pillow_heif.cpython-311-") for name in libraries)
    assert any(name.startswith("pillow_heif.libs/libheif") for name in libraries)
    wrong = {name: machine for name, machine in libraries.items() if machine != AARCH64}
    assert not wrong, f"not aarch64 (e_machine 183): {wrong}"
    assert all("x86_64" not in name for name in _names(arm64))


def test_x86_64_artifact_holds_x86_64_native_libraries_only(x86_64):
    libraries = build.native_libraries(x86_64.path)
    assert len(libraries) >= 20
    assert set(libraries.values()) == {X86_64}


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_artifact_has_no_tests_caches_or_dev_tools(arch, arm64, x86_64):
    artifact = arm64 if arch == "arm64" else x86_64
    names = _names(artifact)
    assert "qip/functions/ingest.py" in names and "PIL/__init__.py" in names and "boto3/__init__.py" in names
    assert not [n for n in names if n.endswith((".pyo", ".pyi"))]
    assert not [n for n in names if n.endswith(".pyc") and _source_of(n) not in names], "bytecode without source"
    assert not [n for n in names if "/tests/" in n or "/test/" in n or n.startswith(("tests/", "test/"))]
    assert not [n for n in names if n.startswith(DEV_TOOLS) or n.startswith("bin/")]
    assert not [n for n in names if n.startswith(("qip/tooling/", "qip/cli/", "qip/client/", "qip/dashboard/"))]
    shipped = {n.split("/")[1] for n in names if n.startswith("qip/") and n.count("/") > 1} - {"__pycache__"}
    assert shipped == {"core", "imaging", "functions"}, "the qip packages shipped whole, and only those"
    assert not [n for n in names if n.endswith(".dist-info/RECORD") or n.endswith(".dist-info/INSTALLER")]
    assert artifact.unzipped_bytes < 150 * 2**20, "well under Lambda's 250 MB unzipped"
    assert artifact.runtime == "python3.11"


def _source_of(pyc: str) -> str:
    folder, _, file = pyc.rpartition("__pycache__/")
    return folder + file.split(".", 1)[0] + ".py"


def test_every_module_ships_with_bytecode_that_extraction_cannot_invalidate(x86_64):
    """Lambda's code folder is read-only: without bytecode every cold start compiles each module."""
    with zipfile.ZipFile(x86_64.path) as archive:
        names = set(archive.namelist())
        for module in ("qip/functions/validate.py", "qip/core/store.py", "boto3/session.py", "PIL/Image.py"):
            folder, _, file = module.rpartition("/")
            pyc = f"{folder}/__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
            assert pyc in names, module
            header = archive.read(pyc)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER, f"{pyc} is for another Python"
            assert int.from_bytes(header[4:8], "little") == 0b01, f"{pyc}: not unchecked-hash bytecode"
        sources = [n for n in names if n.endswith(".py") and n.startswith(("qip/", "boto3/", "botocore/", "PIL/"))]
        compiled = [n for n in names if n.endswith(".pyc")]
        assert len(compiled) >= 0.95 * len(sources)


def test_every_bundled_distribution_is_pinned_by_the_lock(x86_64):
    locked = build.locked_versions()
    bundled = {}
    with zipfile.ZipFile(x86_64.path) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/METADATA"):
                fields = dict(line.split(": ", 1) for line in archive.read(name).decode().splitlines()
                              if line.startswith(("Name: ", "Version: ")))
                bundled[fields["Name"]] = fields["Version"]
    assert {"boto3", "aws_lambda_powertools", "pillow", "pillow_heif", "blurhash-python"} <= set(bundled)
    assert {n: v for n, v in bundled.items() if locked.get(build._normal(n)) != v} == {}
    pinned = [line for line in x86_64.requirements.read_text().splitlines() if "==" in line]
    assert sorted(pinned) == sorted(f"{n}=={v}" for n, v in bundled.items())


def test_wheels_are_chosen_for_the_runtime_os_glibc():
    # python3.11 runs on Amazon Linux 2 (glibc 2.26): a manylinux_2_27 wheel would not load there.
    tags = build.platforms("arm64", "python3.11")
    assert tags[0] == "manylinux_2_26_aarch64" and "manylinux_2_27_aarch64" not in tags
    assert "manylinux2014_aarch64" in tags
    assert build.platforms("x86_64", "python3.12")[0] == "manylinux_2_34_x86_64"


def test_a_rebuild_of_an_unchanged_tree_is_the_cached_zip(x86_64):
    again = build.build("x86_64")
    assert again.cached and again.path == x86_64.path and again.sha256 == x86_64.sha256
    assert again.seconds < 5


def _packaged() -> dict:
    bucket = release.artifacts_bucket("123456789012", "eu-west-1")
    return deploy.packaged_template(deploy.TEMPLATE, deploy.Artifact(bucket, "code/0123.zip"),
                                    deploy.Artifact(bucket, "statemachine/0123.json"))


def test_the_template_as_deployed_passes_cfn_lint_with_the_sam_transform(tmp_path):
    packaged = _packaged()
    functions = [r for r in packaged["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["CodeUri"].startswith("s3://qip-artifacts-") for f in functions)
    path = tmp_path / "packaged.json"
    path.write_text(json.dumps(packaged, indent=1))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(path), "-a", "cfn_lint_serverless.rules"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_aws_deploy_parameters_carry_nothing_of_the_local_engine():
    parameters = release.aws_parameters({})
    assert parameters == {}
    # the body itself (over 51,200 bytes it travels by TemplateURL, but what deploys is this)
    request = deploy.change_set_request("qip", {"TemplateBody": json.dumps(_packaged())}, parameters, "CREATE")
    rendered = json.dumps(_without_descriptions(request))
    assert [p["ParameterKey"] for p in request["Parameters"]] == []
    for local in ("Runtime.HandlerError", "127.0.0.1", "localhost", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
                  "MINISTACK", "USE_SSL", ".qip", "qip-artifacts/", '"test"'):
        assert local not in rendered, f"{local!r} would reach AWS"
    assert set(LOCAL_ONLY_PARAMETERS) <= set(LOCAL_PARAMETERS)
    # explicit values are passed as given; the architecture follows --arch
    assert release.aws_parameters({"MaxSide": "1024"}, "x86_64") == {"MaxSide": "1024", "Architecture": "x86_64"}


def _without_descriptions(value):
    """What takes effect: prose (parameter and resource descriptions) may name local settings."""
    if isinstance(value, str) and value.startswith("{"):
        return _without_descriptions(json.loads(value))
    if isinstance(value, dict):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "Description"}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


@pytest.mark.parametrize("explicit", [{"EngineRetryableError": "Runtime.HandlerError"}, {"NoSuchParameter": "1"}])
def test_aws_deploys_refuse_local_only_and_unknown_parameters(explicit):
    with pytest.raises(ConfigurationError, match="--parameter"):
        release.aws_parameters(explicit)


def test_a_template_over_the_body_limit_goes_through_s3():
    class FakeS3:
        class meta:
            endpoint_url = "https://s3.eu-west-1.amazonaws.com"

        def __init__(self):
            self.put = []

        def head_object(self, **_):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")

        def put_object(self, **kwargs):
            self.put.append(kwargs)

    big = {"Resources": {f"R{i}": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "x" * 200}}
                         for i in range(300)}}
    s3 = FakeS3()
    source = deploy.template_source(big, s3, "qip-artifacts-123456789012-eu-west-1")
    assert list(source) == ["TemplateURL"]
    assert source["TemplateURL"].startswith("https://s3.eu-west-1.amazonaws.com/qip-artifacts-123456789012-eu-west-1/templates/")
    assert json.loads(s3.put[0]["Body"]) == big
    assert list(deploy.template_source({"Resources": {}})) == ["TemplateBody"]  # small ones go inline
