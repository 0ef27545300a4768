"""Where conn keeps its files: the default profile, and apart from it state and cache.

The default profile is `$CONN_PROFILE` (its first file, when it names several), else
`profiles.toml` in the application directory (where `typer.get_app_dir("conn")` points).
Empty entries of `$CONN_PROFILE` (`a::b`, `:`) are skipped, as KUBECONFIG's are: no file
is ever named "" or ":".

A profile may sit where its user cannot or should not write: a read-only mount, a
ConfigMap, a team folder or a repository. So the profile holds aliases only, and each
user's own files live in their XDG directories, one set per profile, keyed by the
profile's absolute path:

- `$XDG_STATE_HOME/conn/<stem>-<hash>.state.json`: which aliases this user connected,
  and `<stem>-<hash>.lock`, the lock for writing it;
- `$XDG_CACHE_HOME/conn/<stem>-<hash>.cache`: the profile as last parsed.

`<stem>` is the profile's file name (readable in `ls`); `<hash>`, a 64-bit FNV-1a of its
absolute path (16 hex digits: no hashlib import, ~2 ms, on every start-up), tells apart
two `profiles.toml` in different folders. XDG's
fallbacks are `~/.local/state` and `~/.cache`; a relative XDG value is ignored, as the
XDG spec says.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PROFILE_NAME = "profiles.toml"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def app_dir() -> Path:
    """Where `typer.get_app_dir("conn")` points, without importing typer for it."""
    if sys.platform == "win32":  # pragma: no cover
        return Path(os.environ.get("APPDATA") or Path.home()) / "conn"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Application Support" / "conn"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "conn"


def profile_entries(value: str) -> list[str]:
    """The files a `$CONN_PROFILE`-style value names, split on os.pathsep; empty entries
    (`a::b`, `:`) skipped, as KUBECONFIG's are."""
    return [entry for entry in value.split(os.pathsep) if entry]


def default_profile_path() -> Path:
    """The first file `$CONN_PROFILE` names, else `profiles.toml` in the application
    directory."""
    entries = profile_entries(os.environ.get("CONN_PROFILE", ""))
    return Path(entries[0]) if entries else app_dir() / PROFILE_NAME


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    base = Path(value) if os.path.isabs(value) else Path.home() / fallback
    return base / "conn"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def key(profile: Path) -> str:
    """`<stem>-<hash>` for the profile's absolute path: one name per profile file."""
    digest = 0xCBF29CE484222325
    for byte in os.fsencode(profile):
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    stem = _UNSAFE.sub("_", profile.name.removesuffix(".toml"))[:40] or "profile"
    return f"{stem}-{digest:016x}"


def state_file(profile: Path) -> Path:
    return state_dir() / f"{key(profile)}.state.json"


def state_lock(profile: Path) -> Path:
    return state_dir() / f"{key(profile)}.lock"


def cache_file(profile: Path) -> Path:
    return cache_dir() / f"{key(profile)}.cache"


def legacy_state_file(profile: Path) -> Path:
    """Where conn kept the state before it moved to the state directory: beside the profile."""
    return profile.with_name(f"{profile.name.removesuffix('.toml')}.state.json")


def legacy_cache_file(profile: Path) -> Path:
    return profile.with_name(f".{profile.name}.cache")
