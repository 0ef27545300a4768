"""IPv6 in every form an address enters, on real servers bound to the IPv6 loopback,
and address errors that name the real problem."""

from __future__ import annotations

import json
import socket
import warnings
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milvus_conn import ConnectionConfigException, Connections
from milvus_conn import address as addr

from . import servers
from .certs import make_certs
from .helpers import snapshot, write_profile


def _ipv6_loopback() -> str:
    """Why [::1] cannot be used here, or "" when it can."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        return f"this machine has no IPv6 loopback ({exc})"
    return ""


NO_IPV6 = _ipv6_loopback()
needs_ipv6 = pytest.mark.skipif(bool(NO_IPV6), reason=NO_IPV6)
V6 = "[::1]"


@pytest.fixture(scope="module")
def v6_health() -> Iterator[servers.HealthServer]:
    if NO_IPV6:
        pytest.skip(NO_IPV6)
    server = servers.HealthServer(host=V6)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def v6_lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MilvusLite]:
    """Milvus Lite binds the IPv6 loopback only when given `--host [::1]`, brackets and all."""
    if NO_IPV6:
        pytest.skip(NO_IPV6)
    server = servers.MilvusLite(tmp_path_factory.mktemp("lite6") / "data", host=V6)
    yield server
    server.stop()


def _tls_server(certs: Path) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    pair = ((certs / "server.key").read_bytes(), (certs / "server.pem").read_bytes())
    port = server.add_secure_port(f"{V6}:0", grpc.ssl_server_credentials([pair]))
    server.start()
    return server, port


@pytest.fixture(scope="module")
def v6_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A TLS health server on [::1] whose certificate names ::1 in its SAN."""
    if NO_IPV6:
        pytest.skip(NO_IPV6)
    certs = tmp_path_factory.mktemp("certs6")
    make_certs(certs)
    server, port = _tls_server(certs)
    yield certs, port
    server.stop(0).wait()


@pytest.fixture(scope="module")
def v4_only_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """The same on [::1], but its certificate names only localhost and 127.0.0.1."""
    if NO_IPV6:
        pytest.skip(NO_IPV6)
    certs = tmp_path_factory.mktemp("certs4")
    make_certs(certs, ipv6=False)
    server, port = _tls_server(certs)
    yield certs, port
    server.stop(0).wait()


# every input form, stored and shown as [compressed]:port, probed over IPv6 -------------


FORMS = {
    "address": ["--address", "[::1]:{port}"],
    "address-long-form": ["--address", "[0:0:0:0:0:0:0:1]:{port}"],
    "host-bare": ["--host", "::1", "--port", "{port}"],
    "host-bracketed": ["--host", "[::1]", "--port", "{port}"],
    "uri": ["--uri", "http://[::1]:{port}"],
    "uri-userinfo-db": ["--uri", "http://alice@[::0001]:{port}/db1"],
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_cli_form_is_stored_bracketed_and_connects(cli, v6_health, form):
    args = [arg.format(port=v6_health.port) for arg in form]
    added = cli("add", "x", *args)
    assert added.stdout == f"Added x ([::1]:{v6_health.port})\n"
    assert cli("addr", "x").stdout == f"[::1]:{v6_health.port}\n"
    connected = cli("connect", "x")
    assert connected.stdout.startswith(f"Connected x ([::1]:{v6_health.port}): healthy"), (
        connected.stdout
    )
    cli("has", "x")


def test_uri_database_and_user_come_from_an_ipv6_uri(cli, v6_health):
    cli("add", "x", "--uri", f"http://alice@[::1]:{v6_health.port}/db1")
    shown = json.loads(cli("addr", "x", "--json").stdout)
    assert (shown["address"], shown["user"], shown["db_name"]) == (
        f"[::1]:{v6_health.port}",
        "alice",
        "db1",
    )
    explained = json.loads(cli("addr", "x", "--explain", "--json").stdout)
    assert explained["address"] == {"value": f"[::1]:{v6_health.port}", "source": "uri"}
    assert explained["db_name"] == {"value": "db1", "source": "uri"}
    table = cli("addr", "x", "--explain").stdout
    assert f"[::1]:{v6_health.port}" in table


def test_milvus_uri_environment_variable(cli, v6_health, monkeypatch):
    monkeypatch.setenv("MILVUS_URI", f"http://[::1]:{v6_health.port}")
    assert cli("addr").stdout == f"[::1]:{v6_health.port}\n"
    cli("connect")
    cli("has")


def test_hand_written_profile_is_read_normalised(cli, profile, v6_health):
    write_profile(
        profile,
        f'version = 1\n[connections.long]\naddress = "[0:0::1]:{v6_health.port}"\n'
        f'[connections.uri]\nuri = "http://[::1]:{v6_health.port}/db1"\n',
    )
    for _ in range(2):  # the first run parses the file; the second reads the parse cache
        rows = json.loads(cli("list", "--json").stdout)
        addresses = {row["alias"]: row["address"] for row in rows}
        assert addresses["long"] == addresses["uri"] == f"[::1]:{v6_health.port}"
    cli("connect", "long")
    cli("connect", "uri")


def test_list_check_probes_ipv4_and_ipv6_aliases_together(cli, serving, v6_health, v6_lite):
    cli("add", "default", "--address", serving.address)  # the built-in one would be probed
    cli("add", "four", "--address", serving.address)
    cli("add", "six", "--address", v6_health.address)
    cli("add", "lite6", "--host", "::1", "--port", str(v6_lite.port))
    rows = json.loads(cli("list", "--check", "--timeout", "10", "--json").stdout)
    health_of = {row["alias"]: row["health"]["status"] for row in rows}
    address_of = {row["alias"]: row["address"] for row in rows}
    assert health_of["four"] == health_of["six"] == health_of["lite6"] == "healthy", rows
    assert address_of["lite6"] == f"[::1]:{v6_lite.port}"
    listed = cli("list", code=0).stdout
    assert f"[::1]:{v6_health.port}" in listed


def test_milvus_lite_over_ipv6_answers_with_its_version(cli, v6_lite):
    result = cli("connect", "l6", "--uri", f"http://[::1]:{v6_lite.port}", "--json")
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["protocol"]) == ("healthy", "milvus"), answer


def test_export_import_round_trip(cli, profile, tmp_path, v6_health):
    cli("add", "six", "--host", "::1", "--port", str(v6_health.port), "--db-name", "db1")
    exported = cli("export").stdout
    assert f'address = "[::1]:{v6_health.port}"' in exported
    shared = tmp_path / "shared.toml"
    shared.write_text(exported)
    other = tmp_path / "other" / "profiles.toml"
    cli("--profile", str(other), "import", str(shared))
    assert cli("--profile", str(other), "export").stdout == exported
    assert cli("--profile", str(other), "addr", "six").stdout == f"[::1]:{v6_health.port}\n"
    cli("--profile", str(other), "connect", "six")


def test_watch_follows_an_ipv6_alias(cli, v6_health):
    cli("add", "six", "--address", v6_health.address)
    result = cli("watch", "six", "--for", "0.5", "--json")
    assert json.loads(result.stdout.splitlines()[0])["status"] == "healthy"


# the library --------------------------------------------------------------------------


def test_library_keywords(registry, v6_health):
    port = v6_health.port
    registry.add_connection(a={"host": "::1", "port": port}, b={"address": f"[::1]:{port}"})
    assert registry.get_connection_addr("a")["address"] == f"[::1]:{port}"
    assert registry.connect("a").result.healthy
    handle = registry.connect("c", uri=f"http://[0::1]:{port}/db1")
    assert handle.address == f"[::1]:{port}"
    assert registry.get_connection_addr("c")["db_name"] == "db1"
    assert registry.connect("d", host="[::1]", port=str(port)).result.healthy
    assert registry.has_connection("d")


def test_hand_offs_to_pymilvus_refuse_an_ipv6_literal_and_say_why(cli, registry, v6_health):
    registry.add_connection(six={"address": v6_health.address})
    with pytest.raises(ConnectionConfigException, match=r"pymilvus cannot reach.*#2266"):
        registry.client_kwargs("six")
    result = cli("env", "six", code=2)
    assert "pymilvus cannot reach" in result.stderr
    assert result.stdout == ""


def test_pymilvus_indeed_cannot_reach_an_ipv6_literal(v6_lite):
    """Why the hand-offs refuse: when this fails, pymilvus has learned IPv6 (#2266) and
    client_kwargs() and `conn env` can hand the bracketed URI over."""
    from pymilvus import MilvusClient, MilvusException

    with pytest.raises(MilvusException, match=r"::1:\d+"):
        MilvusClient(uri=f"http://[::1]:{v6_lite.port}", timeout=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymilvus import connections

        with pytest.raises(MilvusException, match="Type of 'host' must be str"):
            connections.connect("v6", uri=f"http://[::1]:{v6_lite.port}", timeout=3)


# TLS: without --server-name, the certificate must name the IP itself -----------------


def test_tls_checks_the_ipv6_san(cli, v6_tls):
    certs, port = v6_tls
    ca = str(certs / "ca.pem")
    address = f"[::1]:{port}"
    result = cli("-v", "connect", "t", "--address", address, "--secure", "--ca-pem-path", ca)
    assert "healthy" in result.stdout
    assert "certificate subject CN=localhost" in result.stderr  # the handshake of certinfo


def test_tls_refuses_a_certificate_without_the_ipv6_san(cli, v4_only_tls):
    certs, port = v4_only_tls
    ca = str(certs / "ca.pem")
    result = cli("connect", "t", "--address", f"[::1]:{port}", "--secure", "--ca-pem-path", ca,
                 "--timeout", "5", code=3)  # fmt: skip
    assert "TLS handshake" in result.stderr, result.stderr


# host names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "stored"),
    [
        ("milvus.example.", "milvus.example.:19530"),
        ("bücher.example", "xn--bcher-kva.example:19530"),
        ("MILVUS.example", "MILVUS.example:19530"),
        ("0:0::FFFF:7f00:1", "[::ffff:127.0.0.1]:19530"),  # IPv4-mapped: RFC 5952 5
        ("2001:DB8:0:0::1", "[2001:db8::1]:19530"),
    ],
    ids=["trailing-dot", "idna", "case-kept", "ipv4-mapped", "ipv6-compressed-lowercase"],
)
def test_host_names_are_kept_or_converted(cli, host, stored):
    cli("add", "x", "--host", host)
    assert cli("addr", "x").stdout == f"{stored}\n"


# the real Milvus 2.3.5 ---------------------------------------------------------------------


@pytest.mark.slow
@needs_ipv6
def test_real_milvus_listens_on_ipv6_too(cli, milvus):
    """Milvus 2.3.5 binds its gRPC port on every interface, IPv6 included (dual-stack):
    the same server answers on 127.0.0.1 and on [::1]."""
    result = cli("connect", "m6", "--address", f"[::1]:{milvus.port}", "--json")
    answer = json.loads(result.stdout)
    assert answer["status"] == "healthy", answer
    assert answer["server_version"].startswith("v2.3.5"), answer


@pytest.mark.slow
@needs_ipv6
def test_real_milvus_tls_over_ipv6_checks_the_san(cli, milvus_tls, certs):
    ca = str(certs / "ca.pem")
    address = f"[::1]:{milvus_tls.port}"
    cli("connect", "t6", "--address", address, "--secure", "--ca-pem-path", ca)


# malformed forms: exit 2, a message naming the problem, nothing written ----------------


MALFORMED = {
    "address-missing-bracket": (
        ["--address", "[::1:19530"],
        "'[::1:19530' is not a valid address: missing ']'",
    ),
    "address-missing-open": (["--address", "::1]:19530"], "missing '['"),
    "address-unbracketed": (["--address", "::1:19530"], "an IPv6 address needs brackets"),
    "address-no-port": (["--address", "[::1]"], "missing port, as in '[::1]:19530'"),
    "address-junk-after": (["--address", "[::1]x:1"], "'x' after ']'"),
    "address-bad-literal": (["--address", "[::zz]:1"], "'::zz' is not an IPv6 address"),
    "address-ipv4-bracketed": (["--address", "[127.0.0.1]:1"], "brackets are for IPv6"),
    "address-port-range": (["--address", "[::1]:99999"], "port 99999 out of range (1-65535)"),
    "address-port-zero": (["--address", "[::1]:0"], "port 0 out of range (1-65535)"),
    "address-port-text": (["--address", "[::1]:http"], "the port is not a number"),
    "address-no-host": (["--address", ":19530"], "missing host"),
    "address-space": (["--address", "a b:1"], "' ' cannot appear in a host name"),
    "zone": (["--address", "[fe80::1%eth0]:1"], "zone-scoped link-local address cannot be used"),
    "host-zone": (["--host", "fe80::1%eth0"], "zone-scoped link-local"),
    "host-with-port": (["--host", "h:1"], "a host has no port"),
    "host-missing-bracket": (["--host", "[::1"], "'[::1' is not a valid host: missing ']'"),
    "host-bad-literal": (["--host", "1::2::3"], "'1::2::3' is not an IPv6 address"),
    "host-empty-label": (["--host", "a..b"], "empty label"),
    "host-idna-too-long": (["--host", "ü" + "a" * 70], "cannot be written in IDNA"),
    "port-range": (["--host", "::1", "--port", "99999"], "port 99999 out of range (1-65535)"),
    "uri-missing-bracket": (["--uri", "http://[::1:19530"], "missing ']'"),
    "uri-unbracketed": (["--uri", "http://::1:19530"], "an IPv6 address needs brackets"),
    "uri-port-range": (["--uri", "http://[::1]:99999"], "port 99999 out of range (1-65535)"),
    "uri-zone": (["--uri", "http://[fe80::1%25eth0]:1"], "zone-scoped link-local"),
    "uri-extra-path": (["--uri", "http://[::1]:1/db/x"], "only one path segment"),
    "uri-query": (["--uri", "http://[::1]:1/db?x=1"], "a query or fragment"),
    "uri-scheme": (["--uri", "ftp://[::1]:1"], "Illegal uri: [ftp://[::1]:1]"),
}


@pytest.mark.parametrize(("args", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_forms_exit_2_naming_the_problem(cli, profile, args, message):
    write_profile(profile, 'version = 1\n[connections.a]\naddress = "127.0.0.1:1"\n')
    before = snapshot(profile)
    for command in (["add", "x"], ["connect", "x"]):
        result = cli(*command, *args, code=2)
        assert result.stderr.startswith("Error: "), result.stderr
        assert message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('address = "[::1:1"', "missing ']'"),
        ('address = "::1:1"', "needs brackets"),
        ('uri = "http://[::1]:99999"', "port 99999 out of range"),
    ],
    ids=["missing-bracket", "unbracketed", "port-range"],
)
def test_a_hand_written_profile_with_a_bad_address_names_it(cli, profile, table, message):
    write_profile(profile, f"version = 1\n[connections.bad]\n{table}\n")
    result = cli("list", code=6)
    assert message in result.stderr, result.stderr


def test_a_real_type_error_keeps_pymilvus_words(profile):
    registry = Connections(profile=profile)
    with pytest.raises(ConnectionConfigException, match=r"^Type of 'host' must be str\.$"):
        registry.add_connection(x={"host": b"::1"})
    with pytest.raises(ConnectionConfigException, match=r"^'::1:19530' is not a valid host"):
        registry.add_connection(x={"host": "::1:19530"})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ip=st.ip_addresses(v=6), port=st.integers(1, 65535), upper=st.booleans())
def test_every_form_of_an_ipv6_address_normalises_alike(ip, port, upper):
    """Whatever form and spelling goes in, one `[compressed]:port` comes out, and it
    parses back to itself (the profile's round trip)."""
    literal = ip.exploded.upper() if upper else ip.exploded
    mapped = ip.ipv4_mapped  # RFC 5952 5: dotted (Python before 3.13 writes it in hex)
    expected = f"[::ffff:{mapped}]:{port}" if mapped is not None else f"[{ip.compressed}]:{port}"
    forms = [
        addr.parse_address(f"[{literal}]:{port}"),
        addr.parse_uri(f"http://[{literal}]:{port}/db"),
        addr.parse_host_port(literal, port),
        addr.parse_host_port(f"[{literal}]", str(port)),
    ]
    assert {form.address for form in forms} == {expected}
    assert addr.parse_address(expected).address == expected
    assert addr.canonical(f"[{literal}]:{port}") == expected
