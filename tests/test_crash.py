"""A writer killed at any moment leaves no torn file and no stuck lock.

KILLS writer processes are SIGKILLed at random moments while they add, connect,
disconnect and remove aliases (each step writes exactly one file). After every kill the
profile and the state file parse, and each holds either the content before the step in
flight or the content after it; the next write removes any temp file left behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest

from milvus_conn import Connections, ProfileLockException

from . import writer
from .conftest import run_conn
from .helpers import (
    WRITER,
    before,
    lock_held,
    profile_lock,
    snapshot,
    state_file,
    state_lock,
    within,
)

KILLS = 50
STEPS_PER_WRITER = 400  # far more than a writer can finish in KILL_WINDOW
KILL_WINDOW = 0.06  # seconds after the writer is ready; kills land uniformly within it
SEED = 4
LOCK_TIMEOUT = 0.5


def temp_files(profile: Path) -> list[Path]:
    """Temp files beside the profile and beside this user's state file."""
    state_dir = state_file(profile).parent
    return sorted([*profile.parent.glob(".*.tmp"), *state_dir.glob(".*.tmp")])


def parsed(profile: Path) -> tuple[set[str], set[str]]:
    """The alias sets of the profile and the state file, parsed by tomllib and json."""
    text = profile.read_text(encoding="utf-8")
    document = tomllib.loads(text)
    assert document.get("version") == 1, f"torn profile: {text!r}"
    aliases = set(document.get("connections", {}))
    state = state_file(profile)
    if not state.exists():
        return aliases, set()
    text = state.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data.get("version") == 1 and "connected" in data, f"torn state file: {text!r}"
    return aliases, set(data["connected"])


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    line = process.stdout.readline() if process.stdout else ""
    assert line == f"{expected}\n", process.stderr.read() if process.stderr else ""


def kill(process: subprocess.Popen[str]) -> str:
    """SIGKILL the process; all it had printed to stdout (read through the same buffered
    reader as `wait_for_line`, so no line it had already fetched is lost)."""
    process.send_signal(signal.SIGKILL)
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    process.stderr.read()
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return out


@pytest.fixture
def holder(profile: Path) -> Iterator[subprocess.Popen[str]]:
    """A live process holding the profile's lock."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    with lock_held(profile_lock(profile)) as process:
        yield process


# random kills -------------------------------------------------------------------------


def test_crash_plan_writes_one_file_per_step():
    plan = writer.crash_plan(0, 12)
    profile, state = writer.crash_apply(plan, 12, {"x"}, set())
    assert [op for op, _ in plan[:6]] == [
        "add",
        "connect",
        "add",
        "connect",
        "disconnect",
        "remove",
    ]
    assert (profile, state) == ({"x", "k0.2", "k0.3"}, {"k0.2", "k0.3"})


def test_sigkill_at_random_moments_never_tears_a_file(registry, serving, profile):
    """KILLS kills: each time both files parse and hold the before or the after content."""
    rnd = random.Random(SEED)
    registry.add_connection(base={"address": serving.address})
    registry.connect("base")
    kills_in_a_write_step = 0
    temp_files_seen = 0
    for iteration in range(KILLS):
        before = parsed(profile)
        process = spawn(
            "crash", str(profile), str(iteration), str(STEPS_PER_WRITER), serving.address
        )
        wait_for_line(process, "ready")
        time.sleep(rnd.uniform(0, KILL_WINDOW))
        out = kill(process)
        assert "finished" not in out, "the writer finished before the kill: raise STEPS"
        started = [int(line.split()[1]) for line in out.splitlines() if line.startswith("S ")]
        in_flight = started[-1] if started else -1
        kills_in_a_write_step += in_flight >= 0

        plan = writer.crash_plan(iteration, STEPS_PER_WRITER)
        # Step `in_flight` had started: it is either not done yet or done.
        done = {max(in_flight, 0), in_flight + 1}
        allowed = [writer.crash_apply(plan, n, *before) for n in done]
        after = parsed(profile)
        assert after in allowed, f"kill {iteration}, step {in_flight} {plan[in_flight:][:1]}"
        temp_files_seen += bool(temp_files(profile))

        # The next writes (here, in this process) take the dead writer's locks at once
        # and sweep its temp files away: a profile write beside the profile, a state
        # write (connect) beside the state file.
        started_at = time.monotonic()
        after = Connections(profile=profile)
        after.add_connection(**{f"after{iteration}": {"address": "h:1"}})
        after.connect("base")
        after.reset()
        assert time.monotonic() - started_at < 2.0
        assert temp_files(profile) == []
        assert f"after{iteration}" in parsed(profile)[0]
    assert kills_in_a_write_step >= KILLS // 2
    # Logged by -rA / on failure: how often a kill caught a temp file on disk.
    print(f"{KILLS} kills, {kills_in_a_write_step} mid-plan, {temp_files_seen} left temp files")


# temp files and locks ---------------------------------------------------------------


def test_writer_killed_mid_write_leaves_the_old_profile_and_a_swept_temp_file(cli, profile):
    cli("add", "keep", "--address", "127.0.0.1:19530")
    before = snapshot(profile)
    process = spawn("slow-write", str(profile), "new")
    wait_for_line(process, "writing")  # temp file written, fsync "in progress", lock held
    assert [p.name for p in temp_files(profile)] != []
    kill(process)

    assert snapshot(profile) == before
    assert parsed(profile) == ({"keep"}, set())
    left = temp_files(profile)
    assert len(left) == 1 and left[0].name.startswith(".profiles.toml.")
    cli("add", "next", "--address", "127.0.0.1:19531")  # the dead writer's lock: no wait
    assert temp_files(profile) == []
    assert parsed(profile) == ({"keep", "next"}, set())


def test_the_next_write_removes_temp_files_of_both_files(cli, profile):
    cli("add", "keep", "--address", "127.0.0.1:19530")
    state = state_file(profile)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"version": 1, "connected": {"keep": {"address": "x:1"}}}))
    stale = [
        profile.with_name(".profiles.toml.abc123.tmp"),
        state.with_name(f".{state.name}.xyz789.tmp"),
    ]
    for path in stale:
        path.write_text("half a fi")
    cli("remove", "keep")  # disconnects (the state file), then removes (the profile)
    assert temp_files(profile) == []
    assert sorted(p.name for p in profile.parent.iterdir()) == ["profiles.toml"]


def test_temp_files_of_other_profiles_in_the_directory_are_kept(cli, profile):
    cli("add", "keep", "--address", "127.0.0.1:19530")
    other = profile.with_name(".other.toml.abc123.tmp")
    other.write_text("not ours")
    cli("add", "more", "--address", "127.0.0.1:19531")
    assert other.exists()


def test_a_lock_held_by_a_killed_process_never_blocks(profile, holder, monkeypatch):
    kill(holder)
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "5")
    started = time.monotonic()
    result = run_conn("add", "after", "--address", "127.0.0.1:19530")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < before(5)  # a process start, not the lock timeout
    assert parsed(profile) == ({"after"}, set())


def test_a_live_lock_not_obtained_in_time_exits_6_naming_the_lock_file(
    cli, profile, holder, monkeypatch
):
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", str(LOCK_TIMEOUT))
    before = snapshot(profile)
    started = time.monotonic()
    result = cli("add", "blocked", "--address", "127.0.0.1:19530", code=6)
    elapsed = time.monotonic() - started
    assert LOCK_TIMEOUT <= elapsed < within(LOCK_TIMEOUT)
    assert result.stderr == (
        f"Error: could not lock {profile} within {LOCK_TIMEOUT:g} s: another conn "
        "is writing; try again (CONN_LOCK_TIMEOUT sets the wait)\n"
    )
    assert snapshot(profile) == before


def test_a_live_lock_makes_a_real_process_exit_6(profile, holder, monkeypatch):
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", str(LOCK_TIMEOUT))
    result = run_conn("add", "blocked", "--address", "127.0.0.1:19530")
    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith(f"Error: could not lock {profile} within ")
    assert result.stderr.count("\n") == 1
    assert not profile.exists()


@pytest.mark.parametrize(
    ("args", "lock"),
    [
        (["remove", "a"], profile_lock),
        (["remove", "a"], state_lock),  # remove disconnects first
        (["disconnect", "a"], state_lock),
        (["use", "a"], profile_lock),
    ],
    ids=["remove-profile-lock", "remove-state-lock", "disconnect", "use"],
)
def test_every_writing_command_gives_up_on_a_live_lock(cli, profile, monkeypatch, args, lock):
    """Aliases stored (and connected in the state file) first; then the lock is taken:
    the profile's for profile writes, the state file's for connection state."""
    cli("add", "a", "--address", "127.0.0.1:19530")
    state_file(profile).parent.mkdir(parents=True, exist_ok=True)
    state_file(profile).write_text(
        json.dumps({"version": 1, "connected": {"a": {"address": "127.0.0.1:19530"}}})
    )
    before = snapshot(profile)
    process = spawn("hold", str(lock(profile)))
    try:
        wait_for_line(process, "locked")
        monkeypatch.setenv("CONN_LOCK_TIMEOUT", str(LOCK_TIMEOUT))
        result = cli(*args, code=6)
        guarded = profile if lock is profile_lock else state_file(profile)
        assert f"could not lock {guarded} within" in result.stderr
        assert snapshot(profile) == before
    finally:
        kill(process)


def test_library_raises_profile_lock_exception_on_a_live_lock(registry, holder, monkeypatch):
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "0")
    with pytest.raises(ProfileLockException, match=r"profiles\.toml"):
        registry.add_connection(a={"address": "127.0.0.1:19530"})
    assert sorted(os.listdir(registry.store.path.parent)) == []  # no lock file made
