"""The real Milvus 2.3.5 server (the Go binary from the `milvus` wheel): plain,
with authentication, with one-way TLS and with mutual TLS."""

from __future__ import annotations

import time

import pytest

from milvus_conn import AuthenticationException, Connections

from .certs import SERVER_NAME
from .helpers import within

pytestmark = pytest.mark.slow
ROOT_PASSWORD = "Milvus"


# plain ---------------------------------------------------------------------------------


def test_connect_reports_version_2_3_5_over_grpc_health(cli, milvus):
    cli("add", "real", "--address", milvus.address)
    result = cli("connect", "real", "--json")
    assert '"protocol": "grpc-health"' in result.stdout
    assert '"server_version": "v2.3.5' in result.stdout
    cli("has", "real")


def test_library_connects_and_reads_the_version(registry, milvus):
    handle = registry.connect("real", address=milvus.address)
    assert handle.server_version is not None
    assert handle.server_version.startswith("v2.3.5")
    assert registry.has_connection("real")


# authentication ----------------------------------------------------------------------


def test_right_password_connects(cli, milvus_auth, monkeypatch):
    monkeypatch.setenv("MILVUS_PW", ROOT_PASSWORD)
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "MILVUS_PW")  # fmt: skip
    cli("connect", "secured")
    cli("has", "secured")


def test_wrong_password_is_exit_5_and_says_authentication(cli, milvus_auth):
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root")
    result = cli("connect", "secured", "--password-stdin", input="not-the-password\n", code=5)
    assert result.stderr.startswith("Error: cannot connect 'secured'")
    assert "authentication failed" in result.stderr
    assert "not-the-password" not in result.output


def test_missing_credentials_is_exit_5(cli, milvus_auth):
    cli("add", "anon", "--address", milvus_auth.address)
    result = cli("connect", "anon", code=5)
    assert "authentication failed" in result.stderr


def test_token_root_milvus_connects(cli, milvus_auth, monkeypatch):
    monkeypatch.setenv("MILVUS_TOKEN", f"root:{ROOT_PASSWORD}")
    cli("add", "tok", "--address", milvus_auth.address, "--token-env", "MILVUS_TOKEN")
    cli("connect", "tok")
    cli("has", "tok")


def test_wait_never_retries_refused_credentials(cli, milvus_auth):
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root")
    started = time.monotonic()
    cli("connect", "secured", "--wait", "30", "--password-stdin", input="bad\n", code=5)
    assert time.monotonic() - started < 5  # one attempt, not thirty seconds of them


def test_library_raises_authentication_exception(registry, milvus_auth):
    with pytest.raises(AuthenticationException, match="authentication failed") as caught:
        registry.connect("secured", address=milvus_auth.address, user="root", password="nope")
    assert caught.value.exit_code == 5
    assert "nope" not in str(caught.value) and "nope" not in repr(caught.value)
    assert not registry.has_connection("secured")


def test_library_connects_with_credentials(registry, milvus_auth):
    handle = registry.connect(
        "secured", address=milvus_auth.address, user="root", password=ROOT_PASSWORD
    )
    assert handle.check().healthy


def test_has_probes_with_the_stored_credentials(cli, milvus_auth, monkeypatch, profile):
    monkeypatch.setenv("MILVUS_PW", ROOT_PASSWORD)
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "MILVUS_PW")  # fmt: skip
    cli("connect", "secured")
    monkeypatch.setenv("MILVUS_PW", "rotated-away")
    result = cli("has", "secured", code=5)
    assert "authentication failed" in result.stderr


# TLS -----------------------------------------------------------------------------------


def test_one_way_tls_with_ca(cli, milvus_tls, certs):
    cli("add", "tls", "--address", milvus_tls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"))  # fmt: skip
    result = cli("connect", "tls")
    assert "v2.3.5" in result.stdout


def test_server_name_override_is_used(cli, milvus_tls, certs):
    ca = str(certs / "ca.pem")
    cli("connect", "named", "--address", milvus_tls.address, "--secure", "--ca-pem-path", ca,
        "--server-name", SERVER_NAME)  # fmt: skip
    result = cli("connect", "wrong", "--address", milvus_tls.address, "--secure", "--ca-pem-path",
                 ca, "--server-name", "other.test", "--timeout", "3", code=3)  # fmt: skip
    assert "TLS handshake" in result.stderr


def test_unknown_ca_is_exit_3_naming_tls(cli, milvus_tls):
    result = cli("connect", "noca", "--address", milvus_tls.address, "--secure",
                 "--timeout", "3", code=3)  # fmt: skip
    assert "TLS" in result.stderr


def test_mutual_tls(cli, milvus_mtls, certs):
    cli("add", "mtls", "--address", milvus_mtls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"),
        "--client-pem-path", str(certs / "client.pem"),
        "--client-key-path", str(certs / "client.key"))  # fmt: skip
    cli("connect", "mtls")
    cli("has", "mtls")


def test_mutual_tls_without_client_certificate_is_exit_3(cli, milvus_mtls, certs):
    result = cli("connect", "half", "--address", milvus_mtls.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "TLS" in result.stderr


def test_tls_to_plaintext_port_is_exit_3_naming_tls(cli, milvus, certs):
    started = time.monotonic()
    result = cli("connect", "x", "--address", milvus.address, "--secure",
                 "--ca-pem-path", str(certs / "ca.pem"), "--timeout", "3", code=3)  # fmt: skip
    assert "does not speak TLS" in result.stderr
    assert time.monotonic() - started < within(3)


def test_plaintext_to_tls_port_is_exit_3_naming_tls(cli, milvus_tls):
    started = time.monotonic()
    result = cli("connect", "x", "--address", milvus_tls.address, "--timeout", "3", code=3)
    assert "TLS" in result.stderr
    assert time.monotonic() - started < within(3)


def test_client_kwargs_hand_tls_to_pymilvus(milvus_mtls, certs, profile):
    registry = Connections(profile=profile)
    registry.add_connection(
        mtls={
            "address": milvus_mtls.address,
            "secure": True,
            "ca_pem_path": str(certs / "ca.pem"),
            "client_pem_path": str(certs / "client.pem"),
            "client_key_path": str(certs / "client.key"),
        }
    )
    kwargs = registry.client_kwargs("mtls")
    assert kwargs["uri"] == f"https://{milvus_mtls.address}"
    assert kwargs["client_pem_path"] == str(certs / "client.pem")
