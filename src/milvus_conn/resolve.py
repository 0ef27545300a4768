"""Resolution: which server, settings and secrets one alias stands for, and where each
setting came from. One pure function, `resolve`, read by `connect`, the live handles,
`client_kwargs`, `conn env` and `--explain` alike; it does no I/O (the caller hands it
the stored config and the environment).

Precedence, as pymilvus's `connections.connect`: an explicit address/uri/host/port,
then `$MILVUS_URI`, then the stored alias (with the options given laid over it). The
built-in alias (`$MILVUS_CONN_ALIAS`, else `default`) exists without being stored: it
is `$MILVUS_URI`, else localhost:19530. The user and db_name given win over the alias's
own; pymilvus's `db_name="default"` means "not chosen". Secrets come from
secrets/sources.py, in its order.

Sources, as `--explain` shows them: `flag` (an option given), `profile:PATH` (stored in
that file), `uri` (read from the alias's URI: address, TLS from https, user, db_name),
`env:NAME` (`$MILVUS_URI`, `$MILVUS_CONN_TIMEOUT`, a secret's variable), or `default`.

ARCHITECTURE.md says where a new connection option goes (three places).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import address as addr
from .config import COMMAND_KEYS, SECRET_KEYS, TLS_FILE_KEYS, AliasConfig, check_printable
from .errors import ConnectionConfigException, ExitCode
from .probe.endpoint import Credentials, Target
from .secrets.sources import SECRET_KINDS, Secrets

if TYPE_CHECKING:
    from .secrets.keystore import Keystore

TARGET_KEYS = ("address", "uri", "host", "port")
CREDENTIAL_KEYS = ("user", "password", "token", "db_name")
# Every other setting of an alias may be given to `connect` too: a new AliasConfig field
# is a connect option with no change here.
CONNECT_OPTIONS = tuple(
    name for name in AliasConfig._fields if name not in {*TARGET_KEYS, *CREDENTIAL_KEYS, "extra"}
)
IGNORED_OPTIONS = ("keep_alive", "_async", "_unbind_with_db", "grpc_options")  # pymilvus's
_KNOWN = {*TARGET_KEYS, *CONNECT_OPTIONS, *CREDENTIAL_KEYS}
_DEFAULTS = AliasConfig._field_defaults
SHOWN = tuple(
    name
    for name in AliasConfig._fields
    if name not in {*SECRET_KEYS, *COMMAND_KEYS, "password_env", "token_env", "extra"}
)  # the settings `--explain` lists, secrets last as set/unset


class Resolved:
    """One alias, resolved: the config to connect with, the user and database, the
    channel's target, each setting's source, and whether a new alias should be stored
    once connected. Its secrets are found only when `credentials` is first read (a
    probe, a client); that raises when a source fails (secrets/sources.py)."""

    __slots__ = ("_credentials", "_sources", "alias", "config", "db_name", "origin", "persist",
                 "secrets", "target", "user")  # fmt: skip

    def __init__(
        self,
        alias: str,
        config: AliasConfig,
        secrets: Secrets,
        target: Target,
        *,
        db_name: str,
        origin: str,
        persist: bool,
    ) -> None:
        self.alias, self.config, self.target, self.secrets = alias, config, target, secrets
        self.user, self.db_name = secrets.user, db_name
        self.origin, self.persist = origin, persist
        self._sources: dict[str, str] = {}
        self._credentials: Credentials | None = None

    @property
    def credentials(self) -> Credentials:
        """What a probe sends, the secrets found now (once) in their order."""
        if self._credentials is None:
            password, token = (self.secrets.value(kind) for kind in SECRET_KINDS)
            self._credentials = Credentials(self.user, password, token, self.db_name)
        return self._credentials

    @property
    def sources(self) -> dict[str, str]:
        """Each shown setting's source, and each secret's (nothing is fetched for it)."""
        secret_sources = {}
        for kind in SECRET_KINDS:
            source = self.secrets.source(kind)
            supplied = self.secrets.supplied(kind) or source.endswith("(not set)")
            secret_sources[kind] = source if supplied else "default"
        return self._sources | secret_sources

    def shown(self, name: str) -> Any:
        """A setting's value as `--explain` shows it (secrets only as set/unset)."""
        if name in SECRET_KINDS:
            return "set" if self.secrets.supplied(name) else "unset"
        if name in ("user", "db_name"):
            return getattr(self, name)
        if name == "timeout":
            return self.config.effective_timeout
        if name in TLS_FILE_KEYS:
            return getattr(self.target, name)
        return getattr(self.config, name)


def builtin_alias(env: Mapping[str, str]) -> str:
    """The built-in alias's name: `$MILVUS_CONN_ALIAS`, as pymilvus reads it, else `default`."""
    return env.get("MILVUS_CONN_ALIAS") or "default"


def builtin_config(env: Mapping[str, str]) -> AliasConfig:
    uri = env.get("MILVUS_URI", "")
    if uri:
        return AliasConfig.from_options({"uri": uri})
    return AliasConfig(address=f"{addr.DEFAULT_HOST}:{addr.DEFAULT_PORT}")


def chosen_alias(alias: str | None, profile_default: str, env: Mapping[str, str]) -> str:
    """The alias itself, or for an omitted one: `$MILVUS_CONN_ALIAS`, else the profile's
    default (`conn use`), else `default`."""
    if alias is not None:
        return alias
    return env.get("MILVUS_CONN_ALIAS") or profile_default or "default"


def resolve(
    alias: str,
    stored: AliasConfig | None,
    options: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    base_dir: Path = Path(),
    stored_in: str = "",
    env_uri: bool = True,
    secrets_of: AliasConfig | None = None,
    command_file: Path | None = None,
    keystore: Callable[[], Keystore] | None = None,
) -> Resolved:
    """`alias` from its `stored` config (None: not stored; the caller passes the built-in
    one), the `options` given (connect's keywords; None = not given) and `env`.

    `stored_in`: the profile file storing it ("" if built in or embedded). `env_uri=False`
    leaves `$MILVUS_URI` out (handing a named alias to pymilvus's MilvusClient, which does
    not redirect either). `secrets_of`: the config whose secret settings apply, when
    `stored` is the state file's record of a connection (it keeps no secrets).
    `command_file`: the file the stored alias's commands come from, checked before one
    runs; `keystore`: the logins and the OS credential store (None: not asked)."""
    given = {k: v for k, v in options.items() if k not in IGNORED_OPTIONS}
    unknown = sorted(set(given) - _KNOWN)
    if unknown:
        raise ConnectionConfigException(f"unknown connection option(s): {', '.join(unknown)}")
    user = check_printable("user", str(given.pop("user", "") or ""))
    db_name = _db(check_printable("db_name", str(given.pop("db_name", "") or "")))
    explicit = {kind: str(given.pop(kind, "") or "") for kind in SECRET_KINDS}
    config, origin = _config(alias, stored, given, env, user, db_name, env_uri)
    stored_in = stored_in if origin == "uri" else ""
    secret_config = secrets_of or config
    from_file = origin == "uri" or secrets_of is not None
    secrets = Secrets(
        alias, secret_config, explicit, env, user=user or config.user, address=config.address,
        kept=stored_in or origin, keystore=keystore,
        command_file=command_file if from_file and not _commands_given(given) else None,
    )  # fmt: skip
    resolved = Resolved(
        alias, config, secrets, target_of(config, base_dir),
        db_name=db_name or config.db_name or "default", origin=origin,
        persist=origin == "flag" and stored is None,
    )  # fmt: skip
    flags = {k for k, v in given.items() if v not in (None, "")}
    flags |= {name for name, value in (("user", user), ("db_name", db_name)) if value}
    resolved._sources = _sources(resolved, flags, stored_in, env)
    return resolved


def _commands_given(given: Mapping[str, Any]) -> bool:
    """A command passed by the caller (a flag, a keyword) is theirs: no file to check."""
    return any(given.get(key) for key in COMMAND_KEYS)


def _config(
    alias: str,
    stored: AliasConfig | None,
    given: dict[str, Any],
    env: Mapping[str, str],
    user: str,
    db_name: str,
    env_uri: bool,
) -> tuple[AliasConfig, str]:
    """The config and where its address came from: `flag`, `env:MILVUS_URI` or `uri`
    (the stored alias's own)."""
    explicit = {k: given.pop(k) for k in TARGET_KEYS if k in given}
    if any(v not in ("", None) for v in explicit.values()):
        options = {**explicit, **given, "user": user or None, "db_name": db_name}
        given.update(explicit)
        return AliasConfig.from_options(options), "flag"
    if env_uri and env.get("MILVUS_URI"):
        return AliasConfig.from_options({"uri": env["MILVUS_URI"], **given}), "env:MILVUS_URI"
    if stored is None:
        raise ConnectionConfigException(
            f"You need to pass in the configuration of the connection named {alias!r} .",
            exit_code=ExitCode.FALSE,
        )
    changes = {k: v for k, v in given.items() if v is not None}
    return (stored.with_changes(**changes) if changes else stored), "uri"


def _sources(
    resolved: Resolved, flags: set[str], stored_in: str, env: Mapping[str, str]
) -> dict[str, str]:
    """Each shown setting's source, by the layer that set it: the URI (the alias's own,
    `$MILVUS_URI` or a flag's), an option given, the profile, or nobody (`default`)."""
    config, origin = resolved.config, resolved.origin
    from_uri = _uri_fields(resolved) if config.uri else set()
    sources = {}
    for name in SHOWN:
        if name in from_uri or (name == "uri" and origin != "uri"):
            sources[name] = origin
        elif name in flags or (name == "address" and origin == "flag"):
            sources[name] = "flag"
        elif name != "address" and getattr(config, name) == _DEFAULTS[name]:
            sources[name] = "default"
        else:
            sources[name] = stored_in or "default"
    if config.timeout is None:  # neither given nor stored
        from_env = bool(env.get("MILVUS_CONN_TIMEOUT"))
        sources["timeout"] = "env:MILVUS_CONN_TIMEOUT" if from_env else "default"
    return sources


def _uri_fields(resolved: Resolved) -> set[str]:
    """The settings the alias's URI supplies (their values are the URI's)."""
    parsed = addr.parse_uri(resolved.config.uri)
    fields = {"address"}
    if parsed.secure and resolved.config.secure is True:
        fields.add("secure")
    for name in ("user", "db_name"):
        value = resolved.shown(name)
        if value and getattr(parsed, name) == value:
            fields.add(name)
    return fields


def target_of(config: AliasConfig, base_dir: Path) -> Target:
    """Relative TLS paths are read from `base_dir`: the defining profile's directory."""
    return Target(
        address=config.address,
        secure=config.secure,
        server_name=config.server_name,
        **config.resolved_tls_paths(base_dir),
    )


def _db(db_name: str) -> str:
    """pymilvus's `db_name="default"` means "not chosen": a stored or URI db_name wins."""
    return "" if db_name in ("default", None) else str(db_name)
