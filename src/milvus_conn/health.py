"""The health-check core: is there a healthy gRPC server at this target, right now?

It knows nothing of aliases, profiles or the CLI. Given a target, credentials and a
timeout, it returns a `HealthResult`; every network outcome is a result, never an
exception. The algorithm (DESIGN.md §5):

1. `grpc.health.v1.Health/Check` → SERVING is healthy, any other status unhealthy;
2. UNIMPLEMENTED there → `milvus.proto.milvus.MilvusService/CheckHealth`;
3. optionally `MilvusService/GetVersion` for the server's version.

The few protobuf messages involved are encoded by hand on grpcio's generic unary
calls, so a probe costs one grpcio import and no generated modules. grpc is imported
on first use only.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .endpoint import Credentials, Target
from .errors import OUTCOMES
from .wire import decode_fields, encode_string_field, first, milvus_status

if TYPE_CHECKING:
    import grpc

    from .certinfo import CertInfo
    from .readiness import Readiness, ReadySpec

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
MILVUS_CHECK_HEALTH = "/milvus.proto.milvus.MilvusService/CheckHealth"
MILVUS_GET_VERSION = "/milvus.proto.milvus.MilvusService/GetVersion"

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNREACHABLE = "unreachable"
AUTH_FAILED = "auth_failed"

PROTOCOL_GRPC_HEALTH = "grpc-health"
PROTOCOL_MILVUS = "milvus"
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
_SERVING = 1
# Milvus common.Status: ErrorCode.PermissionDenied, and merr's auth codes.
_MILVUS_AUTH_ERROR_CODES = {3}
_MILVUS_AUTH_CODES = {1400, 1401, 1402}
_MAX_WORKERS = 256
MAX_PAUSE = 2.0
MAX_SERVER_TEXT = 500  # characters kept of a reason or version a server sends
# The longest wait handed to gRPC or a socket: beyond ~290 years a deadline overflows,
# and gRPC then fails at once with DEADLINE_EXCEEDED (`--timeout 1e308`).
MAX_WAIT = 30 * 86400.0


class HealthResult(NamedTuple):
    """What one probe saw. `status` is one of healthy, unhealthy, unreachable, auth_failed."""

    status: str
    protocol: str | None = None
    latency_ms: float | None = None
    server_version: str | None = None
    reason: str = ""
    tls: "CertInfo | None" = None  # the server certificate, when it was asked for
    ready: "Readiness | None" = None  # what the readiness calls saw, when they were asked for
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


class Gates(NamedTuple):
    """Requirements beyond "healthy": a failed gate makes the result unhealthy."""

    min_version: str = ""
    max_latency_ms: float | None = None
    min_cert_days: int | None = None


NO_GATES = Gates()


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
    ready: "ReadySpec | None" = None  # past healthy: the database, collections (readiness.py)

    @property
    def asks_version(self) -> bool:
        return self.want_version or bool(self.gates.min_version)

    @property
    def asks_certificate(self) -> bool:
        wanted = self.want_certificate or self.gates.min_cert_days is not None
        return wanted and self.target.secure


def make_gates(
    min_version: str | None = None,
    max_latency_ms: float | None = None,
    min_cert_days: int | None = None,
) -> Gates:
    """Gates from user input; ValueError for a version with no number in it."""
    if min_version and version_tuple(min_version) is None:
        raise ValueError(
            f"--min-version must be a version such as 2.4 or v2.3.5, not {min_version!r}"
        )
    return Gates(min_version or "", max_latency_ms, min_cert_days)


def version_tuple(version: str) -> tuple[int, ...] | None:
    """`v2.3.5-lite` → (2, 3, 5); None when there is no number to compare."""
    match = re.match(r"^\D*?(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def apply_gates(result: HealthResult, gates: Gates) -> HealthResult:
    """A healthy result that misses a gate becomes unhealthy, naming the gate and both values."""
    if not result.healthy:
        return result
    if gates.min_version:
        required = version_tuple(gates.min_version)
        seen = version_tuple(result.server_version or "")
        if seen is None or required is None or _padded(seen) < _padded(required):
            observed = result.server_version or "unknown"
            reason = f"min-version gate: requires {gates.min_version}, server reports {observed}"
            return result._replace(status=UNHEALTHY, reason=reason)
    if gates.max_latency_ms is not None and (result.latency_ms or 0) > gates.max_latency_ms:
        reason = (
            f"max-latency gate: requires at most {gates.max_latency_ms:g} ms, "
            f"observed {result.latency_ms:.1f} ms"
        )
        return result._replace(status=UNHEALTHY, reason=reason)
    if gates.min_cert_days is not None:
        days = result.tls.expires_in_days if result.tls else None
        if days is None or days < gates.min_cert_days:
            observed = "no certificate" if days is None else f"it expires in {days} days"
            reason = f"min-cert-days gate: requires {gates.min_cert_days} days, {observed}"
            return result._replace(status=UNHEALTHY, reason=reason)
    return result


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    return version + (0,) * (4 - len(version))


_GRPC_PREFIX = r"^failed to connect to all addresses; last error: \w+: (?:ipv[46]|unix):\S+: "


def _grpc() -> Any:
    """grpc, imported on first use, its C core's logging kept off the user's stderr (our
    messages say what failed); set GRPC_VERBOSITY to see it."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    import grpc

    return grpc


# channels --------------------------------------------------------------------------


def open_channel(target: Target) -> "grpc.Channel":
    """A channel to `target`; TLS files are read here (OSError if unreadable)."""
    grpc = _grpc()
    if not target.secure:
        return grpc.insecure_channel(target.address)
    root = (
        Path(target.ca_pem_path or target.server_pem_path).read_bytes()
        if (target.ca_pem_path or target.server_pem_path)
        else None
    )
    key = Path(target.client_key_path).read_bytes() if target.client_key_path else None
    chain = Path(target.client_pem_path).read_bytes() if target.client_pem_path else None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=chain
    )
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    return grpc.secure_channel(target.address, credentials, options=options)


# probing ---------------------------------------------------------------------------


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

    def call(self, method: str, request: bytes) -> bytes:
        stub = self.channel.unary_unary(method)
        return stub(request, timeout=self.remaining(), metadata=self.metadata)

    def latency_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)

    def run(self) -> HealthResult:
        """Probe, then describe the certificate if asked, then hold the result to the gates
        and, when asked, to readiness (database, collections)."""
        try:
            result = self.probe_server()
        except ValueError as exc:  # a reply that does not decode
            result = HealthResult(UNHEALTHY, reason=f"malformed reply from the server: {exc}")
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
        result = apply_gates(result, self.probe.gates)
        if self.probe.ready is not None and result.healthy:
            from .readiness import check_ready  # here: only probes that ask for it need it

            result = check_ready(self, result)
        return result

    def probe_server(self) -> HealthResult:
        """Ask each protocol in turn; UNIMPLEMENTED moves on to the next one."""
        grpc = _grpc()
        for protocol in self.order():
            if protocol == PROTOCOL_GRPC_HEALTH:
                method, request = HEALTH_CHECK, encode_string_field(1, self.probe.service)
            else:
                method, request = MILVUS_CHECK_HEALTH, b""
            try:
                reply = decode_fields(self.call(method, request))
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

    def from_health(self, fields: dict[int, list[int | bytes]]) -> HealthResult:
        status = first(fields, 1, 0)
        latency = self.latency_ms()
        if status != _SERVING:
            name = SERVING_STATUS.get(status, str(status))
            return HealthResult(
                UNHEALTHY, PROTOCOL_GRPC_HEALTH, latency, reason=f"health status {name}"
            )
        return self.healthy(PROTOCOL_GRPC_HEALTH, latency)

    def from_milvus(self, fields: dict[int, list[int | bytes]]) -> HealthResult:
        latency = self.latency_ms()
        error_code, code, reason = milvus_status(fields)
        reason = _server_text(reason)
        if error_code in _MILVUS_AUTH_ERROR_CODES or code in _MILVUS_AUTH_CODES:
            return HealthResult(AUTH_FAILED, PROTOCOL_MILVUS, latency, reason=_auth_reason(reason))
        if error_code or code:
            return HealthResult(
                UNHEALTHY, PROTOCOL_MILVUS, latency, reason=reason or f"error {code}"
            )
        if not first(fields, 2, 0):
            said = (r.decode("utf-8", "replace") for r in fields.get(3, []))
            reasons = _server_text("; ".join(said))
            return HealthResult(
                UNHEALTHY, PROTOCOL_MILVUS, latency, reason=reasons or "not healthy"
            )
        return self.healthy(PROTOCOL_MILVUS, latency)

    def healthy(self, protocol: str, latency: float) -> HealthResult:
        if not self.probe.asks_version:
            return HealthResult(HEALTHY, protocol, latency)
        grpc = _grpc()

        try:
            fields = decode_fields(self.call(MILVUS_GET_VERSION, b""))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return HealthResult(HEALTHY, protocol, latency, reason="version unknown")
            failed = self.failure(exc)
            return failed._replace(protocol=protocol, latency_ms=latency)
        error_code, code, reason = milvus_status(fields)
        if error_code in _MILVUS_AUTH_ERROR_CODES or code in _MILVUS_AUTH_CODES:
            reason = _auth_reason(_server_text(reason))
            return HealthResult(AUTH_FAILED, protocol, latency, reason=reason)
        version = _server_text(first(fields, 2, b"").decode("utf-8", "replace")) or None
        return HealthResult(HEALTHY, protocol, latency, server_version=version)

    def failure(self, exc: "grpc.RpcError") -> HealthResult:
        """The one place where gRPC status codes become outcomes, in words; gRPC's own
        text rides along in `detail` for --verbose."""
        grpc = _grpc()

        code, details = exc.code(), _server_text(exc.details() or "")
        return self._outcome(grpc, code, details)._replace(detail=details)

    def _outcome(self, grpc: Any, code: Any, details: str) -> HealthResult:
        target = self.probe.target
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return HealthResult(AUTH_FAILED, reason=_auth_reason(details))
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return HealthResult(
                UNREACHABLE,
                reason=f"no answer from {target.address} within {self.probe.timeout:g} s",
            )
        if code == grpc.StatusCode.NOT_FOUND:
            return HealthResult(
                UNHEALTHY,
                PROTOCOL_GRPC_HEALTH,
                reason=f"health service {self.probe.service!r} is unknown to the server",
            )
        if code == grpc.StatusCode.UNAVAILABLE:
            return _unavailable(target, details)
        said = f": {details}" if details else ""
        return HealthResult(UNHEALTHY, reason=f"the server failed the check ({code.name}){said}")


# What a TLS failure's details say, and what it most likely means.
_TLS_CAUSES = (
    ("wrong_version_number", "the server does not speak TLS on this port (drop --secure?)"),
    (
        "hostname verification",
        "the server's certificate does not match the name asked for (check --server-name)",
    ),
    ("certificate has expired", "the server's certificate has expired"),
    ("certificate_verify_failed", "the server's certificate is not trusted (check --ca-pem-path)"),
    (
        "unwrap failed",
        "the server refused the client certificate (mutual TLS needs "
        "--client-pem-path and --client-key-path)",
    ),
    ("bad_certificate", "the server refused the client certificate"),
    ("certificate_expired", "the client certificate has expired"),
)


# What gRPC's text for an unreachable server says, and the words for it.
_DNS_FAILURE = re.compile(r"errors resolving|DNS resolution failed|hostname lookup error", re.I)
_DNS_CAUSES = (
    ("not found", "no such host name"),
    ("could not contact dns", "no DNS server could be reached"),
    ("temporary failure", "no DNS server could be reached"),
    ("timeout", "the DNS server did not answer in time"),
)
_SOCKET_CAUSES = (
    ("connection refused", "connection refused (is the server running, on this port?)"),
    ("network is unreachable", "the network is unreachable"),
    ("no route to host", "no route to host"),
    ("host is unreachable", "the host is unreachable"),
    ("timed out", "the connection timed out"),
    ("permission denied", "the connection was not permitted"),
    ("no such file", "no such socket file"),
)


def _unavailable(target: Target, details: str) -> HealthResult:
    """UNAVAILABLE: name the cause (DNS, refused, TLS, closed, ...) in words."""
    details = re.sub(_GRPC_PREFIX, "", details)
    low = details.lower()
    if _DNS_FAILURE.search(details):
        host = target.address.rpartition(":")[0] or target.address
        cause = next((text for needle, text in _DNS_CAUSES if needle in low), "lookup failed")
        return HealthResult(UNREACHABLE, reason=f"cannot resolve host '{host}': {cause}")
    if "http1" in low or "http/1" in low:
        return HealthResult(UNHEALTHY, reason=f"{target.address} speaks HTTP/1.x, not gRPC")
    if target.secure and "connection refused" not in low:
        cause = next((text for needle, text in _TLS_CAUSES if needle in low), details)
        return HealthResult(
            UNREACHABLE, reason=f"TLS handshake with {target.address} failed: {cause}"
        )
    if not target.secure and any(word in low for word in ("socket closed", "reset", "eof")):
        return HealthResult(
            UNREACHABLE,
            reason=f"{target.address} closed the connection (if it requires TLS, use --secure)",
        )
    cause = next((text for needle, text in _SOCKET_CAUSES if needle in low), details)
    return HealthResult(UNREACHABLE, reason=f"cannot reach {target.address}: {cause}")


def _auth_reason(details: str) -> str:
    return f"authentication failed: {details}" if details else "authentication failed"


def _server_text(text: str) -> str:
    """A string a server sent, as one line of at most MAX_SERVER_TEXT characters: a
    lying server cannot flood the terminal (control characters are escaped where
    they are shown, render.py)."""
    text = " ".join(text.split())
    if len(text) <= MAX_SERVER_TEXT:
        return text
    return f"{text[:MAX_SERVER_TEXT]}... ({len(text) - MAX_SERVER_TEXT} more characters)"
