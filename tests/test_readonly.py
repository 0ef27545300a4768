"""A read-only profile, and a profile shared by users. Configuration apart
from state: the profile holds aliases; each user's state and parse cache live in that
user's XDG directories, so a read-only mount serves every command that does not change
configuration, and one user's connect says nothing about another's.

The read-only mount is real: tests run as root, for whom file modes stop nothing, so
each `conn` runs in a private mount namespace (`unshare -m`) where the profile's
directory is bind-mounted onto itself and remounted read-only.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import cache_file, snapshot, state_file, write_profile


def _can_mount_read_only() -> str:
    """Why this machine cannot run the read-only tests, or "" if it can."""
    if not shutil.which("unshare"):
        return "unshare(1) is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / / && mount -o remount,bind,ro / /"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot make a private read-only mount here: {probe.stderr.strip()}"
    return ""


_CANNOT = _can_mount_read_only()
needs_ro_mount = pytest.mark.skipif(bool(_CANNOT), reason=_CANNOT or "-")


def conn_read_only(
    directory: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`conn ARGS` with `directory` mounted read-only for it alone (and for nobody else)."""
    mount = shlex.quote(str(directory))
    command = shlex.join([sys.executable, "-m", "milvus_conn", *args])
    script = (
        f"mount --bind {mount} {mount} && mount -o remount,bind,ro {mount} {mount} "
        f"&& touch {mount}/.probe 2>/dev/null && exit 99; exec {command}"
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    assert result.returncode != 99, "the mount was writable: the test would prove nothing"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def profile_text(address: str) -> str:
    """Three aliases, all on `address` (`default` stands in for the built-in one)."""
    tables = "".join(
        f'\n[connections.{a}]\naddress = "{address}"\n' for a in ("default", "h", "other")
    )
    return f'version = 1\ndefault_alias = "h"\n{tables}'


@pytest.fixture
def ro_profile(profile: Path, serving) -> Path:
    write_profile(profile, profile_text(serving.address))
    return profile


def files_beside(profile: Path) -> list[str]:
    return sorted(p.name for p in profile.parent.iterdir())


# a read-only mount -------------------------------------------------------------------


@needs_ro_mount
@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--check", "--json"],
        ["addr", "h"],
        ["addr", "h", "--explain", "--json"],
        ["env", "h"],
        ["export"],
        ["connect", "h", "--explain"],
        ["watch", "h", "--for", "0.3"],
    ],
    ids=" ".join,
)
def test_commands_that_do_not_change_configuration_work(ro_profile, args):
    before = snapshot(ro_profile)
    result = conn_read_only(ro_profile.parent, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert snapshot(ro_profile) == before
    assert files_beside(ro_profile) == ["profiles.toml"]


@needs_ro_mount
def test_connect_has_and_disconnect_work_and_keep_state_in_the_state_dir(ro_profile):
    before = ro_profile.read_bytes()
    connected = conn_read_only(ro_profile.parent, "connect", "h")
    assert connected.returncode == 0, connected.stderr
    has = conn_read_only(ro_profile.parent, "has", "h")
    assert has.returncode == 0, has.stderr  # the CI check of a read-only profile
    assert list(json.loads(state_file(ro_profile).read_text())["connected"]) == ["h"]
    assert cache_file(ro_profile).exists()
    gone = conn_read_only(ro_profile.parent, "disconnect", "h")
    assert gone.returncode == 0, gone.stderr
    assert conn_read_only(ro_profile.parent, "has", "h").returncode == 1
    assert ro_profile.read_bytes() == before
    assert files_beside(ro_profile) == ["profiles.toml"]


@needs_ro_mount
@pytest.mark.parametrize(
    "args",
    [
        ["add", "new", "--address", "127.0.0.1:2"],
        ["add", "h", "--address", "127.0.0.1:2", "--force"],
        ["remove", "other"],
        ["use", "other"],
        ["import", "{team}"],
    ],
    ids=["add", "add --force", "remove", "use", "import"],
)
def test_commands_that_change_configuration_exit_6_and_change_nothing(ro_profile, tmp_path, args):
    team = tmp_path / "team.toml"
    write_profile(team, '[connections.t]\naddress = "127.0.0.1:3"\n')
    args = [arg.replace("{team}", str(team)) for arg in args]
    before = snapshot(ro_profile)
    result = conn_read_only(ro_profile.parent, *args)
    assert result.returncode == 6, result.stderr
    assert result.stderr == f"Error: profile {ro_profile} is read-only; nothing changed\n"
    assert snapshot(ro_profile) == before
    assert files_beside(ro_profile) == ["profiles.toml"]


@needs_ro_mount
def test_the_first_alias_in_a_read_only_directory_is_refused_as_read_only(tmp_path):
    directory = tmp_path / "mounted"
    directory.mkdir()
    profile = directory / "profiles.toml"  # not there yet
    result = conn_read_only(directory, "add", "a", "--address", "127.0.0.1:2",
                            env={"CONN_PROFILE": str(profile)})  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert result.stderr == f"Error: profile {profile} is read-only; nothing changed\n"
    assert list(directory.iterdir()) == []


@needs_ro_mount
def test_a_state_directory_that_cannot_be_made_is_exit_6_naming_it(ro_profile, tmp_path):
    home = tmp_path / "read-only-state"
    home.mkdir()
    result = conn_read_only(home, "connect", "h", env={"XDG_STATE_HOME": str(home)})
    assert result.returncode == 6, result.stderr
    assert result.stderr == f"Error: cannot create {home / 'conn'}: Read-only file system\n"


@needs_ro_mount
def test_remove_of_a_connected_alias_leaves_it_connected(ro_profile):
    assert conn_read_only(ro_profile.parent, "connect", "h").returncode == 0
    before = snapshot(ro_profile)
    result = conn_read_only(ro_profile.parent, "remove", "h")
    assert result.returncode == 6, result.stderr
    assert snapshot(ro_profile) == before  # not even disconnected
    assert conn_read_only(ro_profile.parent, "has", "h").returncode == 0


# two users, one profile ----------------------------------------------------------------


def user_env(tmp_path: Path, name: str) -> dict[str, str]:
    home = tmp_path / "users" / name
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def conn_as(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milvus_conn", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_one_users_connect_does_not_make_another_connected(tmp_path, serving):
    shared = tmp_path / "team" / "profiles.toml"
    write_profile(shared, profile_text(serving.address))
    ann, bob = user_env(tmp_path, "ann"), user_env(tmp_path, "bob")
    for env in (ann, bob):
        env["CONN_PROFILE"] = str(shared)
    assert conn_as(ann, "connect", "h").returncode == 0
    assert conn_as(ann, "has", "h").returncode == 0
    bobs = conn_as(bob, "has", "h")
    assert bobs.returncode == 1, bobs.stderr
    assert bobs.stderr == "Error: alias 'h' is not connected (run: conn connect h)\n"
    listed = json.loads(conn_as(bob, "list", "--json").stdout)
    assert [row["connected"] for row in listed if row["alias"] == "h"] == [False]
    assert sorted(p.name for p in shared.parent.iterdir()) == ["profiles.toml"]
    assert Path(ann["XDG_STATE_HOME"], "conn").is_dir()
    assert not Path(bob["XDG_STATE_HOME"], "conn").exists()


def test_two_users_adding_to_one_profile_keep_both_aliases(tmp_path):
    """Each user's own lock would not serialise them: the lock is the profile's
    directory, the same for both."""
    shared = tmp_path / "team" / "profiles.toml"
    users = [user_env(tmp_path, name) for name in ("ann", "bob")]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "milvus_conn", "add", f"{i}-{n}", "--address", "h:1"],
            env={**os.environ, **env, "CONN_PROFILE": str(shared)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
        for i, env in enumerate(users)
    ]
    for run in runs:
        assert run.wait(60) == 0, run.stderr.read() if run.stderr else ""
        if run.stderr:
            run.stderr.close()
    listed = json.loads(conn_as(users[0], "--profile", str(shared), "list", "--json").stdout)
    assert {row["alias"] for row in listed} == {f"{i}-{n}" for i in (0, 1) for n in range(4)} | {
        "default"
    }


# migration of a state file kept beside the profile ----------------------------------------


def test_a_state_file_beside_the_profile_is_moved_once_without_loss(cli, profile, serving):
    write_profile(profile, profile_text(serving.address))
    legacy = profile.with_name("profiles.state.json")
    entry = {"address": serving.address, "user": "", "since": "2026-01-01T00:00:00+0000"}
    legacy.write_text(json.dumps({"version": 1, "connected": {"h": entry}}))
    (profile.parent / ".profiles.toml.cache").write_bytes(b"old cache")
    cli("has", "h")  # connected, as before the upgrade
    assert json.loads(state_file(profile).read_text())["connected"] == {"h": entry}
    assert files_beside(profile) == ["profiles.toml"]
    cli("disconnect", "h")
    legacy.write_text(json.dumps({"version": 1, "connected": {"h": entry}}))
    cli("has", "h", code=1)  # once: a file that reappears beside the profile is not read
    assert json.loads(state_file(profile).read_text())["connected"] == {}


def test_a_corrupt_state_file_beside_the_profile_is_reported_and_kept(cli, profile):
    write_profile(profile, profile_text("127.0.0.1:1"))
    legacy = profile.with_name("profiles.state.json")
    legacy.write_text("{torn")
    result = cli("has", "h", code=6)
    assert result.stderr.startswith(f"Error: {legacy}: invalid state file: ")
    assert legacy.read_text() == "{torn"
    assert not state_file(profile).exists()


def test_another_users_state_file_beside_the_profile_is_never_adopted(cli, profile):
    """A team folder's `profiles.state.json` written by someone else says nothing about
    us: it is neither read nor moved."""
    write_profile(profile, profile_text("127.0.0.1:1"))
    legacy = profile.with_name("profiles.state.json")
    legacy.write_text(json.dumps({"version": 1, "connected": {"h": {"address": "x:1"}}}))
    os.chown(legacy, 54321, 54321)  # tests run as root: a file of another user
    cli("has", "h", code=1)
    assert legacy.exists()
    assert not state_file(profile).exists()


# where the files live ------------------------------------------------------------------


def test_without_xdg_variables_state_and_cache_go_under_home(cli, profile, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # XDG: only absolute paths count
    cli("add", "h", "--address", "127.0.0.1:1")
    cli("list")
    home = tmp_path / "home"
    [cached] = (home / ".cache" / "conn").iterdir()
    assert cached.name.startswith("profiles-") and cached.name.endswith(".cache")
    assert state_file(profile).parent == home / ".local" / "state" / "conn"
    assert not (tmp_path / "relative").exists()
