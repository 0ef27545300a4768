"""Layered profiles: several files seen as one, as kubectl reads `KUBECONFIG=a:b`.

`CONN_PROFILE`, `--profile` (repeatable) and `Connections(profile=...)` may name several
files, separated by the platform's path separator (`:`, `;` on Windows). Rules:

- every command sees the merged aliases; the first file that defines an alias wins;
- the default alias (`conn use`) is the first file's, else the first that sets one;
- a new alias and `conn use` are written to the first file; `remove` and `add --force`
  change the file that defines the alias, and are refused (exit 6) if it is read-only;
- a missing file is skipped (the first one is created by the first write to it); a
  corrupt one is reported with its path, line and column;
- relative TLS paths are read from the directory of the file defining the alias;
- connection state is the first file's (paths.py): the state of "my view", kept in my
  state directory, whatever team files lie beneath it.

A single file is served by `ProfileStore` itself, so the common case costs nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Union

from ..config import AliasConfig
from ..errors import ProfileLockException
from .paths import default_profile_path, profile_entries
from .profile import Profile, State
from .store import ProfileStore

ProfileSpec = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], None]
_ATTEMPTS = 3  # re-plans of one update when the files change between plan and lock


def profile_paths(spec: ProfileSpec) -> list[Path]:
    """The files `spec` names, in order: a str is split on os.pathsep (as CONN_PROFILE,
    empty entries skipped), a Path is one file, a sequence is each of its items; None,
    or nothing but empty entries, means the default."""
    if spec is None:
        spec = os.environ.get("CONN_PROFILE", "")
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    files: list[Path] = []
    for item in items:
        parts = profile_entries(item) if isinstance(item, str) else [item]
        files += [Path(part).expanduser().absolute() for part in parts if os.fspath(part)]
    unique = list(dict.fromkeys(files))  # a file named twice is one layer
    return unique or [default_profile_path().expanduser().absolute()]


def open_store(spec: ProfileSpec) -> ProfileStore | LayeredStore:
    files = profile_paths(spec)
    return ProfileStore(files[0]) if len(files) == 1 else LayeredStore(files)


class MergedAliases(Mapping[str, AliasConfig]):
    """The layers' aliases, the first definition of each winning; nothing copied, so a
    lookup in 10,000 aliases builds one config, as parsecache.TrustedAliases does."""

    __slots__ = ("_maps",)

    def __init__(self, maps: Sequence[Mapping[str, AliasConfig]]) -> None:
        self._maps = maps

    def __getitem__(self, alias: str) -> AliasConfig:
        for aliases in self._maps:
            if alias in aliases:
                return aliases[alias]
        raise KeyError(alias)

    def __contains__(self, alias: object) -> bool:
        return any(alias in aliases for aliases in self._maps)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for aliases in self._maps:
            for alias in aliases:
                if alias not in seen:
                    seen.add(alias)
                    yield alias

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Delta(NamedTuple):
    """What one layer must change: aliases stored or replaced, aliases removed, and the
    default alias (None: left alone)."""

    stored: dict[str, AliasConfig]
    removed: list[str]
    default: str | None = None


class LayeredStore:
    """ProfileStore's interface over several files (see the module's rules)."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.layers = [ProfileStore(path) for path in files]
        first = self.layers[0]
        self.path, self.state_path, self.cache_path = first.path, first.state_path, first.cache_path
        self.lock_path = first.lock_path
        self._merged: tuple[tuple[int, ...], Profile] | None = None

    @property
    def paths(self) -> list[Path]:
        return [layer.path for layer in self.layers]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    # reading -------------------------------------------------------------------------

    def load(self) -> Profile:
        profiles = [layer.load() for layer in self.layers]  # each cached while unchanged
        identity = tuple(map(id, profiles))
        if self._merged is None or self._merged[0] != identity:
            self._merged = (identity, _merge(profiles))
        return self._merged[1]

    def load_state(self) -> State:
        return self.layers[0].load_state()

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return self.layers[0].locked()

    def locked_for(self, alias: str) -> contextlib.AbstractContextManager[None]:
        """The lock of the file that defines `alias` (the first file for a new one)."""
        return (self.owner(alias) or self.layers[0]).locked()

    def state_locked(self) -> contextlib.AbstractContextManager[None]:
        return self.layers[0].state_locked()

    def update_state(self, change: Callable[[State], State]) -> State:
        return self.layers[0].update_state(change)

    def owner(self, alias: str) -> ProfileStore | None:
        """The layer whose definition of `alias` wins."""
        return next((layer for layer in self.layers if alias in layer.load().aliases), None)

    def base_for(self, alias: str) -> Path:
        return (self.owner(alias) or self.layers[0]).base_dir

    def source_of(self, alias: str) -> Path | None:
        layer = self.owner(alias)
        return layer.path if layer else None

    def sources(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for layer in reversed(self.layers):
            found.update(dict.fromkeys(layer.load().aliases, layer.path))
        return found

    def check_writable(self, alias: str | None = None) -> None:
        """Refuse a write to `alias`'s file (the first file for None) that cannot land."""
        layer = self.layers[0] if alias is None else self.owner(alias)
        if layer is not None:
            layer.check_writable()

    # writing -------------------------------------------------------------------------

    def update(self, change: Callable[[Profile], Profile]) -> Profile:
        """Apply `change` to the merged view; write each layer its share, under the locks
        of every layer written. The plan is made, the locks taken, and the plan made
        again on fresh files: if it now needs a layer not locked, it starts over."""
        for _ in range(_ATTEMPTS):
            _, plan = self._plan(change)
            with self._locked(sorted(plan)):
                updated, fresh = self._plan(change)
                if fresh.keys() <= plan.keys():
                    for index in fresh:  # every refusal before the first write
                        self.layers[index].check_writable()
                    for index, delta in fresh.items():
                        self.layers[index].apply(lambda profile, d=delta: _applied(profile, d))
                    return updated
        raise ProfileLockException(f"profiles {self.paths} kept changing; try again")

    def _plan(self, change: Callable[[Profile], Profile]) -> tuple[Profile, dict[int, _Delta]]:
        """The updated merged profile and, per layer index, its share of the change."""
        current = self.load()
        updated = change(current)
        plan: dict[int, _Delta] = {}
        if updated is current:
            return updated, plan

        def share(alias: str | None) -> _Delta:
            owner = self.owner(alias) if alias is not None else None
            index = self.layers.index(owner) if owner else 0
            return plan.setdefault(index, _Delta({}, []))

        old, new = current.aliases, updated.aliases
        if new is not old:
            for alias in old:
                if alias not in new:
                    share(alias).removed.append(alias)
            for alias, config in new.items():
                before = old.get(alias)
                if before is None or (before is not config and before != config):
                    share(alias).stored[alias] = config
        if updated.default_alias != current.default_alias:
            plan[0] = share(None)._replace(default=updated.default_alias)
        return updated, plan

    @contextlib.contextmanager
    def _locked(self, indexes: Sequence[int]) -> Iterator[None]:
        """Each written layer's lock once (two layers in one directory share it), in one
        order for every process, so that two writers never wait on each other."""
        by_lock = {self.layers[i].lock_path: self.layers[i] for i in indexes}
        with contextlib.ExitStack() as stack:
            for lock_path in sorted(by_lock):
                stack.enter_context(by_lock[lock_path].locked())
            yield


def _merge(profiles: Sequence[Profile]) -> Profile:
    default = next((p.default_alias for p in profiles if p.default_alias), "")
    extra: dict[str, Any] = {}
    for profile in reversed(profiles):  # the first file's unknown keys win too
        extra.update(profile.extra)
    aliases = MergedAliases([p.aliases for p in profiles])
    broken: dict[str, Any] = {}  # an unusable table is shown where it would win
    for index, profile in enumerate(profiles):
        above = profiles[:index]
        for alias, table in profile.broken.items():
            if alias not in broken and not any(alias in p.aliases for p in above):
                broken[alias] = table
    return Profile(aliases=aliases, extra=extra, default_alias=default, broken=broken)


def _applied(profile: Profile, delta: _Delta) -> Profile:
    """`profile` with one layer's share of a change; the same object if it changes nothing."""
    changed = profile
    if delta.stored or any(alias in profile.aliases for alias in delta.removed):
        aliases = {a: c for a, c in profile.aliases.items() if a not in delta.removed}
        aliases.update(delta.stored)
        changed = changed.replace(aliases=aliases)
    if delta.default is not None and delta.default != profile.default_alias:
        changed = changed.replace(default_alias=delta.default)
    return changed
