"""The web dashboard of a running stack: `qip dashboard`.

A small server-rendered app (Starlette, Jinja2, a few lines of plain JavaScript) that shows what
the pipeline writes: counts, throughput and stage latency, the images with their derivatives and
timelines, the queues and the dead letters; it uploads, retries and redrives through `qip.client.pipeline`.
"""
