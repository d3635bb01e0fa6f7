"""Exit statuses of `qip`, chosen by the class of the error (its nearest listed ancestor)."""

from __future__ import annotations

from enum import IntEnum

from qip.cli.failures import AccessError
from qip.client.errors import NotFoundError, UploadError
from qip.core.errors import ConfigurationError
from qip.tooling.errors import BuildError, DeployError, EngineError


class Exit(IntEnum):
    """Exit statuses of `qip`."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    ENGINE = 4
    DEPLOY = 5
    UPLOAD = 6
    INCOMPLETE = 7
    ACCESS = 8  # credentials missing, expired or wrong, or a permission missing
    BUG = 70  # an unexpected error: a bug in qip (EX_SOFTWARE of sysexits.h)


_EXITS: dict[type[BaseException], Exit] = {
    NotFoundError: Exit.NOT_FOUND, EngineError: Exit.ENGINE, DeployError: Exit.DEPLOY, BuildError: Exit.DEPLOY,
    UploadError: Exit.UPLOAD, ConfigurationError: Exit.USAGE, AccessError: Exit.ACCESS,
}


def exit_for(error: BaseException) -> Exit:
    """The exit status of an error: its own class's, else its nearest ancestor's, else ERROR."""
    for cls in type(error).__mro__:
        if cls in _EXITS:
            return _EXITS[cls]
    return Exit.ERROR
