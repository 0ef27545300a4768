"""The health core against real servers: every outcome, within its timeout."""

from __future__ import annotations

import time

import pytest
from grpc_health.v1 import health_pb2

from milvus_conn.errors import OUTCOMES, ExitCode
from milvus_conn.probe import health, results, wire
from milvus_conn.probe.endpoint import Credentials, Target
from milvus_conn.probe.request import Probe

from . import servers
from .helpers import NOT_SERVING, before, within


def probe(address: str, **kwargs) -> results.HealthResult:
    return health.check(Probe(Target(address), **kwargs))


def test_exit_codes_match_the_cli_table():
    codes = {status: code for status, (code, _) in OUTCOMES.items()}
    assert codes == {
        results.HEALTHY: ExitCode.OK,
        results.UNREACHABLE: ExitCode.UNREACHABLE,
        results.UNHEALTHY: ExitCode.UNHEALTHY,
        results.AUTH_FAILED: ExitCode.AUTH,
    }
    assert all(results.HealthResult(status).exit_code == code for status, code in codes.items())


def test_grpc_health_serving(serving):
    result = probe(serving.address, want_version=True)
    assert (result.status, result.protocol) == ("healthy", "grpc-health")
    assert result.server_version is None  # GetVersion is UNIMPLEMENTED there
    assert result.reason == "version unknown"
    assert result.latency_ms is not None and result.latency_ms > 0


def test_grpc_health_not_serving(serving):
    serving.set("", NOT_SERVING)
    result = probe(serving.address)
    assert (result.status, result.exit_code) == ("unhealthy", 4)
    assert result.reason == "health status NOT_SERVING"


def test_unknown_service_is_unhealthy(serving):
    result = probe(serving.address, service="no.such.Service")
    assert (result.status, result.exit_code, result.protocol) == ("unhealthy", 4, "grpc-health")
    assert result.reason == "health service 'no.such.Service' is unknown to the server"


def test_named_service(serving):
    serving.set("milvus.Search", health_pb2.HealthCheckResponse.SERVING)
    assert probe(serving.address, service="milvus.Search").healthy


def test_milvus_lite_falls_back_to_check_health(milvus_lite):
    result = probe(milvus_lite.address, want_version=True)
    assert (result.status, result.protocol) == ("healthy", "milvus")
    assert result.server_version is not None
    assert result.server_version.startswith("milvus_lite-")


def test_milvus_only_protocol_refuses_grpc_health_mode(milvus_lite):
    result = probe(milvus_lite.address, protocol="grpc-health")
    assert (result.status, result.reason) == (
        "unhealthy",
        "server does not implement grpc.health.v1",
    )


def test_milvus_check_health_unhealthy_with_reasons(milvus_protocol):
    milvus_protocol.healthy = False
    milvus_protocol.reasons = ["querynode down", "quota exceeded"]
    result = probe(milvus_protocol.address)
    assert (result.status, result.protocol) == ("unhealthy", "milvus")
    assert result.reason == "querynode down; quota exceeded"


def test_health_only_server_in_milvus_mode(serving):
    result = probe(serving.address, protocol="milvus")
    assert result.status == "unhealthy"
    assert "neither grpc.health.v1 nor Milvus CheckHealth" in result.reason


def test_credentials_and_db_sent_as_pymilvus_sends_them(milvus_protocol):
    creds = Credentials(user="alice", password="pw", db_name="sales")
    assert probe(milvus_protocol.address, credentials=creds).healthy
    seen = milvus_protocol.seen_metadata[-1]
    assert seen["authorization"] == "YWxpY2U6cHc="  # base64("alice:pw")
    assert seen["dbname"] == "sales"


def test_token_wins_over_user_password():
    creds = Credentials(user="alice", password="pw", token="root:Milvus")
    assert dict(creds.metadata())["authorization"] == "cm9vdDpNaWx2dXM="


def test_auth_refused(auth_server):
    result = probe(auth_server.address, credentials=Credentials(user="alice", password="wrong"))
    assert (result.status, result.exit_code) == ("auth_failed", 5)
    assert result.reason == "authentication failed: auth check failure"  # the server's words
    good = Credentials(user="alice", password="s3cr3t-Pa55")
    assert probe(auth_server.address, credentials=good).healthy


def test_refused_is_unreachable_at_once():
    started = time.monotonic()
    result = probe(servers.refused_address(), timeout=5)
    assert (result.status, result.exit_code) == ("unreachable", 3)
    assert "connection refused" in result.reason
    assert time.monotonic() - started < before(5)  # at once, not after the timeout


@pytest.mark.parametrize("timeout", [0.3, 1.0])
def test_silent_server_times_out_within_bound(silent_server, timeout):
    started = time.monotonic()
    result = probe(silent_server.address, timeout=timeout)
    elapsed = time.monotonic() - started
    assert (result.status, result.exit_code) == ("unreachable", 3)
    assert result.reason == f"no answer from {silent_server.address} within {timeout:g} s"
    assert timeout * 0.9 <= elapsed <= within(timeout)


def test_http1_server_speaks_no_grpc(http1_server):
    result = probe(http1_server.address, timeout=2)
    assert (result.status, result.exit_code) == ("unhealthy", 4)
    assert "HTTP/1.x" in result.reason


def test_closing_server_is_unreachable(closing_server):
    started = time.monotonic()
    result = probe(closing_server.address, timeout=2)
    assert (result.status, result.exit_code) == ("unreachable", 3)
    assert time.monotonic() - started <= within(2)


def test_tls_to_plaintext_port_names_tls(serving):
    result = health.check(Probe(Target(serving.address, secure=True), timeout=2))
    assert (result.status, result.exit_code) == ("unreachable", 3)
    assert "TLS" in result.reason


def test_wait_retries_until_healthy(serving):
    serving.set("", NOT_SERVING)
    timer = __import__("threading").Timer(0.5, serving.set, ("", 1))
    timer.start()
    started = time.monotonic()
    result = health.wait_until_healthy(Probe(Target(serving.address), timeout=1), wait=5)
    assert result.healthy
    assert 0.4 <= time.monotonic() - started < within(0.5 + 1)  # the change, then one probe


def test_wait_never_runs_past_its_bound(silent_server):
    started = time.monotonic()
    result = health.wait_until_healthy(Probe(Target(silent_server.address), timeout=5), wait=1.0)
    assert result.status == "unreachable"
    assert time.monotonic() - started <= within(1.0)  # the wait, not the 5 s timeout


def test_wait_does_not_retry_refused_credentials(auth_server):
    started = time.monotonic()
    bad = Probe(Target(auth_server.address), Credentials(user="alice", password="nope"))
    result = health.wait_until_healthy(bad, wait=5)
    assert result.status == "auth_failed"
    assert time.monotonic() - started < before(5)  # one attempt, not retried for the wait


def test_check_many_runs_concurrently(serving, silent_server):
    probes = [Probe(Target(silent_server.address), timeout=1.0) for _ in range(20)]
    probes += [Probe(Target(serving.address), timeout=1.0) for _ in range(20)]
    started = time.monotonic()
    results = health.check_many(probes)
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == ["unreachable"] * 20 + ["healthy"] * 20
    assert elapsed < within(1.0)  # one timeout, not twenty


def test_wire_round_trip():
    encoded = wire.encode_string_field(2, "v2.5") + b"\x18\x01" + b"\x19" + b"\x00" * 8
    decoded = wire.decode(encoded, wire.GET_VERSION_RESPONSE)  # fields 3 and 7: unknown
    assert decoded == {"status": wire.decode(b"", wire.STATUS), "version": "v2.5"}
    assert wire.encode_string_field(1, "") == b""


def test_a_known_milvus_only_server_is_asked_checkhealth_first(milvus_protocol, serving):
    first_milvus = Probe(Target(milvus_protocol.address), first=results.PROTOCOL_MILVUS)
    assert health.check(first_milvus).protocol == "milvus"
    # A wrong hint costs a round trip, never the answer.
    wrong_hint = Probe(Target(serving.address), first=results.PROTOCOL_MILVUS)
    assert (health.check(wrong_hint).status, health.check(wrong_hint).protocol) == (
        "healthy",
        "grpc-health",
    )
