"""The project's errors: one base class (`QipError`), and transient kept apart from permanent.

Each package that raises errors of its own declares them in its `errors.py`, all under `QipError`:
`qip.client.errors` (what a request to a stack can meet) and `qip.tooling.errors` (building,
deploying and the local engine). The image core has its own family (`qip.imaging.exceptions`).
"""


class QipError(Exception):
    """Base class of every error the project raises on purpose."""


class TransientError(QipError):
    """A failure that trying again may fix (throttling, a dependency briefly unreachable)."""


class ConfigurationError(QipError):
    """A required setting or argument is missing or wrong; the message names it."""
