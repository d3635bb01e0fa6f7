"""Errors a request to a deployed stack can end in."""

from qip.core.errors import QipError


class NotFoundError(QipError):
    """What was asked for does not exist (an image key, an object, a stack)."""


class StackNotFoundError(NotFoundError):
    """The stack is not deployed where the command looked for it."""


class ConflictError(QipError):
    """The image is not in a state that allows the request (e.g. retrying one that has not FAILED)."""


class UploadError(QipError):
    """An upload could not be stored in the upload bucket; nothing was recorded."""
