"""Layered profiles, as `KUBECONFIG=a:b`. Several files seen as one: the first
file that defines an alias wins; new aliases and `use` go to the first file; `remove`
and `add --force` change the file that defines the alias, or are refused if it is
read-only; a missing file is skipped; a corrupt one is reported with its path."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from milvus_conn import Connections

from .helpers import snapshot, state_file, write_profile, write_tls_alias
from .test_readonly import conn_read_only, needs_ro_mount

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PERSONAL = '[connections.h]\naddress = "127.0.0.1:1001"\n'
TEAM = (
    'default_alias = "t"\n\n[connections.h]\naddress = "127.0.0.1:2001"\n\n'
    '[connections.t]\naddress = "127.0.0.1:2002"\nsecure = true\nca_pem_path = "certs/ca.pem"\n'
)


@pytest.fixture
def layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A personal profile layered over a team one, in CONN_PROFILE."""
    personal, team = tmp_path / "me" / "profiles.toml", tmp_path / "repo" / "team.toml"
    write_profile(personal, PERSONAL)
    write_profile(team, TEAM)
    monkeypatch.setenv("CONN_PROFILE", f"{personal}{os.pathsep}{team}")
    return personal, team


def aliases_in(path: Path) -> dict[str, str]:
    tables = tomllib.loads(path.read_text())["connections"]
    return {alias: table["address"] for alias, table in tables.items()}


def listed(cli, *args: str) -> dict[str, dict]:
    return {row["alias"]: row for row in json.loads(cli(*args, "list", "--json").stdout)}


# reading -------------------------------------------------------------------------------


def test_the_first_file_that_defines_an_alias_wins(cli, layers):
    personal, team = layers
    rows = listed(cli)
    assert list(rows) == ["default", "h", "t"]
    assert rows["h"]["address"] == "127.0.0.1:1001"
    assert (rows["h"]["profile"], rows["t"]["profile"]) == (str(personal), str(team))
    assert rows["default"]["profile"] is None  # built in
    assert cli("addr", "h").stdout == "127.0.0.1:1001\n"


def test_the_default_alias_is_the_first_file_that_sets_one(cli, layers):
    assert cli("addr").stdout == "127.0.0.1:2002\n"  # the team's `t`: personal sets none
    cli("use", "h")
    assert cli("addr").stdout == "127.0.0.1:1001\n"


def test_list_verbose_names_each_aliases_file(cli, layers):
    personal, team = layers
    result = cli("-v", "list")
    assert f"conn: profile {personal}{os.pathsep}{team}\n" in result.stderr
    assert f"conn: alias h: from {personal}\n" in result.stderr
    assert f"conn: alias t: from {team}\n" in result.stderr
    assert "conn: alias default: from conn (built in)\n" in result.stderr


def test_addr_explain_names_the_defining_file_and_reads_tls_paths_beside_it(cli, layers):
    personal, team = layers
    report = json.loads(cli("addr", "t", "--explain", "--json").stdout)
    assert report["address"] == {"value": "127.0.0.1:2002", "source": f"profile:{team}"}
    assert report["ca_pem_path"]["value"] == str(team.parent / "certs" / "ca.pem")
    report = json.loads(cli("addr", "h", "--explain", "--json").stdout)
    assert report["address"]["source"] == f"profile:{personal}"


def test_a_lower_layers_alias_reads_its_relative_tls_paths_beside_its_own_file(
    cli, tmp_path, monkeypatch, tls_health, certs
):
    """Not beside the first file's: connected or not, listed or checked from the state."""
    personal, team = tmp_path / "me" / "profiles.toml", tmp_path / "repo" / "team.toml"
    write_profile(personal, PERSONAL)
    write_tls_alias(team, tls_health.address, certs)
    monkeypatch.setenv("CONN_PROFILE", f"{personal}{os.pathsep}{team}")
    monkeypatch.chdir(tmp_path)
    checked = {
        row["alias"]: row for row in json.loads(cli("list", "--check", "--json", code=3).stdout)
    }
    assert checked["t"]["health"]["status"] == "healthy", checked["t"]
    cli("connect", "t")
    assert cli("has", "t").stdout.startswith(f"t ({tls_health.address}): healthy")  # its handle


def test_repeated_profile_options_are_layers_too(cli, layers, monkeypatch):
    personal, team = layers
    monkeypatch.delenv("CONN_PROFILE")
    rows = listed(cli, "--profile", str(team), "--profile", str(personal))
    assert rows["h"]["address"] == "127.0.0.1:2001"  # now the team's file is first
    assert rows["h"]["profile"] == str(team)


def test_a_missing_file_is_skipped_and_created_by_the_first_write(cli, tmp_path, monkeypatch):
    missing, team = tmp_path / "nowhere" / "me.toml", tmp_path / "team.toml"
    write_profile(team, TEAM)
    monkeypatch.setenv("CONN_PROFILE", f"{missing}{os.pathsep}{team}")
    assert list(listed(cli)) == ["default", "h", "t"]
    cli("add", "mine", "--address", "127.0.0.1:3001")
    assert aliases_in(missing) == {"mine": "127.0.0.1:3001"}
    monkeypatch.setenv("CONN_PROFILE", f"{team}{os.pathsep}{missing.with_name('gone.toml')}")
    assert list(listed(cli)) == ["default", "h", "t"]


def test_a_corrupt_layer_is_reported_with_its_path_line_and_column(cli, layers):
    personal, team = layers
    write_profile(team, "version = 1\n\n[connections.t]\naddress = \n")
    before = snapshot(personal)
    for args in (["list"], ["addr", "h"], ["add", "x", "--address", "h:1"]):
        result = cli(*args, code=6)
        assert result.stderr.startswith(f"Error: {team}: invalid TOML: "), result.stderr
        assert "line 4, column 11" in result.stderr
    assert snapshot(personal) == before


# writing -------------------------------------------------------------------------------


def test_new_aliases_and_use_go_to_the_first_file(cli, layers):
    personal, team = layers
    team_before = team.read_bytes()
    cli("add", "new", "--address", "127.0.0.1:1002")
    cli("use", "new")  # over the team's default, in my file
    assert aliases_in(personal) == {"h": "127.0.0.1:1001", "new": "127.0.0.1:1002"}
    assert tomllib.loads(personal.read_text())["default_alias"] == "new"
    assert cli("addr").stdout == "127.0.0.1:1002\n"
    assert team.read_bytes() == team_before


def test_add_without_force_refuses_an_alias_of_any_layer(cli, layers):
    personal, team = layers
    before = {**snapshot(personal), **snapshot(team)}
    result = cli("add", "t", "--address", "127.0.0.1:9", code=1)
    assert "alias 't' already exists" in result.stderr
    assert {**snapshot(personal), **snapshot(team)} == before


def test_add_force_and_remove_change_the_defining_file(cli, layers):
    personal, team = layers
    cli("add", "t", "--address", "127.0.0.1:2999", "--force")
    assert aliases_in(team) == {"h": "127.0.0.1:2001", "t": "127.0.0.1:2999"}
    assert aliases_in(personal) == {"h": "127.0.0.1:1001"}
    cli("remove", "t")
    assert aliases_in(team) == {"h": "127.0.0.1:2001"}
    cli("remove", "h")  # my `h` goes; the team's, beneath it, shows through
    assert aliases_in(personal) == {}
    assert listed(cli)["h"]["profile"] == str(team)


def test_connection_state_is_this_users_for_the_layered_view(cli, layers, serving):
    personal, team = layers
    cli("add", "up", "--address", serving.address)
    cli("connect", "up")
    cli("has", "up")
    assert list(json.loads(state_file(personal).read_text())["connected"]) == ["up"]
    assert sorted(p.name for p in team.parent.iterdir()) == ["team.toml"]


@needs_ro_mount
def test_a_read_only_lower_layer_serves_reads_and_refuses_its_own_changes(layers, serving):
    personal, team = layers
    write_profile(team, TEAM + f'\n[connections.up]\naddress = "{serving.address}"\n')
    before = snapshot(team)
    for args in (["list"], ["connect", "up"], ["has", "up"], ["addr", "t", "--explain"]):
        result = conn_read_only(team.parent, *args)
        assert result.returncode == 0, (args, result.stderr)
    added = conn_read_only(team.parent, "add", "mine", "--address", "127.0.0.1:5")
    assert added.returncode == 0, added.stderr  # it goes to my file
    assert "mine" in aliases_in(personal)
    for args in (["add", "t", "--address", "127.0.0.1:9", "--force"], ["remove", "up"]):
        mine = snapshot(personal)
        result = conn_read_only(team.parent, *args)
        assert result.returncode == 6, (args, result.stderr)
        assert result.stderr == f"Error: profile {team} is read-only; nothing changed\n"
        assert snapshot(personal) == mine
    same = personal.with_name("same.toml")  # the team's own `t`, imported: no change to make
    write_profile(same, TEAM.rsplit("\n\n", maxsplit=1)[-1])
    imported = conn_read_only(team.parent, "import", str(same))
    assert imported.returncode == 0, imported.stderr
    assert snapshot(team) == before
    assert conn_read_only(team.parent, "has", "up").returncode == 0  # still connected


# the library ---------------------------------------------------------------------------


def test_connections_takes_a_sequence_of_paths(layers):
    personal, team = layers
    for spec in ([personal, team], (str(personal), str(team)), f"{personal}{os.pathsep}{team}"):
        conns = Connections(profile=spec)
        assert conns.get_connection_addr("h")["address"] == "127.0.0.1:1001"
        assert conns.get_connection_addr("t")["address"] == "127.0.0.1:2002"
        assert [info.profile for info in conns.describe()] == [None, personal, team]
