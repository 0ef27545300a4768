"""What aliases exist, which are connected, and this process's live handles.

The registry's data side: the profile (one file or layers), this user's state file,
this process's embedded Milvus Lite aliases and the built-in default alias, read
through one store; and the live handles (connection.py) opened for them. It decides
nothing about precedence (resolve.py does) and runs no probe (registry.py does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import resolve as res
from .config import AliasConfig
from .connection import Connection
from .errors import (
    ConnectionConfigException,
    ConnectionNotExistException,
    ExitCode,
    MilvusException,
    NotConnectedException,
    ProfileException,
)
from .storage.layers import LayeredStore, ProfileSpec, open_store
from .storage.profile import State, state_without, with_aliases
from .storage.store import ProfileStore

if TYPE_CHECKING:
    from .secrets.keystore import Keystore

STATE_ONLY = ("since", "protocol")  # what the state file records beyond the config


class Catalog:
    """The aliases of one profile and their connected state; `env` is read live."""

    def __init__(self, profile: ProfileSpec, env: Mapping[str, str]) -> None:
        self._profile = profile
        self._store: ProfileStore | LayeredStore | None = None
        self.env = env
        self.lock = threading.RLock()
        # Embedded Milvus Lite aliases live and die with this process: never in the files.
        self.embedded: dict[str, tuple[AliasConfig, dict[str, Any]]] = {}
        self._handles: dict[str, Connection] = {}  # live handles, per process
        self._keystore: Keystore | None = None

    def get_keystore(self) -> Keystore:
        """The logins this user made, and the OS credential store (opened when needed)."""
        if self._keystore is None:
            from .secrets.keystore import Keystore  # only what resolves a secret loads it

            self._keystore = Keystore()
        return self._keystore

    @property
    def store(self) -> ProfileStore | LayeredStore:
        """The profile store, opened on first use (`$CONN_PROFILE` is read then)."""
        if self._store is None:
            self._store = open_store(self._profile or None)
        return self._store

    # reading -------------------------------------------------------------------------

    def config(self, alias: str) -> AliasConfig | None:
        """The alias's config: embedded, stored, or the built-in default; a broken
        stored alias raises its error."""
        embedded = self.embedded.get(alias)
        if embedded is not None:
            return embedded[0]
        profile = self.store.load()
        broken = profile.broken.get(alias)
        if broken is not None:
            raise broken.error()
        config = profile.aliases.get(alias)
        if config is None and alias == res.builtin_alias(self.env):
            return res.builtin_config(self.env)
        return config

    def require(self, alias: str) -> AliasConfig:
        config = self.config(alias)
        if config is None:
            raise ConnectionNotExistException(f"unknown alias {alias!r}")
        return config

    def entries(self) -> tuple[dict[str, AliasConfig | MilvusException], str]:
        """Every alias, usable (its config) or not (its error), the built-in default's name
        first, stored or not (as in pymilvus, whose default alias is made first); and the
        name of the implicit built-in default when it is in the list (else "")."""
        profile = self.store.load()
        entries: dict[str, AliasConfig | MilvusException] = dict(profile.aliases)
        entries.update({alias: config for alias, (config, _) in self.embedded.items()})
        entries.update({alias: broken.error() for alias, broken in profile.broken.items()})
        name = res.builtin_alias(self.env)
        if name in entries:
            return {name: entries.pop(name), **entries}, ""
        try:
            entries = {name: res.builtin_config(self.env), **entries}
        except ConnectionConfigException as exc:  # $MILVUS_URI that does not parse
            entries = {name: exc, **entries}
        return entries, "" if self.env.get("MILVUS_URI") else name

    def sources(self) -> dict[str, Path]:
        """The file defining each stored alias (embedded ones have none)."""
        return {a: p for a, p in self.store.sources().items() if a not in self.embedded}

    def connected(self) -> dict[str, dict[str, Any]]:
        """Connected aliases: the state file's, and this process's embedded ones."""
        connected = self.store.load_state().connected
        if not self.embedded:
            return connected
        return {**connected, **{alias: entry for alias, (_, entry) in self.embedded.items()}}

    # resolving -----------------------------------------------------------------------

    def chosen(self, alias: str | None) -> str:
        """The alias itself, or the one commands use when none is named."""
        if alias is not None:
            return alias
        return res.chosen_alias(None, self.store.load().default_alias, self.env)

    def resolve(self, alias: str, options: dict[str, Any]) -> res.Resolved:
        """`connect`'s resolution: given options, then $MILVUS_URI, then the alias as it is
        connected (by any process; as pymilvus reuses the config it connected with), then
        the stored alias."""
        stored = self.config(alias)
        source = self.store.source_of(alias)  # None unless a profile file stores it
        current = self.connected_as(alias, stored)
        resolved = res.resolve(
            alias, current or stored, options, self.env, base_dir=self.store.base_for(alias),
            stored_in=f"profile:{source}" if source else "", command_file=source,
            keystore=self.get_keystore, secrets_of=stored if current else None,
        )  # fmt: skip
        if resolved.origin == "flag":
            self.refuse_readdress(alias, resolved.config.address)
        return resolved

    def stored(self, alias: str, config: AliasConfig | None = None) -> res.Resolved:
        """The alias as stored (`config`, else the profile's): no $MILVUS_URI redirect."""
        stored = self.require(alias) if config is None else config
        base_dir, source = self.store.base_for(alias), self.store.source_of(alias)
        return res.resolve(
            alias, stored, {}, self.env, base_dir=base_dir, env_uri=False,
            command_file=source, keystore=self.get_keystore,
        )  # fmt: skip

    def connected_as(self, alias: str, stored: AliasConfig | None) -> AliasConfig | None:
        """The config the alias is connected with, where that is not its stored address
        (a connect that named another one); None otherwise."""
        entry = self.connected().get(alias) if stored is not None else None
        if entry is None or entry.get("address") == stored.address:  # type: ignore[union-attr]
            return None
        return self._recorded(alias, entry)

    def _recorded(self, alias: str, entry: dict[str, Any]) -> AliasConfig:
        """The config a state-file entry records; its fault names the fix."""
        table = {k: v for k, v in entry.items() if k not in (*STATE_ONLY, "db_name")}
        try:
            return AliasConfig.from_table(table)
        except ConnectionConfigException as exc:
            raise ProfileException(
                f"{self.store.state_path}: alias {alias!r}: {exc} (conn disconnect {alias} "
                "clears it)"
            ) from None

    def from_state(self, alias: str, entry: dict[str, Any], stored: AliasConfig) -> res.Resolved:
        """An alias another process connected: its config as the state file recorded it,
        its secrets as the profile says."""
        config = self._recorded(alias, entry)
        given = {"user": config.user, "db_name": entry.get("db_name")}
        return res.resolve(
            alias, config, given, self.env, base_dir=self.store.base_for(alias),
            env_uri=False, secrets_of=stored, command_file=self.store.source_of(alias),
            keystore=self.get_keystore,
        )  # fmt: skip

    # recording -----------------------------------------------------------------------

    def refuse_readdress(self, alias: str, address: str) -> None:
        """An alias connected (by any process, or embedded in this one) keeps its address
        until disconnected, as in pymilvus."""
        entry = self.connected().get(alias)
        if entry is not None and entry.get("address") != address:
            raise ConnectionConfigException(
                f"Alias of {alias!r} already creating connections, but the configure is not "
                "the same as passed in. (disconnect it first)",
                exit_code=ExitCode.FALSE,
            )

    def record(self, resolved: res.Resolved, handle: Connection, *, embedded: bool) -> None:
        """Record the alias as connected with `handle` (and store a new alias), or keep an
        embedded one in this process only."""
        with self.lock:
            self._record(resolved, handle.result.protocol if handle.result else None, embedded)
            self._replace(resolved.alias, handle)

    def _record(self, resolved: res.Resolved, protocol: str | None, embedded: bool) -> None:

        alias, config = resolved.alias, resolved.config
        entry = {  # the user and database connected as, given or stored
            "address": config.address,
            **config.public(),
            "user": resolved.user,
            "db_name": resolved.db_name,
            "secure": config.secure,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "protocol": protocol,
        }
        if embedded:
            self.embedded[alias] = (config, entry)
            return
        self.embedded.pop(alias, None)
        persist, store = resolved.persist, self.store
        with store.locked() if persist else nullcontext(), store.state_locked():
            if persist:
                store.update(lambda p: with_aliases(p, {alias: config}, keep=True))
            store.update_state(lambda s: State({**s.connected, alias: entry}))

    def forget(self, alias: str) -> None:
        """The alias is no longer connected, here or in the state file."""

        with self.lock:
            self._replace(alias, None)
            self.embedded.pop(alias, None)
            if alias in self.store.load_state().connected:
                self.store.update_state(lambda state: state_without(state, alias))

    # live handles (this process's) ----------------------------------------------------

    def live(self, alias: str) -> Connection:
        """The handle of a known, connected alias: the profile and state read once each."""
        handle = self.handle(alias, self.require(alias))
        if handle is None:
            raise NotConnectedException(
                f"alias {alias!r} is not connected (run: conn connect {alias})"
            )
        return handle

    def handle(self, alias: str, stored: AliasConfig | None) -> Connection | None:
        """The live handle, opened (no probe) from the state file if not open here."""
        with self.lock:
            entry = self.connected().get(alias)
            if entry is None or stored is None:
                self._replace(alias, None)
                return None
            handle = self._handles.get(alias)
            if handle is None:
                handle = Connection(self.from_state(alias, entry, stored))
                handle.answered_by = entry.get("protocol") or ""
                self._handles[alias] = handle
            return handle

    def close_all(self) -> None:
        with self.lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()

    def _replace(self, alias: str, handle: Connection | None) -> None:
        previous = self._handles.pop(alias, None)
        if previous is not None:
            previous.close()
        if handle is not None:
            self._handles[alias] = handle
