"""What one probe asks: the target and credentials, the gates a healthy answer must meet,
and what "ready" means. Plain values; results.py holds what the probe saw.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up.
from typing import NamedTuple

from .endpoint import Credentials, Target
from .results import PROTOCOL_GRPC_HEALTH


class Gates(NamedTuple):
    """Requirements beyond "healthy": a failed gate makes the result unhealthy."""

    min_version: str = ""
    max_latency_ms: float | None = None
    min_cert_days: int | None = None


NO_GATES = Gates()


class ReadySpec(NamedTuple):
    """What "ready" means for one probe: the database always, these collections, loaded?"""

    collections: tuple[str, ...] = ()
    loaded: bool = False


class Probe(NamedTuple):
    """One health check to run: target, credentials and what to ask."""

    target: Target
    credentials: Credentials = Credentials()
    timeout: float = 10.0
    service: str = ""
    protocol: str = "auto"  # auto | grpc-health | milvus
    want_version: bool = False
    want_certificate: bool = False
    gates: Gates = NO_GATES
    first: str = PROTOCOL_GRPC_HEALTH  # in auto mode: the protocol that answered last time
    ready: ReadySpec | None = None  # past healthy: the database, collections (readiness.py)

    @property
    def asks_version(self) -> bool:
        return self.want_version or bool(self.gates.min_version)

    @property
    def asks_certificate(self) -> bool:
        wanted = self.want_certificate or self.gates.min_cert_days is not None
        return wanted and self.target.secure
