"""Fixtures for the imaging tests: the shared corpus, built once per session.

The path set-up lets these tests run before the project is installed (``pytest tests/unit/imaging``
from a fresh checkout); with ``pythonpath`` configured in pyproject it is a no-op.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[3]
for _path in (_ROOT, _ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests import imaging_corpus  # noqa: E402 - after the path set-up above (run alone, too)


@pytest.fixture(scope="session")
def good() -> dict[str, bytes]:
    return imaging_corpus.good_images()


@pytest.fixture(scope="session")
def bad() -> dict[str, tuple[bytes, str]]:
    return imaging_corpus.bad_images()
