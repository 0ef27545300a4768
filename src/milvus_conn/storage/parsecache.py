"""The parse cache: a performance device, kept because `make bench` rows need it.

A profile or state file that parsed and validated is kept, as parsed, in the user's
cache directory (paths.py; marshal, 0600), keyed by the file's size, times and inode
(`stat_key`): later runs skip TOML parsing and alias validation, and any change to the
file makes its entry stale. A profile read from it is a `TrustedAliases` mapping,
which builds each alias's config (without validating it again) when first read.

Rows that fail without it: 2a-2c (`conn list`, `conn addr`, `conn has --no-probe` within
1.15x of `import typer`: no tomllib import, no validation on start-up) and 4a-4b (`add`
and `list --json` on 10,000 aliases within 3x of an empty profile). Remove it, with
this module, once those rows pass without it.

The cache is best effort: unreadable, corrupt or of another format, it is ignored;
where it cannot be written (a read-only home), files are simply parsed every time.
Its aliases are not validated again, so it is believed only while no one else could have
written it (trust.py): a cache file that is not the user's own, or that group or others
can write, is ignored and rewritten; in a directory others can write it is neither read
nor written (the files are parsed every time). Either raises an UntrustedFileWarning.

ARCHITECTURE.md lists it with the other performance devices.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config import AliasConfig
from ..errors import ProfileException, UntrustedFileWarning, warn
from . import trust
from .files import atomic_write, make_dirs
from .profile import Profile, checked

CACHE_FORMAT = 2  # 2: values are checked for control characters; older caches are stale
CACHE_LIMIT = 48 * 1024 * 1024  # a profile and a state file (untrusted.PROFILE_LIMIT each)
StatKey = tuple[int, ...]


def stat_key(st: os.stat_result) -> StatKey:
    """What changes whenever the file does: size, modification and change times, inode."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class ParseCache:
    """One cache file holding one entry per kind ("profile", "state"): (key, document)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None  # the file, once read

    def get(self, kind: str, key: StatKey) -> dict[str, Any] | None:
        """The document cached for `kind` if it was parsed from the file as `key` found it."""
        entry = self._read().get(kind)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == key:
            return entry[1] if isinstance(entry[1], dict) else None
        return None

    def put(self, kind: str, key: StatKey, document: dict[str, Any]) -> None:
        """Best effort: in a read-only place the files are simply parsed every time."""
        entries = {**self._read(), kind: (key, document)}
        self._entries = entries
        with contextlib.suppress(ProfileException, OSError, ValueError):
            make_dirs(self.path.parent)
            if trust.directory_doubt(self.path.parent) is None:  # else it could be swapped
                atomic_write(self.path, marshal.dumps(entries))

    def _read(self) -> dict[str, Any]:
        if self._entries is None:
            entries = None
            try:
                st = self.path.stat()
            except OSError:
                st = None  # no cache yet
            if st is not None and stat.S_ISREG(st.st_mode) and st.st_size <= CACHE_LIMIT:
                entries = self._load(st)
            valid = isinstance(entries, dict) and entries.get("format") == CACHE_FORMAT
            self._entries = entries if valid else {"format": CACHE_FORMAT}
        return self._entries

    def _load(self, st: os.stat_result) -> Any:
        """The cache file's entries, if it and its directory can be believed (`st` showed
        a regular file within CACHE_LIMIT: a FIFO is never opened); None otherwise."""
        doubt = trust.file_doubt(self.path, st)
        if doubt is not None:
            unsafe_dir = doubt.path != self.path
            what = "parse cache directory" if unsafe_dir else "parse cache"
            done = "not used: the profile is parsed every time" if unsafe_dir else "rebuilt"
            warn(f"{doubt.sentence(what)} ({done})", UntrustedFileWarning)
            return None
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            return marshal.loads(self.path.read_bytes())
        return None


def trusted_profile(document: dict[str, Any], path: Path) -> Profile:
    """The profile in a cached document: it validated when it was cached."""
    tables, extra, chosen = checked(document, path)
    return Profile(TrustedAliases(tables), extra, chosen)


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
