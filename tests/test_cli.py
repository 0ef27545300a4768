"""`conn` as a user runs it: every command and every exit code of DESIGN §3, against
real servers on 127.0.0.1 (Milvus Lite, a grpc.health.v1 server, fault sockets).

Most runs go through the in-process `cli` fixture (exit code asserted first, no
traceback); a few spawn `python -m milvus_conn` to prove what only a real process
shows: state shared between processes, a real stdin, a real stdout.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_conn import Connections

from . import servers
from .conftest import run_conn
from .helpers import (
    NOT_SERVING,
    OUTCOME_KEYS,
    SERVING,
    snapshot,
    state_file,
    timed,
    within,
    write_profile,
)

DATA = Path(__file__).parent / "data"

LIST_KEYS = {"alias", "address", "user", "db_name", "secure", "connected", "default"} | {
    "profile",
    "builtin",
}
# DESIGN §3's health object, plus the certificate fields (null unless the alias uses TLS).
HEALTH_KEYS = {"status", "protocol", "latency_ms", "server_version", "exit_code", "reason"} | {
    "tls_subject",
    "tls_issuer",
    "tls_expires_in_days",
}

ALICE_PASSWORD = "s3cr3t-Pa55"  # what auth_server accepts for user alice
WRONG_PASSWORD = "Wr0ng-Pa55-q7Zx"
LATENCY = r"\d+\.\d ms"


# helpers ----------------------------------------------------------------------------


# fixtures ---------------------------------------------------------------------------


@pytest.fixture
def lite(cli, milvus_lite):
    """Milvus Lite, stored as alias `lite` (not connected)."""
    cli("add", "lite", "--address", milvus_lite.address)
    return milvus_lite


@pytest.fixture
def connected_lite(cli, lite):
    """Milvus Lite, stored and connected as alias `lite`."""
    cli("connect", "lite")
    return lite


@pytest.fixture
def own_server(cli) -> Iterator[servers.HealthServer]:
    """A grpc.health.v1 server this test may stop, connected as alias `svc`."""
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address)
    yield server
    server.stop()


# add ---------------------------------------------------------------------------------


def test_add_stores_the_alias_and_prints_its_address(cli, profile):
    result = cli("add", "a", "--host", "127.0.0.1", "--port", "19531")
    assert result.stdout == "Added a (127.0.0.1:19531)\n"
    assert result.stderr == ""
    assert "[connections.a]" in profile.read_text()


def test_add_writes_the_profile_of_design_section_4(cli, profile, monkeypatch):
    monkeypatch.setenv("PROD_MILVUS_PW", "never-stored-9Kq")
    cli(
        "add", "prod", "--uri", "https://milvus.prod.example:19530", "--user", "ci",
        "--password-env", "PROD_MILVUS_PW", "--db-name", "analytics", "--timeout", "5",
        "--probe", "milvus",
    )  # fmt: skip
    assert profile.read_text() == (DATA / "prod.toml").read_text()


def test_add_of_an_existing_alias_exits_1(cli):
    cli("add", "a", "--address", "127.0.0.1:19531")
    result = cli("add", "a", "--address", "127.0.0.1:19532", code=1)
    assert result.stderr == "Error: alias 'a' already exists (use --force to replace it)\n"


def test_add_force_replaces_an_existing_alias(cli):
    cli("add", "a", "--address", "127.0.0.1:19531")
    cli("add", "a", "--address", "127.0.0.1:19532", "--force")
    assert cli("addr", "a").stdout == "127.0.0.1:19532\n"


def test_add_uri_with_password_keeps_it_out_of_the_uri_and_of_every_output(cli, profile):
    result = cli("add", "x", "--uri", "http://alice:Pl41n-S3cret@127.0.0.1:19531/mydb")
    assert result.stdout == "Added x (127.0.0.1:19531)\n"
    assert 'uri = "http://alice@127.0.0.1:19531/mydb"' in profile.read_text()
    shown = [result, cli("list"), cli("list", "--json"), cli("addr", "x", "--json")]
    assert all("Pl41n-S3cret" not in r.stdout + r.stderr for r in shown)


def test_add_uri_with_password_warns_about_the_plain_secret(cli):
    result = cli("add", "x", "--uri", "http://alice:Pl41n-S3cret@127.0.0.1:19531")
    assert result.stderr.startswith("Warning: ")
    assert "plain password" in result.stderr


def test_add_keeps_unknown_keys_of_the_profile(cli, profile):
    write_profile(
        profile, 'version = 1\nowner = "team"\n\n[connections.a]\naddress = "h:1"\ncolor = "blue"\n'
    )
    cli("add", "b", "--address", "127.0.0.1:19531")
    assert profile.read_text() == (
        'version = 1\nowner = "team"\n\n[connections.a]\naddress = "h:1"\ncolor = "blue"\n\n'
        '[connections.b]\naddress = "127.0.0.1:19531"\n'
    )


def test_add_creates_the_profile_0600_in_a_0700_directory(cli, profile):
    cli("add", "a", "--address", "127.0.0.1:19531")
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(profile.parent.stat().st_mode) == 0o700


def test_add_without_a_profile_option_uses_the_app_directory(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("CONN_PROFILE")
    cli("add", "a", "--address", "127.0.0.1:19531")
    default = tmp_path / "xdg" / "conn" / "profiles.toml"
    assert "[connections.a]" in default.read_text()
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700


# remove ------------------------------------------------------------------------------


def test_remove_deletes_a_connected_alias_and_its_state(cli, connected_lite, registry):
    assert cli("remove", "lite").stdout == "Removed lite\n"
    assert registry.has_connection("lite") is False
    assert registry.get_connection_addr("lite") == {}
    cli("addr", "lite", code=1)


def test_remove_of_an_unknown_alias_exits_1(cli):
    result = cli("remove", "nope", code=1)
    assert result.stderr == "Error: alias 'nope' is unknown; nothing to remove\n"


# connect -----------------------------------------------------------------------------


def test_connect_milvus_lite_prints_version_and_latency(cli, lite):
    result = cli("connect", "lite")
    assert re.fullmatch(
        rf"Connected lite \({re.escape(lite.address)}\): healthy via milvus in {LATENCY}, "
        r"version milvus_lite-\S+\n",
        result.stdout,
    ), result.stdout


def test_connect_records_the_alias_as_connected(cli, lite, registry):
    cli("connect", "lite")
    assert registry.has_connection("lite") is True


def test_connect_json_has_the_outcome_shape(cli, lite):
    data = json.loads(cli("connect", "lite", "--json").stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"], data["protocol"]) == (
        "lite",
        0,
        "healthy",
        "milvus",
    )
    assert data["server_version"].startswith("milvus_lite-")
    assert data["latency_ms"] > 0


def test_connect_json_of_a_failure_has_the_same_shape(cli):
    address = servers.refused_address()
    result = cli("connect", "x", "--address", address, "--timeout", "1", "--json", code=3)
    data = json.loads(result.stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"]) == ("x", 3, "unreachable")
    assert address in data["reason"]


def test_connect_with_an_address_stores_a_new_alias(cli, milvus_lite):
    cli("connect", "fresh", "--address", milvus_lite.address)
    assert cli("addr", "fresh").stdout == f"{milvus_lite.address}\n"


def test_connect_grpc_health_server_reports_version_unknown(cli, serving):
    result = cli("connect", "h", "--address", serving.address)
    assert re.fullmatch(
        rf"Connected h \({re.escape(serving.address)}\): healthy via grpc-health in {LATENCY}: "
        r"version unknown\n",
        result.stdout,
    ), result.stdout


def test_connect_server_without_get_version_is_connected(cli, milvus_protocol):
    data = json.loads(cli("connect", "m", "--address", milvus_protocol.address, "--json").stdout)
    assert (data["exit_code"], data["status"], data["server_version"]) == (0, "healthy", None)


def test_connect_unknown_alias_without_address_exits_1(cli):
    result = cli("connect", "nope", code=1)
    assert result.stderr == (
        "Error: You need to pass in the configuration of the connection named 'nope' .\n"
    )


def test_connect_refused_exits_3(cli, registry):
    cli("connect", "x", "--address", servers.refused_address(), code=3)
    assert registry.has_connection("x") is False


def test_connect_silent_server_exits_3_after_its_timeout(cli, silent_server):
    elapsed, result = timed(cli, "connect", "x", "--address", silent_server.address,
                            "--timeout", "1", code=3)  # fmt: skip
    assert elapsed < within(1)
    assert f"no answer from {silent_server.address} within 1 s" in result.stderr


def test_connect_server_that_closes_at_once_exits_3(cli, closing_server):
    cli("connect", "x", "--address", closing_server.address, "--timeout", "1", code=3)


def test_connect_not_serving_exits_4(cli, serving):
    serving.set("", NOT_SERVING)
    result = cli("connect", "h", "--address", serving.address, code=4)
    assert result.stderr.endswith(": health status NOT_SERVING\n")


def test_connect_http1_server_exits_4(cli, http1_server):
    result = cli("connect", "w", "--address", http1_server.address, "--timeout", "2", code=4)
    assert f"{http1_server.address} speaks HTTP/1.x, not gRPC" in result.stderr


def test_connect_with_the_right_password_env_exits_0(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", ALICE_PASSWORD)
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    cli("connect", "alice")


def test_connect_with_wrong_credentials_exits_5(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", WRONG_PASSWORD)
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    result = cli("connect", "alice", code=5)
    assert "authentication failed" in result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr


def test_connect_password_stdin_never_shows_the_password(cli, auth_server, profile):
    result = cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    shown = [result, cli("list", "--json"), cli("addr", "alice", "--json")]
    files = b"".join(path.read_bytes() for path in profile.parent.iterdir())
    encoded = base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()
    for secret in (ALICE_PASSWORD, encoded):
        assert all(secret not in r.stdout + r.stderr for r in shown)
        assert secret.encode() not in files


def test_wrong_password_on_stdin_is_not_echoed(cli, auth_server):
    result = cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", "--json", input=f"{WRONG_PASSWORD}\n", code=5)  # fmt: skip
    assert WRONG_PASSWORD not in result.stdout + result.stderr


def test_connect_state_file_is_0600(cli, connected_lite, profile):
    assert stat.S_IMODE(state_file(profile).stat().st_mode) == 0o600


# usage errors (exit 2), all rejected before the profile is touched ------------------


TLS_OFF = "given but TLS is off: add --secure (secure = true) or use an https:// uri"
BAD_PROBE = "probe must be one of auto, grpc-health, milvus, got 'ping'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "a", "--host", "h", "--port", "0"], "port 0 out of range (1-65535)"),
        (["add", "a", "--host", "h", "--port", "70000"], "port 70000 out of range (1-65535)"),
        (["add", "a", "--address", "h:1", "--ca-pem-path", "ca.pem"], f"ca_pem_path {TLS_OFF}"),
        (["add", "a", "--address", "h:1", "--probe", "ping"], BAD_PROBE),
        (["add", "a", "--address", "h:1", "--timeout", "0"],
         "timeout must be greater than 0, got 0.0"),
        (["add", "a", "--address", "h"], "Illegal address: h, should be in form 'localhost:19530'"),
        (["connect", "a", "--address", "h:1", "--probe", "ping"], BAD_PROBE),
        (["connect", "a", "--address", "h:1", "--server-pem-path", "s.pem"],
         f"server_pem_path {TLS_OFF}"),
    ],
    ids=["port-0", "port-70000", "tls-file-without-secure", "bad-probe", "zero-timeout",
         "address-without-port", "connect-bad-probe", "connect-tls-file-without-secure"],
)  # fmt: skip
def test_invalid_option_exits_2_before_any_io(cli, profile, args, message):
    result = cli(*args, code=2)
    assert result.stderr == f"Error: {message}\n"
    assert not profile.parent.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "a", "--uri", "http://h:1", "--host", "h"], "give only one of --uri, --host"),
        (["connect", "a", "--address", "h:1", "--uri", "http://h:1"],
         "give only one of --uri, --address"),
        (["add", "a", "--port", "1"], "--port needs --host"),
        (["add", "a", "--host", "h", "--port", "abc"], "'abc' is not a valid int"),
        (["has", "--timeout", "fast"], "'fast' is not a valid float"),
    ],
    ids=["uri-and-host", "address-and-uri", "port-without-host", "port-not-a-number",
         "timeout-not-a-number"],
)  # fmt: skip
def test_conflicting_or_malformed_option_exits_2(cli, profile, args, message):
    result = cli(*args, code=2)
    assert message in result.stderr
    assert not profile.parent.exists()


# disconnect --------------------------------------------------------------------------


def test_disconnect_forgets_the_connected_state(cli, connected_lite, registry):
    assert cli("disconnect", "lite").stdout == "Disconnected lite\n"
    assert registry.has_connection("lite") is False


def test_disconnect_of_an_alias_not_connected_exits_0(cli, lite):
    assert cli("disconnect", "lite").stdout == "lite was not connected\n"


def test_disconnect_of_an_unknown_alias_exits_1(cli):
    assert cli("disconnect", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


# has ---------------------------------------------------------------------------------


def test_has_a_healthy_connected_alias_exits_0(cli, connected_lite):
    result = cli("has", "lite")
    assert re.fullmatch(
        rf"lite \({re.escape(connected_lite.address)}\): healthy via milvus in {LATENCY}\n",
        result.stdout,
    ), result.stdout


def test_has_an_alias_not_connected_exits_1(cli, lite):
    result = cli("has", "lite", code=1)
    assert result.stderr == "Error: alias 'lite' is not connected (run: conn connect lite)\n"


def test_has_an_unknown_alias_exits_1(cli):
    assert cli("has", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


def test_has_json_has_the_outcome_shape(cli, connected_lite):
    data = json.loads(cli("has", "lite", "--json").stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"], data["protocol"]) == (
        "lite",
        0,
        "healthy",
        "milvus",
    )


def test_has_json_of_an_alias_not_connected(cli, lite):
    data = json.loads(cli("has", "lite", "--json", code=1).stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["exit_code"], data["status"]) == (1, "not_connected")


def test_has_of_a_stopped_server_exits_3_within_timeout(cli, own_server):
    own_server.stop()
    assert timed(cli, "has", "svc", "--timeout", "1", code=3)[0] < within(1)


def test_has_of_a_silent_server_exits_3_within_timeout(cli, own_server):
    own_server.stop()
    with servers.silent_on(own_server.port):
        assert timed(cli, "has", "svc", "--timeout", "1", code=3)[0] < within(1)


def test_has_uses_the_alias_timeout_when_none_is_given(cli):
    with servers.running(servers.HealthServer()) as server:
        cli("connect", "svc", "--address", server.address, "--timeout", "1")
    with servers.silent_on(server.port):
        assert timed(cli, "has", "svc", code=3)[0] < within(1)  # the alias timeout


def test_has_of_a_not_serving_server_exits_4_within_timeout(cli, own_server):
    own_server.set("", NOT_SERVING)
    assert timed(cli, "has", "svc", "--timeout", "1", code=4)[0] < within(1)


def test_has_with_refused_credentials_exits_5_within_timeout(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", ALICE_PASSWORD)
    cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    monkeypatch.setenv("ALICE_PW", WRONG_PASSWORD)
    assert timed(cli, "has", "alice", "--timeout", "1", code=5)[0] < within(1)


def test_has_wait_gives_up_within_wait_and_timeout(cli, own_server):
    own_server.stop()
    assert timed(cli, "has", "svc", "--wait", "1", "--timeout", "1", code=3)[0] < within(1 + 1)


def test_has_no_probe_trusts_the_recorded_state(cli, own_server):
    own_server.stop()
    cli("has", "svc", "--timeout", "1", code=3)
    assert cli("has", "svc", "--no-probe").stdout == "svc: connected (not probed)\n"


def test_has_no_probe_of_an_alias_not_connected_exits_1(cli, lite):
    cli("has", "lite", "--no-probe", code=1)


def test_has_wait_retries_until_the_server_serves(cli, own_server):
    own_server.set("", NOT_SERVING)
    later = threading.Timer(0.5, own_server.set, ("", SERVING))
    later.start()
    cli("has", "svc", "--wait", "5", "--timeout", "1")
    later.join()


@pytest.mark.parametrize(
    ("alias", "code"),
    [("svc", 0), ("nope", 1), ("default", 1)],
    ids=["healthy", "unknown", "not-connected"],
)
def test_has_quiet_prints_nothing(cli, own_server, alias, code):
    result = cli("has", alias, "-q", code=code)
    assert (result.stdout, result.stderr) == ("", "")


def test_has_quiet_prints_nothing_when_unhealthy(cli, own_server):
    own_server.set("", NOT_SERVING)
    result = cli("has", "svc", "-q", code=4)
    assert (result.stdout, result.stderr) == ("", "")


# list --------------------------------------------------------------------------------


def test_list_piped_prints_aligned_plain_columns(cli):
    cli("add", "a", "--address", "127.0.0.1:19531", "--user", "ci", "--db-name", "prod")
    cli("add", "bb", "--uri", "https://milvus.example:443")
    assert cli("list").stdout == (
        "ALIAS      ADDRESS             USER  DB       TLS  STATE\n"
        "default *  localhost:19530     -     default  no   built-in\n"
        "a          127.0.0.1:19531     ci    prod     no   -\n"
        "bb         milvus.example:443  -     default  yes  -\n"
    )


def test_list_piped_shows_the_connected_state(cli, connected_lite):
    rows = [line.split() for line in cli("list").stdout.splitlines()]
    assert rows[2] == ["lite", connected_lite.address, "-", "default", "no", "connected"]


def test_list_json_has_the_documented_shape(cli, connected_lite, profile):
    data = json.loads(cli("list", "--json").stdout)
    assert [set(row) for row in data] == [LIST_KEYS, LIST_KEYS]
    assert data[1] == {
        "alias": "lite",
        "address": connected_lite.address,
        "user": "",
        "db_name": "default",
        "secure": False,
        "connected": True,
        "default": False,
        "profile": str(profile),  # the file that defines it (null for the built-in default)
        "builtin": False,
    }
    assert data[0]["profile"] is None


def test_list_check_json_adds_a_health_object(cli, milvus_lite):
    cli("add", "default", "--address", milvus_lite.address)
    [row] = json.loads(cli("list", "--check", "--json").stdout)
    assert set(row) == {*LIST_KEYS, "health"}
    assert set(row["health"]) == HEALTH_KEYS
    health = row["health"]
    assert (health["status"], health["protocol"], health["exit_code"]) == ("healthy", "milvus", 0)
    assert health["server_version"].startswith("milvus_lite-")


def test_list_check_exits_0_when_all_are_healthy(cli, milvus_lite, serving):
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "h", "--address", serving.address)
    result = cli("list", "--check")
    assert result.stdout.splitlines()[0].split() == [
        "ALIAS", "ADDRESS", "USER", "DB", "TLS", "STATE", "HEALTH", "LATENCY", "VERSION", "CERT",
    ]  # fmt: skip


def test_list_check_exits_with_the_unreachable_code(cli, milvus_lite):
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    cli("list", "--check", code=3)


def test_list_check_exits_with_the_highest_code(cli, milvus_lite, serving):
    serving.set("", NOT_SERVING)
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    cli("add", "sick", "--address", serving.address)
    cli("list", "--check", code=4)


def test_list_check_probes_all_aliases_at_once(cli, silent_server):
    for alias in ("s1", "s2", "s3"):
        cli("add", alias, "--address", silent_server.address)
    elapsed, _ = timed(cli, "list", "--check", "--timeout", "1", code=3)
    assert elapsed < within(1)  # one timeout, not three


# addr --------------------------------------------------------------------------------


def test_addr_prints_the_address_alone(cli, lite):
    result = cli("addr", "lite")
    assert (result.stdout, result.stderr) == (f"{lite.address}\n", "")


def test_addr_json_is_get_connection_addr(cli, lite, registry):
    data = json.loads(cli("addr", "lite", "--json").stdout)
    assert data == registry.get_connection_addr("lite") == {"address": lite.address, "user": ""}


def test_addr_json_after_connect_is_get_connection_addr(cli, connected_lite, registry):
    data = json.loads(cli("addr", "lite", "--json").stdout)
    assert data == registry.get_connection_addr("lite")
    assert data == {
        "address": connected_lite.address,
        "user": "",
        "db_name": "default",
        "secure": False,
    }


def test_addr_of_the_builtin_default(cli):
    assert cli("addr").stdout == "localhost:19530\n"


def test_addr_of_an_unknown_alias_exits_1(cli):
    assert cli("addr", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


# profile errors (exit 6) ----------------------------------------------------------


CORRUPT = "version = 1\n\n[connections.a]\naddress = \n"


def test_corrupt_profile_exits_6_naming_file_line_and_column(cli, profile):
    write_profile(profile, CORRUPT)
    result = cli("list", code=6)
    assert result.stderr.startswith(f"Error: {profile}: invalid TOML: ")
    assert "line 4, column 11" in result.stderr


def test_unknown_profile_version_exits_6(cli, profile):
    write_profile(profile, "version = 2\n")
    result = cli("list", code=6)
    assert result.stderr == (
        f"Error: {profile}: profile version 2 is not supported; this conn reads version 1 "
        "(upgrade milvus-conn); file left unchanged\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('timeout = "fast"', "timeout must be a number of seconds, got 'fast'"),
        ('secure = "yes"', "secure must be true or false, got 'yes'"),
        ("user = 5", "user must be a string, got 5"),
    ],
)
def test_wrong_type_for_a_known_key_exits_6_naming_alias_and_key(cli, profile, line, message):
    write_profile(profile, f'version = 1\n[connections.a]\naddress = "h:1"\n{line}\n')
    result = cli("addr", "a", code=6)
    assert result.stderr == f"Error: {profile}: connection 'a': {message}\n"


def test_corrupt_state_file_exits_6(cli, lite, profile):
    state_file(profile).write_text("{not json")
    result = cli("has", "lite", code=6)
    assert result.stderr.startswith(f"Error: {state_file(profile)}: invalid state file")


@pytest.mark.parametrize(
    "args",
    [
        ["add", "b", "--address", "127.0.0.1:19531"],
        ["add", "a", "--address", "127.0.0.1:19531", "--force"],
        ["remove", "a"],
        ["connect", "b", "--address", "127.0.0.1:19531"],
        ["disconnect", "a"],
    ],
    ids=["add", "add-force", "remove", "connect", "disconnect"],
)
def test_corrupt_profile_is_never_overwritten(cli, profile, args):
    write_profile(profile, CORRUPT)
    before = snapshot(profile)
    cli(*args, code=6)
    assert snapshot(profile) == before


def test_corrupt_state_file_is_never_overwritten(cli, lite, profile):
    state_file(profile).write_text("{not json")
    before = snapshot(profile)
    cli("connect", "lite", code=6)
    cli("disconnect", "lite", code=6)
    assert snapshot(profile) == before


# a rejected command changes nothing ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["add", "lite", "--address", "127.0.0.1:19531"], 1),
        (["remove", "nope"], 1),
        (["disconnect", "nope"], 1),
        (["connect", "nope"], 1),
        (["add", "x", "--uri", "http://h:1", "--host", "h"], 2),
        (["add", "x", "--host", "h", "--port", "70000"], 2),
        (["add", "x", "--address", "h:1", "--ca-pem-path", "ca.pem"], 2),
        (["connect", "lite", "--probe", "ping"], 2),
        (["has", "down"], 1),
        (["connect", "down", "--timeout", "1"], 3),
        (["list", "--check", "--timeout", "1"], 3),
        (["connect", "new", "--address", "{refused}", "--timeout", "1"], 3),
        (["connect", "new", "--address", "{auth}", "--user", "alice", "--password-env", "BAD"], 5),
    ],
    ids=["exists", "remove-unknown", "disconnect-unknown", "connect-unknown", "conflict",
         "bad-port", "tls-without-secure", "bad-probe", "has-not-connected", "refused",
         "list-check-refused", "refused-new-alias",
         "auth-refused"],
)  # fmt: skip
def test_rejected_command_leaves_profile_and_state_byte_identical(
    cli, connected_lite, profile, auth_server, monkeypatch, args, code
):
    monkeypatch.setenv("BAD", WRONG_PASSWORD)
    refused = servers.refused_address()
    cli("add", "down", "--address", refused)
    before = snapshot(profile)
    assert None not in before.values()
    cli(*(a.format(refused=refused, auth=auth_server.address) for a in args), code=code)
    assert snapshot(profile) == before


# errors are one line on stderr ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["has", "nope"], 1),
        (["add", "a", "--host", "h", "--port", "0"], 2),
        (["connect", "x", "--address", "{refused}", "--timeout", "1"], 3),
        (["connect", "x", "--address", "{http1}", "--timeout", "1"], 4),
    ],
    ids=["unknown-alias", "bad-port", "refused", "http1"],
)
def test_an_error_is_one_line_on_stderr(cli, http1_server, args, code):
    values = {"refused": servers.refused_address(), "http1": http1_server.address}
    result = cli(*(a.format(**values) for a in args), code=code)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")


def test_a_profile_error_is_one_line_on_stderr(cli, profile):
    write_profile(profile, CORRUPT)
    result = cli("list", code=6)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1


def test_a_conflicting_option_error_is_one_line_on_stderr(cli):
    result = cli("add", "a", "--uri", "http://h:1", "--host", "h", code=2)
    assert result.stderr == "Error: give only one of --uri, --host\n"


# real processes ----------------------------------------------------------------------


def test_connect_in_a_process_is_seen_by_a_fresh_registry(lite, profile):
    done = run_conn("connect", "lite")
    assert done.returncode == 0, done.stderr
    fresh = Connections(profile=profile)
    try:
        assert fresh.has_connection("lite") is True
        assert fresh.get_connection("lite").address == lite.address
    finally:
        fresh.reset()


def test_process_error_is_one_line_on_real_stderr(profile):
    done = run_conn("has", "nope")
    assert done.returncode == 1, done.stderr
    assert (done.stdout, done.stderr) == ("", "Error: unknown alias 'nope'\n")


def test_process_has_quiet_prints_nothing(connected_lite):
    done = run_conn("has", "lite", "-q")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_process_password_stdin_is_read_and_never_shown(auth_server, profile):
    done = run_conn("connect", "alice", "--address", auth_server.address, "--user", "alice",
                    "--password-stdin", stdin=f"{ALICE_PASSWORD}\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ALICE_PASSWORD not in done.stdout + done.stderr
    assert ALICE_PASSWORD.encode() not in profile.read_bytes() + state_file(profile).read_bytes()


def test_a_db_uri_is_refused_with_the_reason(cli, profile, tmp_path):
    for command in ("add", "connect"):
        result = cli(command, "local", "--uri", str(tmp_path / "demo.db"), code=2)
        assert result.stderr.startswith("Error: a .db uri runs Milvus Lite inside the Python")
    assert not profile.exists()
