"""One broken alias (an invalid table, an unset secret variable, an unreadable TLS file)
is that alias's fault alone: it is its own row and its own error, and every other
alias keeps working."""

from __future__ import annotations

import json
import sys

import pytest

from milvus_conn.errors import ProfileException

from .helpers import BROKEN, state_file, write_profile

# one alias's problem is that alias's row -----------------------------------------------


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
    assert rows["tls"]["health"]["reason"] == f"alias 'tls': --ca-pem-path {missing}: no such file"


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
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

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


# a bad option is the command's error, not every row's ----------------------------------


def test_a_bad_timeout_is_the_commands_error_not_every_rows(cli, serving):
    cli("add", "h", "--address", serving.address)
    result = cli("list", "--check", "--timeout", "0", code=2)
    assert (result.stdout, result.stderr) == (
        "",
        "Error: timeout must be greater than 0, got 0.0\n",
    )


def test_list_connections_keeps_the_broken_alias_with_no_handle(registry, profile):
    """pymilvus's `list_connections` lists every alias: a broken one is there, not live."""
    write_profile(profile, BROKEN)
    listed = dict(registry.list_connections())
    assert "badport" in listed and listed["badport"] is None
    assert "good" in listed


def test_a_state_entry_that_is_not_a_table_is_its_aliases_fault_alone(cli, profile, serving):
    """A hand-edited state file: the bad record fails its alias (exit 6, naming the file,
    the alias and the fix), never the others, and `conn disconnect` clears it."""
    cli("connect", "good", "--address", serving.address)
    cli("add", "bad", "--address", serving.address)
    state = state_file(profile)
    data = json.loads(state.read_text())
    data["connected"]["bad"] = "garbage"
    state.write_text(json.dumps(data))
    for _ in range(2):  # parsed, then from the parse cache
        cli("has", "good")
        failed = cli("has", "bad", code=6)
        assert "alias 'bad'" in failed.stderr and "conn disconnect bad" in failed.stderr
        assert str(state) in failed.stderr, failed.stderr
        cli("list")
    cli("disconnect", "bad")
    cli("has", "bad", code=1)
    cli("has", "good")


def test_a_state_entry_that_does_not_validate_names_the_file_the_alias_and_the_fix(
    cli, profile, serving
):
    cli("add", "bad", "--address", serving.address)
    state = state_file(profile)
    state.write_text(
        json.dumps({"version": 1, "connected": {"bad": {"address": "127.0.0.1:99999"}}})
    )
    for command in ("connect", "has"):  # resolved for a reconnect, opened as a live handle
        assert cli(command, "bad", code=6).stderr == (
            f"Error: {state}: alias 'bad': '127.0.0.1:99999' is not a valid address: port 99999 "
            "out of range (1-65535) (conn disconnect bad clears it)\n"
        )
