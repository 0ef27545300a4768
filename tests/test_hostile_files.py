"""Every path conn reads as a profile, a layer, a state file or a file to import is read
with bounds: not a regular file (a FIFO, a device, a socket, a directory), a symlink loop,
a path through a file, a name too long, a file over 16 MiB or nested past 64 levels each
get a sentence naming the path, exit 6 (2 for `conn import`), and never a hang, a crash or
memory without end. Commands that could hang run as subprocesses with a timeout, so
that a regression fails the test instead of hanging the suite. (TLS files: test_tls.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from milvus_conn import Connections, FileLimitException
from milvus_conn.untrusted import MAX_DEPTH, PROFILE_LIMIT

from .conftest import run_conn
from .helpers import cache_file, snapshot, state_file, state_lock, write_profile

GOOD = 'version = 1\n[connections.a]\naddress = "127.0.0.1:19531"\n'
TOO_DEEP = f"nested deeper than conn reads (the limit is {MAX_DEPTH} levels)"


def conn(*args: str, profile: Path | str, code: int) -> subprocess.CompletedProcess[str]:
    """`conn ARGS` in a process of its own (run_conn: a 60 s timeout fails the test
    rather than hang it), with `profile` as CONN_PROFILE; its exit code checked."""
    done = run_conn(*args, env={"CONN_PROFILE": str(profile)})
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def nested_toml(levels: int) -> str:
    """A profile whose `x` is an array nested so that the document has `levels` levels."""
    arrays = levels - 1  # the document itself is the first level
    return f"version = 1\nx = {'[' * arrays}{']' * arrays}\n"


# not a regular file, or not reachable: each its own sentence, at once -------------------


def fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "profiles.toml")
    return tmp_path / "profiles.toml"


def symlink_loop(tmp_path: Path) -> Path:
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    return tmp_path / "loop.toml"


def through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "profiles.toml"


PATHS = {
    "fifo": (fifo, "is a FIFO (named pipe), not a regular file"),
    "directory": (lambda tmp_path: tmp_path, "is a directory, not a regular file"),
    "symlink loop": (symlink_loop, "too many levels of symbolic links (a symlink loop?)"),
    "through a file": (through_a_file, "a part of the path is a file, not a directory"),
    "name too long": (
        lambda tmp_path: tmp_path / ("p" * 300 + ".toml"),
        "the path is too long for this system (ENAMETOOLONG)",
    ),
}


@pytest.mark.parametrize("kind", PATHS)
def test_a_profile_path_that_cannot_be_read_is_refused_at_once(tmp_path, kind):
    make, reason = PATHS[kind]
    path = make(tmp_path)
    done = conn("list", profile=path, code=6)
    assert done.stderr == f"Error: {path}: {reason}\n"


@pytest.mark.parametrize("kind", ["fifo", "symlink loop"])
def test_import_of_a_path_that_cannot_be_read_exits_2(tmp_path, kind):
    make, reason = PATHS[kind]
    profile = tmp_path / "mine" / "profiles.toml"
    before = write_profile(profile, GOOD)
    path = make(tmp_path)
    done = conn("import", str(path), profile=profile, code=2)
    assert done.stderr == f"Error: {path}: {reason}\n"
    assert profile.read_bytes() == before


def test_a_socket_as_the_profile_is_refused(tmp_path):
    path = tmp_path / "s.toml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        done = conn("list", profile=path, code=6)
    assert done.stderr == f"Error: {path}: is a socket, not a regular file\n"


def test_a_fifo_as_a_layer_is_refused_naming_the_layer(tmp_path):
    first = tmp_path / "mine.toml"
    write_profile(first, GOOD)
    fifo = tmp_path / "team.toml"
    os.mkfifo(fifo)
    done = conn("list", profile=f"{first}{os.pathsep}{fifo}", code=6)
    assert done.stderr == f"Error: {fifo}: is a FIFO (named pipe), not a regular file\n"


def test_the_library_refuses_a_fifo_profile_without_blocking(tmp_path):
    fifo = tmp_path / "profiles.toml"
    os.mkfifo(fifo)
    seen: list[BaseException] = []

    def list_them() -> None:
        try:
            Connections(profile=fifo).list_connections()
        except FileLimitException as exc:
            seen.append(exc)

    reader = threading.Thread(target=list_them, daemon=True)
    reader.start()
    reader.join(30)  # a blocking open would wait for a writer that never comes
    assert seen, "reading a FIFO profile blocked"
    assert str(seen[0]) == f"{fifo}: is a FIFO (named pipe), not a regular file"


def test_a_fifo_as_the_state_file_is_refused(tmp_path):
    profile = tmp_path / "profiles.toml"
    write_profile(profile, GOOD)
    fifo = state_file(profile)
    os.mkfifo(fifo, 0o600)
    done = conn("has", "a", "--no-probe", profile=profile, code=6)
    assert done.stderr == f"Error: {fifo}: is a FIFO (named pipe), not a regular file\n"


def test_a_fifo_as_the_parse_cache_is_ignored_not_waited_on(tmp_path):
    profile = tmp_path / "profiles.toml"
    write_profile(profile, GOOD)
    cache = cache_file(profile)
    cache.parent.mkdir(mode=0o700, parents=True)
    os.mkfifo(cache, 0o600)
    assert conn("addr", "a", profile=profile, code=0).stdout == "127.0.0.1:19531\n"


def test_a_parse_cache_whose_read_fails_is_ignored_and_replaced(cli, profile):
    write_profile(profile, GOOD)
    cache = cache_file(profile)
    cache.parent.mkdir(mode=0o700, parents=True)
    cache.symlink_to("/proc/self/mem")  # a regular file of yours whose read fails (EIO)
    assert cli("addr", "a").stdout == "127.0.0.1:19531\n"
    assert cache.is_file() and not cache.is_symlink()  # a real cache replaced the link


def test_a_symlink_planted_as_the_state_lock_is_never_followed(cli, profile, tmp_path, serving):
    lock = state_lock(profile)
    lock.parent.mkdir(mode=0o700, parents=True)
    lock.symlink_to(tmp_path / "elsewhere")
    result = cli("connect", "h", "--address", serving.address, code=6)
    assert result.stderr == f"Error: cannot open lock {lock}: Too many levels of symbolic links\n"
    assert not (tmp_path / "elsewhere").exists()


def cache_home_through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "cache"


# Where the parse cache cannot be kept: it only costs speed (the files are parsed each time).
UNUSABLE_CACHE_HOMES = {
    "through a file": cache_home_through_a_file,
    "name too long": lambda tmp_path: tmp_path / ("c" * 300),
    "the cache file a directory": lambda tmp_path: tmp_path / "cache",
}


@pytest.mark.parametrize("kind", UNUSABLE_CACHE_HOMES)
def test_a_parse_cache_that_cannot_be_written_costs_only_speed(
    cli, profile, tmp_path, monkeypatch, kind
):
    home = UNUSABLE_CACHE_HOMES[kind](tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    if kind == "the cache file a directory":
        cache_file(profile).mkdir(parents=True)
    write_profile(profile, GOOD)
    assert cli("addr", "a").stdout == "127.0.0.1:19531\n"
    cli("add", "b", "--address", "h:2")
    assert cli("addr", "b").stdout == "h:2\n"


# size and nesting --------------------------------------------------------------------


def test_a_profile_over_the_size_limit_is_refused_unread(tmp_path):
    profile = tmp_path / "big.toml"
    with profile.open("wb") as handle:  # sparse: 17 MiB long, nothing written
        handle.truncate(PROFILE_LIMIT + 1024 * 1024)
    done = conn("list", profile=profile, code=6)
    assert done.stderr == (
        f"Error: {profile}: is larger than conn reads (17 MiB; the limit is 16 MiB)\n"
    )


def test_a_profile_nested_past_the_parser_is_a_profile_error_not_a_crash(cli, profile):
    before = write_profile(profile, nested_toml(50_000))
    result = cli("list", code=6)
    assert result.stderr == f"Error: {profile}: {TOO_DEEP}\n"
    assert profile.read_bytes() == before


@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1])
def test_nesting_is_capped_at_the_documented_limit(cli, profile, levels):
    write_profile(profile, nested_toml(levels) + GOOD.removeprefix("version = 1\n"))
    if levels <= MAX_DEPTH:
        assert cli("addr", "a").stdout == "127.0.0.1:19531\n"
    else:
        assert cli("addr", "a", code=6).stderr == f"Error: {profile}: {TOO_DEEP}\n"


def test_a_deep_dotted_table_is_capped_too(cli, profile):
    """Dotted keys nest without recursion in the parser, but not in the writer or marshal."""
    dotted = ".".join(f"k{i}" for i in range(3000))
    write_profile(profile, GOOD + f"[{dotted}]\nv = 1\n")
    before = snapshot(profile)
    result = cli("add", "b", "--address", "127.0.0.1:19532", code=6)
    assert result.stderr == f"Error: {profile}: {TOO_DEEP}\n"
    assert snapshot(profile) == before


def test_a_state_file_nested_past_the_parser_is_a_profile_error(cli, profile):
    write_profile(profile, GOOD)
    state = state_file(profile)
    deep = '{"version": 1, "connected": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    state.write_text(deep)
    state.chmod(0o600)
    result = cli("has", "a", "--no-probe", code=6)
    assert result.stderr == f"Error: {state}: invalid state file: {TOO_DEEP}\n"


# conn import: the file is an argument, its faults are usage errors (exit 2) --------------


def test_import_of_a_file_nested_too_deep_exits_2(cli, profile, tmp_path):
    incoming = tmp_path / "in.toml"
    incoming.write_text(nested_toml(10_000))
    result = cli("import", str(incoming), code=2)
    assert result.stderr == f"Error: {incoming}: {TOO_DEEP}\n"
    assert not profile.exists()


def test_import_of_a_file_too_big_exits_2(cli, profile, tmp_path):
    incoming = tmp_path / "in.toml"
    with incoming.open("wb") as handle:
        handle.truncate(PROFILE_LIMIT + 1024 * 1024)
    result = cli("import", str(incoming), code=2)
    assert result.stderr == (
        f"Error: {incoming}: is larger than conn reads (17 MiB; the limit is 16 MiB)\n"
    )


def test_a_character_device_as_the_profile_is_refused_not_read_forever():
    """/dev/zero as the profile, in a process whose memory is capped at 512 MiB: it is
    refused before a byte is read (reading it would end in MemoryError, not exit 6)."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
        "from milvus_conn.cli import main\n"
        "sys.argv = ['conn', '--profile', '/dev/zero', 'list']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 6, done.stderr
    assert done.stderr == "Error: /dev/zero: is a character device, not a regular file\n"


def test_a_number_longer_than_python_reads_is_a_profile_error_not_a_crash(cli, profile):
    """int() refuses more than 4300 digits (sys.get_int_max_str_digits): ValueError."""
    write_profile(profile, f"version = 1\nx = {'1' * 5000}\n")
    assert cli("list", code=6).stderr == (
        f"Error: {profile}: holds a number longer than conn reads (Python's limit on "
        "integer digits)\n"
    )


def test_a_state_file_with_a_number_too_long_is_a_profile_error(cli, profile):
    write_profile(profile, GOOD)
    state = state_file(profile)
    state.write_text('{"version": 1, "connected": {"a": {"x": ' + "1" * 5000 + "}}}")
    state.chmod(0o600)
    assert cli("has", "a", "--no-probe", code=6).stderr == (
        f"Error: {state}: invalid state file: holds a number longer than conn reads "
        "(Python's limit on integer digits)\n"
    )
