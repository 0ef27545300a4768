"""What a probe saw, and the names of its outcomes: the one module of result types the
rest of the health core imports (it imports none of them back).

`HealthResult` is one probe's answer; `CertInfo` the server certificate it described;
`Readiness` what the readiness calls saw. The status names are the keys of
errors.OUTCOMES, the one table from an outcome to its exit code.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up.
from typing import Any, NamedTuple

from ..errors import OUTCOMES

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNREACHABLE = "unreachable"
AUTH_FAILED = "auth_failed"

PROTOCOL_GRPC_HEALTH = "grpc-health"
PROTOCOL_MILVUS = "milvus"
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
# common.LoadState's states, as readiness reports them.
LOADED, LOADING, MISSING = "loaded", "loading", "missing"


class CertInfo(NamedTuple):
    subject: str
    issuer: str
    not_after: str
    expires_in_days: int


class CollectionState(NamedTuple):
    name: str
    exists: bool
    load_state: str  # loaded | loading | not_loaded | missing
    progress: int | None = None  # percent loaded; None when unknown or missing


class Readiness(NamedTuple):
    """What the readiness calls saw: the database, and each collection asked for."""

    database: str
    collections: tuple[CollectionState, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "collections": [state._asdict() for state in self.collections],
        }

    def summary(self) -> str:
        """`database 'shop' ready; 'books' loaded, 'films' loading (40%)`."""
        text = f"database {self.database!r} ready"
        states = [f"{c.name!r} {state_text(c)}" for c in self.collections]
        return text + ("; " + ", ".join(states) if states else "")


def state_text(state: CollectionState) -> str:
    if state.load_state == LOADING and state.progress is not None:
        return f"loading ({state.progress}%)"
    return state.load_state


class HealthResult(NamedTuple):
    """What one probe saw. `status` is one of healthy, unhealthy, unreachable, auth_failed."""

    status: str
    protocol: str | None = None
    latency_ms: float | None = None
    server_version: str | None = None
    reason: str = ""
    tls: CertInfo | None = None  # the server certificate, when it was asked for
    ready: Readiness | None = None  # what the readiness calls saw, when they were asked for
    detail: str = ""  # gRPC's own text behind `reason`, for --verbose; not in to_dict

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY

    @property
    def exit_code(self) -> int:
        return OUTCOMES[self.status][0]

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self._asdict().items() if k not in ("tls", "ready", "detail")}
        return {
            **data,
            "exit_code": self.exit_code,
            "tls_subject": self.tls.subject if self.tls else None,
            "tls_issuer": self.tls.issuer if self.tls else None,
            "tls_expires_in_days": self.tls.expires_in_days if self.tls else None,
        }


def auth_reason(details: str) -> str:
    return f"authentication failed: {details}" if details else "authentication failed"
