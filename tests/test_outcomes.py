"""What gRPC's text for an unavailable target means, in words: the cases a real server
gives only by chance (a socket closed after the handshake) or not at all here (a name
lookup that fails for a reason conn has no words for, an error gRPC words its own way)."""

from __future__ import annotations

import pytest

from milvus_conn.probe.endpoint import Target
from milvus_conn.probe.outcomes import REFUSED_CLIENT_CERTIFICATE, unavailable

SECURE = Target("127.0.0.1:1", secure=True)


@pytest.mark.parametrize(
    "details",
    [
        "Socket closed",
        "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
        "Socket closed",
        "Unwrap failed (TSI_DATA_CORRUPTED)",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    ],
)
def test_a_tls_connection_closed_after_the_handshake_is_a_refused_client_certificate(details):
    result = unavailable(SECURE, details)
    assert (result.exit_code, result.reason) == (
        3,
        f"TLS handshake with 127.0.0.1:1 failed: {REFUSED_CLIENT_CERTIFICATE}",
    )


def test_a_socket_closed_during_the_handshake_is_said_as_it_is():
    result = unavailable(SECURE, "Handshake read failed (Socket closed)")
    assert (
        result.reason
        == "TLS handshake with 127.0.0.1:1 failed: Handshake read failed (Socket closed)"
    )


def test_a_plaintext_socket_closed_suggests_tls():
    result = unavailable(Target("127.0.0.1:1"), "Socket closed")
    assert result.reason == "127.0.0.1:1 closed the connection (if it requires TLS, use --secure)"


@pytest.mark.parametrize(
    ("address", "details", "reason"),
    [
        pytest.param(
            "x.example:19530",
            "DNS resolution failed for x.example:19530: C-ares status is not ARES_SUCCESS "
            "qtype=A name=x.example is_balancer=0: Misformatted domain name",
            "cannot resolve host 'x.example': lookup failed",
            id="a lookup failure of another kind still names the host",
        ),
        pytest.param(
            "127.0.0.1:1",
            "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
            "Address family not supported by protocol",
            "cannot reach 127.0.0.1:1: Address family not supported by protocol",
            id="a cause conn has no words for is said as gRPC says it, without its prefix",
        ),
    ],
)
def test_an_unreachable_server_is_exit_3_said_in_words(address, details, reason):
    result = unavailable(Target(address), details)
    assert (result.exit_code, result.reason) == (3, reason)
