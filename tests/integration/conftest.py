"""One local engine and one deployed stack for the whole integration session.

The engine runs on a free loopback port with its state in a temporary folder, so tests never
touch a developer's own `.qip/` engine; it is stopped (with all its workers) at the end.
"""

from __future__ import annotations

import pytest

from qip.tooling import local_stack
from qip.tooling.engine import Engine
from tests.integration.stack import LocalStack, free_port

STACK = "qip-test"
# Step retry sleeps scaled down so retry paths finish in seconds (the backoff shape is unchanged).
# IAM enforced (also the engine's default; stated here because every test relies on it): each
# function runs as its own role, so a permission missing from template.yaml fails a test here.
ENGINE_ENV = {"SFN_WAIT_SCALE": "0.1", "AUTH": "true"}


@pytest.fixture(scope="session")
def local_engine(tmp_path_factory) -> Engine:
    engine = Engine(port=free_port(), home=tmp_path_factory.mktemp("engine"))
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def stack(local_engine) -> LocalStack:
    info = local_stack.up(local_engine, STACK, progress=lambda _: None, engine_env=ENGINE_ENV,
                          parameters={"PipelineRetryDelaySeconds": "1"})
    return LocalStack(local_engine, info, STACK)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
