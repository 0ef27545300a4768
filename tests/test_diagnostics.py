"""Issue 7, end to end: `addr --explain`, the gates, several aliases per `has`, TLS
insight (causes, certificate fields, `-v`), `conn watch` and its Prometheus textfile,
and no secret in any of these outputs.

Servers are real and on 127.0.0.1: Milvus 2.3.5 (plain, one-way and mutual TLS), Milvus
Lite, a grpc.health.v1 server, a Milvus-protocol server, a silent socket, and two small
TLS grpc.health.v1 servers made here (one with a valid, one with an expired certificate).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health, health_pb2_grpc

from . import servers
from .helpers import (
    NOT_SERVING,
    OUTCOME_KEYS,
    OVERRIDE,
    PASSWORD,
    PLAIN,
    SERVING,
    TOKEN,
    assert_no_secret,
    snapshot,
    state_file,
    timed,
    within,
)

# helpers -------------------------------------------------------------------------------


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def toggling(steps: Sequence[tuple[float, Callable[[], None]]]) -> Iterator[None]:
    """Run each (delay, action) in turn on a background thread, while the body runs."""

    def run() -> None:
        for delay, action in steps:
            time.sleep(delay)
            action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


# a TLS grpc.health.v1 server with a certificate of our choosing --------------------------


def _server_certificate(certs: Path, *, expired: bool) -> tuple[bytes, bytes]:
    """A server certificate (SAN localhost, 127.0.0.1) signed by the test CA of `certs`."""
    ca_key = serialization.load_pem_private_key((certs / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
    if not expired:
        start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=90)
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(servers.LOOPBACK))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


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


# 1. conn addr --explain ------------------------------------------------------------------


def explain(cli, alias: str) -> dict:
    return json.loads(cli("addr", alias, "--explain", "--json").stdout)


def test_explain_json_gives_value_and_source_for_every_setting(cli, profile):
    cli("add", "svc", "--address", "127.0.0.1:19530", "--timeout", "5")
    report = explain(cli, "svc")
    assert {"address", "secure", "user", "db_name", "timeout", "password", "token"} <= set(report)
    assert all(set(item) == {"value", "source"} for item in report.values())
    stored = f"profile:{profile}"  # the file the alias is stored in
    assert report["address"] == {"value": "127.0.0.1:19530", "source": stored}
    assert report["timeout"] == {"value": 5.0, "source": stored}


def test_explain_reads_address_secure_user_and_db_from_an_https_uri(cli):
    cli("add", "prod", "--uri", "https://ci@milvus.test:19531/analytics")
    report = explain(cli, "prod")
    assert report["address"] == {"value": "milvus.test:19531", "source": "uri"}
    assert report["secure"] == {"value": True, "source": "uri"}
    assert report["user"] == {"value": "ci", "source": "uri"}
    assert report["db_name"] == {"value": "analytics", "source": "uri"}


def test_explain_settings_nobody_set_come_from_default(cli):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    report = explain(cli, "svc")
    assert report["timeout"] == {"value": 10.0, "source": "default"}
    assert report["secure"] == {"value": False, "source": "default"}
    assert report["db_name"] == {"value": "default", "source": "default"}
    assert report["probe"] == {"value": "auto", "source": "default"}


def test_explain_milvus_uri_outranks_the_stored_alias(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_URI", "http://127.0.0.1:29999")
    report = explain(cli, "svc")
    assert report["address"] == {"value": "127.0.0.1:29999", "source": "env:MILVUS_URI"}


def test_explain_timeout_from_milvus_conn_timeout(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_CONN_TIMEOUT", "7")
    assert explain(cli, "svc")["timeout"] == {"value": 7.0, "source": "env:MILVUS_CONN_TIMEOUT"}


def test_explain_password_inside_milvus_uri_comes_from_env(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_URI", f"http://ci:{PLAIN}@127.0.0.1:29999")
    result = cli("addr", "svc", "--explain", "--json")
    assert_no_secret(result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["user"] == {"value": "ci", "source": "env:MILVUS_URI"}
    assert report["password"] == {"value": "set", "source": "env:MILVUS_URI"}


def test_explain_table_shows_setting_value_and_source(cli, profile):
    cli("add", "prod", "--uri", "https://ci@milvus.test:19531/analytics", "--timeout", "5")
    rows = [line.split() for line in cli("addr", "prod", "--explain").stdout.splitlines()]
    assert rows[0] == ["SETTING", "VALUE", "SOURCE"]
    assert ["address", "milvus.test:19531", "uri"] in rows
    assert ["secure", "true", "uri"] in rows
    assert ["timeout", "5.0", f"profile:{profile}"] in rows
    assert ["probe", "auto", "default"] in rows


def test_explain_password_env_is_set_from_its_variable(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    cli("add", "svc", "--address", "127.0.0.1:19530", "--user", "ci", "--password-env", "SVC_PW")
    assert explain(cli, "svc")["password"] == {"value": "set", "source": "env:SVC_PW"}


def test_explain_token_env_is_set_from_its_variable(cli, monkeypatch):
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("add", "svc", "--address", "127.0.0.1:19530", "--token-env", "SVC_TOKEN")
    assert explain(cli, "svc")["token"] == {"value": "set", "source": "env:SVC_TOKEN"}


def test_explain_conn_alias_password_overrides_password_env(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("CONN_MY_SVC_PASSWORD", OVERRIDE)
    cli("add", "my-svc", "--address", "127.0.0.1:19530", "--user", "ci",
        "--password-env", "SVC_PW")  # fmt: skip
    report = explain(cli, "my-svc")
    assert report["password"] == {"value": "set", "source": "env:CONN_MY_SVC_PASSWORD"}


def test_explain_plain_password_comes_from_the_profile(cli, profile):
    cli("add", "svc", "--uri", f"http://ci:{PLAIN}@127.0.0.1:19530")
    assert explain(cli, "svc")["password"] == {"value": "set", "source": f"profile:{profile}"}


def test_explain_password_env_not_set_says_so(cli):
    cli("add", "svc", "--address", "127.0.0.1:19530", "--user", "ci", "--password-env", "NO_PW")
    report = explain(cli, "svc")
    assert report["password"] == {"value": "unset", "source": "env:NO_PW (not set)"}


def test_explain_never_prints_a_secret(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    monkeypatch.setenv("CONN_OVR_PASSWORD", OVERRIDE)
    cli("add", "pw", "--address", "127.0.0.1:1", "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "tok", "--address", "127.0.0.1:1", "--token-env", "SVC_TOKEN")
    cli("add", "ovr", "--address", "127.0.0.1:1", "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "plain", "--uri", f"http://ci:{PLAIN}@127.0.0.1:1")
    for alias in ("pw", "tok", "ovr", "plain"):
        for extra in ((), ("--json",)):
            result = cli("-v", "addr", alias, "--explain", *extra)
            assert_no_secret(result.stdout, result.stderr)


# 2. gates -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("required", "code"), [("2.3", 0), ("v2.3", 0), ("2.3.5", 0), ("2.3.6", 4), ("3", 4)]
)
def test_connect_min_version_against_milvus_2_3_5(cli, milvus, required, code):
    cli("connect", "real", "--address", milvus.address, "--min-version", required, code=code)


@pytest.mark.slow
def test_has_min_version_2_3_passes_against_milvus_2_3_5(cli, milvus):
    cli("connect", "real", "--address", milvus.address)
    cli("has", "real", "--min-version", "2.3")


@pytest.mark.slow
def test_has_min_version_2_4_fails_naming_gate_required_and_observed(cli, milvus):
    cli("connect", "real", "--address", milvus.address)
    result = cli("has", "real", "--min-version", "2.4", code=4)
    assert re.search(r"min-version gate: requires 2\.4, server reports v2\.3\.5", result.stderr)


@pytest.mark.slow
def test_connect_min_version_2_4_fails_and_leaves_the_alias_not_connected(cli, milvus, registry):
    result = cli("connect", "real", "--address", milvus.address, "--min-version", "2.4", code=4)
    assert re.search(r"min-version gate: requires 2\.4, server reports v2\.3\.5", result.stderr)
    assert not registry.has_connection("real")


def test_min_version_that_is_not_a_version_is_a_usage_error(cli, milvus_lite):
    result = cli("connect", "x", "--address", milvus_lite.address, "--min-version", "banana",
                 code=2)  # fmt: skip
    assert "--min-version" in result.stderr


def test_min_version_fails_when_the_server_reports_no_version(cli, serving):
    result = cli("connect", "svc", "--address", serving.address, "--min-version", "1.0", code=4)
    assert "min-version gate: requires 1.0, server reports unknown" in result.stderr


def test_has_min_version_json_names_the_gate_in_reason(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    data = json.loads(cli("has", "svc", "--min-version", "1.0", "--json", code=4).stdout)
    assert (data["exit_code"], data["status"]) == (4, "unhealthy")
    assert data["reason"] == "min-version gate: requires 1.0, server reports unknown"


def test_max_latency_of_a_microsecond_fails_naming_the_observed_latency(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    result = cli("has", "svc", "--max-latency", "0.001", code=4)
    assert re.search(
        r"max-latency gate: requires at most 0\.001 ms, observed \d+\.\d ms", result.stderr
    )


def test_connect_max_latency_of_a_microsecond_fails(cli, serving):
    result = cli("connect", "svc", "--address", serving.address, "--max-latency", "0.001", code=4)
    assert "max-latency gate" in result.stderr


def test_max_latency_of_ten_seconds_passes(cli, serving):
    cli("connect", "svc", "--address", serving.address, "--max-latency", "10000")
    cli("has", "svc", "--max-latency", "10000")


def test_min_cert_days_without_tls_fails_naming_the_gate(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    result = cli("has", "svc", "--min-cert-days", "0", code=4)
    assert "min-cert-days gate: requires 0 days, no certificate" in result.stderr


# 3. several aliases ------------------------------------------------------------------------


@pytest.fixture
def abc(cli, milvus_lite, serving):
    """a: healthy (Milvus Lite); b: connected, now NOT_SERVING; c: stored, not connected."""
    cli("connect", "a", "--address", milvus_lite.address)
    cli("connect", "b", "--address", serving.address)
    cli("add", "c", "--address", milvus_lite.address)
    serving.set("", NOT_SERVING)


@pytest.mark.parametrize("mode", [(), ("--all",)])
def test_has_several_aliases_exits_with_the_highest_code(cli, abc, mode):
    result = cli("has", "a", "b", "c", *mode, code=4)
    assert result.stdout.startswith("a (")
    assert "NOT_SERVING" in result.stderr
    assert "alias 'c' is not connected" in result.stderr


def test_has_all_of_a_healthy_and_a_not_connected_alias_exits_1(cli, abc):
    cli("has", "a", "c", "--all", code=1)


def test_has_any_exits_0_when_one_alias_passes(cli, abc):
    cli("has", "a", "b", "c", "--any")


def test_has_any_exits_with_the_lowest_failing_code_when_none_passes(cli, abc):
    cli("has", "b", "c", "--any", code=1)


def test_has_any_of_an_unhealthy_and_an_unreachable_alias_exits_3(cli, abc):
    with servers.running(servers.HealthServer()) as server:
        cli("connect", "down", "--address", server.address, "--timeout", "1")
    cli("has", "b", "down", "--any", code=3)


def test_has_several_aliases_json_is_one_object_per_alias(cli, abc):
    objects = json.loads(cli("has", "a", "b", "c", "--json", code=4).stdout)
    assert [set(o) for o in objects] == [OUTCOME_KEYS] * 3
    seen = [(o["alias"], o["exit_code"], o["status"]) for o in objects]
    assert seen == [("a", 0, "healthy"), ("b", 4, "unhealthy"), ("c", 1, "not_connected")]
    assert (objects[0]["protocol"], objects[1]["protocol"]) == ("milvus", "grpc-health")


def test_has_all_of_one_alias_json_is_still_a_list(cli, abc):
    objects = json.loads(cli("has", "a", "--all", "--json").stdout)
    assert [o["alias"] for o in objects] == ["a"]


def test_has_probes_several_aliases_concurrently(cli):
    with servers.running(servers.HealthServer()) as server:
        for alias in ("s1", "s2", "s3"):
            cli("connect", alias, "--address", server.address)
    with servers.silent_on(server.port):
        elapsed, _ = timed(cli, "has", "s1", "s2", "s3", "--timeout", "1", code=3)
    assert elapsed < within(1)  # one timeout, not three


def test_has_all_and_any_together_is_a_usage_error(cli, abc):
    result = cli("has", "a", "b", "--all", "--any", code=2)
    assert "--all" in result.stderr and "--any" in result.stderr


def test_has_several_aliases_never_prints_a_secret(cli, serving, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("connect", "pw", "--address", serving.address, "--user", "ci", "--password-env", "SVC_PW")
    cli("connect", "tok", "--address", serving.address, "--token-env", "SVC_TOKEN")
    serving.set("", NOT_SERVING)
    for extra in ((), ("--json",)):
        result = cli("-v", "has", "pw", "tok", *extra, code=4)
        assert_no_secret(result.stdout, result.stderr)


# 4. TLS insight ------------------------------------------------------------------------------


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


# 5. conn watch ------------------------------------------------------------------------------


def test_watch_follows_the_grpc_health_watch_stream(cli, serving):
    cli("add", "svc", "--address", serving.address)
    steps = [(0.5, lambda: serving.set("", NOT_SERVING)), (0.5, lambda: serving.set("", SERVING))]
    with toggling(steps):
        lines = json_lines(cli("watch", "svc", "--for", "3", "--json").stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]
    assert {line["protocol"] for line in lines} == {"grpc-health"}
    assert {line["alias"] for line in lines} == {"svc"}


def test_watch_in_a_process_prints_each_change_as_a_json_line(profile, serving):
    from .conftest import run_conn

    run_conn("add", "svc", "--address", serving.address)
    steps = [(1.5, lambda: serving.set("", NOT_SERVING)), (0.5, lambda: serving.set("", SERVING))]
    with toggling(steps):  # the first step waits for the process to start
        process = run_conn("watch", "svc", "--for", "3.5", "--json")
    assert process.returncode == 0, process.stderr
    lines = json_lines(process.stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]


def test_watch_polls_a_server_without_health_watch(cli, milvus_protocol):
    cli("add", "m", "--address", milvus_protocol.address)

    def sick() -> None:
        milvus_protocol.healthy = False

    def well() -> None:
        milvus_protocol.healthy = True

    with toggling([(0.6, sick), (0.6, well)]):
        result = cli("watch", "m", "--for", "2.5", "--interval", "0.2", "--json")
    lines = json_lines(result.stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]
    assert {line["protocol"] for line in lines} == {"milvus"}


def test_watch_changes_1_stops_after_the_first_change(cli, serving):
    cli("add", "svc", "--address", serving.address)
    with toggling([(0.5, lambda: serving.set("", NOT_SERVING))]):
        elapsed, result = timed(cli, "watch", "svc", "--changes", "1", "--for", "10", "--json",
                                code=4)  # fmt: skip
    assert [line["status"] for line in json_lines(result.stdout)] == ["healthy", "unhealthy"]
    assert elapsed < 3


def test_watch_plain_lines_name_alias_and_status(cli, serving):
    cli("add", "svc", "--address", serving.address)
    line = cli("watch", "svc", "--for", "0.5").stdout.strip()
    assert re.fullmatch(r"\S+ svc healthy \d+\.\d ms", line), line


def test_watch_for_bounds_the_run_time(cli, serving):
    cli("add", "svc", "--address", serving.address)
    elapsed, _ = timed(cli, "watch", "svc", "--for", "1", code=0)
    assert 1 <= elapsed <= within(1)


def test_watch_for_bounds_the_run_time_when_the_server_never_answers(cli, silent_server):
    cli("add", "quiet", "--address", silent_server.address)  # the alias timeout is 10 s
    elapsed, result = timed(cli, "watch", "quiet", "--for", "1", "--json", code=3)
    assert elapsed <= within(1)
    assert [line["status"] for line in json_lines(result.stdout)] == ["unreachable"]


def test_watch_of_an_unreachable_alias_reports_unreachable_and_exits_3(cli):
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    lines = json_lines(cli("watch", "down", "--for", "1", "--json", code=3).stdout)
    assert [(line["status"], line["exit_code"]) for line in lines] == [("unreachable", 3)]


def test_watch_prometheus_writes_a_textfile_of_a_healthy_alias(cli, milvus_lite, tmp_path):
    version = json.loads(cli("connect", "lite", "--address", milvus_lite.address, "--json").stdout)[
        "server_version"
    ]
    out = tmp_path / "metrics"
    out.mkdir()
    target = out / "conn.prom"
    cli("watch", "lite", "--for", "0.5", "--prometheus", str(target))
    text = target.read_text()
    assert 'conn_up{alias="lite"} 1\n' in text
    assert re.search(r'^conn_latency_seconds\{alias="lite"\} 0\.\d{6}$', text, re.M)
    assert f'conn_server_info{{alias="lite",version="{version}"}} 1\n' in text
    assert "# TYPE conn_up gauge" in text


def test_watch_prometheus_textfile_is_0644_and_leaves_no_temp_file(cli, serving, tmp_path):
    cli("add", "svc", "--address", serving.address)
    out = tmp_path / "metrics"
    out.mkdir()
    target = out / "conn.prom"
    with toggling([(0.3, lambda: serving.set("", NOT_SERVING))]):
        cli("watch", "svc", "--for", "1", "--prometheus", str(target), code=4)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["conn.prom"]


def test_watch_prometheus_of_an_unhealthy_alias_says_down(cli, serving, tmp_path):
    serving.set("", NOT_SERVING)
    cli("add", "svc", "--address", serving.address)
    target = tmp_path / "conn.prom"
    cli("watch", "svc", "--for", "0.5", "--prometheus", str(target), code=4)
    text = target.read_text()
    assert 'conn_up{alias="svc"} 0\n' in text
    assert 'conn_server_info{alias="svc",version="unknown"} 1\n' in text


def test_watch_lines_and_textfile_never_contain_a_secret(cli, serving, monkeypatch, tmp_path):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("add", "pw", "--address", serving.address, "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "tok", "--address", serving.address, "--token-env", "SVC_TOKEN")
    for alias in ("pw", "tok"):
        target = tmp_path / f"{alias}.prom"
        for extra in ((), ("--json",)):
            result = cli("-v", "watch", alias, "--for", "0.5", "--prometheus", str(target), *extra)
            assert_no_secret(result.stdout, result.stderr, target.read_text())


def test_connect_explain_marks_options_as_flags_and_connects_nothing(cli, profile):
    cli("add", "prod", "--uri", "https://bob@milvus.example:19530/sales", "--timeout", "3")
    before = snapshot(profile)
    result = cli("connect", "prod", "--explain", "--json", "--timeout", "7", "--user", "alice")
    report = json.loads(result.stdout)
    assert report["timeout"] == {"value": 7.0, "source": "flag"}
    assert report["user"] == {"value": "alice", "source": "flag"}
    assert report["db_name"] == {"value": "sales", "source": "uri"}
    assert report["address"] == {"value": "milvus.example:19530", "source": "uri"}
    assert snapshot(profile) == before  # nothing connected, nothing written
    assert not state_file(profile).exists()


def test_connect_explain_with_an_address_flag_ignores_the_stored_alias(cli, profile):
    cli("add", "prod", "--address", "stored.example:1", "--user", "bob", "--timeout", "3")
    report = json.loads(
        cli("connect", "prod", "--address", "other:2", "--explain", "--json").stdout
    )
    assert report["address"] == {"value": "other:2", "source": "flag"}
    assert report["user"] == {"value": "", "source": "default"}
    assert report["timeout"]["source"] == "default"
