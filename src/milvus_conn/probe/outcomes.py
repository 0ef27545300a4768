"""The one place where gRPC status codes become outcomes, in words.

A failed call's status code and gRPC's own text become a `HealthResult`: refused
credentials are auth_failed; no answer within the timeout, a failed DNS lookup, a
refused connection or a failed TLS handshake are unreachable (each named); anything
else the server answered is unhealthy. gRPC's text rides along in `detail` for
`--verbose`. Loaded by the health core on the first failed call only.
"""

import re
from typing import TYPE_CHECKING, Any

from ..untrusted import server_text
from .channel import load_grpc
from .endpoint import Target
from .request import Probe
from .results import (
    AUTH_FAILED,
    PROTOCOL_GRPC_HEALTH,
    UNHEALTHY,
    UNREACHABLE,
    HealthResult,
    auth_reason,
)

if TYPE_CHECKING:
    import grpc

_GRPC_PREFIX = r"^failed to connect to all addresses; last error: \w+: (?:ipv[46]|unix):\S+: "

# A mutual-TLS server that refuses the client's certificate (none, or one whose CA it does
# not trust) alerts after the client has finished its handshake: gRPC then sees the first
# read fail ("Unwrap failed") or the socket closed, never a handshake error.
REFUSED_CLIENT_CERTIFICATE = (
    "the server refused the client certificate: check --client-pem-path / --client-key-path "
    "and that the server trusts its CA"
)
# What a TLS failure's details say, and what it most likely means.
_TLS_CAUSES = (
    ("wrong_version_number", "the server does not speak TLS on this port (drop --secure?)"),
    (
        "hostname verification",
        "the server's certificate does not match the name asked for (check --server-name)",
    ),
    ("certificate has expired", "the server's certificate has expired"),
    ("certificate_verify_failed", "the server's certificate is not trusted (check --ca-pem-path)"),
    ("certificate_expired", "the client certificate has expired"),
    ("unwrap failed", REFUSED_CLIENT_CERTIFICATE),
    ("bad_certificate", REFUSED_CLIENT_CERTIFICATE),
    ("certificate_required", REFUSED_CLIENT_CERTIFICATE),
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


def failure(probe: Probe, exc: "grpc.RpcError") -> HealthResult:
    """The outcome of `probe` whose call failed with `exc`; gRPC's own text rides along
    in `detail` for --verbose."""
    grpc = load_grpc()

    code, details = exc.code(), server_text(exc.details() or "")
    return _outcome(grpc, probe, code, details)._replace(detail=details)


def _outcome(grpc: Any, probe: Probe, code: Any, details: str) -> HealthResult:
    target = probe.target
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return HealthResult(AUTH_FAILED, reason=auth_reason(details))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return HealthResult(
            UNREACHABLE,
            reason=f"no answer from {target.address} within {probe.timeout:g} s",
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return HealthResult(
            UNHEALTHY,
            PROTOCOL_GRPC_HEALTH,
            reason=f"health service {probe.service!r} is unknown to the server",
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return unavailable(target, details)
    said = f": {details}" if details else ""
    return HealthResult(UNHEALTHY, reason=f"the server failed the check ({code.name}){said}")


def unavailable(target: Target, details: str) -> HealthResult:
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
        if cause == details and "socket closed" in low and "handshake" not in low:
            cause = REFUSED_CLIENT_CERTIFICATE  # closed after a completed handshake
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
