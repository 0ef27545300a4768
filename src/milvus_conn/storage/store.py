"""One profile file and this user's state file for it, read and rewritten safely.

Both are read without a lock (a rename makes every write atomic: files.py) and
rewritten only under an exclusive `flock`: read fresh, change (a pure function of the
value: profile.py), write to a temp file in the same directory, fsync, rename. A file
that does not parse is reported with its line and column and is never overwritten. A
writer that dies releases its lock; a live one that holds it too long gives
`ProfileLockException`.

Two locks. State writes (connect, disconnect) lock `<key>.lock` in the user's state
directory: nothing is written beside the profile. Profile writes (add, remove, use,
import) lock the profile's directory itself, opened read-only: its inode survives the
rename that replaces the profile (a lock on the file would be left on the old inode),
it exists before the first alias is written, it needs no write permission and no lock
file, and every user who can write a shared profile locks the same one. A profile
that cannot be written (a read-only mount, no permission) is refused before anything
changes: `profile PATH is read-only`.

Parsed files are kept in the parse cache (parsecache.py). A new alias is appended to
the file's text (keeping its comments) rather than the whole file rewritten, where the
file's layout allows.

Every file is read with bounds (untrusted.read_bounded): a path that is not a regular file, a file
over PROFILE_LIMIT bytes or nested deeper than MAX_DEPTH is a ProfileException naming
it, never a hang or a crash. The state file is believed only while no one else could
have written it (trust.py): otherwise no alias counts as connected, and no state or
lock file is written in a directory others can write.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import (
    FileLimitException,
    PlainSecretWarning,
    ProfileException,
    UntrustedFileWarning,
    warn,
)
from . import files, paths, trust
from .files import atomic_write, writable
from .parsecache import ParseCache, StatKey, stat_key, trusted_profile
from .profile import (
    EMPTY_PROFILE,
    Profile,
    State,
    appended,
    parse_toml,
    profile_from,
    secret_holders,
    state_from,
    within_limits,
)

# Layouts where appending "[connections.NAME]" would not be valid TOML: rewrite instead.
_NO_APPEND = re.compile(rb"^[ \t]*connections[ \t]*(=|\.)", re.MULTILINE)


class ProfileStore:
    """Reads and atomically rewrites one profile and this user's state file for it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.state_path = paths.state_file(self.path)
        self.state_lock_path = paths.state_lock(self.path)
        self.lock_path = self.path.parent  # profile writes lock the directory (see above)
        self.cache_path = paths.cache_file(self.path)
        self._parsed: dict[Path, tuple[StatKey, Any]] = {}  # this process's last parses
        self._cache = ParseCache(self.cache_path)
        self._document: dict[str, Any] | None = None  # the profile as last parsed
        self._guards: dict[Path, threading.RLock] = {}  # per lock: this process's threads
        self._depth: dict[Path, int] = {}  # how deep this store holds each lock
        self._doubted: set[str] = set()  # UntrustedFileWarnings given (once each)

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
        if not writable(self.path):
            raise ProfileException(f"profile {self.path} is read-only; nothing changed")

    # reading -------------------------------------------------------------------------

    def load(self) -> Profile:
        return self._read(self.path, self._parse_profile, EMPTY_PROFILE)

    def load_state(self) -> State:
        """This user's state; no alias connected when the file cannot be believed."""
        doubt = trust.file_doubt(self.state_path)
        if doubt is not None:
            self._doubt(doubt, "state file", "no alias counts as connected")
            return State({})
        state = self._read(self.state_path, self._parse_state, None)
        return self._migrate_legacy_state() if state is None else state

    def _doubt(self, doubt: trust.Doubt, what: str, consequence: str) -> None:
        """Say once, through an UntrustedFileWarning, that a file is not believed."""
        sentence = f"{doubt.sentence(what)} ({consequence})"
        if sentence not in self._doubted:
            self._doubted.add(sentence)
            warn(sentence, UntrustedFileWarning)

    def _migrate_legacy_state(self) -> State:
        """Adopt, once, a state file an older conn kept beside the profile: move it to the
        state directory, then never look beside the profile again (the new file exists).
        Only this user's own file is adopted: in a shared folder, another user's
        connections are not ours."""
        legacy = paths.legacy_state_file(self.path)
        try:
            st = legacy.lstat()
        except OSError:
            return State({})
        if st.st_uid != os.getuid() or trust.file_doubt(legacy, st) is not None:
            return State({})
        with self._locked(self.state_lock_path, self.state_path):
            if self.state_path.exists():  # another conn migrated it meanwhile
                return self._read(self.state_path, self._parse_state, State({}))
            state = state_from(self._json(legacy), legacy)
            self._write(self.state_path, self._bytes(legacy))
            for old in (legacy, paths.legacy_cache_file(self.path)):
                with contextlib.suppress(OSError):
                    old.unlink()
        return state

    def _read(self, path: Path, parse: Callable[[StatKey], Any], empty: Any) -> Any:
        """Parse `path`, reusing the last parse while the file is unchanged."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return empty
        except OSError as exc:  # a symlink loop, a path through a file, ENAMETOOLONG ...
            from ..untrusted import unreadable

            raise FileLimitException(str(unreadable(path, exc))) from None
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block, a device never end
            from ..untrusted import UnreadableFile, refuse_special

            try:
                refuse_special(path, st.st_mode)
            except UnreadableFile as exc:
                raise FileLimitException(str(exc)) from None
        key = stat_key(st)
        cached = self._parsed.get(path)
        if cached and cached[0] == key:
            return cached[1]
        value = parse(key)
        self._parsed[path] = (key, value)
        if path == self.path:
            self._warn_if_exposed(self._document or {}, st.st_mode)
        return value

    def _bytes(self, path: Path) -> bytes:
        from ..untrusted import PROFILE_LIMIT, UnreadableFile, read_bounded

        try:
            return read_bounded(path, PROFILE_LIMIT)
        except UnreadableFile as exc:
            raise FileLimitException(str(exc)) from None

    def _parse_profile(self, key: StatKey) -> Profile:
        """From the parse cache when it matches `key`; else parse, validate, cache."""
        document = self._cache.get("profile", key)
        if document is not None:
            self._document = document
            return trusted_profile(document, self.path)
        document = parse_toml(self._bytes(self.path), self.path)
        profile = profile_from(document, self.path)
        self._document = document
        if not profile.broken:  # the cache holds only documents that validated
            self._cache.put("profile", key, document)
        return profile

    def _parse_state(self, key: StatKey) -> State:
        document = self._cache.get("state", key)
        if document is not None:
            return State(connected=document["connected"])
        state = state_from(self._json(self.state_path), self.state_path)
        self._cache.put("state", key, state.to_json())  # as checked: entries are tables
        return state

    def _json(self, path: Path) -> Any:
        """A state file's JSON; errors name `path`."""
        import json  # here: a warm cache reads no JSON

        def parse() -> Any:
            try:
                return json.loads(self._bytes(path))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ProfileException(f"{path}: invalid state file: {exc}") from None

        return within_limits(parse, f"{path}: invalid state file")

    def _warn_if_exposed(self, document: dict[str, Any], mode: int) -> None:
        holders = secret_holders(document)
        if not holders:
            return
        warn(
            f"{self.path} holds a plain password or token (alias {holders[0]!r}); "
            "prefer --password-env / --token-env",
            PlainSecretWarning,
        )
        if mode & 0o077:
            warn(
                f"{self.path} holds secrets and is readable by others; "
                f"fix with: chmod 600 {self.path}",
                PlainSecretWarning,
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

        added = appended(current, updated)
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
        key = stat_key(self.path.stat())
        self._parsed[self.path] = (key, updated)
        if not updated.broken:
            self._cache.put("profile", key, document)

    def update_state(self, change: Callable[[State], State]) -> State:
        with self._locked(self.state_lock_path, self.state_path):
            current = self.load_state()
            updated = change(current)
            if updated is not current:
                import json

                document = updated.to_json()
                text = json.dumps(document, indent=2, sort_keys=True) + "\n"
                self._write(self.state_path, text.encode("utf-8"))
                key = stat_key(self.state_path.stat())
                self._parsed[self.state_path] = (key, updated)
                self._cache.put("state", key, document)
            return updated

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the profile-write lock (the profile's directory)."""
        return self._locked(self.lock_path, self.path)

    def locked_for(self, alias: str) -> contextlib.AbstractContextManager[None]:
        return self.locked()

    def state_locked(self) -> contextlib.AbstractContextManager[None]:
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
        """Hold an exclusive flock on `lock_path` while `guarded` is rewritten; remove the
        temp files a killed writer left (of `guarded` and of the parse cache: a cache
        write is best effort, one that loses its temp file is simply skipped). No lock or
        state file is made in a state directory others can write (trust.py)."""
        files.make_dirs(guarded.parent)
        doubt = trust.directory_doubt(guarded.parent) if guarded == self.state_path else None
        if doubt is not None:
            raise ProfileException(
                f"{doubt.sentence('state directory')} (conn neither believes nor writes "
                "connection state there)"
            )
        timeout = files.lock_timeout()
        fd = files.open_lock(lock_path, guarded)
        try:
            files.acquire(fd, guarded, timeout)
            files.sweep_temp_files(guarded)
            files.sweep_temp_files(self.cache_path)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data)
