"""milvus-conn: named, persistent, health-checked connections to Milvus.

`connections` is bound to the default profile ($CONN_PROFILE, else profiles.toml in
the `conn` application directory); `Connections(profile=PATH)` binds another. Nothing
is read, and grpc is not imported, until a method is called. `client("prod")` hands an
alias to pymilvus's MilvusClient (the `pymilvus` extra).
"""

from __future__ import annotations

from .config import AliasConfig
from .errors import (
    AliasExistsException,
    AuthenticationException,
    ConnectionConfigException,
    ConnectionNotExistException,
    ExitCode,
    FileLimitException,
    MilvusException,
    NotConnectedException,
    PlainSecretWarning,
    ProbeException,
    ProfileException,
    ProfileLockException,
    ServerUnhealthyException,
    ServerUnreachableException,
    UntrustedFileWarning,
)
from .registry import AliasInfo, Connection, Connections

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """HealthResult from the health core's results, imported when asked for."""
    if name == "HealthResult":
        from .probe.results import HealthResult

        return HealthResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


connections = Connections()
client = connections.client  # MilvusClient for an alias of the default profile
async_client = connections.async_client

__all__ = [
    "AliasConfig",
    "AliasExistsException",
    "AliasInfo",
    "AuthenticationException",
    "Connection",
    "ConnectionConfigException",
    "ConnectionNotExistException",
    "Connections",
    "ExitCode",
    "FileLimitException",
    "HealthResult",
    "MilvusException",
    "NotConnectedException",
    "PlainSecretWarning",
    "ProbeException",
    "ProfileException",
    "ProfileLockException",
    "ServerUnhealthyException",
    "ServerUnreachableException",
    "UntrustedFileWarning",
    "__version__",
    "async_client",
    "client",
    "connections",
]
