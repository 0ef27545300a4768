"""TLS: every cause of a failed handshake said in words (plaintext vs TLS, unknown CA,
name mismatch, missing client certificate), the server certificate in `list --check`
and `-v`, `--min-cert-days`, expired certificates, and one-way and mutual TLS against
the real Milvus 2.3.5 (the small TLS grpc.health.v1 servers: servers.TLSHealthServer)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from . import servers
from .certs import SERVER_NAME, make_certs
from .helpers import PASSWORD, TOKEN, assert_no_secret, within

# TLS insight ---------------------------------------------------------------------------


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


@pytest.fixture(scope="session")
def stranger_certs(tmp_path_factory) -> Path:
    """A client certificate and key signed by a CA the test servers do not trust."""
    out = tmp_path_factory.mktemp("stranger")
    make_certs(out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("client", ["missing", "untrusted"])
def test_a_refused_client_certificate_is_named_with_exit_3(
    cli, milvus_mtls, certs, stranger_certs, client
):
    pair = []
    if client == "untrusted":
        pair = ["--client-pem-path", str(stranger_certs / "client.pem"),
                "--client-key-path", str(stranger_certs / "client.key")]  # fmt: skip
    for command in (["connect", "x"], ["list", "--check"]):
        if command[0] == "list":
            cli("add", "x", "--address", milvus_mtls.address, "--secure",
                "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", *pair)  # fmt: skip
            result = cli("list", "--check", "--json", code=3)
            [row] = [row["health"] for row in json.loads(result.stdout) if row["alias"] == "x"]
            assert row["reason"] == (
                f"TLS handshake with {milvus_mtls.address} failed: {REFUSED}"
            )  # fmt: skip
            continue
        result = cli(*command, "--address", milvus_mtls.address, "--secure",
                     "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", *pair,
                     code=3)  # fmt: skip
        assert result.stderr == (
            f"Error: cannot connect 'x' ({milvus_mtls.address}): TLS handshake with "
            f"{milvus_mtls.address} failed: {REFUSED}\n"
        )


REFUSED = (
    "the server refused the client certificate: check --client-pem-path / --client-key-path "
    "and that the server trusts its CA"
)


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


def test_has_reads_no_certificate_it_was_not_asked_for(cli, tls_health, certs):
    """Reading the server certificate costs a TLS connection of its own: only `connect -v`,
    `list --check` and `--min-cert-days` ask for it."""
    with servers.running(servers.CountingProxy(tls_health.address)) as proxy:
        cli("connect", "t", "--address", proxy.address, "--secure",
            "--ca-pem-path", str(certs / "ca.pem"))  # fmt: skip
        assert proxy.wait_until_open(0), proxy.open
        connected = proxy.opened
        cli("has", "t")
        assert proxy.wait_until_open(0), proxy.open
        assert proxy.opened - connected == 1


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
