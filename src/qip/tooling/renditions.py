"""Check the renditions file before it ships: its JSON Schema, then what a schema cannot say
(rules naming renditions that do not exist, with the template's parameters in force).

`qip up` and `qip deploy` call `check()` before they build anything; `qip renditions check`
does it alone (run it before `sam build`, which has no hook for it: see the README). A bad file
never reaches an image: the functions load only a file this check passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from qip.core.errors import ConfigurationError
from qip.imaging import RenderOptions, RenditionsError, RenditionSet
from qip.tooling.paths import PROJECT_ROOT, TEMPLATE

RENDITIONS_FILE = PROJECT_ROOT / "src" / "renditions.yaml"
SCHEMA = PROJECT_ROOT / "schemas" / "renditions.schema.json"
PARAMETERS = {"MaxSide": "max_side", "ThumbnailSizes": "thumbnail_sizes", "ThumbnailFormat": "thumbnail_format"}
_HINTS = {"gps": "GPS is never kept in outputs"}


class RenditionsFileError(ConfigurationError):
    """The renditions file does not parse, breaks its schema, or names what does not exist."""


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


def options_for(parameters: Mapping[str, str] | None = None, template: Path = TEMPLATE) -> RenderOptions:
    """The render options the functions will see: the template's MaxSide, ThumbnailSizes and
    ThumbnailFormat, as given or defaulted."""
    from qip.tooling.aws_deploy import template_parameters

    known = template_parameters(template)
    values = {field: (parameters or {}).get(name, known.get(name, {}).get("Default"))
              for name, field in PARAMETERS.items()}
    return RenderOptions.from_mapping({k: str(v) for k, v in values.items() if v is not None})


def check(parameters: Mapping[str, str] | None = None, path: Path = RENDITIONS_FILE,
          template: Path = TEMPLATE) -> RenditionSet:
    """The renditions the functions will use; RenditionsFileError with every problem found."""
    return check_text(path.read_text() if path.exists() else "", options_for(parameters, template), str(path))


def check_text(text: str, options: RenderOptions, where: str = "renditions.yaml") -> RenditionSet:
    import jsonschema  # both load only when a renditions file is read: `qip status` needs neither
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise RenditionsFileError(f"{where}: not valid YAML{at}: {getattr(error, 'problem', error)}") from error
    validator = jsonschema.Draft202012Validator(schema())
    problems = [_describe(e) for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))]
    if problems:
        raise RenditionsFileError(f"{where} does not match {SCHEMA.relative_to(PROJECT_ROOT)}:\n  "
                                  + "\n  ".join(problems))
    try:
        return RenditionSet.from_mapping(data, options)
    except RenditionsError as error:
        raise RenditionsFileError(f"{where}: {error}") from error


def _describe(error: Any) -> str:
    """`renditions.avatar.fit: 'crop' is not one of ...`: where, then what, then a hint."""
    from jsonschema.exceptions import best_match

    if error.validator == "oneOf" and error.context:
        error = best_match(error.context)
    path = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    message = error.message
    schema_path = list(error.schema_path)
    if error.validator == "anyOf" and schema_path[-1:] == ["anyOf"]:
        message = "give a width, a height or both"
    elif error.validator == "required" and schema_path[-4:-2] == ["allOf", 0]:
        message = f"{message}: fit {error.instance.get('fit')} needs both width and height"
    elif error.validator in ("required", "const") and "allOf" in schema_path and 1 in schema_path:
        message = "crop applies only to fit: cover (add `fit: cover`)"
    elif error.validator == "additionalProperties":
        message = f"{message}; allowed: {', '.join(sorted(error.schema.get('properties', {})))}"
    hint = _HINTS.get(str(error.instance).lower()) if isinstance(error.instance, str) else None
    return f"{path}: {message}" + (f" ({hint})" if hint else "")
