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
    # a time keep a burst on this machine from spawning hundreds of them. 6 against 4: pipeline /
    # Pillow about 1.8 against 2.0-2.35 (bench/pipeline_vs_pillow.py), about 1 GB more for workers.
    "MaxRunningImages": "6",
    # An execution takes about a second here: an image over the limit is offered again soon.
    "DeferSeconds": "1,2",
    # ...and a dispatcher batch waits for a free slot a little before queueing its images again.
    "AdmissionWaitSeconds": "5",
    # The engine ignores the audit function's batching window (docs/engine-notes/esm-batching-window.md):
    # a second's delay on its queue lets events gather into batches (`qip cost`: 7.7-8.7 calls an image, not 11.2).
    "AuditDelaySeconds": "1",
    # The engine runs the functions on this machine, from the artifact built for its architecture.
    "Architecture": build.machine_arch(),
}


