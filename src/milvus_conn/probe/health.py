"""The health-check core: is there a healthy gRPC server at this target, right now?

It knows nothing of aliases, profiles or the CLI. Given a target, credentials and a
timeout, it returns a `HealthResult`; every network outcome is a result, never an
exception. The algorithm:

1. `grpc.health.v1.Health/Check` → SERVING is healthy, any other status unhealthy;
2. UNIMPLEMENTED there → `milvus.proto.milvus.MilvusService/CheckHealth`;
3. optionally `MilvusService/GetVersion` for the server's version;
4. then the gates (gates.py) and, when asked, readiness (readiness.py).
A failed call becomes an outcome in outcomes.py, the one place that reads gRPC codes.

The few protobuf messages involved are encoded by hand on grpcio's generic unary
calls, so a probe costs one grpcio import and no generated modules. grpc is imported
on first use only.

ARCHITECTURE.md draws the core's boundary: it imports nothing of aliases or files.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..untrusted import server_text
from .channel import load_grpc, open_channel
from .endpoint import Target
from .gates import missed_gate
from .request import Probe
from .results import (
    AUTH_FAILED,
    HEALTHY,
    PROTOCOL_GRPC_HEALTH,
    PROTOCOL_MILVUS,
    SERVING_STATUS,
    UNHEALTHY,
    HealthResult,
    auth_reason,
)
from .wire import (
    CHECK_HEALTH_RESPONSE,
    GET_VERSION_RESPONSE,
    HEALTH_CHECK_RESPONSE,
    MalformedReply,
    Schema,
    decode_reply,
    encode_string_field,
    milvus_status,
)

if TYPE_CHECKING:
    import grpc

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
MILVUS_CHECK_HEALTH = "/milvus.proto.milvus.MilvusService/CheckHealth"
MILVUS_GET_VERSION = "/milvus.proto.milvus.MilvusService/GetVersion"

_SERVING = 1
# Milvus common.Status: ErrorCode.PermissionDenied, and merr's auth codes.
_MILVUS_AUTH_ERROR_CODES = {3}
_MILVUS_AUTH_CODES = {1400, 1401, 1402}
_MAX_WORKERS = 256
MAX_PAUSE = 2.0
# The longest wait handed to gRPC or a socket: beyond ~290 years a deadline overflows,
# and gRPC then fails at once with DEADLINE_EXCEEDED (`--timeout 1e308`).
MAX_WAIT = 30 * 86400.0


def check(
    probe: Probe, channel: "grpc.Channel | None" = None, *, since: float | None = None
) -> HealthResult:
    """Run one probe within `probe.timeout` seconds in all (counted from `since`, a
    time.monotonic() value, when given), on `channel` or a fresh one."""
    own = channel is None
    if own:
        channel = open_channel(probe.target)
    try:
        return _Checker(probe, channel, since).run()
    finally:
        if own:
            channel.close()


def check_many(probes: Sequence[Probe]) -> list[HealthResult]:
    """All probes at once, one channel per distinct target; wall time about one probe's."""
    if not probes:
        return []
    from concurrent.futures import ThreadPoolExecutor

    channels: dict[Target, grpc.Channel] = {}
    try:
        for probe in probes:
            if probe.target not in channels:
                channels[probe.target] = open_channel(probe.target)
        workers = min(len(probes), _MAX_WORKERS)
        since = time.monotonic()  # one clock for all: the fan-out takes one timeout in all
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            return list(pool.map(lambda p: check(p, channels[p.target], since=since), probes))
    finally:
        for channel in channels.values():
            channel.close()


def wait_until_healthy(probe: Probe, wait: float) -> HealthResult:
    """Retry with capped exponential backoff until healthy or `wait` seconds have passed.

    No attempt runs past the deadline, and a refused credential is final: retrying it
    only locks accounts.
    """
    deadline = time.monotonic() + wait
    pause = 0.1
    while True:
        remaining = deadline - time.monotonic()
        result = check(probe._replace(timeout=max(min(probe.timeout, remaining), 0.05)))
        if result.healthy or result.status == AUTH_FAILED:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return result
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_PAUSE)


class _Checker:
    """The steps of one probe, sharing one deadline."""

    def __init__(self, probe: Probe, channel: "grpc.Channel", since: float | None = None) -> None:
        self.probe = probe
        self.channel = channel
        self.started = time.monotonic()
        self.deadline = (self.started if since is None else since) + probe.timeout
        self.metadata = probe.credentials.metadata()

    def remaining(self, floor: float = 0.001) -> float:
        return min(max(self.deadline - time.monotonic(), floor), MAX_WAIT)

    def call(self, method: str, request: bytes, schema: Schema) -> dict[str, Any]:
        """The decoded reply; MalformedReply (naming `method`) for one that does not decode."""
        stub = self.channel.unary_unary(method)
        reply = stub(request, timeout=self.remaining(), metadata=self.metadata)
        return decode_reply(method, reply, schema)

    def latency_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)

    def run(self) -> HealthResult:
        """Probe, then describe the certificate if asked, then hold the result to the gates
        (a healthy result that misses one becomes unhealthy, naming it) and, when asked,
        to readiness (database, collections)."""
        try:
            result = self.probe_server()
        except MalformedReply as exc:  # a reply that does not decode: the server's fault
            result = HealthResult(UNHEALTHY, reason=str(exc))
        if self.probe.asks_certificate:
            from .certinfo import peer_certificate  # here: only TLS probes that ask need it

            target = self.probe.target
            certificate = peer_certificate(
                target.address,
                self.remaining(0.5),
                server_name=target.server_name,
                client_pem_path=target.client_pem_path,
                client_key_path=target.client_key_path,
            )
            result = result._replace(tls=certificate)
        missed = missed_gate(result, self.probe.gates) if result.healthy else ""
        result = result._replace(status=UNHEALTHY, reason=missed) if missed else result
        if self.probe.ready is not None and result.healthy:
            from .readiness import check_ready  # here: only probes that ask for it need it

            result = check_ready(self, result)
        return result

    def probe_server(self) -> HealthResult:
        """Ask each protocol in turn; UNIMPLEMENTED moves on to the next one."""
        grpc = load_grpc()
        for protocol in self.order():
            if protocol == PROTOCOL_GRPC_HEALTH:
                method, request = HEALTH_CHECK, encode_string_field(1, self.probe.service)
                schema = HEALTH_CHECK_RESPONSE
            else:
                method, request, schema = MILVUS_CHECK_HEALTH, b"", CHECK_HEALTH_RESPONSE
            try:
                reply = self.call(method, request, schema)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    continue
                return self.failure(exc)
            if protocol == PROTOCOL_GRPC_HEALTH:
                return self.from_health(reply)
            return self.from_milvus(reply)
        if self.order() == (PROTOCOL_GRPC_HEALTH,):
            return HealthResult(UNHEALTHY, reason="server does not implement grpc.health.v1")
        return HealthResult(
            UNHEALTHY, reason="server speaks neither grpc.health.v1 nor Milvus CheckHealth"
        )

    def order(self) -> tuple[str, ...]:
        """`auto` asks grpc.health.v1 first, unless the server is known to answer only
        Milvus's CheckHealth (Milvus Lite): then one round trip instead of two."""
        if self.probe.protocol != "auto":
            return (self.probe.protocol,)
        if self.probe.first == PROTOCOL_MILVUS:
            return (PROTOCOL_MILVUS, PROTOCOL_GRPC_HEALTH)
        return (PROTOCOL_GRPC_HEALTH, PROTOCOL_MILVUS)

    def from_health(self, reply: dict[str, Any]) -> HealthResult:
        status = reply["status"]
        latency = self.latency_ms()
        if status != _SERVING:
            reason = f"health status {SERVING_STATUS.get(status, str(status))}"
            return HealthResult(UNHEALTHY, PROTOCOL_GRPC_HEALTH, latency, reason=reason)
        return self.healthy(PROTOCOL_GRPC_HEALTH, latency)

    def from_milvus(self, reply: dict[str, Any]) -> HealthResult:
        latency = self.latency_ms()
        error_code, code, reason = milvus_status(reply)
        reason = server_text(reason)
        if error_code in _MILVUS_AUTH_ERROR_CODES or code in _MILVUS_AUTH_CODES:
            return HealthResult(AUTH_FAILED, PROTOCOL_MILVUS, latency, reason=auth_reason(reason))
        if error_code or code:
            return HealthResult(
                UNHEALTHY, PROTOCOL_MILVUS, latency, reason=reason or f"error {code}"
            )
        if not reply["isHealthy"]:
            reasons = server_text("; ".join(reply["reasons"]))
            return HealthResult(
                UNHEALTHY, PROTOCOL_MILVUS, latency, reason=reasons or "not healthy"
            )
        return self.healthy(PROTOCOL_MILVUS, latency)

    def healthy(self, protocol: str, latency: float) -> HealthResult:
        if not self.probe.asks_version:
            return HealthResult(HEALTHY, protocol, latency)
        grpc = load_grpc()

        try:
            reply = self.call(MILVUS_GET_VERSION, b"", GET_VERSION_RESPONSE)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return HealthResult(HEALTHY, protocol, latency, reason="version unknown")
            failed = self.failure(exc)
            return failed._replace(protocol=protocol, latency_ms=latency)
        error_code, code, reason = milvus_status(reply)
        if error_code in _MILVUS_AUTH_ERROR_CODES or code in _MILVUS_AUTH_CODES:
            reason = auth_reason(server_text(reason))
            return HealthResult(AUTH_FAILED, protocol, latency, reason=reason)
        version = server_text(reply["version"]) or None
        return HealthResult(HEALTHY, protocol, latency, server_version=version)

    def failure(self, exc: "grpc.RpcError") -> HealthResult:
        """The outcome of a failed call (outcomes.py, loaded on the first failure only)."""
        from .outcomes import failure

        return failure(self.probe, exc)
