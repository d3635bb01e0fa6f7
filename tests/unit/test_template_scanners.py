"""The scanners the field trusts, run on `template.yaml` in the test command (R7 checks).

cfn-lint (with the cfn-lint-serverless rules) and checkov must report nothing. A finding may be
suppressed only inline, next to the resource, with a written reason: checkov's `Metadata:
checkov: skip` entries carry a `comment`, and cfn-lint's `ignore_checks` a YAML comment just
above. Checkov lives in its own venv (`./dev install` makes it) because its pins clash with ours.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from qip.tooling.paths import PROJECT_ROOT, TEMPLATE

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
MIN_REASON = 40  # characters: a reason, not a placeholder


def test_cfn_lint_with_serverless_rules_finds_nothing():
    result = subprocess.run([str(CFN_LINT), str(TEMPLATE), "--append-rules", "cfn_lint_serverless.rules"],
                            capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


def test_checkov_finds_nothing_unsuppressed_and_every_suppression_has_a_reason():
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run ./dev install"
    result = subprocess.run([str(CHECKOV), "-f", str(TEMPLATE), "--framework", "cloudformation", "--compact",
                             "--output", "json"], capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 50, "checkov ran no checks: is the template still CloudFormation?"
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason) >= MIN_REASON, f"{skipped['check_id']} on {skipped['resource']} has no real reason"


def test_cfn_lint_suppressions_carry_a_reason_comment():
    lines = TEMPLATE.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.search(r"\bignore_checks\b", line):
            above = lines[number - 1].strip()
            assert above.startswith("#") and len(above) >= MIN_REASON // 2, f"line {number + 1}: no reason above"
