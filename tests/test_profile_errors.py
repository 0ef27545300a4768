"""Hand-edited profiles and state files that are wrong: a syntax error is exit 6 with
path, line and column; a wrong type names the alias and the key; an unknown or
unusable `version` is refused; none of these files is ever overwritten. Unknown keys
survive every rewrite."""

from __future__ import annotations

import json
import re
import sys

import pytest

from milvus_conn import Connections, ProfileException
from milvus_conn.storage.store import ProfileStore

from .helpers import CORRUPT, one_error_line, snapshot, state_file, write_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# hand-edited profiles, through conn ----------------------------------------------------


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


SYNTAX_ERRORS = {
    # name: (text, line, column) of the first error, as a TOML parser counts them
    "unterminated-string": ('version = 1\n[connections.a]\naddress = "h:1\n', 3, 15),
    "duplicate-key": ('version = 1\n[connections.a]\naddress = "h:1"\naddress = "h:2"\n', 4, 16),
    "bad-table-header": ('version = 1\n[connections.a\naddress = "h:1"\n', 2, 15),
    "bad-number": ('version = 1\n\n[connections.a]\naddress = "h:1"\ntimeout = 1.0.0\n', 5, 14),
    "table-twice": ('[connections.a]\naddress = "h:1"\n[connections.a]\nuser = "x"\n', 3, 15),
    "missing-value": ('version = 1\n[connections.a]\naddress = \nuser = "x"\n', 3, 11),
}


TRUNCATED = {
    # A file cut short (an editor crash, a full disk): the error is at the end.
    "cut-in-a-string": 'version = 1\n[connections.a]\naddress = "h:1',
    "cut-after-equals": 'version = 1\n[connections.a]\naddress = "h:1"\ntimeout = ',
    "cut-in-a-header": 'version = 1\n[connections.a]\naddress = "h:1"\n[connections.b',
}


@pytest.mark.parametrize(("text", "line", "column"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS)
@pytest.mark.parametrize("command", [["list"], ["addr", "a"], ["add", "b", "--address", "h:2"]])
def test_a_syntax_error_exits_6_with_path_line_and_column(
    cli, profile, text, line, column, command
):
    write_profile(profile, text)
    before = snapshot(profile)
    result = cli(*command, code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: invalid TOML: ")
    assert f"line {line}, column {column}" in message
    assert snapshot(profile) == before


@pytest.mark.parametrize("text", TRUNCATED.values(), ids=TRUNCATED)
def test_a_truncated_profile_is_reported_with_line_and_column(cli, profile, text):
    """A corrupt file is reported with its line and column, even cut off mid-value."""
    write_profile(profile, text)
    before = snapshot(profile)
    result = cli("list", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: invalid TOML: ")
    last_line = text.count("\n") + 1
    assert re.search(rf"line {last_line}, column \d+", message), message
    assert snapshot(profile) == before


def test_a_profile_that_is_not_utf8_exits_6_and_is_kept(cli, profile):
    write_profile(profile, b'version = 1\n[connections.a]\naddress = "h\xff:1"\n')
    before = snapshot(profile)
    result = cli("add", "b", "--address", "h:2", code=6)
    assert one_error_line(result.stderr).startswith(f"Error: {profile}: not UTF-8")
    assert snapshot(profile) == before


WRONG_TYPES = {
    # key: a TOML value of the wrong type
    "address": "5",
    "uri": "[1, 2]",
    "user": "5",
    "db_name": "true",
    "secure": '"yes"',
    "server_pem_path": "1.5",
    "server_name": "{ a = 1 }",
    "client_pem_path": "false",
    "client_key_path": "0",
    "ca_pem_path": "[]",
    "timeout": '"fast"',
    "probe": "3",
    "health_service": "2024-01-01",
    "password_env": "1",
    "token_env": "[true]",
    "password": "7",
    "token": "7",
}


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES.items(), ids=WRONG_TYPES)
def test_a_wrong_type_for_a_known_key_exits_6_naming_alias_and_key(cli, profile, key, value):
    address = "" if key in ("address", "uri") else 'address = "127.0.0.1:19530"\n'
    write_profile(profile, f"version = 1\n[connections.prod]\n{address}{key} = {value}\n")
    before = snapshot(profile)
    result = cli("addr", "prod", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: connection 'prod': ")
    assert key in message.removeprefix(f"Error: {profile}: connection 'prod': ")
    cli("use", "prod", code=6)  # what uses the alias fails; the others are its own
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    "table",
    ['user = "x"', 'db_name = "d"\nprobe = "milvus"', ""],
    ids=["user-only", "no-target", "empty"],
)
def test_an_alias_without_address_or_uri_exits_6_naming_alias_and_address(cli, profile, table):
    """A hand-written alias with no target is a profile error, never an empty address."""
    write_profile(profile, f"version = 1\n[connections.prod]\n{table}\n")
    result = cli("addr", "prod", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: connection 'prod': ")
    assert "address" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version = 1\nconnections = 5\n", "'connections' must be a table"),
        ("version = 1\n[[connections]]\nname = 'a'\n", "'connections' must be a table"),
        ("version = 1\n[connections]\nprod = 'h:1'\n", "connection 'prod' must be a table"),
    ],
    ids=["connections-number", "connections-array", "alias-not-a-table"],
)
def test_a_misshapen_profile_exits_6(cli, profile, text, words):
    write_profile(profile, text)
    result = cli("list", code=6)
    assert words in one_error_line(result.stderr)


def test_unknown_keys_survive_every_rewrite(cli, profile):
    write_profile(
        profile,
        """# team profile -- this comment is dropped on rewrite (README: The profile)
version = 1
owner = "team-x"
tags = ["a", "b"]

[meta]
reviewed = 2024-05-01

[connections.prod]
address = "127.0.0.1:19530"   # trailing comment
note = "keep me"
labels = { env = "prod", tier = 1 }

[connections.prod.extra_table]
x = 1

[connections.stage]
address = "127.0.0.1:19531"
retries = 3
""",
    )
    original = tomllib.loads(profile.read_text())
    cli("add", "new", "--address", "127.0.0.1:19532")
    cli("add", "prod", "--address", "127.0.0.1:19533", "--force")  # replaces, keeps extras
    cli("remove", "new")
    after = tomllib.loads(profile.read_text())

    assert {k: after[k] for k in ("owner", "tags", "meta")} == {
        k: original[k] for k in ("owner", "tags", "meta")
    }
    prod = after["connections"]["prod"]
    assert prod["address"] == "127.0.0.1:19533"
    for key in ("note", "labels", "extra_table"):
        assert prod[key] == original["connections"]["prod"][key]
    assert after["connections"]["stage"] == original["connections"]["stage"]
    text = profile.read_text()
    assert "#" not in text  # documented: comments are not kept
    # Unknown keys are carried, never shown as config.
    assert "note" not in json.loads(cli("addr", "prod", "--json").stdout)


def test_unknown_keys_survive_a_library_rewrite(profile):
    write_profile(
        profile,
        'version = 1\nowner = "x"\n[connections.a]\naddress = "127.0.0.1:1"\nnote = "n"\n',
    )
    Connections(profile=profile).add_connection(b={"address": "127.0.0.1:2"})
    document = tomllib.loads(profile.read_text())
    assert document["owner"] == "x"
    assert document["connections"]["a"]["note"] == "n"


VERSION_COMMANDS = pytest.mark.parametrize(
    "command",
    [["list"], ["add", "x", "--address", "127.0.0.1:1"], ["remove", "a"], ["disconnect", "a"]],
    ids=["list", "add", "remove", "disconnect"],
)


@pytest.mark.parametrize("version", ["2", "99"])
@VERSION_COMMANDS
def test_a_newer_profile_version_is_refused_and_not_rewritten(cli, profile, version, command):
    write_profile(profile, f'version = {version}\n[connections.a]\naddress = "h:1"\nnew = 1\n')
    before = snapshot(profile)
    result = cli(*command, code=6)
    assert one_error_line(result.stderr) == (
        f"Error: {profile}: profile version {version} is not supported; this conn reads "
        "version 1 (upgrade milvus-conn); file left unchanged\n"
    )
    assert snapshot(profile) == before


@pytest.mark.parametrize("version", ['"2"', "1.5", "0", "-1", "true"])
@VERSION_COMMANDS
def test_an_unusable_profile_version_is_refused_and_not_rewritten(cli, profile, version, command):
    write_profile(profile, f'version = {version}\n[connections.a]\naddress = "h:1"\n')
    before = snapshot(profile)
    result = cli(*command, code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: ") and "version" in message
    assert snapshot(profile) == before


def test_a_newer_profile_version_is_refused_by_the_library(profile):
    write_profile(profile, 'version = 2\n[connections.a]\naddress = "h:1"\n')
    before = snapshot(profile)
    registry = Connections(profile=profile)
    with pytest.raises(ProfileException, match="profile version 2 is not supported"):
        registry.add_connection(b={"address": "h:2"})
    with pytest.raises(ProfileException, match="profile version 2"):
        registry.remove_connection("a")
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    "state",
    ["{not json", "[]", '{"connected": []}', ""],
    ids=["syntax", "array", "connected-list", "empty"],
)  # one entry that is not a table is its alias's fault alone: test_broken_alias.py
def test_a_hand_broken_state_file_exits_6_and_is_kept(cli, profile, state):
    cli("add", "a", "--address", "127.0.0.1:1")
    state_file(profile).write_text(state)
    before = snapshot(profile)
    result = cli("has", "a", "--no-probe", code=6)
    assert one_error_line(result.stderr).startswith(f"Error: {state_file(profile)}: ")
    cli("disconnect", "a", code=6)
    assert snapshot(profile) == before


# through the library -------------------------------------------------------------------


# `user =` has no value: line 5, column 8.
CORRUPT_USER = 'version = 1\n\n[connections.a]\naddress = "h:1"\nuser = \n'


def test_a_corrupt_profile_names_its_path_line_and_column(registry, profile):
    write_profile(profile, CORRUPT_USER)
    with pytest.raises(ProfileException) as info:
        registry.get_connection_addr("a")
    assert str(info.value).startswith(f"{profile}: invalid TOML: ")
    assert "line 5, column 8" in str(info.value)
    assert info.value.exit_code == 6


def test_a_corrupt_profile_is_never_overwritten(registry, profile, serving):
    before = write_profile(profile, CORRUPT_USER)
    attempts = [
        lambda: registry.add_connection(b={"address": "h:2"}),
        lambda: registry.remove_connection("a"),
        lambda: registry.connect("c", address=serving.address),
        lambda: ProfileStore(profile).update(lambda current: current),
    ]
    for attempt in attempts:
        with pytest.raises(ProfileException):
            attempt()
        assert profile.read_bytes() == before
    assert not state_file(profile).exists()


def test_a_corrupt_state_file_is_a_profile_error_and_kept(registry, profile, serving):
    registry.add_connection(h={"address": serving.address})
    state = state_file(profile)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("{not json")
    with pytest.raises(ProfileException) as info:
        registry.has_connection("h")
    assert str(info.value).startswith(f"{state}: invalid state file: ")
    with pytest.raises(ProfileException):
        registry.connect("h")
    assert state.read_text() == "{not json"


def test_a_newer_profile_version_is_refused_and_left_unchanged(registry, profile):
    before = write_profile(profile, 'version = 2\n\n[connections.a]\naddress = "h:1"\n')
    with pytest.raises(ProfileException) as info:
        registry.add_connection(b={"address": "h:2"})
    assert str(info.value) == (
        f"{profile}: profile version 2 is not supported; this conn reads version 1 "
        "(upgrade milvus-conn); file left unchanged"
    )
    assert profile.read_bytes() == before


def test_a_missing_version_is_read_as_version_1(registry, profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\n')
    assert registry.get_connection_addr("a") == {"address": "h:1", "user": ""}
    registry.add_connection(b={"address": "h:2"})  # appended: the file keeps its own layout
    assert tomllib.loads(profile.read_text())["connections"]["b"] == {"address": "h:2"}
    registry.remove_connection("a")  # rewritten: now with the version
    assert profile.read_text().startswith("version = 1\n")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('timeout = "soon"', "timeout must be a number of seconds, got 'soon'"),
        ("timeout = 0", "timeout must be greater than 0, got 0.0"),
        ('secure = "yes"', "secure must be true or false, got 'yes'"),
        ("user = 3", "user must be a string, got 3"),
        ('probe = "ping"', "probe must be one of auto, grpc-health, milvus, got 'ping'"),
    ],
)
def test_a_wrong_value_names_the_alias_and_the_key(registry, profile, line, problem):
    before = write_profile(profile, f'version = 1\n\n[connections.a]\naddress = "h:1"\n{line}\n')
    with pytest.raises(ProfileException) as info:
        registry.use("a")  # the alias's own fault: only what uses it fails
    assert str(info.value) == f"{profile}: connection 'a': {problem}"
    assert profile.read_bytes() == before


def test_a_non_string_address_names_the_alias_and_the_key(registry, profile):
    write_profile(profile, "[connections.a]\naddress = 5\n")
    with pytest.raises(ProfileException) as info:
        registry.get_connection_addr("a")
    assert str(info.value) == f"{profile}: connection 'a': address must be a string, got 5"
