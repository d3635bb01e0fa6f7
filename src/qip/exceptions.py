"""The project's errors: one base class, and permanent kept apart from transient."""


class PipelineError(Exception):
    """Base class of every error the project raises on purpose."""


class TransientError(PipelineError):
    """A failure that trying again may fix (throttling, a dependency briefly unreachable)."""


class ConfigurationError(PipelineError):
    """A required setting is missing or wrong; the message names it."""


class UploadError(PipelineError):
    """An upload could not be stored in the upload bucket; nothing was recorded."""


class NotFoundError(PipelineError):
    """No record exists for the requested image key."""


class ConflictError(PipelineError):
    """The image is not in a state that allows the request (e.g. retrying one that has not FAILED)."""


class EngineError(PipelineError):
    """The local engine could not be started, reached or stopped."""


class DeployError(PipelineError):
    """The stack could not be created or updated; the message gives the stack's reasons."""


class StackNotFoundError(PipelineError):
    """The stack is not deployed where the command looked for it."""


class BuildError(PipelineError):
    """The Lambda deployment artifact could not be built; the message says what is missing."""
