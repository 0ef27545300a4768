"""The default alias: `conn use` stores it in the profile, commands without an alias
read it, `$MILVUS_CONN_ALIAS` outranks it, and the built-in `default` (from
`$MILVUS_URI` or localhost:19530) is marked and does not fail a listing."""

from __future__ import annotations

import json
import re

import pytest

from milvus_conn import Connections

from . import servers
from .conftest import run_conn
from .helpers import snapshot

# conn use ------------------------------------------------------------------------------


def first_column(text: str) -> list[str]:
    """The ALIAS cell of each row of piped `conn list` output (header excluded)."""
    return [re.split(r"\s{2,}", line)[0] for line in text.splitlines()[1:]]


def defaults(cli, *args: str) -> dict[str, bool]:
    return {row["alias"]: row["default"] for row in json.loads(cli(*args, "list", "--json").stdout)}


@pytest.fixture
def used_lite(cli, lite):
    """Milvus Lite stored as `lite`, made the profile's default with `conn use`."""
    cli("add", "other", "--address", "127.0.0.1:19531")
    assert cli("use", "lite").stdout == "lite\n"
    return lite


def test_use_writes_default_alias_to_the_profile(cli, used_lite, profile):
    assert profile.read_text() == (
        'version = 1\ndefault_alias = "lite"\n\n'
        f'[connections.lite]\naddress = "{used_lite.address}"\n\n'
        '[connections.other]\naddress = "127.0.0.1:19531"\n'
    )


def test_use_without_alias_prints_the_current_default(cli, used_lite):
    assert cli("use").stdout == "lite\n"


def test_use_without_alias_on_a_fresh_profile_prints_default(cli):
    assert cli("use").stdout == "default\n"


def test_commands_without_alias_use_the_chosen_default(cli, used_lite, registry):
    address = used_lite.address
    assert cli("addr").stdout == f"{address}\n"
    assert cli("connect").stdout.startswith(f"Connected lite ({address}): healthy via milvus")
    assert registry.has_connection("lite") is True
    assert cli("has").stdout.startswith(f"lite ({address}): healthy via milvus")
    assert "export MILVUS_CONN_ALIAS=lite\n" in cli("env").stdout
    assert cli("disconnect").stdout == "Disconnected lite\n"
    assert registry.has_connection("lite") is False


def test_list_marks_the_chosen_default_with_a_star(cli, used_lite):
    assert first_column(cli("list").stdout) == ["default", "lite *", "other"]


def test_list_json_flags_only_the_chosen_default(cli, used_lite):
    assert defaults(cli) == {"default": False, "lite": True, "other": False}


def test_milvus_conn_alias_wins_over_the_profile_default(cli, used_lite, monkeypatch):
    monkeypatch.setenv("MILVUS_CONN_ALIAS", "other")
    assert cli("addr").stdout == "127.0.0.1:19531\n"
    assert cli("use").stdout == "other\n"
    assert defaults(cli) == {"other": True, "lite": False}


def test_use_of_an_unknown_alias_exits_1_and_changes_nothing(cli, used_lite, profile):
    before = snapshot(profile)
    assert cli("use", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"
    assert snapshot(profile) == before


def test_removing_the_default_alias_clears_it(cli, used_lite, profile):
    cli("remove", "lite")
    assert "default_alias" not in profile.read_text()
    assert cli("use").stdout == "default\n"


def test_library_connect_without_alias_uses_the_chosen_default(used_lite, registry):
    handle = registry.connect()
    assert (handle.alias, handle.address) == ("lite", used_lite.address)
    assert registry.has_connection("lite") is True


# real processes ------------------------------------------------------------------------


def test_process_use_then_addr_without_alias(lite, profile):
    done = run_conn("use", "lite")
    assert done.returncode == 0, done.stderr
    done = run_conn("addr")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{lite.address}\n"


def test_fresh_registry_sees_the_default_chosen_by_conn_use(used_lite, profile):
    assert Connections(profile=profile).resolve_alias(None) == "lite"


# the built-in default does not fail a listing ------------------------------------------


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
    assert rows[1]["health"]["status"] == "healthy"  # a named alias is probed at its address


def test_milvus_uri_redirects_connect_of_a_connected_alias_as_pymilvus(cli, serving, monkeypatch):
    """pymilvus refuses another address only when connect names one; $MILVUS_URI comes
    before the alias's own config."""
    with servers.running(servers.HealthServer()) as first:
        cli("connect", "h", "--address", first.address)  # type: ignore[attr-defined]
        monkeypatch.setenv("MILVUS_URI", f"http://{serving.address}")
        cli("connect", "h")
    monkeypatch.delenv("MILVUS_URI")
    assert cli("addr", "h").stdout == f"{serving.address}\n"


def test_milvus_uri_never_redirects_a_connected_alias(cli, serving, monkeypatch):
    cli("connect", "h", "--address", serving.address)
    monkeypatch.setenv("MILVUS_URI", f"http://{servers.refused_address()}")
    cli("has", "h")  # its own connection, opened again from the state file


# the built-in default alias, through the library ---------------------------------------


def test_builtin_default_alias_exists_when_profile_has_none(registry):
    assert registry.list_connections() == [("default", None)]
    assert registry.get_connection_addr("default") == {"address": "localhost:19530", "user": ""}
    assert registry.has_connection("default") is False


def test_milvus_uri_changes_the_builtin_default(registry, monkeypatch):
    monkeypatch.setenv("MILVUS_URI", "http://milvus.example:1234")
    assert registry.get_connection_addr("default")["address"] == "milvus.example:1234"


def test_milvus_conn_alias_renames_the_builtin_default(registry, monkeypatch):
    monkeypatch.setenv("MILVUS_CONN_ALIAS", "main")
    assert registry.list_connections() == [("main", None)]
    assert registry.get_connection_addr("default") == {}


def test_connect_without_alias_uses_milvus_uri(registry, serving, monkeypatch):
    monkeypatch.setenv("MILVUS_URI", f"http://{serving.address}")
    handle = registry.connect()
    assert handle.address == serving.address
    assert registry.has_connection("default") is True
