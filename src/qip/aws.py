"""boto3 clients, made once per process and shared (Lambda keeps them warm between calls).

Endpoints come from the standard AWS configuration chain: on the local engine its workers get
`AWS_ENDPOINT_URL`, and the command line passes the engine's URL explicitly.
"""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)
# The local engine's fixed account credentials (not a secret: the engine accepts them from anyone
# on loopback). Used only when an explicit local endpoint is given; AWS uses the default chain.
LOCAL_ENGINE_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


# Endpoint -> the certificate its clients trust (the local engine serves HTTPS with its own).
_TRUSTED: dict[str, str] = {}


def trust(endpoint_url: str, ca_bundle: str) -> None:
    """Verify TLS to `endpoint_url` against `ca_bundle` (the local engine's own certificate)."""
    if _TRUSTED.get(endpoint_url) != ca_bundle:
        _TRUSTED[endpoint_url] = ca_bundle
        for made in (client, presigner, table):
            made.cache_clear()


def _verify(endpoint_url: str | None) -> str | None:
    """None: the default trust store (AWS); else the certificate registered for the endpoint."""
    return _TRUSTED.get(endpoint_url) if endpoint_url else None


def trusted_certificate(endpoint_url: str | None) -> str | None:
    """The certificate trusted for `endpoint_url` (the local engine's own), or None: the default store."""
    return _verify(endpoint_url)


# Every client made here, so that release_connections() can reach them.
_MADE: list = []


def _kept(made):
    _MADE.append(made)
    return made


def release_connections() -> None:
    """Drop the idle connections of every client made here (each reconnects on its next call).

    A TLS server cannot finish stopping while its peers keep connections open: stopping the
    local engine from a process that still holds some took about 20 s (and risked a kill
    before the engine saved its state), against 1 s after this.
    """
    for made in _MADE:
        made.close()


def _session(endpoint_url: str | None) -> boto3.session.Session:
    return boto3.session.Session(**(LOCAL_ENGINE_CREDENTIALS if endpoint_url else {}))


@lru_cache(maxsize=None)
def client(service: str, endpoint_url: str | None = None, region: str | None = None):
    """A client for AWS (no endpoint: the default chain) or for the engine at `endpoint_url`."""
    return _kept(_session(endpoint_url).client(service, endpoint_url=endpoint_url or None, region_name=region,
                                               config=_CONFIG, verify=_verify(endpoint_url)))


@lru_cache(maxsize=None)
def presigner(endpoint_url: str | None = None, region: str | None = None):
    """An S3 client for presigned URLs: SigV4 (needed for KMS-encrypted objects) and the same endpoint."""
    return _kept(_session(endpoint_url).client("s3", endpoint_url=endpoint_url or None, region_name=region,
                                               config=_CONFIG.merge(Config(signature_version="s3v4")),
                                               verify=_verify(endpoint_url)))


@lru_cache(maxsize=None)
def table(name: str, endpoint_url: str | None = None, region: str | None = None):
    resource = _session(endpoint_url).resource("dynamodb", endpoint_url=endpoint_url or None,
                                               region_name=region, config=_CONFIG, verify=_verify(endpoint_url))
    _kept(resource.meta.client)
    return resource.Table(name)
