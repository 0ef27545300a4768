"""The profile and state files as files: modes 0600/0700, atomic writes and their temp
files, comments and unknown keys across rewrites, the parse cache, relative TLS paths,
odd alias names, the profile lock, warnings about plain secrets, and the state file
kept apart from the profile (in the user's state directory)."""

from __future__ import annotations

import json
import marshal
import os
import signal
import stat
import sys
import warnings
from pathlib import Path

import pytest

from milvus_conn import (
    ConnectionConfigException,
    Connections,
    PlainSecretWarning,
    ProfileLockException,
)
from milvus_conn.storage.store import ProfileStore

from .helpers import (
    DATA,
    MARKER,
    cache_file,
    lock_held,
    mark_cache,
    profile_lock,
    state_file,
    state_lock,
    write_profile,
    write_tls_alias,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# modes and exact contents --------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_0600_and_the_created_directory_0700(registry, profile, serving):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    assert mode(profile.parent) == 0o700
    assert mode(profile) == 0o600
    assert mode(state_file(profile)) == 0o600
    assert mode(state_lock(profile)) == 0o600
    assert mode(cache_file(profile)) == 0o600
    assert mode(state_file(profile).parent) == mode(cache_file(profile).parent) == 0o700


def test_a_rewrite_restores_mode_0600(registry, profile):
    registry.add_connection(a={"address": "h:1"})
    profile.chmod(0o644)
    registry.add_connection(b={"address": "h:2"})
    assert mode(profile) == 0o600


def test_every_directory_the_tool_creates_is_0700(tmp_path):
    nested = tmp_path / "new" / "deeper" / "profiles.toml"
    Connections(profile=nested).add_connection(a={"address": "h:1"})
    assert mode(tmp_path / "new" / "deeper") == 0o700
    assert mode(tmp_path / "new") == 0o700


def test_a_known_add_writes_the_expected_toml(registry, profile):
    registry.add_connection(
        prod={
            "uri": "https://milvus.prod.example:19530",
            "user": "ci",
            "password_env": "PROD_MILVUS_PW",
            "db_name": "vectors",
            "server_name": "milvus.prod.example",
            "ca_pem_path": "certs/milvus-ca.pem",
            "timeout": 5,
            "probe": "milvus",
        }
    )
    assert profile.read_text() == (DATA / "prod_profile.toml").read_text()


def test_the_store_reads_back_what_it_wrote(profile):
    Connections(profile=profile).add_connection(a={"host": "h", "port": "7"})
    aliases = ProfileStore(profile).load().aliases
    assert list(aliases) == ["a"]
    assert aliases["a"].address == "h:7"


# atomic writes -------------------------------------------------------------------------


def test_writes_leave_no_temp_files(registry, profile, serving):
    registry.add_connection(a={"address": serving.address}, b={"address": serving.address})
    registry.connect("a")
    registry.remove_connection("b")
    registry.disconnect("a")
    names = sorted(p.name for p in profile.parent.iterdir())
    assert names == ["profiles.toml"]  # state, its lock and the cache live elsewhere
    assert sorted(p.name for p in state_file(profile).parent.iterdir()) == sorted(
        [state_file(profile).name, state_lock(profile).name]
    )
    assert [p.name for p in cache_file(profile).parent.iterdir()] == [cache_file(profile).name]


def test_a_leftover_temp_file_is_removed_by_the_next_write(registry, profile, serving):
    profile.parent.mkdir(mode=0o700)
    (profile.parent / ".profiles.toml.k1l2m3.tmp").write_text("half a file")
    registry.add_connection(a={"address": serving.address})
    assert sorted(p.name for p in profile.parent.iterdir()) == ["profiles.toml"]
    state = state_file(profile)
    state.parent.mkdir(parents=True, exist_ok=True)
    leftover = state.with_name(f".{state.name}.x9.tmp")
    leftover.write_text("half a file")
    registry.connect("a")
    assert not leftover.exists()


def test_a_leftover_the_sweep_cannot_remove_is_left_alone(registry, profile, serving):
    profile.parent.mkdir(mode=0o700)
    odd = profile.parent / ".profiles.toml.d1r.tmp"
    odd.mkdir()  # named like a temp file, but a directory: unlink fails
    registry.add_connection(a={"address": serving.address})
    assert sorted(p.name for p in profile.parent.iterdir()) == [odd.name, "profiles.toml"]


def test_a_profile_whose_temp_file_cannot_be_named_is_exit_6(cli, tmp_path, monkeypatch):
    profile = tmp_path / ("p" * 250)  # a valid name; `.NAME.XXXXXXXX.tmp` is too long
    monkeypatch.setenv("CONN_PROFILE", str(profile))
    result = cli("add", "a", "--address", "h:1", code=6)
    assert result.stderr == f"Error: cannot write {profile}: File name too long\n"
    assert list(tmp_path.iterdir()) == []


# unknown keys are kept, comments are not -----------------------------------------------


TEAM_PROFILE = (
    "# team profile\n"
    "version = 1\n"
    'owner = "search-team"\n\n'
    "[meta]\n"
    "reviewed = 2024-05-01\n\n"
    "[connections.a]\n"
    'address = "h:1"  # primary\n'
    'color = "red"\n\n'
    "[connections.a.labels]\n"
    'tier = "gold"\n'
)


def test_an_added_alias_is_appended_and_comments_survive(registry, profile):
    write_profile(profile, TEAM_PROFILE)
    registry.add_connection(b={"address": "h:2"})
    assert profile.read_text() == TEAM_PROFILE + '\n[connections.b]\naddress = "h:2"\n'


def test_unknown_keys_survive_a_rewrite_but_comments_do_not(registry, profile):
    write_profile(profile, TEAM_PROFILE + '\n[connections.b]\naddress = "h:2"\n')
    registry.remove_connection("b")
    assert profile.read_text() == (
        "version = 1\n"
        'owner = "search-team"\n\n'
        "[meta]\n"
        "reviewed = 2024-05-01\n\n"
        "[connections.a]\n"
        'address = "h:1"\n'
        'color = "red"\n\n'
        "[connections.a.labels]\n"
        'tier = "gold"\n'
    )


def test_a_profile_with_an_inline_connections_table_is_rewritten_not_appended(registry, profile):
    write_profile(profile, 'connections = { a = { address = "h:1" } }\n')
    registry.add_connection(b={"address": "h:2"})
    tables = tomllib.loads(profile.read_text())["connections"]
    assert tables == {"a": {"address": "h:1"}, "b": {"address": "h:2"}}


def test_the_parse_cache_is_used_and_never_trusted_when_stale(registry, profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\n')
    assert registry.get_connection_addr("a")["address"] == "h:1"
    cache = cache_file(profile)
    assert cache.exists() and cache.stat().st_mode & 0o777 == 0o600
    mark_cache(profile)  # what a reader of the cache sees, and a parse of the file does not
    assert Connections(profile=profile).get_connection_addr(MARKER) != {}
    # A hand edit changes size and times: the next reader parses the file again.
    write_profile(profile, '[connections.a]\naddress = "h:22"\n')
    fresh = Connections(profile=profile)
    assert fresh.get_connection_addr("a")["address"] == "h:22"
    assert fresh.get_connection_addr(MARKER) == {}
    # The same bytes written again (new times): parsed again, the cache not believed.
    mark_cache(profile)
    write_profile(profile, profile.read_bytes())
    assert Connections(profile=profile).get_connection_addr(MARKER) == {}
    # A corrupt cache is ignored, never an error.
    cache.write_bytes(b"not marshal data")
    assert Connections(profile=profile).get_connection_addr("a")["address"] == "h:22"


# Each way a parse cache can be damaged, from its entries as conn wrote them.
DAMAGED_CACHES = {
    "empty": lambda entries: b"",
    "cut short": lambda entries: marshal.dumps(entries)[:-2],
    "not marshal data": lambda entries: b"not marshal data",
    "a table keyed by a list": lambda entries: b"{[\x00\x00\x00\x00N0",
    "of another format": lambda entries: marshal.dumps({**entries, "format": 1}),
    "not a table": lambda entries: marshal.dumps(list(entries)),
    "an entry that is not a pair": lambda entries: marshal.dumps({**entries, "profile": "x"}),
    "a current entry that is not a table": lambda entries: marshal.dumps(
        {**entries, "profile": (entries["profile"][0], ["x"])}
    ),
}


@pytest.mark.parametrize("damage", DAMAGED_CACHES)
def test_a_damaged_parse_cache_is_ignored_and_rebuilt(cli, profile, damage):
    write_profile(profile, '[connections.a]\naddress = "h:1"\n')
    cli("addr", "a")  # parses the file, writes the cache
    cache = cache_file(profile)
    entries = marshal.loads(cache.read_bytes())
    cache.write_bytes(DAMAGED_CACHES[damage](entries))
    assert cli("addr", "a").stdout == "h:1\n"
    assert marshal.loads(cache.read_bytes()) == entries  # rebuilt as a parse makes it


def test_the_parse_cache_gives_the_aliases_a_fresh_parse_gives(profile):
    write_profile(
        profile,
        '[connections.a]\naddress = "h:1"\ntimeout = 3\ncolor = "red"\n\n'
        '[connections.u]\nuri = "https://u.example/db1"\nuser = "ann"\n\n'
        '[connections.p]\naddress = "h:2"\npassword = "pw"\nsecure = true\n',
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlainSecretWarning)
        parsed = ProfileStore(profile).load().aliases  # parses the TOML, writes the cache
        mark_cache(profile)
        cached = ProfileStore(profile).load().aliases  # a new store: from the cache
    assert MARKER in cached  # it was read from the cache, not parsed
    assert list(cached) == [*parsed, MARKER] == ["a", "u", "p", MARKER]
    assert "p" in cached and "x" not in cached and len(cached) == 4
    assert {alias: cached[alias] for alias in reversed(list(parsed))} == dict(parsed)
    assert cached["a"] is cached["a"]  # built once


def test_unknown_keys_of_an_alias_survive_its_own_update(registry, profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\ncolor = "red"\n')
    registry.add_connection(a={"address": "h:9"})
    table = tomllib.loads(profile.read_text())["connections"]["a"]
    assert table == {"address": "h:9", "color": "red"}
    assert "color" not in registry.get_connection_addr("a")


# paths ---------------------------------------------------------------------------------


def test_a_relative_ca_path_resolves_against_the_profile_directory(
    registry, profile, tmp_path, monkeypatch
):
    write_profile(
        profile,
        '[connections.t]\naddress = "h:1"\nsecure = true\nca_pem_path = "certs/ca.pem"\n',
    )
    monkeypatch.chdir(tmp_path)
    kwargs = registry.client_kwargs("t")
    assert kwargs["ca_pem_path"] == str(profile.parent / "certs" / "ca.pem")
    assert kwargs["uri"] == "https://h:1"
    assert registry.get_connection_addr("t")["ca_pem_path"] == "certs/ca.pem"


def test_a_connected_alias_reads_its_relative_ca_path_from_the_profile_directory(
    registry, profile, tmp_path, monkeypatch, tls_health, certs
):
    write_tls_alias(profile, tls_health.address, certs)
    monkeypatch.chdir(tmp_path)
    registry.connect("t")
    assert Connections(profile=profile).get_connection("t").check().healthy  # from the state


def test_an_absolute_ca_path_is_kept(registry, profile, tmp_path):
    ca = tmp_path / "elsewhere" / "ca.pem"
    write_profile(
        profile, f'[connections.t]\naddress = "h:1"\nsecure = true\nca_pem_path = "{ca}"\n'
    )
    assert registry.client_kwargs("t")["ca_pem_path"] == str(ca)


# aliases -------------------------------------------------------------------------------


ODD_ALIASES = ["my prod", "прод-1", "a.b.c", 'say "hi"', "it's", "x#y = [z]", "🙂"]


def test_odd_aliases_round_trip_through_the_toml_file(registry, profile):
    registry.add_connection(**{alias: {"address": "h:1"} for alias in ODD_ALIASES})
    assert list(tomllib.loads(profile.read_text())["connections"]) == ODD_ALIASES
    fresh = Connections(profile=profile)
    assert [alias for alias, _ in fresh.list_connections()] == ["default", *ODD_ALIASES]
    for alias in ODD_ALIASES:
        assert fresh.get_connection_addr(alias) == {"address": "h:1", "user": ""}


@pytest.mark.parametrize(
    "alias", ["", " lead", "trail ", "tab\there", "new\nline", "bell\x07", "nul\x00", "del\x7f"]
)
def test_illegal_aliases_are_rejected_and_the_file_untouched(registry, profile, alias):
    registry.add_connection(ok={"address": "h:1"})
    before = profile.read_bytes()
    with pytest.raises(ConnectionConfigException) as info:
        registry.add_connection(**{alias: {"address": "h:2"}})
    assert str(info.value) == (
        f"Illegal alias {alias!r}: use printable characters, without leading or trailing spaces"
    )
    assert profile.read_bytes() == before


# the lock ------------------------------------------------------------------------------


def test_a_held_lock_gives_up_with_a_clear_error(registry, profile, monkeypatch):
    registry.add_connection(a={"address": "h:1"})
    before = profile.read_bytes()
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "0.5")
    with lock_held(profile_lock(profile)), pytest.raises(ProfileLockException) as info:
        registry.add_connection(b={"address": "h:2"})
    assert str(info.value) == (
        f"could not lock {profile} within 0.5 s: another conn is writing; try again "
        "(CONN_LOCK_TIMEOUT sets the wait)"
    )
    assert info.value.exit_code == 6
    assert profile.read_bytes() == before


def test_reads_do_not_wait_for_the_lock(registry, profile, monkeypatch):
    registry.add_connection(a={"address": "h:1"})
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "0.5")
    with lock_held(profile_lock(profile)), lock_held(state_lock(profile)):
        assert registry.get_connection_addr("a") == {"address": "h:1", "user": ""}


def test_a_lock_left_by_a_killed_process_does_not_block(registry, profile, monkeypatch):
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "0.5")
    lock = profile_lock(profile)
    profile.parent.mkdir(parents=True)
    with lock_held(lock) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    assert lock.exists()
    registry.add_connection(a={"address": "h:1"})
    assert registry.get_connection_addr("a") == {"address": "h:1", "user": ""}


# plain secrets -------------------------------------------------------------------------


def read_warnings(profile: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Connections(profile=profile).list_connections()
    return [str(w.message) for w in caught if issubclass(w.category, PlainSecretWarning)]


def test_a_plain_password_in_the_profile_is_warned_about(profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\npassword = "hunter2"\n')
    assert read_warnings(profile) == [
        f"{profile} holds a plain password or token (alias 'a'); "
        "prefer --password-env / --token-env"
    ]


def test_a_plain_secret_is_warned_about_when_read_from_the_parse_cache_too(profile):
    write_profile(
        profile,
        '[connections.a]\naddress = "h:1"\n\n[connections.b]\naddress = "h:2"\ntoken = "t"\n',
    )
    parsed = read_warnings(profile)
    mark_cache(profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlainSecretWarning)
        assert MARKER in dict(Connections(profile=profile).list_connections())  # cache read
    assert (
        read_warnings(profile)
        == parsed
        == [
            f"{profile} holds a plain password or token (alias 'b'); "
            "prefer --password-env / --token-env"
        ]
    )


def test_a_readable_profile_with_secrets_gets_a_chmod_hint(profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\ntoken = "tok"\n')
    profile.chmod(0o644)
    messages = read_warnings(profile)
    assert len(messages) == 2
    assert messages[1] == (
        f"{profile} holds secrets and is readable by others; fix with: chmod 600 {profile}"
    )


def test_a_profile_without_secrets_is_not_warned_about(profile):
    write_profile(profile, '[connections.a]\naddress = "h:1"\npassword_env = "PW"\n')
    profile.chmod(0o644)
    assert read_warnings(profile) == []


# the state file ------------------------------------------------------------------------


def test_connect_and_disconnect_change_only_the_state_file(registry, profile, serving):
    registry.add_connection(h={"address": serving.address})
    before = profile.read_bytes()
    state = state_file(profile)
    registry.connect("h")
    assert profile.read_bytes() == before
    assert list(json.loads(state.read_text())["connected"]) == ["h"]
    registry.disconnect("h")
    assert profile.read_bytes() == before
    assert json.loads(state.read_text()) == {"connected": {}, "version": 1}


def test_a_custom_named_profile_has_its_own_state_file_named_after_it(tmp_path, serving):
    custom = tmp_path / "team" / "team.toml"
    registry = Connections(profile=custom)
    registry.connect("h", address=serving.address)
    registry.reset()
    assert sorted(p.name for p in custom.parent.iterdir()) == ["team.toml"]
    state = state_file(custom)
    assert state.name.startswith("team-") and state.name.endswith(".state.json")
    assert state.parent == tmp_path / "xdg-state" / "conn"
    assert list(json.loads(state.read_text())["connected"]) == ["h"]
    # Another file of the same name elsewhere: another state file.
    assert state_file(tmp_path / "other" / "team.toml") != state
