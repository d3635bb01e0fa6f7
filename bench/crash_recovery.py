"""Crash recovery, bigger than the suite's test: SIGKILL of the engine mid-burst, then `qip up`.

    flock /tmp/qip-engine.lock .venv/bin/python bench/crash_recovery.py [--runs 3] [--burst 120]
                                                                        [--kill-after 60]

Each run starts an engine of its own (a free port, a temporary state folder) and plays
tests/crash_scenario.py: a first batch stopped mid-flight by a clean restart, then a burst from
8 threads during which the engine's whole process group is killed once `--kill-after` uploads
are acknowledged, then `qip up`. It prints, per run: uploads acknowledged (and refused after the
kill), their final statuses, how each lost one came back (the upload sweep, or requeued as
stranded), and the time from the restarting `qip up` to the last final status (from the
records). Beside it, what the issue measured before this work: 0 of 60 acknowledged uploads
reached a final status. Exit status 1 if an acknowledged upload did not reach one final status.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: F401 - puts src/ and the repo root on sys.path

from qip.tooling.engine import Engine
from tests import crash_scenario
from tests.integration.stack import free_port

BASELINE = "before (issue 15, recorded): 0 of 60 acknowledged uploads reached a final status after a SIGKILL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="crashes, each on a fresh engine (default 3)")
    parser.add_argument("--first-batch", type=int, default=20, help="uploads stopped mid-flight by a clean restart")
    parser.add_argument("--burst", type=int, default=120, help="uploads in the burst (default 120)")
    parser.add_argument("--kill-after", type=int, default=60, help="acknowledged uploads before the kill")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every image")
    args = parser.parse_args()
    print(BASELINE, flush=True)
    failed = 0
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="qip-crash-") as home:
            engine = Engine(port=free_port(), home=Path(home))
            try:
                crash = crash_scenario.run(engine, "qip-crash", args.first_batch, args.burst, args.kill_after,
                                           timeout=args.timeout, log=lambda line: print(f"  {line}", flush=True))
            finally:
                engine.stop()
        recovery = crash.crash_recovery
        problems = crash.problems()
        failed += bool(problems)
        print(f"run {run}: {len(crash.acknowledged)} acknowledged ({crash.refused} refused after the kill at "
              f"{crash.kill_seconds:.1f} s into the burst); final: {dict(crash.outcomes())}; repaired after the "
              f"crash: {len(recovery['unrecorded'])} by the upload sweep, {len(recovery['requeued'])} requeued as "
              f"stranded, {len(recovery['orphans_stopped'])} orphaned runs stopped; settled "
              f"{crash.settle_seconds:.1f} s after the restarting qip up began; "
              f"{'OK' if not problems else 'PROBLEMS: ' + '; '.join(problems[:10])}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
