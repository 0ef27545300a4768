"""The profile (aliases, TOML: configuration only) and this user's state for it (which
aliases are connected), kept apart: paths.py says where state and cache live and why.

Both are read without a lock (a rename makes every write atomic) and rewritten only
under an exclusive `flock`: read fresh, change, write to a temp file in the same
directory, fsync, rename. A file that does not parse is reported with its line and
column and is never overwritten. A writer that dies releases its lock; a live one that
holds it too long gives `ProfileLockException`.

Two locks. State writes (connect, disconnect) lock `<key>.lock` in the user's state
directory: nothing is written beside the profile. Profile writes (add, remove, use,
import) lock the profile's directory itself, opened read-only: its inode survives the
rename that replaces the profile (a lock on the file would be left on the old inode),
it exists before the first alias is written, it needs no write permission and no lock
file, and every user who can write a shared profile locks the same one. A profile
that cannot be written (a read-only mount, no permission) is refused before anything
changes: `profile PATH is read-only`.

Speed: a profile that parsed and validated is kept, as parsed, in the user's cache
directory (marshal, 0600), keyed by the profile's size, times and inode, so later runs
skip TOML parsing and validation; any change to the profile makes the cache stale. A
new alias is appended to the file's text (keeping its comments) rather than the whole
file rewritten, where the file's layout allows.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import contextlib
import marshal
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from . import paths
from .config import SECRET_KEYS, AliasConfig
from .errors import (
    ConnectionConfigException,
    PlainSecretWarning,
    ProfileException,
    ProfileLockException,
)

PROFILE_VERSION = 1
CACHE_FORMAT = 2  # 2: values are checked for control characters; older caches are stale
# Layouts where appending "[connections.NAME]" would not be valid TOML: rewrite instead.
_NO_APPEND = re.compile(rb"^[ \t]*connections[ \t]*(=|\.)", re.MULTILINE)
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


class TrustedAliases(Mapping[str, AliasConfig]):
    """Aliases from the parse cache, each AliasConfig built when first read: `conn has
    prod` on a 10,000-alias profile builds one config, not 10,000 (~50 ms)."""

    __slots__ = ("_built", "_tables")

    def __init__(self, tables: dict[str, dict[str, Any]]) -> None:
        self._tables = tables
        self._built: dict[str, AliasConfig] = {}

    def __getitem__(self, alias: str) -> AliasConfig:
        config = self._built.get(alias)
        if config is None:
            config = self._built[alias] = AliasConfig.trusted(self._tables[alias])
        return config

    def __contains__(self, alias: object) -> bool:
        return alias in self._tables

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)


class BrokenAlias(NamedTuple):
    """An alias whose table is not a usable config. One alias's fault stays its own: the
    others load, listings show this one with `message`, commands that use it fail with
    it, and a rewrite keeps `table` as it was written."""

    table: Any
    message: str

    def error(self) -> ProfileException:
        return ProfileException(self.message)


class Profile(NamedTuple):
    """The parsed profile: aliases in file order, plus top-level keys we do not know.
    (NamedTuples here and below: never mutated, and cheap to define at start-up.)"""

    aliases: Mapping[str, AliasConfig]  # a dict, or TrustedAliases from the cache
    extra: dict[str, Any]
    default_alias: str = ""  # set by `conn use`
    broken: Mapping[str, BrokenAlias] = {}  # never mutated

    def to_toml(self) -> dict[str, Any]:
        tables = {alias: config.to_table() for alias, config in self.aliases.items()}
        tables.update({alias: alias_.table for alias, alias_ in self.broken.items()})
        chosen = {"default_alias": self.default_alias} if self.default_alias else {}
        return {"version": PROFILE_VERSION, **chosen, **self.extra, "connections": tables}

    def replace(self, **changes: Any) -> "Profile":
        return self._replace(**changes)


EMPTY_PROFILE = Profile({}, {})


class State(NamedTuple):
    """Connected aliases, each with the public config it was connected with."""

    connected: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"version": PROFILE_VERSION, "connected": self.connected}


class ProfileStore:
    """Reads and atomically rewrites one profile and this user's state file for it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.state_path = paths.state_file(self.path)
        self.state_lock_path = paths.state_lock(self.path)
        self.lock_path = self.path.parent  # profile writes lock the directory (see above)
        self.cache_path = paths.cache_file(self.path)
        self._cache: dict[Path, tuple[tuple[int, ...], Any]] = {}
        self._document: dict[str, Any] | None = None  # the profile as last parsed
        self._entries: dict[str, Any] | None = None  # the parse cache file, once read
        self._guards: dict[Path, threading.RLock] = {}  # per lock: this process's threads
        self._depth: dict[Path, int] = {}  # how deep this store holds each lock

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    # the interface layers.LayeredStore shares: one layer here --------------------------

    @property
    def paths(self) -> list[Path]:
        return [self.path]

    def base_for(self, alias: str) -> Path:
        """The directory relative TLS paths of `alias` are read from."""
        return self.base_dir

    def source_of(self, alias: str) -> Path | None:
        """The file that defines `alias`, None when none does."""
        return self.path if alias in self.load().aliases else None

    def sources(self) -> dict[str, Path]:
        return dict.fromkeys(self.load().aliases, self.path)

    def check_writable(self, alias: str | None = None) -> None:
        """Refuse, before anything changes, a write (to `alias`, if it is stored here)
        that could not land."""
        if alias is not None and alias not in self.load().aliases:
            return
        if not _writable(self.path):
            raise ProfileException(f"profile {self.path} is read-only; nothing changed")

    # reading -------------------------------------------------------------------------

    def load(self) -> Profile:
        return self._read(self.path, self._parse_profile, EMPTY_PROFILE)

    def load_state(self) -> State:
        state = self._read(self.state_path, self._parse_state, None)
        return self._migrate_legacy_state() if state is None else state

    def _migrate_legacy_state(self) -> State:
        """Adopt, once, a state file an older conn kept beside the profile: move it to the
        state directory, then never look beside the profile again (the new file exists).
        Only this user's own file is adopted: in a shared folder, another user's
        connections are not ours."""
        legacy = paths.legacy_state_file(self.path)
        try:
            if legacy.lstat().st_uid != os.getuid():
                return State({})
        except OSError:
            return State({})
        with self._locked(self.state_lock_path, self.state_path):
            if self.state_path.exists():  # another conn migrated it meanwhile
                return self._read(self.state_path, self._parse_state, State({}))
            document = self._json(legacy)
            self._write(self.state_path, self._bytes(legacy))
            for old in (legacy, paths.legacy_cache_file(self.path)):
                with contextlib.suppress(OSError):
                    old.unlink()
        return State(connected=document["connected"])

    def _read(self, path: Path, parse: Callable[[tuple[int, ...]], Any], empty: Any) -> Any:
        """Parse `path`, reusing the last parse while the file is unchanged."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return empty
        except OSError as exc:
            raise ProfileException(f"cannot read {path}: {exc.strerror}") from exc
        key = _stat_key(st)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        value = parse(key)
        self._cache[path] = (key, value)
        if path == self.path:
            self._warn_if_exposed(self._document or {}, st.st_mode)
        return value

    def _bytes(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ProfileException(f"cannot read {path}: {exc.strerror}") from exc

    def _parse_profile(self, key: tuple[int, ...]) -> Profile:
        """From the parse cache when it matches `key`; else parse, validate, cache."""
        document = self._cached("profile", key)
        if document is not None:
            self._document = document
            return self._profile_from(document, trusted=True)
        data = self._bytes(self.path)
        tomllib = _tomllib()
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ProfileException(f"{self.path}: not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ProfileException(f"{self.path}: invalid TOML: {_located(exc, data)}") from None
        profile = self._profile_from(document, trusted=False)
        self._document = document
        if not profile.broken:  # the cache holds only documents that validated
            self._save_cache("profile", key, document)
        return profile

    def _profile_from(self, document: dict[str, Any], *, trusted: bool) -> Profile:
        version = document.get("version", PROFILE_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileException(f"{self.path}: version must be an integer, got {version!r}")
        if version != PROFILE_VERSION:
            raise ProfileException(
                f"{self.path}: profile version {version!r} is not supported; this conn "
                f"reads version {PROFILE_VERSION} (upgrade milvus-conn); file left unchanged"
            )
        tables = document.get("connections", {})
        if not isinstance(tables, dict):
            raise ProfileException(f"{self.path}: 'connections' must be a table")
        chosen = document.get("default_alias", "")
        if not isinstance(chosen, str):
            raise ProfileException(f"{self.path}: default_alias must be a string")
        known = ("version", "connections", "default_alias")
        extra = {k: v for k, v in document.items() if k not in known}
        if trusted:
            return Profile(TrustedAliases(tables), extra, chosen)
        parsed = {alias: self._parse_alias(alias, table) for alias, table in tables.items()}
        aliases = {a: c for a, c in parsed.items() if isinstance(c, AliasConfig)}
        broken = {a: c for a, c in parsed.items() if isinstance(c, BrokenAlias)}
        return Profile(aliases, extra, chosen, broken)

    def _disk_cache(self) -> dict[str, Any]:
        """The cache file's entries, {"profile"|"state": (key, document)}, read once."""
        if self._entries is None:
            try:
                entries = marshal.loads(self.cache_path.read_bytes())
            except (OSError, ValueError, EOFError, TypeError):
                entries = None
            valid = isinstance(entries, dict) and entries.get("format") == CACHE_FORMAT
            self._entries = entries if valid else {"format": CACHE_FORMAT}
        return self._entries

    def _cached(self, kind: str, key: tuple[int, ...]) -> dict[str, Any] | None:
        entry = self._disk_cache().get(kind)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == key:
            return entry[1] if isinstance(entry[1], dict) else None
        return None

    def _save_cache(self, kind: str, key: tuple[int, ...], document: dict[str, Any]) -> None:
        """Best effort: in a read-only place the files are simply parsed every time."""
        entries = {**self._disk_cache(), kind: (key, document)}
        self._entries = entries
        with contextlib.suppress(ProfileException, OSError, ValueError):
            _make_dirs(self.cache_path.parent)
            atomic_write(self.cache_path, marshal.dumps(entries))

    def _parse_alias(self, alias: str, table: object) -> AliasConfig | BrokenAlias:
        where = f"{self.path}: connection {alias!r}"
        if not isinstance(table, dict):
            return BrokenAlias(table, f"{where} must be a table")
        try:
            return AliasConfig.from_table(table)
        except (ConnectionConfigException, TypeError) as exc:
            return BrokenAlias(table, f"{where}: {exc}")

    def _parse_state(self, key: tuple[int, ...]) -> State:
        document = self._cached("state", key)
        if document is None:
            document = self._json(self.state_path)
            self._save_cache("state", key, document)
        return State(connected=document["connected"])

    def _json(self, path: Path) -> dict[str, Any]:
        """A state file, parsed and checked; errors name `path`."""
        import json

        try:
            document = json.loads(self._bytes(path))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProfileException(f"{path}: invalid state file: {exc}") from None
        connected = document.get("connected") if isinstance(document, dict) else None
        if not isinstance(connected, dict) or not all(
            isinstance(v, dict) for v in connected.values()
        ):
            raise ProfileException(f"{path}: invalid state file: no 'connected' table")
        return document  # type: ignore[no-any-return]

    def _warn_if_exposed(self, document: dict[str, Any], mode: int) -> None:
        """Read from the document's tables, so that no alias is built for it."""
        password, token = SECRET_KEYS
        tables = document.get("connections", {})
        holders = [
            alias
            for alias, t in tables.items()
            if isinstance(t, dict) and (t.get(password) or t.get(token)) and _holds_secret(t)
        ]
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
            return self.apply(change)

    def apply(self, change: Callable[[Profile], Profile]) -> Profile:
        """`update` for a caller that holds the lock already (layers.py)."""
        current = self.load()
        updated = change(current)
        if updated is not current:
            self.check_writable()
            self._write_profile(current, updated)
        return updated

    def _write_profile(self, current: Profile, updated: Profile) -> None:
        """Append new aliases to the text where that is all that changed; else rewrite."""
        import tomli_w

        added = _appended(current, updated)
        old = self._bytes(self.path) if added and self.path.exists() else b""
        if old and self._document is not None and not _NO_APPEND.search(old):
            tables = {alias: updated.aliases[alias].to_table() for alias in added}
            text = tomli_w.dumps({"connections": tables}).encode("utf-8")
            gap = b"\n" if old.endswith(b"\n") else b"\n\n"
            document = {**self._document}
            document["connections"] = {**document.get("connections", {}), **tables}
            self._write(self.path, old + gap + text)
        else:
            document = updated.to_toml()
            self._write(self.path, tomli_w.dumps(document).encode("utf-8"))
        self._document = document
        key = _stat_key(self.path.stat())
        self._cache[self.path] = (key, updated)
        if not updated.broken:
            self._save_cache("profile", key, document)

    def update_state(self, change: Callable[[State], State]) -> State:
        with self._locked(self.state_lock_path, self.state_path):
            current = self.load_state()
            updated = change(current)
            if updated is not current:
                import json

                document = updated.to_json()
                text = json.dumps(document, indent=2, sort_keys=True) + "\n"
                self._write(self.state_path, text.encode("utf-8"))
                key = _stat_key(self.state_path.stat())
                self._cache[self.state_path] = (key, updated)
                self._save_cache("state", key, document)
            return updated

    def locked(self) -> "contextlib.AbstractContextManager[None]":
        """Hold the profile-write lock (the profile's directory)."""
        return self._locked(self.lock_path, self.path)

    def locked_for(self, alias: str) -> "contextlib.AbstractContextManager[None]":
        return self.locked()

    def state_locked(self) -> "contextlib.AbstractContextManager[None]":
        """Hold the state-write lock: with `locked()`, a command that writes both files
        (remove, connect of a new alias) takes both before it changes either."""
        return self._locked(self.state_lock_path, self.state_path)

    @contextlib.contextmanager
    def _locked(self, lock_path: Path, guarded: Path) -> Iterator[None]:
        """Re-entrant in this store (a second flock on another descriptor of the same file
        would wait for ourselves); one thread at a time."""
        with self._guards.setdefault(lock_path, threading.RLock()):
            if self._depth.get(lock_path):
                self._depth[lock_path] += 1
                try:
                    yield
                finally:
                    self._depth[lock_path] -= 1
                return
            with self._flocked(lock_path, guarded):
                self._depth[lock_path] = 1
                try:
                    yield
                finally:
                    self._depth[lock_path] = 0

    @contextlib.contextmanager
    def _flocked(self, lock_path: Path, guarded: Path) -> Iterator[None]:
        """Hold an exclusive flock on `lock_path` (a directory, or a lock file created
        0600) while `guarded` is rewritten; give up with a clear error after the timeout."""
        _make_dirs(guarded.parent)
        timeout = _lock_timeout()
        flags = os.O_RDONLY if lock_path == guarded.parent else os.O_RDONLY | os.O_CREAT
        try:
            fd = os.open(lock_path, flags, FILE_MODE)
        except OSError as exc:
            raise ProfileLockException(f"cannot open lock {lock_path}: {exc.strerror}") from exc
        try:
            _acquire(fd, guarded, timeout)
            self._sweep_temp_files(guarded)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _sweep_temp_files(self, guarded: Path) -> None:
        """Remove temp files a killed writer left; we hold the lock, so none is live
        (a cache write is best effort: one that loses its temp file is simply skipped)."""
        for path in (guarded, self.cache_path):
            for leftover in path.parent.glob(f".{path.name}.*.tmp"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data)


def _make_dirs(directory: Path) -> None:
    """Create `directory` and any missing parent, each 0700 (not only the last)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        for each in reversed(missing):
            each.mkdir(mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise ProfileException(f"cannot create {directory}: {exc.strerror}") from exc


def _writable(path: Path) -> bool:
    """Whether `path` can be replaced: the file (when it exists) and the directory the
    rename happens in, else the nearest existing ancestor. access() answers EROFS on a
    read-only mount even for root."""
    if path.exists() and not os.access(path, os.W_OK):
        return False
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return os.access(directory, os.W_OK)


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


def _holds_secret(table: dict[str, Any]) -> bool:
    """A usable plain secret: a broken alias's `password = 7` is its error, not a secret."""
    return any(isinstance(table.get(key), str) and table[key] for key in SECRET_KEYS)


def _tomllib() -> Any:
    """The TOML parser, imported only when a file must really be parsed (the cache is cold)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    """What changes whenever the file does: size, modification and change times, inode."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _appended(current: Profile, updated: Profile) -> list[str]:
    """The aliases `updated` adds at the end of `current`, if that is its only change."""
    if updated.extra != current.extra or updated.default_alias != current.default_alias:
        return []
    if updated.broken != current.broken:
        return []
    old, new = current.aliases, updated.aliases
    if len(new) <= len(old) or any(new.get(a) is not c for a, c in old.items()):
        return []
    return list(new)[len(old) :]


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


def _acquire(fd: int, guarded: Path, timeout: float) -> None:
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
