"""The connection registry: pymilvus's `connections`, persistent and shared by processes.

Aliases live in the profile (one file, or several layered: storage/layers.py); which of them
are connected lives in this user's state file for it (storage/paths.py), so `conn connect prod`
in a shell and `connections.has_connection("prod")` in Python agree. `Connections` is
short methods over: catalog.py (what exists, state, live handles), resolve.py (an alias
into what to connect with), connection.py (probes), handoff.py (pymilvus), edits.py.

ARCHITECTURE.md maps these modules and what each must not know.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import fanout, handoff, lite
from . import resolve as res
from .catalog import STATE_ONLY, Catalog
from .config import AliasConfig, check_alias, check_alias_type, check_printable, check_timeout
from .connection import Connection, answer, confirmed, probe_of, run
from .errors import (
    ConnectionConfigException,
    ConnectionNotExistException,
    MilvusException,
    ProbeException,
    ProfileException,
)
from .fanout import AliasInfo
from .storage import edits
from .storage.layers import LayeredStore, ProfileSpec
from .storage.profile import with_aliases, without_alias
from .storage.store import ProfileStore

if TYPE_CHECKING:  # the health core is imported only by what probes: offline commands skip it
    from pymilvus import AsyncMilvusClient, MilvusClient

    from .login import LoggedIn
    from .probe.request import Gates, Probe, ReadySpec
    from .probe.results import HealthResult
    from .secrets.logins import Login

__all__ = ["AliasInfo", "Connection", "Connections", "builtin_alias"]


def builtin_alias() -> str:
    """The name of the built-in alias (resolve.py): `$MILVUS_CONN_ALIAS`, else `default`."""
    return res.builtin_alias(os.environ)


class Connections:
    """pymilvus's `Connections`, bound to one profile (the default one unless given)."""

    def __init__(self, profile: ProfileSpec = None) -> None:
        """`profile`: a path, several joined by os.pathsep, or a sequence of paths."""
        self._catalog = Catalog(profile, os.environ)  # the environment is read live

    @property
    def store(self) -> ProfileStore | LayeredStore:
        """The profile store, opened on first use (`$CONN_PROFILE` is read then)."""
        return self._catalog.store

    # pymilvus's API ------------------------------------------------------------------

    def add_connection(self, **kwargs: dict[str, Any]) -> None:
        """Validate and store each `alias=config`; all or none are written."""
        configs = edits.configs_of(kwargs)
        for alias, config in configs.items():
            self._catalog.refuse_readdress(alias, config.address)
        self.store.update(lambda profile: with_aliases(profile, configs))
        edits.warn_if_plain(configs)

    def remove_connection(self, alias: str) -> None:
        """Disconnect, then delete the alias; no error if it is absent (as pymilvus)."""
        check_alias_type(alias)
        self.store.check_writable(alias)  # a read-only file: refused before the disconnect
        with self.store.locked_for(alias), self.store.state_locked():  # both, or neither
            self.disconnect(alias)
            self.store.update(lambda profile: without_alias(profile, alias))

    def connect(
        self,
        alias: str | None = None,
        user: str = "",
        password: str = "",
        db_name: str = "default",
        token: str = "",
        *,
        wait: float = 0,
        gates: Gates | None = None,
        want_certificate: bool = False,
        ready: ReadySpec | None = None,
        **kwargs: Any,
    ) -> Connection:
        """Probe the alias's server and register it as connected; a `ProbeException`
        subclass names what failed, and no half-registered handle is left behind."""
        alias = check_alias(self.resolve_alias(alias))
        given = {**kwargs, "user": user, "password": password, "token": token, "db_name": db_name}
        check_printable("user", str(user or ""))  # before Milvus Lite makes its file
        check_printable("db_name", str(db_name or ""))
        embedded = lite.started(given)
        resolved = self._catalog.resolve(alias, given)
        handle = Connection(resolved)
        try:  # the channel checked is the one kept: closed if the handle is not
            try:
                request = handle.probe(gates=gates, want_certificate=want_certificate, ready=ready)
                result = run(request, wait, on=handle)
                handle.result = confirmed(result, f"cannot connect {alias!r}", handle)
            except (ProbeException, ProfileException, ConnectionConfigException):
                self.disconnect(alias)  # as pymilvus: a failed connect leaves no live handle
                raise
            self._catalog.record(resolved, handle, embedded=embedded)
        except BaseException:
            handle.close()
            raise
        return handle

    def disconnect(self, alias: str) -> None:
        """Close the live handle and forget the connected state; no-op when not connected."""
        self._catalog.forget(check_alias_type(alias))

    def has_connection(self, alias: str) -> bool:
        """True only if the alias exists and its connection has been established."""
        check_alias_type(alias)
        return alias in self._catalog.connected() and self._catalog.config(alias) is not None

    def get_connection(self, alias: str | None = None) -> Connection | None:
        """The live handle, opened lazily (no probe) if another process connected it."""
        alias = check_alias_type(self.resolve_alias(alias))
        return self._catalog.handle(alias, self._catalog.config(alias))

    def list_connections(self) -> list[tuple[str, Connection | None]]:
        """Every alias with its live handle; an unusable one with None (`conn list` says why)."""
        entries, _ = self._catalog.entries()
        return [
            (alias, None if isinstance(entry, MilvusException) else self.get_connection(alias))
            for alias, entry in entries.items()
        ]

    def get_connection_addr(self, alias: str) -> dict[str, Any]:
        """The config dict, pymilvus's shape; `{}` for an unknown alias; never a secret.
        As in pymilvus, a `uri` is shown as what it became (address, user, `secure` when
        https), and `secure` only when true; settings pymilvus does not keep (TLS paths,
        timeout ...) are shown when set."""
        check_alias_type(alias)
        config = self._catalog.config(alias)
        if config is None:
            return {}
        entry = self._catalog.connected().get(alias)
        if entry is None:
            entry = {"address": config.address, "user": config.user, **config.public()}
        hidden = (*STATE_ONLY, "uri")
        return {k: v for k, v in entry.items() if k not in hidden and (k != "secure" or v)}

    # beyond pymilvus: resolution and hand-off ------------------------------------------

    def resolve_alias(self, alias: str | None) -> str:
        """The alias, or for None the one commands use (`$MILVUS_CONN_ALIAS`, `conn use`)."""
        return alias if alias is not None else self._catalog.chosen(None)

    def explain(self, alias: str | None = None, **options: Any) -> dict[str, Any]:
        """`--explain`: each setting `connect(alias, **options)` would use, and its source."""
        alias = check_alias(self.resolve_alias(alias))
        given = {k: v for k, v in options.items() if v not in (None, "")}
        resolved = self._catalog.resolve(alias, given)
        return {k: {"value": resolved.shown(k), "source": s} for k, s in resolved.sources.items()}

    def client_kwargs(self, alias: str | None = None) -> dict[str, Any]:
        """What `pymilvus.MilvusClient(**kwargs)` needs to reach the alias, secrets included."""
        alias = check_alias_type(self.resolve_alias(alias))
        return handoff.client_kwargs(self._catalog.stored(alias))

    def client(self, alias: str | None = None, **overrides: Any) -> MilvusClient:
        """A `pymilvus.MilvusClient` for the alias (ImportError naming the extra without)."""
        return handoff.make("MilvusClient", lambda: self.client_kwargs(alias), overrides)

    def async_client(self, alias: str | None = None, **overrides: Any) -> AsyncMilvusClient:
        """`client()`, as a `pymilvus.AsyncMilvusClient`."""
        return handoff.make("AsyncMilvusClient", lambda: self.client_kwargs(alias), overrides)

    def environment(
        self, alias: str | None = None, *, with_secrets: bool = False
    ) -> dict[str, str]:
        """`conn env`: the variables pymilvus reads (handoff.py); secrets only when asked."""
        resolved = self._catalog.stored(check_alias(self.resolve_alias(alias)))
        return handoff.environment(resolved, with_secrets=with_secrets)

    # beyond pymilvus: probes -----------------------------------------------------------

    def probe(
        self,
        alias: str | None = None,
        *,
        probe: bool = True,
        wait: float = 0,
        timeout: float | None = None,
        gates: Gates | None = None,
        ready: ReadySpec | None = None,
    ) -> HealthResult | None:
        """`conn has`: known and connected; then (unless `probe=False`) healthy now, or
        within `wait` s (and ready, when asked)."""
        handle = self._catalog.live(check_alias(self.resolve_alias(alias)))
        return answer(handle, probe, wait, timeout, gates, ready).result

    def probe_many(self, aliases: Sequence[str | None], **options: Any) -> list[fanout.Answer]:
        """`conn has A B C`: each alias (None: the default one) probed at once, as `probe`
        does; an answer per alias with its public config, or that alias's own error."""

        def one(name: str) -> fanout.Answer:
            try:
                return answer(self._catalog.live(check_alias(name)), **options)
            except MilvusException as exc:
                return fanout.Answer(name, {}, error=exc)

        return fanout.each(one, [self.resolve_alias(alias) for alias in aliases])

    def ready(
        self,
        alias: str | None = None,
        *,
        collections: Sequence[str] = (),
        loaded: bool = False,
        timeout: float | None = None,
        wait: float = 0,
    ) -> HealthResult:
        """Healthy, its database usable with these credentials, each collection there (and
        loaded, with `loaded`); else a `ProbeException` subclass naming what is missing."""
        from .probe.readiness import make_spec

        spec = make_spec(collections, loaded)
        name = check_alias(self.resolve_alias(alias))
        handle = self._catalog.live(name)
        result = run(handle.probe(timeout, want_version=False, ready=spec), wait)
        return confirmed(result, f"{name!r}", handle, " is not ready")

    def describe(self, *, check: bool = False, timeout: float | None = None) -> list[AliasInfo]:
        """`conn list`: a row per alias (its own error if unusable); `check` probes all."""
        if timeout is not None:
            check_timeout(timeout)  # the command's own error, not one per row
        entries, builtin = self._catalog.entries()
        return fanout.describe(
            entries,
            connected=self._catalog.connected(),
            chosen=self.resolve_alias(None),
            builtin=builtin,
            probe_for=(lambda a, c: self.probe_for(a, c, timeout)) if check else None,
            sources=self._catalog.sources(),
        )

    def watch(
        self, alias: str | None = None, *, interval: float = 2.0, until: float | None = None
    ) -> Iterator[HealthResult]:
        """`conn watch`: the alias's health now, then each change of status."""
        alias = check_alias(self.resolve_alias(alias))
        from .probe import watch

        if check_timeout(interval, "interval") < watch.MIN_INTERVAL:
            raise ConnectionConfigException(
                f"interval must be at least {watch.MIN_INTERVAL:g} s, got {interval:g}: "
                "a shorter one only floods the server"
            )

        probe = self.probe_for(alias, self._catalog.require(alias), None)
        return watch.changes(probe, interval=interval, until=until)

    def probe_for(self, alias: str, config: AliasConfig, timeout: float | None) -> Probe:
        """The probe of an alias (connected or not) with this config: `conn list --check`."""
        return probe_of(self._catalog.stored(alias, config), timeout)

    # beyond pymilvus: the profile -------------------------------------------------------

    def add(self, alias: str, *, force: bool = False, **options: Any) -> AliasConfig:
        """`conn add`: store one alias, refusing to replace an existing one unless forced."""
        check_alias(alias)
        config = AliasConfig.from_options(options)
        refuse = self._catalog.refuse_readdress
        self.store.update(edits.adding(alias, config, force=force, refuse=refuse))
        edits.warn_if_plain({alias: config})
        return config

    def remove(self, alias: str) -> list[Login]:
        """`conn remove`: like `remove_connection`, but an unknown alias is an error. Returns
        what `login` stored for its server and user: other aliases may share it, so it stays."""
        from .login import stored as logins_of

        check_alias(alias)
        stored = self.store.load()
        if alias not in stored.aliases and alias not in stored.broken:
            known = "built in" if alias == builtin_alias() else "unknown"
            raise ConnectionNotExistException(f"alias {alias!r} is {known}; nothing to remove")
        kept = logins_of(self._catalog, alias)
        self.remove_connection(alias)
        return kept

    def require_known(self, alias: str) -> None:
        """`conn disconnect`: an unknown alias is an error, not a no-op."""
        self._catalog.require(check_alias(alias))

    def use(self, alias: str) -> None:
        """`conn use`: make `alias` the one commands use when none is named."""
        self._catalog.require(check_alias(alias))
        self.store.update(edits.using(alias))

    def login(
        self, alias: str, secret: str | Callable[[], str], *, kind: str = "password"
    ) -> LoggedIn:
        """`conn login` (login.py): the secret, once its server accepts it, in the OS store."""
        from . import login

        return login.login(self._catalog, check_alias(alias), secret, kind)

    def logout(self, alias: str) -> list[Login]:
        """`conn logout`: what `login` stored for the alias's server and user, removed."""
        from . import login

        return login.logout(self._catalog, check_alias(alias))

    def export_profile(self, aliases: Sequence[str] = ()) -> str:
        """`conn export`: the profile (or some aliases) as TOML, plain secrets left out."""
        return edits.exported(self.store.load(), aliases)

    def import_profile(
        self, path: str | os.PathLike[str], *, force: bool = False, allow_commands: bool = False
    ) -> list[str]:
        """`conn import`: merge another profile's aliases; conflicts refused unless forced,
        secret commands unless allowed (importing never runs them)."""
        incoming = edits.read_import(path)
        if not allow_commands:
            edits.refuse_commands(path, incoming)
        refuse = self._catalog.refuse_readdress
        self.store.update(edits.importing(incoming, force=force, refuse=refuse))
        edits.warn_if_plain(incoming)
        return list(incoming)

    def reset(self) -> None:
        """Close every live handle of this process (tests, and long-running programs)."""
        self._catalog.close_all()
