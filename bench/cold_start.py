"""AWS cold start: each handler's import time from the unzipped artifact, in a clean interpreter.

    .venv/bin/python bench/cold_start.py [--repeats 5] [--arch x86_64]

Unzips the deployment artifact (`qip build`) to a read-only-like folder and, for each handler in
template.yaml, times `python -S -c "import qip.functions.<name>"` with PYTHONPATH = that folder
only (no site-packages: what Lambda has) and PYTHONDONTWRITEBYTECODE (Lambda's code folder is
read-only, so nothing compiled at import survives), against `python -S -c pass`. Baseline beside
it: the same artifact with its bytecode removed (as it was built before). Median of --repeats.
No engine is started. Target: <= 300 ms for the step functions.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qip.tooling import build
from qip.tooling.paths import TEMPLATE

STEPS = {"validate", "extract_metadata", "resize", "thumbnails", "archive"}


def timed(folder: Path, code: str, repeats: int) -> float:
    runs = []
    env = {"PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", code], env=env, check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--arch", default=build.machine_arch(), help="artifact to measure (default: this machine's)")
    args = parser.parse_args()
    artifact = build.build(args.arch)
    handlers = sorted(set(re.findall(r"Handler:\s*qip\.functions\.(\w+)\.handler", TEMPLATE.read_text())))
    print(f"artifact: {artifact.summary()}")
    with tempfile.TemporaryDirectory(prefix="qip-cold-") as scratch:
        with_pyc, without = Path(scratch) / "with", Path(scratch) / "without"
        with zipfile.ZipFile(artifact.path) as archive:
            archive.extractall(with_pyc)
            archive.extractall(without, [n for n in archive.namelist() if not n.endswith(".pyc")])
        empty = timed(with_pyc, "pass", args.repeats)
        print(f"python -S -c pass: {empty * 1000:.0f} ms (subtracted below)")
        print(f"{'handler':18} {'with bytecode':>14} {'without (before)':>17}")
        worst = 0.0
        for name in handlers:
            code = f"import qip.functions.{name}"
            now = timed(with_pyc, code, args.repeats) - empty
            before = timed(without, code, args.repeats) - empty
            if name in STEPS:
                worst = max(worst, now)
            print(f"{name:18} {now * 1000:11.0f} ms {before * 1000:14.0f} ms" + ("  (step)" if name in STEPS else ""))
    print(f"RESULT slowest step import {worst * 1000:.0f} ms; target <= 300 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
