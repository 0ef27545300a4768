"""Untrusted text (profile values, imported files, the environment, the state file,
server strings, certificate fields) never drives the terminal: control characters are
refused on the way in and shown escaped on the way out, and huge strings are cut."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from milvus_conn import Connections
from milvus_conn.errors import ConnectionConfigException
from milvus_conn.probe.endpoint import Target
from milvus_conn.probe.health import check
from milvus_conn.probe.request import Probe

from . import servers
from .certs import signed_by_test_ca
from .conftest import run_conn
from .helpers import on_terminal, snapshot, state_file, write_profile

# text from files, the environment and servers never drives the terminal ----------------


ESC_TITLE = "evil\x1b]0;pwned\x07"  # sets the window title when printed raw


CONTROL = ("\x1b", "\x07", "\x9b", "\x00", "\x08", "\r")  # ESC, BEL, CSI (C1), NUL, BS, CR


def inert(text: str) -> bool:
    """No control character but the line break (and, on a pseudo-terminal, its CR)."""
    return not any(char in text for char in CONTROL)


@pytest.mark.parametrize(
    "option",
    [["--user", ESC_TITLE], ["--db-name", "d\x1b[2J"], ["--health-service", "s\x07"],
     ["--password-env", "P\x1b[31m"], ["--uri", "http://h\x1b:1"],
     ["--secure", "--server-name", "n\x9b1m"], ["--address", "h\x1b:1"],
     ["--user", "bidi\u202eoverride"]],
    ids=["user", "db-name", "health-service", "password-env", "uri", "server-name-c1",
         "address", "bidi"],
)  # fmt: skip
@pytest.mark.parametrize("command", ["add", "connect"])
def test_add_and_connect_refuse_control_characters(cli, profile, command, option):
    cli("add", "x", "--address", "127.0.0.1:1")
    before = snapshot(profile)
    result = cli(command, "x" if command == "connect" else "y", *option, code=2)
    assert inert(result.stdout + result.stderr), result.stderr
    assert snapshot(profile) == before


def test_the_library_refuses_control_characters(registry, profile):
    with pytest.raises(ConnectionConfigException, match="non-printing"):
        registry.add_connection(x={"address": "127.0.0.1:1", "user": ESC_TITLE})
    with pytest.raises(ConnectionConfigException, match="non-printing"):
        registry.connect("x", address="127.0.0.1:1", user=ESC_TITLE)
    assert not profile.exists()


def test_import_refuses_a_file_with_control_characters(cli, profile, tmp_path):
    cli("add", "mine", "--address", "127.0.0.1:1")
    before = snapshot(profile)
    shared = tmp_path / "team.toml"
    shared.write_text(
        'version = 1\n[connections.ok]\naddress = "127.0.0.1:2"\n'
        '[connections.t]\naddress = "127.0.0.1:3"\nuser = "evil\\u001b]0;pwned\\u0007"\n'
    )
    result = cli("import", str(shared), code=2)
    assert "connection 't'" in result.stderr and "\\x1b" in result.stderr
    assert inert(result.stdout + result.stderr)
    assert snapshot(profile) == before


HAND_EDITED = (
    'version = 1\ndefault_alias = "t\\u001b[2J"\n'
    '[connections.t]\naddress = "127.0.0.1:3"\nuser = "evil\\u001b]0;pwned\\u0007"\n'
    'note = "\\u009b31m"\n'
)


def test_a_hand_edited_value_is_reported_and_never_raw(cli, profile):
    write_profile(profile, HAND_EDITED)
    for args in (["list"], ["list", "--json"], ["use"], ["addr", "t"], ["export"]):
        result = cli(*args, code=None)
        assert inert(result.stdout + result.stderr), (args, result.stdout, result.stderr)
    result = cli("list", code=6)
    assert "evil\\x1b]0;pwned\\x07" in result.stderr
    json.loads(cli("list", "--json", code=6).stdout)  # still valid JSON


def test_milvus_uri_with_control_characters_is_shown_escaped(cli, monkeypatch):
    monkeypatch.setenv("MILVUS_URI", "http://h\x1b]0;x\x07:1")
    for args in (["list"], ["list", "--json"], ["addr"], ["connect"]):
        result = cli(*args, code=2)
        assert inert(result.stdout + result.stderr), (args, result.stderr)


LIES = {
    "reason": "down\x1b]0;pwned\x07\x1b[2J\x9b31m",
    "version": "v2.4\x1b]0;pwned\x07\x1b[2J\x9b31m",
}


def test_server_strings_never_reach_the_terminal_raw(cli, liar):
    liar.version = LIES["version"]
    cli("add", "l", "--address", liar.address, "--timeout", "3")
    outputs = [
        cli("-v", "connect", "l", code=0),
        cli("-v", "has", "l", "--min-version", "9", code=4),
        cli("list", "--check", code=0),
        cli("list", "--check", "--json", code=0),
        cli("connect", "l", "--json", code=0),
    ]
    liar.healthy, liar.reasons = False, [LIES["reason"]]
    outputs += [
        cli("has", "l", code=4),
        cli("has", "l", "--json", code=4),
        cli("watch", "l", "--changes", "0", code=4),
        cli("watch", "l", "--changes", "0", "--json", code=4),
        cli("connect", "l", code=4),
    ]
    liar.abort = (grpc.StatusCode.INTERNAL, "boom" + LIES["reason"])
    outputs += [cli("-v", "connect", "l", code=4), cli("list", "--check", "--json", code=4)]
    for result in outputs:
        assert inert(result.stdout + result.stderr), (result.stdout, result.stderr)
    assert "\\u001b]0;pwned\\u0007" in outputs[0].stdout  # shown, escaped
    assert json.loads(outputs[6].stdout)["reason"] == LIES["reason"]  # JSON keeps the value


def test_a_huge_server_string_is_cut_to_one_short_line(liar):
    liar.version = "v" + "9" * 60_000  # a whole reply over 64 KiB is malformed (wire.py)
    result = check(Probe(Target(liar.address), timeout=5, want_version=True))
    assert result.healthy and len(result.server_version) < 600
    assert result.server_version.endswith("(59501 more characters)")


def test_escapes_on_a_real_terminal_and_no_markup(profile, liar):
    write_profile(profile, HAND_EDITED + 'n = 1\n[connections.m]\naddress = "127.0.0.1:4"\n'
                  'user = "[link=https://example.invalid]click[/link] :smile:"\n')  # fmt: skip
    liar.version = LIES["version"]
    Connections(profile=profile).add("l", address=liar.address)
    env = {"CONN_PROFILE": str(profile), "NO_COLOR": "1"}
    code, text = on_terminal("list", "--check", env=env)
    assert code == 6, text
    assert "\x1b]0;pwned" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\u001b]0;pwned\\u0007" in text  # the table, escaped
    assert "[link=https://example.invalid]click[/link]" in text  # shown as written
    assert "\x1b]8;" not in text and ":smile:" in text  # no hyperlink, no emoji


# gRPC's own words ----------------------------------------------------------------------


def test_verbose_shows_grpcs_own_words_escaped(cli, liar):
    liar.abort = (grpc.StatusCode.UNAVAILABLE, "raw\x1b[31m words")
    result = cli("-v", "connect", "l", "--address", liar.address, code=3)
    assert "gRPC said: raw\\u001b[31m words" in result.stderr
    assert inert(result.stderr)


# the environment, the state file and pipes ---------------------------------------------


def test_a_path_from_the_environment_is_escaped_in_errors(cli, tmp_path):
    odd = tmp_path / "p\x1b[2J.toml"
    odd.write_text("not toml [")
    result = cli("--profile", str(odd), "list", code=6)
    assert inert(result.stderr) and "\\u001b[2J" in result.stderr


def test_state_file_values_are_shown_escaped(cli, profile, serving):
    cli("connect", "s", "--address", serving.address)
    state = state_file(profile)
    data = json.loads(state.read_text())
    data["connected"]["s"]["address"] = "h\x1b]0;pwned\x07:1"
    state.write_text(json.dumps(data))
    for args in (["addr", "s"], ["addr", "s", "--json"], ["has", "s"], ["list"]):
        result = cli(*args, code=None)
        assert inert(result.stdout + result.stderr), (args, result.stdout, result.stderr)


def test_run_conn_on_a_pipe_is_inert_too(profile, liar):
    liar.healthy, liar.reasons = False, [LIES["reason"]]
    done = run_conn("connect", "l", "--address", liar.address)
    assert done.returncode == 4, done.stderr
    assert inert(done.stdout + done.stderr), done.stderr


# shell exports and certificate fields --------------------------------------------------


def test_powershell_exports_double_typographic_quotes_too(cli):
    """PowerShell ends a '...' string at U+2019 as at an apostrophe: the alias
    `a\u2019;calc;\u2019` must stay one value, not run calc."""
    q = "\u2019"
    alias = f"a{q};calc;{q}"
    cli("add", alias, "--address", "127.0.0.1:1")
    result = cli("env", alias, "--shell", "powershell")
    assert f"$Env:MILVUS_CONN_ALIAS = 'a{q}{q};calc;{q}{q}'\n" in result.stdout


def _crafted_certificate(certs: Path) -> tuple[bytes, bytes]:
    """A server certificate for 127.0.0.1, signed by the test CA, whose subject carries
    a window-title sequence and whose organisation a C1 CSI."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, ESC_TITLE),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org\x9b31m"),
    ])  # fmt: skip
    san = [x509.IPAddress(ipaddress.ip_address(servers.LOOPBACK))]
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30)
    return signed_by_test_ca(certs, subject, san, start=start, end=end)


def test_certificate_fields_are_shown_escaped(cli, certs):
    from concurrent import futures

    from grpc_health.v1 import health, health_pb2_grpc

    server = grpc.server(futures.ThreadPoolExecutor(4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port(
        f"{servers.LOOPBACK}:0", grpc.ssl_server_credentials([_crafted_certificate(certs)])
    )
    server.start()
    try:
        address = f"{servers.LOOPBACK}:{port}"
        ca = str(certs / "ca.pem")
        connected = cli("-v", "connect", "t", "--address", address, "--secure",
                        "--ca-pem-path", ca)  # fmt: skip
        listed = cli("list", "--check", "--json", code=None)
    finally:
        server.stop(0).wait()
    assert "certificate subject CN=evil\\u001b]0;pwned\\u0007, O=org\\u009b31m" in (
        connected.stderr
    )
    [row] = [row for row in json.loads(listed.stdout) if row["alias"] == "t"]
    assert row["health"]["tls_subject"] == f"CN={ESC_TITLE}, O=org\x9b31m"
    assert inert(connected.stdout + connected.stderr + listed.stdout + listed.stderr)
