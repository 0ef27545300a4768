"""The profile (aliases, TOML) and the state file beside it (which aliases are connected).

Both are read without a lock (a rename makes every write atomic) and rewritten only
under an exclusive lock on `<name>.lock`: read fresh, change, write to a temp file in
the same directory, fsync, rename. A file that does not parse is reported with its
line and column and is never overwritten. The lock is an `flock`, so a writer that
dies releases it; a live one that holds it too long gives `ProfileLockException`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import AliasConfig
from .errors import (
    ConnectionConfigException,
    PlainSecretWarning,
    ProfileException,
    ProfileLockException,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PROFILE_VERSION = 1
PROFILE_NAME = "profiles.toml"
LOCK_TIMEOUT = 10.0
FILE_MODE = 0o600
DIR_MODE = 0o700


def app_dir() -> Path:
    """Where `typer.get_app_dir("conn")` points, without importing typer for it."""
    if sys.platform == "win32":  # pragma: no cover
        return Path(os.environ.get("APPDATA") or Path.home()) / "conn"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Application Support" / "conn"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "conn"


def default_profile_path() -> Path:
    """`$CONN_PROFILE`, else `profiles.toml` in the application directory."""
    return Path(os.environ.get("CONN_PROFILE") or app_dir() / PROFILE_NAME)


@dataclass(frozen=True)
class Profile:
    """The parsed profile: aliases in file order, plus top-level keys we do not know."""

    aliases: dict[str, AliasConfig] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    default_alias: str = ""  # set by `conn use`

    def to_toml(self) -> dict[str, Any]:
        tables = {alias: config.to_table() for alias, config in self.aliases.items()}
        chosen = {"default_alias": self.default_alias} if self.default_alias else {}
        return {"version": PROFILE_VERSION, **chosen, **self.extra, "connections": tables}

    def replace(self, **changes: Any) -> Profile:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class State:
    """Connected aliases, each with the public config it was connected with."""

    connected: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"version": PROFILE_VERSION, "connected": self.connected}


class ProfileStore:
    """Reads and atomically rewrites one profile and its state file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        stem = self.path.name.removesuffix(".toml")
        self.state_path = self.path.with_name(f"{stem}.state.json")
        self.lock_path = self.path.with_name(f"{stem}.lock")
        self._cache: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    # reading -------------------------------------------------------------------------

    def load(self) -> Profile:
        return self._read(self.path, self._parse_profile, Profile())

    def load_state(self) -> State:
        return self._read(self.state_path, self._parse_state, State())

    def _read(self, path: Path, parse: Callable[[bytes], Any], empty: Any) -> Any:
        """Parse `path`, reusing the last parse while the file is unchanged."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return empty
        except OSError as exc:
            raise ProfileException(f"cannot read {path}: {exc.strerror}") from exc
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return empty
        except OSError as exc:
            raise ProfileException(f"cannot read {path}: {exc.strerror}") from exc
        value = parse(data)
        self._cache[path] = (key, value)
        if path == self.path:
            self._warn_if_exposed(value, st.st_mode)
        return value

    def _parse_profile(self, data: bytes) -> Profile:
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ProfileException(f"{self.path}: not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ProfileException(f"{self.path}: invalid TOML: {_located(exc, data)}") from None
        version = document.pop("version", PROFILE_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileException(f"{self.path}: version must be an integer, got {version!r}")
        if version != PROFILE_VERSION:
            raise ProfileException(
                f"{self.path}: profile version {version!r} is not supported; this conn "
                f"reads version {PROFILE_VERSION} (upgrade milvus-conn); file left unchanged"
            )
        tables = document.pop("connections", {})
        if not isinstance(tables, dict):
            raise ProfileException(f"{self.path}: 'connections' must be a table")
        chosen = document.pop("default_alias", "")
        if not isinstance(chosen, str):
            raise ProfileException(f"{self.path}: default_alias must be a string")
        aliases = {alias: self._parse_alias(alias, table) for alias, table in tables.items()}
        return Profile(aliases=aliases, extra=document, default_alias=chosen)

    def _parse_alias(self, alias: str, table: object) -> AliasConfig:
        where = f"{self.path}: connection {alias!r}"
        if not isinstance(table, dict):
            raise ProfileException(f"{where} must be a table")
        try:
            return AliasConfig.from_table(table)
        except ConnectionConfigException as exc:
            raise ProfileException(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ProfileException(f"{where}: {exc}") from None

    def _parse_state(self, data: bytes) -> State:
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProfileException(f"{self.state_path}: invalid state file: {exc}") from None
        connected = document.get("connected") if isinstance(document, dict) else None
        if not isinstance(connected, dict) or not all(
            isinstance(v, dict) for v in connected.values()
        ):
            raise ProfileException(f"{self.state_path}: invalid state file: no 'connected' table")
        return State(connected=connected)

    def _warn_if_exposed(self, profile: Profile, mode: int) -> None:
        holders = [a for a, c in profile.aliases.items() if c.has_plain_secret]
        if not holders:
            return
        warnings.warn(
            f"{self.path} holds a plain password or token (alias {holders[0]!r}); "
            "prefer --password-env / --token-env",
            PlainSecretWarning,
            stacklevel=4,
        )
        if mode & 0o077:
            warnings.warn(
                f"{self.path} holds secrets and is readable by others; "
                f"fix with: chmod 600 {self.path}",
                PlainSecretWarning,
                stacklevel=4,
            )

    # writing -------------------------------------------------------------------------

    def update(self, change: Callable[[Profile], Profile]) -> Profile:
        """Apply `change` to the current profile under the lock and write the result."""
        with self.locked():
            current = self.load()
            updated = change(current)
            if updated is not current:
                import tomli_w

                self._write(self.path, tomli_w.dumps(updated.to_toml()).encode("utf-8"))
            return updated

    def update_state(self, change: Callable[[State], State]) -> State:
        with self.locked():
            current = self.load_state()
            updated = change(current)
            if updated is not current:
                text = json.dumps(updated.to_json(), indent=2, sort_keys=True) + "\n"
                self._write(self.state_path, text.encode("utf-8"))
            return updated

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock; give up with a clear error after the timeout."""
        self._ensure_dir()
        timeout = _lock_timeout()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise ProfileLockException(
                f"cannot open lock {self.lock_path}: {exc.strerror}"
            ) from exc
        try:
            _acquire(fd, self.lock_path, timeout)
            self._sweep_temp_files()
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _ensure_dir(self) -> None:
        missing = [d for d in (self.base_dir, *self.base_dir.parents) if not d.exists()]
        try:
            for directory in reversed(missing):  # each one 0700, not only the last
                directory.mkdir(mode=DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise ProfileException(f"cannot create {self.base_dir}: {exc.strerror}") from exc

    def _temp_prefix(self, path: Path) -> str:
        return f".{path.name}."

    def _sweep_temp_files(self) -> None:
        """Remove temp files that a killed writer left; we hold the lock, so none is live."""
        for path in (self.path, self.state_path):
            for leftover in self.base_dir.glob(f"{self._temp_prefix(path)}*.tmp"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data)


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


def _located(exc: Exception, data: bytes) -> str:
    """tomllib's message, with a line and column also where it says only "end of document"
    (a file cut short by an editor or a full disk)."""
    message = str(exc)
    if "(at end of document)" not in message:
        return message
    lines = data.decode("utf-8").split("\n")
    where = f"(at end of document, line {len(lines)}, column {len(lines[-1]) + 1})"
    return message.replace("(at end of document)", where)


def _lock_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("CONN_LOCK_TIMEOUT", LOCK_TIMEOUT)))
    except ValueError:
        return LOCK_TIMEOUT


def _acquire(fd: int, lock_path: Path, timeout: float) -> None:
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
                    f"could not lock {lock_path} within {timeout:g} s: another conn is "
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
