"""Shared fixtures: the sample events under tests/events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EVENTS = Path(__file__).parent / "events"


@pytest.fixture
def sample_event():
    """Load a sample event by name: `sample_event("s3_object_created")`."""

    def load(name: str) -> dict:
        return json.loads((EVENTS / f"{name}.json").read_text())

    return load
