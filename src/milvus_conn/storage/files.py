"""How conn replaces a file and waits for a lock: the primitives under store.py.

Every write is atomic: a temp file `.NAME.*.tmp` beside the target, fsync, rename, so a
reader sees the old file or the new one, never a torn one. Every lock is an exclusive
`flock`, given up after `CONN_LOCK_TIMEOUT` seconds (default 10) with a clear error;
a writer that dies releases it with its descriptor. Errors are `ProfileException`
(exit 6) naming the path.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..errors import ProfileException, ProfileLockException

LOCK_TIMEOUT = 10.0
FILE_MODE = 0o600
DIR_MODE = 0o700


def make_dirs(directory: Path) -> None:
    """Create `directory` and any missing parent, each 0700 (not only the last)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        for each in reversed(missing):
            each.mkdir(mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise ProfileException(f"cannot create {directory}: {exc.strerror}") from exc


def writable(path: Path) -> bool:
    """Whether `path` can be replaced: the file (when it exists) and the directory the
    rename happens in, which exists (the lock made it, or the file is in it). access()
    answers EROFS on a read-only mount even for root."""
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(path.parent, os.W_OK)


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write a temp file `.NAME.*.tmp` beside `path`, fsync, rename: readers see the old
    file or the new one, never a torn one. ProfileException if it cannot be written."""
    import tempfile  # here: only writers need it

    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ProfileException(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ProfileException(f"cannot write {path}: {exc.strerror}") from exc
    _fsync_dir(path.parent)


def sweep_temp_files(path: Path) -> None:
    """Remove the temp files a killed writer of `path` left. Only for a caller holding
    the lock that guards `path`: then none of them is live. A directory that cannot be
    listed (the parse cache's, where no cache can be kept) has none to remove."""
    try:
        leftovers = list(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        with contextlib.suppress(OSError):
            leftover.unlink()


def lock_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("CONN_LOCK_TIMEOUT", LOCK_TIMEOUT)))
    except ValueError:
        return LOCK_TIMEOUT


def open_lock(lock_path: Path, guarded: Path) -> int:
    """A descriptor to flock: the guarded file's directory itself (opened read-only: it
    needs no write permission and survives the rename that replaces the file), else a
    lock file, created 0600."""
    # A lock file is never followed through a symlink: one planted there would make
    # conn create or open a file elsewhere.
    nofollow = os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags = os.O_RDONLY if lock_path == guarded.parent else os.O_RDONLY | nofollow
    try:
        return os.open(lock_path, flags, FILE_MODE)
    except OSError as exc:
        raise ProfileLockException(f"cannot open lock {lock_path}: {exc.strerror}") from exc


def acquire(fd: int, guarded: Path, timeout: float) -> None:
    """An exclusive flock on `fd`, polled with backoff until `timeout` seconds pass."""
    import fcntl

    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise ProfileLockException(
                    f"could not lock {guarded} within {timeout:g} s: another conn is "
                    "writing; try again (CONN_LOCK_TIMEOUT sets the wait)"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
