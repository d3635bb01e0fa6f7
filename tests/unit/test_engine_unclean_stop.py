"""An engine that ended without a clean stop is noticed from what it left in its state folder."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from qip.tooling.engine import Engine


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_no_pid_file_is_a_clean_stop(tmp_path):
    assert Engine(port=1, home=tmp_path).unclean_stop() is None


def test_a_pid_file_left_by_a_dead_engine_is_an_unclean_stop_dated_by_its_last_save(tmp_path):
    engine = Engine(port=1, home=tmp_path)
    (tmp_path / "state").mkdir()
    saved = tmp_path / "state" / "sqs.json"
    saved.write_text("{}")
    os.utime(saved, (1_780_000_000, 1_780_000_000))
    engine.pid_file.write_text(str(dead_pid()))
    found = engine.unclean_stop()
    assert found is not None and found.last_clean_stop == datetime.fromtimestamp(1_780_000_000, UTC)
    assert "stopped without saving its state" in found.describe() and "2026-05-28" in found.describe()


def test_an_engine_that_never_saved_says_it_never_stopped_cleanly(tmp_path):
    engine = Engine(port=1, home=tmp_path)
    engine.pid_file.write_text(str(dead_pid()))
    found = engine.unclean_stop()
    assert found is not None and found.last_clean_stop is None
    assert "never stopped cleanly" in found.describe()
