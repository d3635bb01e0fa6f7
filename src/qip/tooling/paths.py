"""Where the project's own files are: the template, the state machine, the local state folder."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = PROJECT_ROOT / "template.yaml"
STATE_MACHINE_DEFINITION = PROJECT_ROOT / "statemachine" / "pipeline.asl.json"
DEFAULT_HOME = PROJECT_ROOT / ".qip"
