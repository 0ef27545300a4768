"""The connection registry: pymilvus's `connections`, persistent and shared by processes.

Aliases live in the profile (one file, or several layered: layers.py); which of them
are connected lives in this user's state file for it (paths.py), so `conn connect prod`
in a shell and `connections.has_connection("prod")` in Python agree. Live handles
(channels, connection.py) are per process and opened lazily. `Connections` reads the
profile and state and hands what it read down: resolve.py turns an alias into what to
connect with, connection.py probes it, handoff.py gives it to pymilvus.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import edits, handoff, lite
from . import resolve as res
from .config import AliasConfig, check_alias, check_alias_type, check_printable, check_timeout
from .connection import Connection, probe_of, run
from .errors import (
    ConnectionConfigException,
    ConnectionNotExistException,
    ExitCode,
    MilvusException,
    NotConnectedException,
    PlainSecretWarning,
    ProbeException,
    ProfileException,
    probe_failure,
)
from .layers import LayeredStore, ProfileSpec, open_store
from .profile import Profile, ProfileStore, State

if TYPE_CHECKING:  # the health core is imported only by what probes: offline commands skip it
    from pymilvus import AsyncMilvusClient, MilvusClient

    from . import health
    from .readiness import ReadySpec

__all__ = ["AliasInfo", "Connection", "Connections", "builtin_alias"]

_STATE_ONLY = ("since", "protocol")  # what the state file records beyond the config


def builtin_alias() -> str:
    """The name of the built-in alias (resolve.py): `$MILVUS_CONN_ALIAS`, else `default`."""
    return res.builtin_alias(os.environ)


class AliasInfo(NamedTuple):
    """One row of `conn list`: the alias, its config (shown only through public()) and
    its state; `error` is what keeps this one alias from being used or probed."""

    alias: str
    config: AliasConfig | None  # its public() view is what may be shown; None if unusable
    connected: bool
    default: bool
    health: "health.HealthResult | None" = None
    builtin: bool = False  # the implicit `default`: not stored, no $MILVUS_URI
    error: MilvusException | None = None
    profile: Path | None = None  # the file that defines it (None: built in, or embedded)


class Connections:
    """pymilvus's `Connections`, bound to one profile (the default one unless given)."""

    def __init__(self, profile: ProfileSpec = None) -> None:
        """`profile`: a path, several joined by os.pathsep, or a sequence of paths."""
        self._profile = profile
        self._store: ProfileStore | LayeredStore | None = None
        self._env = os.environ  # read live: resolution takes it as an argument
        self._lock = threading.RLock()
        self._handles: dict[str, Connection] = {}
        # Embedded Milvus Lite aliases live and die with this process: never in the files.
        self._embedded: dict[str, tuple[AliasConfig, dict[str, Any]]] = {}

    @property
    def store(self) -> ProfileStore | LayeredStore:
        """The profile store, resolved on first use (`$CONN_PROFILE` is read then)."""
        if self._store is None:
            self._store = open_store(self._profile or None)
        return self._store

    # pymilvus's API ------------------------------------------------------------------

    def add_connection(self, **kwargs: dict[str, Any]) -> None:
        """Validate and store each `alias=config`; all or none are written."""
        configs = {}
        for alias, options in kwargs.items():
            check_alias(alias)
            if not isinstance(options, dict):
                raise ConnectionConfigException(f"configuration of {alias!r} must be a dict")
            configs[alias] = AliasConfig.from_options(dict(options))
        for alias, config in configs.items():
            self._refuse_readdress(alias, config.address)
        self.store.update(lambda profile: _with_aliases(profile, configs))
        for alias, config in configs.items():
            _warn_if_plain(alias, config)

    def remove_connection(self, alias: str) -> None:
        """Disconnect, then delete the alias; no error if it is absent (as pymilvus)."""
        check_alias_type(alias)
        self.store.check_writable(alias)  # a read-only file: refused before the disconnect
        with self.store.locked_for(alias), self.store.state_locked():  # both, or neither
            self.disconnect(alias)
            self.store.update(lambda profile: _without_alias(profile, alias))

    def connect(
        self,
        alias: str | None = None,
        user: str = "",
        password: str = "",
        db_name: str = "default",
        token: str = "",
        *,
        wait: float = 0,
        gates: "health.Gates | None" = None,
        want_certificate: bool = False,
        ready: "ReadySpec | None" = None,
        **kwargs: Any,
    ) -> Connection:
        """Probe the alias's server with credentials and register it as connected.

        Raises a `ProbeException` subclass naming what failed (unreachable, unhealthy,
        authentication) and leaves no half-registered handle behind.
        """
        alias = check_alias(self.resolve_alias(alias))
        check_printable("user", str(user or ""))  # before Milvus Lite makes its file
        check_printable("db_name", str(db_name or ""))
        embedded = lite.is_local_db(kwargs.get("uri"))
        if embedded:
            kwargs["uri"] = lite.start(kwargs["uri"])
        given = {**kwargs, "user": user, "password": password, "token": token}
        resolved = self._resolve(alias, {**given, "db_name": db_name})
        try:
            handle = Connection.of(resolved)
            request = handle.probe(gates=gates, want_certificate=want_certificate, ready=ready)
            handle.result = self._healthy(run(request, wait), f"cannot connect {alias!r}", handle)
        except (ProbeException, ProfileException, ConnectionConfigException):
            self.disconnect(alias)  # as pymilvus: a failed connect leaves no live connection
            raise
        db = resolved.credentials.db_name
        self._register(alias, handle, db, resolved.persist, embedded=embedded)
        return handle

    def disconnect(self, alias: str) -> None:
        """Close the live handle and forget the connected state; no-op when not connected."""
        check_alias_type(alias)
        with self._lock:
            handle = self._handles.pop(alias, None)
            if handle is not None:
                handle.close()
            self._embedded.pop(alias, None)
            if alias in self.store.load_state().connected:
                self.store.update_state(lambda state: _state_without(state, alias))

    def has_connection(self, alias: str) -> bool:
        """True only if the alias exists and its connection has been established."""
        check_alias_type(alias)
        return alias in self._connected() and self._config(alias) is not None

    def get_connection(self, alias: str | None = None) -> Connection | None:
        """The live handle, opened lazily (no probe) if another process connected it."""
        alias = check_alias_type(self.resolve_alias(alias))
        return self._handle(alias, self._config(alias))

    def list_connections(self) -> list[tuple[str, Connection | None]]:
        return [(alias, self.get_connection(alias)) for alias in self._configs()]

    def get_connection_addr(self, alias: str) -> dict[str, Any]:
        """The config dict, pymilvus's shape; `{}` for an unknown alias; never a secret."""
        check_alias_type(alias)
        config = self._config(alias)
        if config is None:
            return {}
        entry = self._connected().get(alias)
        if entry is not None:
            return {k: v for k, v in entry.items() if k not in _STATE_ONLY}
        return {"address": config.address, "user": config.user, **config.public()}

    # beyond pymilvus: resolution and hand-off ------------------------------------------

    def resolve_alias(self, alias: str | None) -> str:
        """The alias itself, or for an omitted one: `$MILVUS_CONN_ALIAS`, else the profile's
        default (`conn use`), else `default`."""
        if alias is not None:
            return alias
        return res.chosen_alias(None, self.store.load().default_alias, self._env)

    def explain(self, alias: str | None = None, **options: Any) -> dict[str, Any]:
        """Every setting `connect(alias, **options)` would use, with its source; no I/O
        beyond reading the profile (`conn addr --explain`, `conn connect --explain`)."""
        alias = check_alias(self.resolve_alias(alias))
        given = {k: v for k, v in options.items() if v not in (None, "")}
        resolved = self._resolve(alias, given)
        return {k: {"value": resolved.shown(k), "source": s} for k, s in resolved.sources.items()}

    def client_kwargs(self, alias: str | None = None) -> dict[str, Any]:
        """What `pymilvus.MilvusClient(**kwargs)` needs to reach the alias, secrets included."""
        return handoff.client_kwargs(self._stored(check_alias_type(self.resolve_alias(alias))))

    def client(self, alias: str | None = None, **overrides: Any) -> "MilvusClient":
        """A ready `pymilvus.MilvusClient` for the alias: `client_kwargs(alias)`, updated
        with `overrides`. ImportError naming the `pymilvus` extra without pymilvus."""
        kwargs = {**self.client_kwargs(alias), **overrides}
        return handoff.pymilvus_class("MilvusClient")(**kwargs)

    def async_client(self, alias: str | None = None, **overrides: Any) -> "AsyncMilvusClient":
        """`client()`, as a `pymilvus.AsyncMilvusClient`."""
        kwargs = {**self.client_kwargs(alias), **overrides}
        return handoff.pymilvus_class("AsyncMilvusClient")(**kwargs)

    def environment(
        self, alias: str | None = None, *, with_secrets: bool = False
    ) -> dict[str, str]:
        """`conn env`: the variables pymilvus reads to reach the alias (handoff.py says
        which). Secrets only when asked: inside MILVUS_URI, where pymilvus reads them."""
        resolved = self._stored(check_alias(self.resolve_alias(alias)))
        return handoff.environment(resolved, with_secrets=with_secrets)

    # beyond pymilvus: probes -----------------------------------------------------------

    def probe(
        self,
        alias: str | None = None,
        *,
        probe: bool = True,
        wait: float = 0,
        timeout: float | None = None,
        gates: "health.Gates | None" = None,
        ready: "ReadySpec | None" = None,
    ) -> "health.HealthResult | None":
        """`conn has`: the alias must exist and be connected; then, unless told not to,
        it must answer healthy (and ready, when asked) now, retrying for up to `wait` s."""
        handle = self._live(check_alias(self.resolve_alias(alias)))
        if not probe:
            return None
        return run(handle.probe(timeout, want_version=False, gates=gates, ready=ready), wait)

    def probe_many(
        self, aliases: Sequence[str], **options: Any
    ) -> "list[health.HealthResult | MilvusException | None]":
        """`conn has A B C`: `probe` for each alias at once; each answer is its result
        (None when not probed) or the error that alias raised."""

        def one(alias: str) -> "health.HealthResult | MilvusException | None":
            try:
                return self.probe(alias, **options)
            except MilvusException as exc:
                return exc

        if len(aliases) == 1:
            return [one(aliases[0])]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(aliases), 64)) as pool:
            return list(pool.map(one, aliases))

    def ready(
        self,
        alias: str | None = None,
        *,
        collections: Sequence[str] = (),
        loaded: bool = False,
        timeout: float | None = None,
        wait: float = 0,
    ) -> "health.HealthResult":
        """Healthy, and the alias's database exists and these credentials may use it; each
        collection exists there (and is fully loaded, with `loaded`). The result's `ready`
        says what was seen; a `ProbeException` subclass names what is missing."""
        from .readiness import make_spec

        try:
            spec = make_spec(collections, loaded)
        except ValueError as exc:
            raise ConnectionConfigException(str(exc)) from None
        name = check_alias(self.resolve_alias(alias))
        handle = self._live(name)
        result = run(handle.probe(timeout, want_version=False, ready=spec), wait)
        return self._healthy(result, f"{name!r}", handle, "is not ready")

    def describe(self, *, check: bool = False, timeout: float | None = None) -> list[AliasInfo]:
        """`conn list`: every alias with its state; with `check`, all probed at once. An
        alias that cannot be used or probed is a row with its `error`, never the
        whole listing's failure (fanout.py)."""
        from . import fanout

        if timeout is not None:
            check_timeout(timeout)  # the command's own error, not one per row
        entries, builtin = self._entries()
        return fanout.describe(
            entries,
            connected=self._connected(),
            chosen=self.resolve_alias(None),
            builtin=builtin,
            probe_for=(lambda a, c: self.probe_for(a, c, timeout)) if check else None,
            sources={a: p for a, p in self.store.sources().items() if a not in self._embedded},
        )

    def watch(
        self, alias: str | None = None, *, interval: float = 2.0, until: float | None = None
    ) -> "Iterator[health.HealthResult]":
        """`conn watch`: the alias's health now, then each change of status."""
        alias = check_alias(self.resolve_alias(alias))
        check_timeout(interval, "interval")
        from . import watch

        probe = self.probe_for(alias, self._require(alias), None)
        return watch.changes(probe, interval=interval, until=until)

    def probe_for(self, alias: str, config: AliasConfig, timeout: float | None) -> "health.Probe":
        """The probe of an alias (connected or not) with this config: `conn list --check`."""
        return probe_of(self._stored(alias, config), timeout)

    # beyond pymilvus: the profile -------------------------------------------------------

    def add(self, alias: str, *, force: bool = False, **options: Any) -> AliasConfig:
        """`conn add`: store one alias, refusing to replace an existing one unless forced."""
        config = AliasConfig.from_options(options) if check_alias(alias) else None
        assert config is not None
        self.store.update(edits.adding(alias, config, force=force, refuse=self._refuse_readdress))
        _warn_if_plain(alias, config)
        return config

    def remove(self, alias: str) -> None:
        """`conn remove`: like `remove_connection`, but an unknown alias is an error."""
        check_alias(alias)
        stored = self.store.load()
        if alias not in stored.aliases and alias not in stored.broken:
            known = "built in" if alias == res.builtin_alias(self._env) else "unknown"
            raise ConnectionNotExistException(f"alias {alias!r} is {known}; nothing to remove")
        self.remove_connection(alias)

    def require_known(self, alias: str) -> None:
        """`conn disconnect`: an unknown alias is an error, not a no-op."""
        self._require(check_alias(alias))

    def use(self, alias: str) -> None:
        """`conn use`: make `alias` the one commands use when none is named."""
        self._require(check_alias(alias))
        self.store.update(edits.using(alias))

    def export_profile(self, aliases: Sequence[str] = ()) -> str:
        """`conn export`: the profile (or some aliases) as TOML, plain secrets left out."""
        return edits.exported(self.store.load(), aliases)

    def import_profile(self, path: str | os.PathLike[str], *, force: bool = False) -> list[str]:
        """`conn import`: merge another profile's aliases; conflicts refused unless forced."""
        if not Path(path).is_file():
            raise ProfileException(f"{path}: no such file")
        loaded = ProfileStore(path).load()
        if loaded.broken:  # refused as input, as `add` refuses it: nothing is written
            first = next(iter(loaded.broken.values()))
            raise ConnectionConfigException(f"{first.message} (nothing imported)")
        incoming = loaded.aliases
        self.store.update(edits.importing(incoming, force=force, refuse=self._refuse_readdress))
        for alias, config in incoming.items():
            _warn_if_plain(alias, config)
        return list(incoming)

    def reset(self) -> None:
        """Close every live handle of this process (tests, and long-running programs)."""
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()

    # internals -----------------------------------------------------------------------

    def _resolve(self, alias: str, options: dict[str, Any]) -> res.Resolved:
        """`connect`'s resolution: given options, then $MILVUS_URI, then the stored alias."""
        stored = self._config(alias)
        in_file = stored is not None and alias in self.store.load().aliases
        resolved = res.resolve(
            alias, stored, options, self._env, base_dir=self.store.base_for(alias),
            stored_in=f"profile:{self.store.source_of(alias)}" if in_file else "",
        )  # fmt: skip
        if resolved.origin == "flag":
            self._refuse_readdress(alias, resolved.config.address)
        return resolved

    def _stored(self, alias: str, config: AliasConfig | None = None, **given: Any) -> res.Resolved:
        """The alias as stored (`config`, else the profile's): no $MILVUS_URI redirect."""
        stored = self._require(alias) if config is None else config
        base_dir = self.store.base_for(alias)
        return res.resolve(alias, stored, given, self._env, base_dir=base_dir, env_uri=False)

    def _healthy(
        self, result: "health.HealthResult", what: str, handle: Connection, failed: str = ""
    ) -> "health.HealthResult":
        """The result if healthy, else its outcome's exception naming alias and address."""
        if not result.healthy:
            message = f"{what} ({handle.address}){' ' + failed if failed else ''}: {result.reason}"
            raise probe_failure(result.status, message, result)
        return result

    def _entries(self) -> tuple[dict[str, AliasConfig | MilvusException], str]:
        """Every alias, usable (its config) or not (its error); and the name of the
        implicit built-in default when it is in the list (else "")."""
        profile = self.store.load()
        entries: dict[str, AliasConfig | MilvusException] = dict(profile.aliases)
        entries.update({alias: config for alias, (config, _) in self._embedded.items()})
        entries.update({alias: broken.error() for alias, broken in profile.broken.items()})
        name = res.builtin_alias(self._env)
        if name in entries:
            return entries, ""
        try:
            entries = {name: res.builtin_config(self._env), **entries}
        except ConnectionConfigException as exc:  # $MILVUS_URI that does not parse
            entries = {name: exc, **entries}
        return entries, "" if self._env.get("MILVUS_URI") else name

    def _configs(self) -> dict[str, AliasConfig]:
        """Stored aliases, plus the built-in default when the profile has none."""
        configs = dict(self.store.load().aliases)
        configs.update({alias: config for alias, (config, _) in self._embedded.items()})
        name = res.builtin_alias(self._env)
        if name not in configs:
            configs = {name: res.builtin_config(self._env), **configs}
        return configs

    def _config(self, alias: str) -> AliasConfig | None:
        """One alias of `_configs()`, without building every other one."""
        embedded = self._embedded.get(alias)
        if embedded is not None:
            return embedded[0]
        profile = self.store.load()
        broken = profile.broken.get(alias)
        if broken is not None:
            raise broken.error()
        config = profile.aliases.get(alias)
        if config is None and alias == res.builtin_alias(self._env):
            return res.builtin_config(self._env)
        return config

    def _require(self, alias: str) -> AliasConfig:
        config = self._config(alias)
        if config is None:
            raise ConnectionNotExistException(f"unknown alias {alias!r}")
        return config

    def _connected(self) -> dict[str, dict[str, Any]]:
        """Connected aliases: the state file's, and this process's embedded ones."""
        connected = self.store.load_state().connected
        if not self._embedded:
            return connected
        return {**connected, **{alias: entry for alias, (_, entry) in self._embedded.items()}}

    def _live(self, alias: str) -> Connection:
        """The handle of a known, connected alias: the profile and state read once each."""
        handle = self._handle(alias, self._require(alias))
        if handle is None:
            raise NotConnectedException(
                f"alias {alias!r} is not connected (run: conn connect {alias})"
            )
        return handle

    def _handle(self, alias: str, stored: AliasConfig | None) -> Connection | None:
        with self._lock:
            entry = self._connected().get(alias)
            handle = self._handles.get(alias)
            if entry is None or stored is None:
                if handle is not None:
                    self._handles.pop(alias).close()
                return None
            if handle is None:
                handle = self._handles[alias] = self._from_state(alias, entry, stored)
            return handle

    def _from_state(self, alias: str, entry: dict[str, Any], stored: AliasConfig) -> Connection:
        """A handle for an alias another process connected: its config as recorded, its
        secrets as the profile says."""
        table = {k: v for k, v in entry.items() if k not in (*_STATE_ONLY, "db_name")}
        try:
            config = AliasConfig.from_table(table)
        except ConnectionConfigException as exc:
            raise ProfileException(f"{self.store.state_path}: alias {alias!r}: {exc}") from None
        secrets = self._stored(alias, stored, user=config.user, db_name=entry.get("db_name"))
        target = res.target_of(config, self.store.base_for(alias))
        handle = Connection(alias, config, secrets.credentials, target)
        handle.answered_by = entry.get("protocol") or ""
        return handle

    def _refuse_readdress(self, alias: str, address: str) -> None:
        entry = self.store.load_state().connected.get(alias)
        if entry is not None and entry.get("address") != address:
            raise ConnectionConfigException(
                f"Alias of {alias!r} already creating connections, but the configure is not "
                "the same as passed in. (disconnect it first)",
                exit_code=ExitCode.FALSE,
            )

    def _register(
        self, alias: str, connection: Connection, db_name: str, persist: bool, *, embedded: bool
    ) -> None:
        entry = {
            "address": connection.address,
            "user": connection.config.user,
            **connection.config.public(),
            "db_name": db_name,
            "secure": connection.config.secure,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "protocol": connection.result.protocol if connection.result else None,
        }
        with self._lock:
            if embedded:
                self._embedded[alias] = (connection.config, entry)
            else:
                self._embedded.pop(alias, None)
                with self.store.locked() if persist else nullcontext(), self.store.state_locked():
                    if persist:
                        config = {alias: connection.config}
                        self.store.update(lambda p: _with_aliases(p, config, keep=True))
                    self.store.update_state(lambda s: State({**s.connected, alias: entry}))
            previous = self._handles.pop(alias, None)
            if previous is not None:
                previous.close()
            self._handles[alias] = connection


def _warn_if_plain(alias: str, config: AliasConfig) -> None:
    if config.has_plain_secret:
        warnings.warn(
            f"alias {alias!r} keeps a plain password or token in the profile; "
            "prefer --password-env / --token-env",
            PlainSecretWarning,
            stacklevel=3,
        )


def _with_aliases(
    profile: Profile,
    configs: dict[str, AliasConfig],
    *,
    keep: bool = False,
    keep_extra: bool = True,
) -> Profile:
    """The profile with `configs` stored (those present left alone when `keep`; their
    unknown keys carried over when `keep_extra`)."""
    if keep:
        configs = {a: c for a, c in configs.items() if a not in profile.aliases}
        if not configs:
            return profile
    merged = dict(profile.aliases)
    for alias, config in configs.items():
        old = merged.get(alias)
        carry = old is not None and keep_extra
        merged[alias] = config.with_changes(extra=old.extra) if carry else config
    broken = {a: b for a, b in profile.broken.items() if a not in configs}  # replaced: fixed
    return profile.replace(aliases=merged, broken=broken)


def _without_alias(profile: Profile, alias: str) -> Profile:
    if alias not in profile.aliases and alias not in profile.broken:
        return profile
    chosen = "" if profile.default_alias == alias else profile.default_alias
    return profile.replace(
        aliases={a: c for a, c in profile.aliases.items() if a != alias},
        broken={a: b for a, b in profile.broken.items() if a != alias},
        default_alias=chosen,
    )


def _state_without(state: State, alias: str) -> State:
    if alias not in state.connected:
        return state
    return State({a: e for a, e in state.connected.items() if a != alias})
