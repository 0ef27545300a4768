"""TLS: every cause of a failed handshake said in words (plaintext vs TLS, unknown CA,
name mismatch, missing client certificate), the server certificate in `list --check`
and `-v`, `--min-cert-days`, expired certificates, and one-way and mutual TLS against
the real Milvus 2.3.5. The small TLS grpc.health.v1 servers are made here."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2_grpc

from . import servers
from .certs import SERVER_NAME, signed_by_test_ca
from .helpers import PASSWORD, TOKEN, assert_no_secret, within

# TLS insight ---------------------------------------------------------------------------


def _server_certificate(certs: Path, *, expired: bool) -> tuple[bytes, bytes]:
    """A server certificate (SAN localhost, 127.0.0.1) signed by the test CA of `certs`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
    if not expired:
        start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=90)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(servers.LOOPBACK))]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    return signed_by_test_ca(certs, subject, san, start=start, end=end)


class TLSHealthServer:
    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), self.server)
        credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
        self.port = self.server.add_secure_port(f"{servers.LOOPBACK}:0", credentials)
        self.address = f"{servers.LOOPBACK}:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()


@pytest.fixture
def tls_health(certs) -> Iterator[TLSHealthServer]:
    """grpc.health.v1 over TLS, certificate valid for 90 more days."""
    server = TLSHealthServer(*_server_certificate(certs, expired=False))
    yield server
    server.stop()


@pytest.fixture
def expired_tls(certs) -> Iterator[TLSHealthServer]:
    """grpc.health.v1 over TLS with a certificate that expired yesterday (trusted CA)."""
    server = TLSHealthServer(*_server_certificate(certs, expired=True))
    yield server
    server.stop()


def test_min_cert_days_without_tls_fails_naming_the_gate(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    result = cli("has", "svc", "--min-cert-days", "0", code=4)
    assert "min-cert-days gate: requires 0 days, no certificate" in result.stderr


@pytest.mark.slow
def test_tls_to_a_plaintext_port_says_the_server_does_not_speak_tls(cli, milvus, certs):
    result = cli("connect", "x", "--address", milvus.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "the server does not speak TLS on this port (drop --secure?)" in result.stderr


@pytest.mark.slow
def test_plaintext_to_a_tls_port_suggests_secure(cli, milvus_tls):
    result = cli("connect", "x", "--address", milvus_tls.address, "--timeout", "3", code=3)
    assert "(if it requires TLS, use --secure)" in result.stderr


@pytest.mark.slow
def test_unknown_ca_says_the_certificate_is_not_trusted(cli, milvus_tls):
    result = cli("connect", "x", "--address", milvus_tls.address, "--secure",
                 "--timeout", "3", code=3)  # fmt: skip
    assert "the server's certificate is not trusted (check --ca-pem-path)" in result.stderr


@pytest.mark.slow
def test_name_mismatch_says_the_certificate_does_not_match(cli, milvus_tls, certs):
    result = cli("connect", "x", "--address", milvus_tls.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--server-name", "other.test",
                 "--timeout", "3", code=3)  # fmt: skip
    assert "does not match the name asked for (check --server-name)" in result.stderr


@pytest.mark.slow
def test_missing_client_certificate_for_mutual_tls_says_so(cli, milvus_mtls, certs):
    result = cli("connect", "x", "--address", milvus_mtls.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "the server refused the client certificate" in result.stderr
    assert "--client-pem-path" in result.stderr


@pytest.fixture
def tls_alias(cli, milvus_tls, certs):
    cli("add", "tls", "--address", milvus_tls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"))  # fmt: skip
    return milvus_tls


@pytest.mark.slow
def test_list_check_json_describes_the_server_certificate(cli, tls_alias, serving):
    cli("add", "default", "--address", serving.address)  # else the built-in localhost:19530
    rows = {
        row["alias"]: row["health"] for row in json.loads(cli("list", "--check", "--json").stdout)
    }
    assert rows["tls"]["status"] == "healthy"
    assert "CN=localhost" in rows["tls"]["tls_subject"]
    assert "CN=test-ca" in rows["tls"]["tls_issuer"]
    assert rows["tls"]["tls_expires_in_days"] == 0  # valid one day: no whole day left
    assert [rows["default"][k] for k in ("tls_subject", "tls_issuer", "tls_expires_in_days")] == [
        None
    ] * 3


@pytest.mark.slow
def test_list_check_table_has_the_days_left_in_the_cert_column(cli, tls_alias, serving):
    cli("add", "default", "--address", serving.address)
    rows = {line.split()[0]: line for line in cli("list", "--check").stdout.splitlines()}
    assert rows["ALIAS"].split()[-1] == "CERT"
    assert rows["tls"].endswith("0 days left")
    assert rows["default"].endswith(" -")


@pytest.mark.slow
def test_connect_verbose_prints_the_certificate_on_stderr(cli, tls_alias):
    result = cli("-v", "connect", "tls")
    assert re.search(
        r"tls: certificate subject CN=localhost, issuer CN=test-ca, expires .+ \(in 0 days\)",
        result.stderr,
    )
    assert "certificate" not in result.stdout


@pytest.mark.slow
def test_connect_without_verbose_prints_no_certificate(cli, tls_alias):
    assert "certificate" not in cli("connect", "tls").output


@pytest.mark.slow
@pytest.mark.parametrize("command", ["connect", "has"])
def test_min_cert_days_30_fails_naming_the_gate(cli, tls_alias, command):
    if command == "has":
        cli("connect", "tls")
    result = cli(command, "tls", "--min-cert-days", "30", code=4)
    assert "min-cert-days gate: requires 30 days, it expires in 0 days" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["connect", "has"])
def test_min_cert_days_0_passes(cli, tls_alias, command):
    if command == "has":
        cli("connect", "tls")
    cli(command, "tls", "--min-cert-days", "0")


def test_expired_certificate_is_exit_3_naming_the_expiry(cli, expired_tls, certs):
    result = cli("connect", "old", "--address", expired_tls.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "the server's certificate has expired" in result.stderr


def test_expired_certificate_shows_negative_days_in_list_check(cli, expired_tls, certs):
    cli("add", "old", "--address", expired_tls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3")  # fmt: skip
    rows = json.loads(cli("list", "--check", "--json", code=3).stdout)
    [old] = [row["health"] for row in rows if row["alias"] == "old"]
    assert old["tls_expires_in_days"] < 0


def test_min_cert_days_against_a_90_day_certificate(cli, tls_health, certs):
    cli("connect", "tls", "--address", tls_health.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"))  # fmt: skip
    cli("has", "tls", "--min-cert-days", "89")
    result = cli("has", "tls", "--min-cert-days", "90", code=4)
    assert "it expires in 89 days" in result.stderr


def test_verbose_tls_diagnostics_never_print_a_secret(cli, tls_health, certs, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    ca = str(certs / "ca.pem")
    result = cli("-v", "connect", "pw", "--address", tls_health.address, "--secure",
                 "--ca-pem-path", ca, "--user", "ci", "--password-env", "SVC_PW")  # fmt: skip
    assert "certificate subject CN=localhost" in result.stderr
    assert_no_secret(result.stdout, result.stderr)
    result = cli("-v", "connect", "tok", "--address", tls_health.address, "--secure",
                 "--ca-pem-path", ca, "--token-env", "SVC_TOKEN", "--json")  # fmt: skip
    assert_no_secret(result.stdout, result.stderr)


# the real Milvus 2.3.5: one-way and mutual TLS -----------------------------------------


@pytest.mark.slow
def test_one_way_tls_with_ca(cli, milvus_tls, certs):
    cli("add", "tls", "--address", milvus_tls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"))  # fmt: skip
    result = cli("connect", "tls")
    assert "v2.3.5" in result.stdout


@pytest.mark.slow
def test_server_name_override_is_used(cli, milvus_tls, certs):
    ca = str(certs / "ca.pem")
    cli("connect", "named", "--address", milvus_tls.address, "--secure", "--ca-pem-path", ca,
        "--server-name", SERVER_NAME)  # fmt: skip
    result = cli("connect", "wrong", "--address", milvus_tls.address, "--secure", "--ca-pem-path",
                 ca, "--server-name", "other.test", "--timeout", "3", code=3)  # fmt: skip
    assert "TLS handshake" in result.stderr


@pytest.mark.slow
def test_unknown_ca_is_exit_3_naming_tls(cli, milvus_tls):
    result = cli("connect", "noca", "--address", milvus_tls.address, "--secure",
                 "--timeout", "3", code=3)  # fmt: skip
    assert "TLS" in result.stderr


@pytest.mark.slow
def test_mutual_tls(cli, milvus_mtls, certs):
    cli("add", "mtls", "--address", milvus_mtls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"),
        "--client-pem-path", str(certs / "client.pem"),
        "--client-key-path", str(certs / "client.key"))  # fmt: skip
    cli("connect", "mtls")
    cli("has", "mtls")


@pytest.mark.slow
def test_mutual_tls_without_client_certificate_is_exit_3(cli, milvus_mtls, certs):
    result = cli("connect", "half", "--address", milvus_mtls.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "TLS" in result.stderr


@pytest.mark.slow
def test_tls_to_plaintext_port_is_exit_3_naming_tls(cli, milvus, certs):
    started = time.monotonic()
    result = cli("connect", "x", "--address", milvus.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "does not speak TLS" in result.stderr
    assert time.monotonic() - started < within(3)


@pytest.mark.slow
def test_plaintext_to_tls_port_is_exit_3_naming_tls(cli, milvus_tls):
    started = time.monotonic()
    result = cli("connect", "x", "--address", milvus_tls.address, "--timeout", "3", code=3)
    assert "TLS" in result.stderr
    assert time.monotonic() - started < within(3)
