"""Hostile use: one alias's fault stays its own, the built-in default does not fail a
listing, text from files, the environment and servers never drives the terminal,
gRPC's debug strings become sentences, and NO_COLOR is read as no-color.org says.

Every server is on 127.0.0.1; the DNS test runs in a network namespace that has no
interface but loopback, so that not even a DNS query leaves the machine.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from milvus_conn import Connections
from milvus_conn.errors import ConnectionConfigException, ProfileException
from milvus_conn.health import Probe, Target, check
from milvus_conn.outcomes import unavailable

from . import servers
from .conftest import run_conn
from .helpers import snapshot, state_file, write_profile

ESC_TITLE = "evil\x1b]0;pwned\x07"  # sets the window title when printed raw
CONTROL = ("\x1b", "\x07", "\x9b", "\x00", "\x08", "\r")  # ESC, BEL, CSI (C1), NUL, BS, CR


def inert(text: str) -> bool:
    """No control character but the line break (and, on a pseudo-terminal, its CR)."""
    return not any(char in text for char in CONTROL)


@pytest.fixture
def liar() -> Iterator[servers.LyingServer]:
    server = servers.LyingServer()
    yield server
    server.stop()


def on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """`conn ARGS` with stdout and stderr on a pseudo-terminal, as a user sees it."""
    master, slave = pty.openpty()
    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "milvus_conn", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environment,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(60), b"".join(chunks).decode("utf-8", "replace")


# 1. one alias's problem is that alias's row ------------------------------------------


def test_list_check_answers_every_alias_when_one_names_an_unset_variable(cli, serving):
    cli("add", "good", "--address", serving.address)
    cli("add", "nopw", "--address", serving.address, "--user", "u", "--password-env", "NOT_SET_X")
    result = cli("list", "--check", "--json", code=6)
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    assert rows["good"]["health"]["status"] == "healthy"
    health = rows["nopw"]["health"]
    assert (health["status"], health["exit_code"]) == ("profile_error", 6)
    assert "NOT_SET_X" in health["reason"] and "'nopw'" in health["reason"]
    assert result.stderr.startswith("Error: alias 'nopw'")


def test_list_check_table_has_the_broken_row_and_its_reason(cli, serving):
    cli("add", "good", "--address", serving.address)
    cli("add", "nopw", "--address", serving.address, "--user", "u", "--password-env", "NOT_SET_X")
    result = cli("list", "--check", code=6)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["good"][6] == "healthy"
    assert rows["nopw"][6] == "profile_error"
    assert "NOT_SET_X" in result.stderr


def test_an_unreadable_tls_file_is_that_aliases_row_with_exit_2(cli, serving, tmp_path):
    cli("add", "good", "--address", serving.address)
    missing = tmp_path / "gone.pem"
    cli("add", "tls", "--address", serving.address, "--secure", "--ca-pem-path", str(missing))
    result = cli("list", "--check", "--json", code=2)
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    assert rows["good"]["health"]["status"] == "healthy"
    assert (rows["tls"]["health"]["exit_code"], rows["tls"]["health"]["status"]) == (
        2,
        "config_error",
    )
    assert "cannot read TLS file" in rows["tls"]["health"]["reason"]


BROKEN = """version = 1
[connections.good]
address = "127.0.0.1:19531"

[connections.badport]
address = "127.0.0.1:99999"

[connections.notable]
x = 1
y = "z"

[connections.scalar_holder]
address = 5
"""


def test_an_invalid_alias_table_is_its_own_row_not_the_whole_profile(cli, profile):
    before = write_profile(profile, BROKEN)
    result = cli("list", "--json", code=6)
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"default", "good", "badport", "notable", "scalar_holder"}
    assert rows["good"]["address"] == "127.0.0.1:19531" and "health" not in rows["good"]
    for alias in ("badport", "notable", "scalar_holder"):
        assert (rows[alias]["health"]["exit_code"], rows[alias]["address"]) == (6, None)
        assert f"connection '{alias}'" in rows[alias]["health"]["reason"]
    assert result.stderr.count("Error: ") == 3
    plain = cli("list", code=6)
    assert [line.split()[0] for line in plain.stdout.splitlines()[1:]] == [
        "default", "good", "badport", "notable", "scalar_holder",
    ]  # fmt: skip
    assert profile.read_bytes() == before


def test_commands_on_other_aliases_work_and_keep_the_broken_table(cli, profile):
    write_profile(profile, BROKEN)
    assert cli("addr", "good").stdout == "127.0.0.1:19531\n"
    cli("add", "new", "--address", "127.0.0.1:19532")
    cli("use", "good")
    cli("remove", "new")  # a rewrite, not an append: the broken tables are kept as written
    import tomllib

    document = tomllib.loads(profile.read_text())
    assert document["connections"]["badport"] == {"address": "127.0.0.1:99999"}
    assert document["connections"]["notable"] == {"x": 1, "y": "z"}
    assert document["default_alias"] == "good"


def test_commands_on_the_broken_alias_exit_6_with_its_message(cli, profile):
    before = write_profile(profile, BROKEN)
    for args in (["addr", "badport"], ["connect", "badport"], ["has", "badport"],
                 ["use", "badport"], ["env", "badport"], ["export", "badport"],
                 ["add", "badport", "--address", "127.0.0.1:1"]):  # fmt: skip
        result = cli(*args, code=6 if args[0] != "add" else 1)
        assert "badport" in result.stderr, args
    assert profile.read_bytes() == before
    cli("add", "badport", "--address", "127.0.0.1:1", "--force")  # replacing it fixes it
    cli("remove", "notable")
    cli("remove", "scalar_holder")
    cli("list")


def test_has_many_answers_the_others_when_one_is_broken(cli, profile, serving):
    write_profile(profile, BROKEN)
    cli("connect", "ok", "--address", serving.address)
    result = cli("has", "ok", "badport", "--all", code=6)
    assert result.stdout.startswith("ok (")
    assert "connection 'badport'" in result.stderr
    cli("has", "ok", "badport", "--any", code=0)
    data = json.loads(cli("has", "ok", "badport", "--all", "--json", code=6).stdout)
    assert [(row["alias"], row["exit_code"]) for row in data] == [("ok", 0), ("badport", 6)]


def test_has_many_answers_the_others_when_a_secret_variable_is_unset(cli, serving, monkeypatch):
    cli("connect", "ok", "--address", serving.address)
    monkeypatch.setenv("GONE_PW", "pw")
    cli("connect", "nopw", "--address", serving.address, "--user", "u", "--password-env",
        "GONE_PW")  # fmt: skip
    monkeypatch.delenv("GONE_PW")
    result = cli("has", "ok", "nopw", code=6)
    assert result.stdout.startswith("ok (") and "GONE_PW" in result.stderr
    rows = json.loads(cli("list", "--check", "--json", code=6).stdout)
    assert [r["health"]["exit_code"] for r in rows if r["alias"] in ("ok", "nopw")] == [0, 6]


def test_the_library_reports_the_broken_alias_alone(registry, profile):
    write_profile(profile, BROKEN)
    infos = {info.alias: info for info in registry.describe()}
    assert infos["good"].error is None
    assert isinstance(infos["badport"].error, ProfileException)
    assert registry.get_connection_addr("good")["address"] == "127.0.0.1:19531"
    with pytest.raises(ProfileException, match="connection 'badport'"):
        registry.get_connection_addr("badport")


def test_a_profile_that_is_not_toml_is_still_a_whole_file_error(cli, profile):
    before = write_profile(profile, 'version = 1\n[connections.a]\naddress = "h:1\n')
    result = cli("list", code=6)
    assert result.stderr.startswith("Error: ") and "line 3" in result.stderr
    assert result.stdout == ""
    cli("add", "b", "--address", "127.0.0.1:1", code=6)
    assert profile.read_bytes() == before


# 2. the built-in default does not fail a listing ---------------------------------------


def test_the_builtin_default_is_marked_and_does_not_count(cli, serving):
    cli("add", "h", "--address", serving.address)
    result = cli("list", "--check", "--json", code=0)  # nothing of the user's failed
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    assert (rows["default"]["builtin"], rows["h"]["builtin"]) == (True, False)
    assert rows["h"]["health"]["exit_code"] == 0
    table = cli("list", "--check", code=0).stdout
    assert table.splitlines()[1].split()[:6] == [
        "default", "*", "localhost:19530", "-", "default", "no",
    ] and " built-in " in table.splitlines()[1]  # fmt: skip


def test_a_stored_default_counts_like_any_alias(cli, serving):
    cli("add", "h", "--address", serving.address)
    cli("add", "default", "--address", servers.refused_address(), "--timeout", "1")
    rows = json.loads(cli("list", "--check", "--json", code=3).stdout)
    assert [row["builtin"] for row in rows] == [False, False]


def test_a_default_from_milvus_uri_counts_like_any_alias(cli, serving, monkeypatch):
    cli("add", "h", "--address", serving.address)
    monkeypatch.setenv("MILVUS_URI", f"http://{servers.refused_address()}")
    monkeypatch.setenv("MILVUS_CONN_TIMEOUT", "1")
    rows = json.loads(cli("list", "--check", "--json", code=3).stdout)
    assert rows[0]["alias"] == "default" and rows[0]["builtin"] is False


def test_has_without_an_alias_keeps_its_behaviour(cli):
    cli("has", code=1)  # the built-in default, not connected


# 3. text from files, the environment and servers never drives the terminal -------------


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
    liar.version = "v" + "9" * 1_000_000
    result = check(Probe(Target(liar.address), timeout=5, want_version=True))
    assert result.healthy and len(result.server_version) < 600
    assert result.server_version.endswith("(999501 more characters)")


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


# 5. errors read as sentences ------------------------------------------------------------


def test_a_dns_failure_reads_as_a_sentence():
    details = (
        "errors resolving x.example:19530: [field:hostname lookup error:address lookup "
        "failed for x.example:19530: Domain name not found]"
    )
    result = unavailable(Target("x.example:19530"), details)
    assert (result.status, result.reason) == (
        "unreachable",
        "cannot resolve host 'x.example': no such host name",
    )


@pytest.mark.skipif(
    not shutil.which("unshare")
    or subprocess.run(["unshare", "-rn", "true"], check=False).returncode != 0,
    reason="needs unshare -rn (a network namespace with loopback only)",
)
def test_an_unresolvable_name_exits_3_at_once_with_no_traffic(profile):
    """`.invalid` never resolves (RFC 6761); in a namespace with no interface but
    loopback, the lookup cannot leave the machine either."""
    started = time.monotonic()
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "milvus_conn", "-v", "connect", "x",
         "--address", "x.invalid:19530", "--timeout", "10"],
        check=False, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CONN_PROFILE": str(profile)},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "cannot resolve host 'x.invalid'" in done.stderr
    assert "conn: x: gRPC said: " in done.stderr  # -v keeps gRPC's own words
    assert time.monotonic() - started < 10  # the answer, not the timeout
    error = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert "[field:" not in error[0] and "lookup error" not in error[0]


def test_refused_and_closed_read_as_sentences(cli, closing_server):
    refused = servers.refused_address()
    result = cli("connect", "r", "--address", refused, "--timeout", "2", code=3)
    assert f"cannot reach {refused}: connection refused" in result.stderr
    assert "failed to connect to all addresses" not in result.stderr
    assert "ipv4:" not in result.stderr
    result = cli("connect", "c", "--address", closing_server.address, "--timeout", "2", code=3)
    assert "ipv4:" not in result.stderr and "Socket closed" not in result.stderr


def test_an_odd_status_reads_as_a_sentence(cli, liar):
    liar.abort = (grpc.StatusCode.INTERNAL, "db exploded")
    result = cli("connect", "l", "--address", liar.address, code=4)
    assert "the server failed the check (INTERNAL): db exploded" in result.stderr


def test_verbose_shows_grpcs_own_words_escaped(cli, liar):
    liar.abort = (grpc.StatusCode.UNAVAILABLE, "raw\x1b[31m words")
    result = cli("-v", "connect", "l", "--address", liar.address, code=3)
    assert "gRPC said: raw\\u001b[31m words" in result.stderr
    assert inert(result.stderr)


# 6. NO_COLOR -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "coloured"), [("", True), ("1", False)], ids=["empty", "set"])
def test_no_color_only_when_set_and_not_empty(profile, serving, value, coloured):
    Connections(profile=profile).add("h", address=serving.address)
    Connections(profile=profile).add("default", address=serving.address)
    code, text = on_terminal("list", "--check", env={"CONN_PROFILE": str(profile),
                                                     "NO_COLOR": value})  # fmt: skip
    assert code == 0, text
    assert ("\x1b[32m" in text) is coloured, repr(text)


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


# the hostile review ------------------------------------------------------------------


def test_powershell_exports_double_typographic_quotes_too(cli):
    """PowerShell ends a '...' string at U+2019 as at an apostrophe: the alias
    `a\u2019;calc;\u2019` must stay one value, not run calc."""
    q = "\u2019"
    alias = f"a{q};calc;{q}"
    cli("add", alias, "--address", "127.0.0.1:1")
    result = cli("env", alias, "--shell", "powershell")
    assert f"$Env:MILVUS_CONN_ALIAS = 'a{q}{q};calc;{q}{q}'\n" in result.stdout


def test_a_huge_timeout_waits_instead_of_failing_at_once(cli):
    """Past ~290 years a gRPC deadline overflows and fails at once as a timeout."""
    refused = servers.refused_address()
    result = cli("connect", "h", "--address", refused, "--timeout", "1e308", code=3)
    assert "connection refused" in result.stderr and "no answer" not in result.stderr


def test_a_huge_value_and_unicode_round_trip_and_list(cli, profile):
    user = "ü日本" * 20_000
    cli("add", "big", "--address", "127.0.0.1:1", "--user", user)
    cli("add", "日本", "--uri", "http://ü@127.0.0.1:2/ß")
    rows = {row["alias"]: row for row in json.loads(cli("list", "--json").stdout)}
    assert rows["big"]["user"] == user
    assert (rows["日本"]["user"], rows["日本"]["db_name"]) == ("ü", "ß")


def _crafted_certificate(certs: Path) -> tuple[bytes, bytes]:
    """A server certificate for 127.0.0.1, signed by the test CA, whose subject carries
    a window-title sequence and whose organisation a C1 CSI."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key = serialization.load_pem_private_key((certs / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, ESC_TITLE),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org\x9b31m"),
    ])  # fmt: skip
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(servers.LOOPBACK))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


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


def test_a_bad_timeout_is_the_commands_error_not_every_rows(cli, serving):
    cli("add", "h", "--address", serving.address)
    result = cli("list", "--check", "--timeout", "0", code=2)
    assert (result.stdout, result.stderr) == (
        "",
        "Error: timeout must be greater than 0, got 0.0\n",
    )
