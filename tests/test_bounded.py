"""untrusted.read_bounded: every path that is not a regular file within its limit is refused
at once, with a sentence of its own, and never read. (Each command's exit code for these
is tested where that command reads its files.)"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from milvus_conn.untrusted import UnreadableFile, read_bounded


def refused(path: str | Path, limit: int = 1024) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read_bounded(path, limit)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


def test_a_regular_file_within_its_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1024)
    assert read_bounded(path, 1024) == b"x" * 1024


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    seen: list[UnreadableFile] = []
    reader = threading.Thread(target=lambda: seen.append(refused(tmp_path / "fifo")), daemon=True)
    reader.start()
    reader.join(30)  # a blocking open would wait for a writer that never comes
    assert seen, "reading a FIFO blocked"
    assert seen[0].reason == "is a FIFO (named pipe), not a regular file"


def test_a_character_device_is_refused_not_read_forever() -> None:
    assert refused("/dev/zero").reason == "is a character device, not a regular file"


def test_a_socket_is_refused(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        assert refused(tmp_path / "sock").reason == "is a socket, not a regular file"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path).reason == "is a directory, not a regular file"


def test_a_symlink_loop_a_path_through_a_file_and_a_long_name_each_get_a_sentence(
    tmp_path: Path,
) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_text("x")
    assert "symlink loop" in refused(tmp_path / "loop").reason
    assert refused(tmp_path / "file" / "x").reason == (
        "a part of the path is a file, not a directory"
    )
    assert "too long" in refused(tmp_path / ("n" * 5000)).reason


def test_a_missing_file_says_so_and_is_marked_missing(tmp_path: Path) -> None:
    error = refused(tmp_path / "nope")
    assert (error.reason, error.missing) == ("no such file", True)


def test_a_file_over_the_limit_is_refused_with_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 1025)
    assert refused(path, 1024).reason == (
        "is larger than conn reads (1025 bytes; the limit is 1024 bytes)"
    )
