"""Files conn wrote for itself are believed only while no one else could have written
them: the state file and the parse cache, and their directories, must belong to the user
(or root) and be writable by no group or others. Otherwise the cache is ignored (and
rebuilt where its directory is safe) and the state is not believed: no alias counts as
connected, and nothing in it can aim an alias at another address. `-v` says why, and
`conn doctor` names the fix. Tests run as root, so another user's file is one chowned to
uid 65534 (nobody). Also here: `CONN_PROFILE` with empty entries."""

from __future__ import annotations

import inspect
import json
import marshal
import os
from pathlib import Path

import pytest

from milvus_conn import Connections, UntrustedFileWarning

from .helpers import cache_file, snapshot, state_file, write_profile

NOBODY = 65534
HERE = "127.0.0.1:19531"  # what the profile says
ELSEWHERE = "127.0.0.2:19530"  # what a hostile file says instead


def profile_text(address: str = HERE) -> str:
    return f'version = 1\n[connections.a]\naddress = "{address}"\n'


def write_state(profile: Path, address: str = HERE, mode: int = 0o600) -> Path:
    """A state file recording alias `a` as connected at `address`."""
    path = state_file(profile)
    entry = {"address": address, "user": "", "db_name": "default", "secure": False}
    path.write_text(json.dumps({"version": 1, "connected": {"a": entry}}))
    path.chmod(mode)
    return path


def verbose_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("conn: ")]


# the state file -------------------------------------------------------------------------


def test_a_safe_state_file_is_believed(cli, profile):
    """The control for the tests below: the same file, ours and 0600, says `a` is connected."""
    write_profile(profile, profile_text())
    write_state(profile)
    assert cli("has", "a", "--no-probe").stdout == "a: connected (not probed)\n"


def test_another_users_state_file_is_not_believed_and_v_says_why(cli, profile):
    write_profile(profile, profile_text())
    state = write_state(profile)
    os.chown(state, NOBODY, NOBODY)
    result = cli("-v", "has", "a", "--no-probe", code=1)
    assert (
        f"conn: state file {state} belongs to uid {NOBODY}, not to you (uid 0); fix: rm "
        f"{state} (no alias counts as connected)"
    ) in verbose_lines(result.stderr)
    assert "Warning" not in cli("has", "a", "--no-probe", code=1).stderr  # only -v says it


@pytest.mark.parametrize(
    ("mode", "who"), [(0o620, "group"), (0o602, "others"), (0o666, "group and others")]
)
def test_a_state_file_others_can_write_is_not_believed(cli, profile, mode, who):
    write_profile(profile, profile_text())
    state = write_state(profile, mode=mode)
    result = cli("-v", "has", "a", "--no-probe", code=1)
    assert (
        f"conn: state file {state} can be written by {who} (mode {mode:04o}); fix: rm {state} "
        "(no alias counts as connected)"
    ) in verbose_lines(result.stderr)


def test_a_state_directory_others_can_write_is_neither_believed_nor_written(cli, profile, serving):
    write_profile(profile, profile_text(serving.address))
    state = write_state(profile, serving.address)
    state.parent.chmod(0o777)
    before = snapshot(profile)
    cli("has", "a", "--no-probe", code=1)
    result = cli("connect", "a", code=6)
    assert result.stderr == (
        f"Error: state directory {state.parent} can be written by group and others (mode "
        f"0777); fix: chmod go-w {state.parent} (conn neither believes nor writes connection "
        "state there)\n"
    )
    assert snapshot(profile) == before
    assert not state.with_name(state.name.replace(".state.json", ".lock")).exists()


def test_a_hostile_state_file_cannot_aim_an_alias_at_another_address(profile, serving):
    """The attack: another user records `a` as connected at their own server; the library
    would open a channel there with the alias's credentials. Not believed, it opens none."""
    write_profile(profile, profile_text())
    state = write_state(profile, serving.address)
    os.chown(state, NOBODY, NOBODY)
    conns = Connections(profile=profile)
    with pytest.warns(UntrustedFileWarning, match="belongs to uid 65534"):
        assert conns.has_connection("a") is False
    assert conns.get_connection("a") is None
    assert conns.get_connection_addr("a")["address"] == HERE
    assert dict(conns.list_connections())["a"] is None


def test_an_untrusted_state_file_is_replaced_by_the_next_connect(cli, profile, serving):
    write_profile(profile, profile_text(serving.address))
    state = write_state(profile, ELSEWHERE, mode=0o666)
    cli("connect", "a")
    assert (state.stat().st_uid, state.stat().st_mode & 0o777) == (0, 0o600)
    assert json.loads(state.read_text())["connected"]["a"]["address"] == serving.address


def test_a_legacy_state_file_others_can_write_is_never_adopted(cli, profile):
    write_profile(profile, profile_text())
    legacy = profile.with_name("profiles.state.json")
    legacy.write_text(json.dumps({"version": 1, "connected": {"a": {"address": HERE}}}))
    legacy.chmod(0o666)
    cli("has", "a", "--no-probe", code=1)
    assert legacy.exists()
    assert not state_file(profile).exists()


# the parse cache --------------------------------------------------------------------------


def tampered_cache(cli, profile: Path) -> Path:
    """The profile's parse cache, made by conn, then edited to aim `a` ELSEWHERE."""
    write_profile(profile, profile_text())
    assert cli("addr", "a").stdout == f"{HERE}\n"
    path = cache_file(profile)
    entries = marshal.loads(path.read_bytes())
    _, document = entries["profile"]
    document["connections"]["a"]["address"] = ELSEWHERE
    path.write_bytes(marshal.dumps(entries))
    return path


def test_a_tampered_cache_of_our_own_is_believed(cli, profile):
    """The control: the cache is what conn reads (so the tests below prove something)."""
    tampered_cache(cli, profile)
    assert cli("addr", "a").stdout == f"{ELSEWHERE}\n"


def test_another_users_cache_is_ignored_and_rebuilt(cli, profile):
    cache = tampered_cache(cli, profile)
    os.chown(cache, NOBODY, NOBODY)
    result = cli("-v", "addr", "a")
    assert result.stdout == f"{HERE}\n"
    assert (
        f"conn: parse cache {cache} belongs to uid {NOBODY}, not to you (uid 0); fix: rm "
        f"{cache} (rebuilt)"
    ) in verbose_lines(result.stderr)
    assert cache.stat().st_uid == 0
    assert cli("-v", "addr", "a").stderr.count("parse cache") == 0  # ours again, believed


def test_a_cache_others_can_write_is_ignored(cli, profile):
    cache = tampered_cache(cli, profile)
    cache.chmod(0o646)
    assert cli("addr", "a").stdout == f"{HERE}\n"
    assert cache.stat().st_mode & 0o777 == 0o600  # rebuilt, as conn writes it


def test_a_cache_directory_others_can_write_is_neither_read_nor_written(cli, profile):
    cache = tampered_cache(cli, profile)
    cache.parent.chmod(0o757)
    result = cli("-v", "addr", "a")
    assert result.stdout == f"{HERE}\n"
    assert (
        f"conn: parse cache directory {cache.parent} can be written by others (mode 0757); "
        f"fix: chmod go-w {cache.parent} (not used: the profile is parsed every time)"
    ) in verbose_lines(result.stderr)
    cache.unlink()
    cli("addr", "a")
    assert not cache.exists()  # a file there could be replaced again: none is written


# conn doctor -------------------------------------------------------------------------------


def test_doctor_reports_each_untrusted_file_with_its_fix(cli, profile):
    cache = tampered_cache(cli, profile)
    state = write_state(profile)
    os.chown(state, NOBODY, NOBODY)
    cache.parent.chmod(0o777)
    report = json.loads(cli("doctor", "--json", code=1).stdout)
    found = [f for f in report["findings"] if "does not believe" in f["message"]]
    assert found == [
        {
            "check": "state",
            "status": "fix",
            "message": f"state file {state} belongs to uid {NOBODY}, not to you (uid 0): "
            "conn does not believe it",
            "fix": f"rm {state}",
        },
        {
            "check": "cache",
            "status": "fix",
            "message": f"parse cache directory {cache.parent} can be written by group and "
            "others (mode 0777): conn does not believe it",
            "fix": f"chmod go-w {cache.parent}",
        },
    ]


def test_doctor_is_quiet_about_files_that_are_safe(cli, profile):
    tampered_cache(cli, profile)
    write_state(profile)
    report = json.loads(cli("doctor", "--json").stdout)
    assert not [f for f in report["findings"] if "does not believe" in f["message"]]


# CONN_PROFILE with empty entries ------------------------------------------------------------


@pytest.mark.parametrize("value", [":", "::", ""])
def test_conn_profile_of_empty_entries_means_the_default_never_a_file_named_colon(
    cli, monkeypatch, tmp_path, value
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONN_PROFILE", value)
    cli("add", "a", "--address", HERE)
    default = tmp_path / "xdg" / "conn" / "profiles.toml"  # XDG_CONFIG_HOME/conn
    assert "[connections.a]" in default.read_text()
    assert not [p.name for p in tmp_path.iterdir() if not p.name.startswith("xdg")]


@pytest.mark.parametrize("value", ["{a}::{b}", ":{a}:{b}:", "{a}:::{b}"])
def test_empty_entries_between_files_are_skipped(monkeypatch, tmp_path, value):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    monkeypatch.setenv("CONN_PROFILE", value.format(a=a, b=b).replace(":", os.pathsep))
    assert Connections().store.paths == [a, b]


def test_a_library_caller_is_warned_at_its_own_line(cli, profile):
    """Python shows a warning at the line it names: the caller's, not conn's own."""
    cache = tampered_cache(cli, profile)
    cache.chmod(0o646)
    with pytest.warns(UntrustedFileWarning, match=r"^parse cache .* \(rebuilt\)$") as caught:
        line = inspect.currentframe().f_lineno + 1
        config = Connections(profile=profile).get_connection_addr("a")
    assert config["address"] == HERE
    assert [(warning.filename, warning.lineno) for warning in caught] == [(__file__, line)]
