"""The global `-q`/`--quiet` and `-v`/`--verbose`, and NO_COLOR as no-color.org says:
quiet prints nothing but errors, verbose names the profile and the probed address and
never a secret."""

from __future__ import annotations

import base64

import pytest

from milvus_conn import Connections

from .helpers import ALICE_PASSWORD, on_terminal

# -q / --quiet and -v / --verbose -------------------------------------------------------


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["addr", "lite"]])
def test_quiet_prints_nothing(cli, lite, args):
    result = cli("-q", *args)
    assert (result.stdout, result.stderr) == ("", "")


def test_quiet_connect_prints_nothing_and_still_connects(cli, lite, registry):
    result = cli("-q", "connect", "lite")
    assert (result.stdout, result.stderr) == ("", "")
    assert registry.has_connection("lite") is True


def test_quiet_still_prints_errors(cli, lite):
    result = cli("-q", "addr", "nope", code=1)
    assert (result.stdout, result.stderr) == ("", "Error: unknown alias 'nope'\n")


def test_quiet_list_on_a_terminal_prints_nothing(lite, profile):
    code, shown = on_terminal("list")
    assert code == 0
    assert "ALIAS" in shown  # the control: without -q, a table is drawn on the terminal
    code, shown = on_terminal("-q", "list")
    assert code == 0
    assert shown == ""


def test_verbose_has_names_the_profile_and_the_probed_address(cli, lite, profile):
    cli("connect", "lite")
    result = cli("-v", "has", "lite")
    assert result.stdout.startswith(f"lite ({lite.address}): healthy")
    assert result.stderr == (
        f"conn: profile {profile}\n"
        f"conn: lite: probed {lite.address} (tls off, probe auto, timeout default): "
        "healthy via milvus\n"
    )


def test_verbose_connect_names_the_profile_and_the_probed_address(cli, auth_server, profile):
    result = cli("-v", "connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    lines = result.stderr.splitlines()
    assert all(line.startswith("conn: ") for line in lines), lines
    assert f"conn: profile {profile}" in lines
    assert any(auth_server.address in line for line in lines), lines


def test_verbose_never_prints_the_password(cli, auth_server):
    result = cli("-v", "connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    encoded = base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()
    for secret in (ALICE_PASSWORD, encoded):
        assert secret not in result.stdout + result.stderr


def test_verbose_list_check_names_every_probed_address(cli, lite):
    cli("add", "other", "--address", "127.0.0.1:19531", "--timeout", "1")
    result = cli("-v", "list", "--check", code=3)
    probed = [line for line in result.stderr.splitlines() if "probed" in line]
    assert [line.startswith("conn: ") for line in probed] == [True] * 3
    for address in ("localhost:19530", lite.address, "127.0.0.1:19531"):
        assert any(address in line for line in probed), result.stderr


# NO_COLOR ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "coloured"), [("", True), ("1", False)], ids=["empty", "set"])
def test_no_color_only_when_set_and_not_empty(profile, serving, value, coloured):
    Connections(profile=profile).add("h", address=serving.address)
    Connections(profile=profile).add("default", address=serving.address)
    code, text = on_terminal("list", "--check", env={"CONN_PROFILE": str(profile),
                                                     "NO_COLOR": value})  # fmt: skip
    assert code == 0, text
    assert ("\x1b[32m" in text) is coloured, repr(text)


def test_piped_columns_line_up_with_wide_characters(cli):
    """A CJK character takes two terminal columns: the plain table counts it so."""
    cli("add", "数据库", "--address", "127.0.0.1:1", "--user", "用户")
    cli("add", "b", "--address", "127.0.0.1:2", "--user", "bob")
    lines = cli("list").stdout.splitlines()
    header, wide, narrow = lines[0], lines[2], lines[3]
    assert wide.startswith("数据库") and narrow.startswith("b ")
    columns = [header.index("ADDRESS"), header.index("USER")]
    assert [narrow.index("127"), narrow.index("bob")] == columns
    # the wide row: each CJK character is two columns, so its string offsets are smaller
    assert [wide.index("127") + 3, wide.index("用户") + 3] == columns
