"""Errors of building, deploying and running the local engine."""

from qip.core.errors import QipError


class EngineError(QipError):
    """The local engine could not be started, reached or stopped."""


class DeployError(QipError):
    """The stack could not be created or updated; the message gives the stack's reasons."""


class BuildError(QipError):
    """The Lambda deployment artifact could not be built; the message says what is missing."""
