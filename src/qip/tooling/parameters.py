"""The template parameters the local engine deploys with: the one place for what it does differently.

AWS deploys (`qip deploy`) use the template's defaults plus explicit --parameter values only, and
refuse the local-only ones.
"""

from __future__ import annotations

from qip.tooling import build

LOCAL_ONLY_PARAMETERS = {
    # The engine reports every Python exception as Runtime.HandlerError, not by class name.
    "EngineRetryableError": "Runtime.HandlerError",
}
LOCAL_PARAMETERS = {
    **LOCAL_ONLY_PARAMETERS,
    "PipelineRetryDelaySeconds": "2",
    # Every Lambda worker of the engine unpacks the artifact on its first call: a few images at
    # a time keep a burst on this machine from spawning hundreds of them.
    "MaxRunningImages": "4",
    # An execution takes about a second here: an image over the limit is offered again soon.
    "DeferSeconds": "1,2",
    # The engine runs the functions on this machine, from the artifact built for its architecture.
    "Architecture": build.machine_arch(),
}


