"""The connection registry: pymilvus's `connections`, persistent and shared by processes.

Aliases live in the profile (one file, or several layered: layers.py); which of them
are connected lives in this user's state file for it (paths.py), so `conn connect prod`
in a shell and `connections.has_connection("prod")` in Python agree. Live handles
(channels) are per process and opened lazily.
Resolution order on `connect`, as pymilvus: explicit address/uri/host/port, then
`$MILVUS_URI`, then the stored alias.
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

from . import address as addr
from . import lite
from .config import AliasConfig, check_alias, check_alias_type, check_printable, check_timeout
from .credentials import resolve_secret
from .errors import (
    AliasExistsException,
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

_CONNECT_OPTIONS = (
    "secure",
    "server_pem_path",
    "server_name",
    "client_pem_path",
    "client_key_path",
    "ca_pem_path",
    "timeout",
    "probe",
    "health_service",
    "password_env",
    "token_env",
)
_IGNORED_OPTIONS = ("keep_alive", "_async", "_unbind_with_db", "grpc_options")


_STATE_ONLY = ("since", "protocol")  # what the state file records beyond the config


def builtin_alias() -> str:
    """The name of the built-in alias: `$MILVUS_CONN_ALIAS`, as pymilvus reads it, else
    `default`."""
    return os.environ.get("MILVUS_CONN_ALIAS") or "default"


class Connection:
    """A live handle: the channel to an alias's server, its address, and `check()`."""

    def __init__(
        self,
        alias: str,
        config: AliasConfig,
        credentials: "health.Credentials",
        target: "health.Target",
        result: "health.HealthResult | None" = None,
    ) -> None:
        self.alias = alias
        self.config = config
        self.result = result
        self.answered_by = ""  # the protocol that answered when it was connected
        self._credentials = credentials
        self._target = target
        self._channel: Any = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def channel(self) -> Any:
        """The grpc.Channel, opened on first use."""
        from . import health

        with self._lock:
            if self._channel is None:
                self._channel = health.open_channel(self._target)
            return self._channel

    def check(self, timeout: float | None = None) -> "health.HealthResult":
        """Probe the server now on this handle's channel; never raises for server outcomes."""
        from . import health

        probe = self._probe(timeout, want_version=True)
        self.result = health.check(probe, self.channel)
        return self.result

    @property
    def server_version(self) -> str | None:
        if self.result is None:  # a handle opened from the state file: ask once
            self.check()
        return self.result.server_version if self.result else None

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def _probe(
        self,
        timeout: float | None,
        want_version: bool,
        gates: "health.Gates | None" = None,
        want_certificate: bool = False,
        ready: "ReadySpec | None" = None,
    ) -> "health.Probe":
        from . import health

        return health.Probe(
            target=self._target,
            credentials=self._credentials,
            timeout=self.config.effective_timeout if timeout is None else check_timeout(timeout),
            service=self.config.health_service,
            protocol=self.config.probe,
            want_version=want_version,
            want_certificate=want_certificate,
            gates=gates or health.NO_GATES,
            first=self.answered_by or health.PROTOCOL_GRPC_HEALTH,
            ready=ready,
        )

    def __repr__(self) -> str:
        return f"<Connection alias={self.alias!r} address={self.address!r}>"


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
        check_printable("user", str(user or ""))
        check_printable("db_name", str(db_name or ""))
        embedded = lite.is_local_db(kwargs.get("uri"))
        if embedded:
            kwargs["uri"] = lite.start(kwargs["uri"])
        config, persist = self._resolve_config(alias, user, db_name, kwargs)
        try:
            credentials = self._credentials(alias, config, user, password, token, db_name)
            target = _target(config, self.store.base_for(alias))
            connection = Connection(alias, config, credentials, target)
            probe = connection._probe(None, True, gates, want_certificate, ready)
            connection.result = self._probe_connect(alias, connection, probe, wait)
        except (ProbeException, ProfileException, ConnectionConfigException):
            self.disconnect(alias)  # as pymilvus: a failed connect leaves no live connection
            raise
        self._register(alias, connection, credentials.db_name, persist, embedded=embedded)
        return connection

    def _probe_connect(
        self, alias: str, connection: Connection, probe: "health.Probe", wait: float
    ) -> "health.HealthResult":
        from . import health

        try:
            result = health.wait_until_healthy(probe, wait) if wait > 0 else health.check(probe)
        except OSError as exc:
            raise ConnectionConfigException(f"cannot read TLS file: {exc}") from exc
        if not result.healthy:
            message = f"cannot connect {alias!r} ({connection.address}): {result.reason}"
            raise probe_failure(result.status, message, result)
        return result

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
        with self._lock:
            entry = self._connected().get(alias)
            stored = self._config(alias)
            handle = self._handles.get(alias)
            if entry is None or stored is None:
                if handle is not None:
                    self._handles.pop(alias).close()
                return None
            if handle is None:
                handle = self._handle_from_state(alias, entry, stored)
                self._handles[alias] = handle
            return handle

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

    # beyond pymilvus -----------------------------------------------------------------

    def client_kwargs(self, alias: str | None = None) -> dict[str, Any]:
        """What `pymilvus.MilvusClient(**kwargs)` needs to reach the alias, secrets included."""
        alias = check_alias_type(self.resolve_alias(alias))
        config = self._require(alias)
        if addr.is_ipv6(config.address):
            raise addr.pymilvus_refusal(alias, config.address)
        credentials = self._credentials(alias, config, "", "", "", "default")
        scheme = "https" if config.secure else "http"
        uri = (
            config.address if config.address.startswith("unix:") else f"{scheme}://{config.address}"
        )
        kwargs: dict[str, Any] = {
            "uri": uri,
            "user": credentials.user,
            "password": credentials.password,
            "token": credentials.token,
            "db_name": credentials.db_name,
            "timeout": config.effective_timeout,
        }
        tls = _target(config, self.store.base_for(alias))._asdict() if config.secure else {}
        kwargs.update(tls)
        kwargs.pop("address", None)
        return {k: v for k, v in kwargs.items() if v not in ("", None)}

    def client(self, alias: str | None = None, **overrides: Any) -> "MilvusClient":
        """A ready `pymilvus.MilvusClient` for the alias: `client_kwargs(alias)`, updated
        with `overrides`. ImportError naming the `pymilvus` extra without pymilvus."""
        from .handoff import pymilvus_class

        return pymilvus_class("MilvusClient")(**{**self.client_kwargs(alias), **overrides})

    def async_client(self, alias: str | None = None, **overrides: Any) -> "AsyncMilvusClient":
        """`client()`, as a `pymilvus.AsyncMilvusClient`."""
        from .handoff import pymilvus_class

        return pymilvus_class("AsyncMilvusClient")(**{**self.client_kwargs(alias), **overrides})

    def add(self, alias: str, *, force: bool = False, **options: Any) -> AliasConfig:
        """`conn add`: store one alias, refusing to replace an existing one unless forced."""
        check_alias(alias)
        config = AliasConfig.from_options(options)

        def change(profile: Profile) -> Profile:
            if (alias in profile.aliases or alias in profile.broken) and not force:
                raise AliasExistsException(
                    f"alias {alias!r} already exists (use --force to replace it)"
                )
            self._refuse_readdress(alias, config.address)
            return _with_aliases(profile, {alias: config})

        self.store.update(change)
        _warn_if_plain(alias, config)
        return config

    def remove(self, alias: str) -> None:
        """`conn remove`: like `remove_connection`, but an unknown alias is an error."""
        check_alias(alias)
        stored = self.store.load()
        if alias not in stored.aliases and alias not in stored.broken:
            known = "built in" if alias == builtin_alias() else "unknown"
            raise ConnectionNotExistException(f"alias {alias!r} is {known}; nothing to remove")
        self.remove_connection(alias)

    def require_known(self, alias: str) -> None:
        """`conn disconnect`: an unknown alias is an error, not a no-op."""
        self._require(check_alias(alias))

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
        alias = check_alias(self.resolve_alias(alias))
        self._require(alias)
        if not self.has_connection(alias):
            raise NotConnectedException(
                f"alias {alias!r} is not connected (run: conn connect {alias})"
            )
        if not probe:
            return None
        from . import health

        handle = self.get_connection(alias)
        assert handle is not None
        request = handle._probe(timeout, want_version=False, gates=gates, ready=ready)
        try:
            if wait > 0:
                return health.wait_until_healthy(request, wait)
            return health.check(request)
        except OSError as exc:
            raise ConnectionConfigException(f"cannot read TLS file: {exc}") from exc

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
        result = self.probe(name, wait=wait, timeout=timeout, ready=spec)
        assert result is not None
        if not result.healthy:
            address = self.get_connection_addr(name).get("address", "")
            message = f"{name!r} ({address}) is not ready: {result.reason}"
            raise probe_failure(result.status, message, result)
        return result

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
            probe_for=(lambda a, c: self._probe_for(a, c, timeout)) if check else None,
            sources={a: p for a, p in self.store.sources().items() if a not in self._embedded},
        )

    def watch(
        self, alias: str | None = None, *, interval: float = 2.0, until: float | None = None
    ) -> "Iterator[health.HealthResult]":
        """`conn watch`: the alias's health now, then each change of status."""
        alias = check_alias(self.resolve_alias(alias))
        check_timeout(interval, "interval")
        from . import watch

        probe = self._probe_for(alias, self._require(alias), None)
        return watch.changes(probe, interval=interval, until=until)

    def explain(self, alias: str | None = None, **options: Any) -> dict[str, Any]:
        """Every setting `connect(alias, **options)` would use, with its source; no I/O
        beyond reading the profile (`conn addr --explain`, `conn connect --explain`)."""
        from .explain import explain

        alias = check_alias(self.resolve_alias(alias))
        given = {k: v for k, v in options.items() if v not in (None, "")}
        user, db_name = given.pop("user", ""), given.pop("db_name", "default")
        config, _ = self._resolve_config(alias, user, db_name, dict(given))
        if user or _db(db_name):  # as connect's credentials: the options win over the profile
            config = config.with_changes(
                user=user or config.user, db_name=_db(db_name) or config.db_name
            )
        target = bool({"address", "uri", "host", "port"} & given.keys())
        from_env = not target and bool(os.environ.get("MILVUS_URI"))
        flags = {*given, *(("user",) if user else ()), *(("db_name",) if _db(db_name) else ())}
        return explain(
            alias,
            config,
            stored=not (target or from_env) and alias in self.store.load().aliases,
            base_dir=self.store.base_for(alias),
            stored_in=f"profile:{self.store.source_of(alias)}",
            origin="flag" if target else "env:MILVUS_URI" if from_env else "uri",
            flags=flags | ({"address"} if target else set()),
        )

    def resolve_alias(self, alias: str | None) -> str:
        """The alias itself, or for an omitted one: `$MILVUS_CONN_ALIAS`, else the profile's
        default (`conn use`), else `default`."""
        if alias is not None:
            return alias
        return os.environ.get("MILVUS_CONN_ALIAS") or self.store.load().default_alias or "default"

    def use(self, alias: str) -> None:
        """`conn use`: make `alias` the one commands use when none is named."""
        self._require(check_alias(alias))
        self.store.update(
            lambda profile: (
                profile if profile.default_alias == alias else profile.replace(default_alias=alias)
            )
        )

    def export_profile(self, aliases: Sequence[str] = ()) -> str:
        """`conn export`: the profile (or some aliases) as TOML, plain secrets left out."""
        import tomli_w

        profile = self.store.load()
        stored = profile.aliases
        for alias in aliases:
            if alias in profile.broken:
                raise profile.broken[alias].error()
            if alias not in stored:
                raise ConnectionNotExistException(f"unknown alias {alias!r}")
        chosen = {a: c for a, c in stored.items() if not aliases or a in aliases}
        clean = {a: c.with_changes(password="", token="") for a, c in chosen.items()}
        broken = {  # exported as written, but without plain secrets
            a: b._replace(table=_without_secrets(b.table))
            for a, b in profile.broken.items()
            if not aliases or a in aliases
        }
        return tomli_w.dumps(Profile(clean, profile.extra, broken=broken).to_toml())

    def import_profile(self, path: str | os.PathLike[str], *, force: bool = False) -> list[str]:
        """`conn import`: merge another profile's aliases; conflicts refused unless forced."""
        if not Path(path).is_file():
            raise ProfileException(f"{path}: no such file")
        loaded = ProfileStore(path).load()
        if loaded.broken:  # refused as input, as `add` refuses it: nothing is written
            first = next(iter(loaded.broken.values()))
            raise ConnectionConfigException(f"{first.message} (nothing imported)")
        incoming = loaded.aliases

        def change(profile: Profile) -> Profile:
            clashes = [
                a for a, c in incoming.items()
                if a in profile.broken
                or (a in profile.aliases and profile.aliases[a].to_table() != c.to_table())
            ]  # fmt: skip
            if clashes and not force:
                raise AliasExistsException(
                    f"{len(clashes)} alias(es) already exist with other settings: "
                    f"{', '.join(map(repr, clashes))} (use --force to replace them)"
                )
            for alias, config in incoming.items():
                self._refuse_readdress(alias, config.address)
            return _with_aliases(profile, incoming, keep_extra=False)

        self.store.update(change)
        for alias, config in incoming.items():
            _warn_if_plain(alias, config)
        return list(incoming)

    def environment(
        self, alias: str | None = None, *, with_secrets: bool = False
    ) -> dict[str, str]:
        """`conn env`: the variables pymilvus reads to reach the alias (envvars.py says
        which). Secrets only when asked: inside MILVUS_URI, where pymilvus reads them."""
        from .envvars import variables

        alias = check_alias(self.resolve_alias(alias))
        config = self._require(alias)
        if addr.is_ipv6(config.address):
            raise addr.pymilvus_refusal(alias, config.address)
        if not with_secrets:
            return variables(alias, config)
        secrets = self._credentials(alias, config, "", "", "", "default")
        return variables(alias, config, secrets.password, secrets.token)

    def reset(self) -> None:
        """Close every live handle of this process (tests, and long-running programs)."""
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()

    # internals -----------------------------------------------------------------------

    def _entries(self) -> tuple[dict[str, AliasConfig | MilvusException], str]:
        """Every alias, usable (its config) or not (its error); and the name of the
        implicit built-in default when it is in the list (else "")."""
        profile = self.store.load()
        entries: dict[str, AliasConfig | MilvusException] = dict(profile.aliases)
        entries.update({alias: config for alias, (config, _) in self._embedded.items()})
        entries.update({alias: broken.error() for alias, broken in profile.broken.items()})
        name = builtin_alias()
        if name in entries:
            return entries, ""
        try:
            entries = {name: _builtin_default(), **entries}
        except ConnectionConfigException as exc:  # $MILVUS_URI that does not parse
            entries = {name: exc, **entries}
        return entries, "" if os.environ.get("MILVUS_URI") else name

    def _configs(self) -> dict[str, AliasConfig]:
        """Stored aliases, plus the built-in default when the profile has none."""
        configs = dict(self.store.load().aliases)
        configs.update({alias: config for alias, (config, _) in self._embedded.items()})
        name = builtin_alias()
        if name not in configs:
            configs = {name: _builtin_default(), **configs}
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
        if config is None and alias == builtin_alias():
            return _builtin_default()
        return config

    def _connected(self) -> dict[str, dict[str, Any]]:
        """Connected aliases: the state file's, and this process's embedded ones."""
        connected = self.store.load_state().connected
        if not self._embedded:
            return connected
        return {**connected, **{alias: entry for alias, (_, entry) in self._embedded.items()}}

    def _require(self, alias: str) -> AliasConfig:
        config = self._config(alias)
        if config is None:
            raise ConnectionNotExistException(f"unknown alias {alias!r}")
        return config

    def _refuse_readdress(self, alias: str, address: str) -> None:
        entry = self.store.load_state().connected.get(alias)
        if entry is not None and entry.get("address") != address:
            raise ConnectionConfigException(
                f"Alias of {alias!r} already creating connections, but the configure is not "
                "the same as passed in. (disconnect it first)",
                exit_code=ExitCode.FALSE,
            )

    def _resolve_config(
        self, alias: str, user: str, db_name: str, kwargs: dict[str, Any]
    ) -> tuple[AliasConfig, bool]:
        """The config to connect with, and whether it is new and should be stored."""
        options = {k: v for k, v in kwargs.items() if k not in _IGNORED_OPTIONS}
        unknown = sorted(set(options) - {*_CONNECT_OPTIONS, "address", "uri", "host", "port"})
        if unknown:
            raise ConnectionConfigException(f"unknown connection option(s): {', '.join(unknown)}")
        stored = self._config(alias)
        explicit = {k: options.pop(k) for k in ("address", "uri", "host", "port") if k in options}
        if any(v not in ("", None) for v in explicit.values()):
            config = AliasConfig.from_options(
                {**explicit, **options, "user": user or None, "db_name": _db(db_name)}
            )
            self._refuse_readdress(alias, config.address)
            return config, stored is None
        env_uri = os.environ.get("MILVUS_URI", "")
        if env_uri:
            return AliasConfig.from_options({"uri": env_uri, **options}), False
        if stored is None:
            raise ConnectionConfigException(
                f"You need to pass in the configuration of the connection named {alias!r} .",
                exit_code=ExitCode.FALSE,
            )
        changes = {k: v for k, v in options.items() if v is not None}
        return (stored.with_changes(**changes) if changes else stored), False

    def _credentials(
        self,
        alias: str,
        config: AliasConfig,
        user: str,
        password: str,
        token: str,
        db_name: str,
    ) -> "health.Credentials":
        """The user, db and secrets to send (credentials.py says where secrets come from)."""
        from . import health

        password, _ = resolve_secret(alias, config, "password", str(password or ""))
        token, _ = resolve_secret(alias, config, "token", str(token or ""))
        return health.Credentials(
            user=str(user or "") or config.user,
            password=password,
            token=token,
            db_name=_db(db_name) or config.db_name or "default",
        )

    def _register(
        self,
        alias: str,
        connection: Connection,
        db_name: str,
        persist: bool,
        *,
        embedded: bool = False,
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

    def _handle_from_state(
        self, alias: str, entry: dict[str, Any], stored: AliasConfig
    ) -> Connection:
        table = {k: v for k, v in entry.items() if k not in (*_STATE_ONLY, "db_name")}
        try:
            config = AliasConfig.from_table(table)
        except ConnectionConfigException as exc:
            raise ProfileException(f"{self.store.state_path}: alias {alias!r}: {exc}") from None
        credentials = self._credentials(
            alias, stored, config.user, "", "", entry.get("db_name", "")
        )
        handle = Connection(alias, config, credentials, _target(config, self.store.base_for(alias)))
        handle.answered_by = entry.get("protocol") or ""
        return handle

    def _probe_for(self, alias: str, config: AliasConfig, timeout: float | None) -> "health.Probe":
        credentials = self._credentials(alias, config, "", "", "", "default")
        target = _target(config, self.store.base_for(alias))
        connection = Connection(alias, config, credentials, target)
        return connection._probe(timeout, want_version=True, want_certificate=True)


def _warn_if_plain(alias: str, config: AliasConfig) -> None:
    if config.has_plain_secret:
        warnings.warn(
            f"alias {alias!r} keeps a plain password or token in the profile; "
            "prefer --password-env / --token-env",
            PlainSecretWarning,
            stacklevel=3,
        )


def _db(db_name: str) -> str:
    """pymilvus's `db_name="default"` means "not chosen": a stored or URI db_name wins."""
    return "" if db_name in ("default", None) else str(db_name)


def _builtin_default() -> AliasConfig:
    env_uri = os.environ.get("MILVUS_URI", "")
    if env_uri:
        return AliasConfig.from_options({"uri": env_uri})
    return AliasConfig(address=f"{addr.DEFAULT_HOST}:{addr.DEFAULT_PORT}")


def _target(config: AliasConfig, base_dir: Path) -> "health.Target":
    """Relative TLS paths are read from `base_dir`: the defining profile's directory."""
    from . import health

    return health.Target(
        address=config.address,
        secure=config.secure,
        server_name=config.server_name,
        **config.resolved_tls_paths(base_dir),
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


def _without_secrets(table: Any) -> Any:
    if not isinstance(table, dict):
        return table
    return {k: v for k, v in table.items() if k not in ("password", "token")}


def _state_without(state: State, alias: str) -> State:
    if alias not in state.connected:
        return state
    return State({a: e for a, e in state.connected.items() if a != alias})
