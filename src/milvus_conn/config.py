"""The settings of one alias as a validated value object.

Validation happens in the constructor, before any I/O, so the library and the CLI
reject the same things with the same words. Secrets are held by reference
(`password_env`, `token_env`, `password_command`, `token_command`); plain
`password`/`token` are accepted but flagged.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from . import address as addr
from .errors import ConnectionConfigException

DEFAULT_TIMEOUT = 10.0
PROBES = ("auto", "grpc-health", "milvus")
TLS_FILE_KEYS = ("server_pem_path", "client_pem_path", "client_key_path", "ca_pem_path")
SECRET_KEYS = ("password", "token")
COMMAND_KEYS = ("password_command", "token_command")  # code conn runs: secrets/sources.py


def default_timeout() -> float:
    """`MILVUS_CONN_TIMEOUT`, as pymilvus reads it, else 10 s."""
    raw = os.environ.get("MILVUS_CONN_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if math.isfinite(value) and value > 0 else DEFAULT_TIMEOUT


def check_alias_type(alias: object) -> str:
    """pymilvus's rule, for methods that only read: any string."""
    if not isinstance(alias, str):
        raise ConnectionConfigException(f"Alias should be string, but {type(alias)!r} is given.")
    return alias


def check_alias(alias: object) -> str:
    """Aliases stored are non-empty printable strings, so any accepted one survives TOML."""
    alias = check_alias_type(alias)
    if not alias or not alias.isprintable() or alias != alias.strip():
        raise ConnectionConfigException(
            f"Illegal alias {alias!r}: use printable characters, without leading or trailing spaces"
        )
    return alias


def check_printable(name: str, value: str) -> str:
    """Settings that are shown (user, db_name, addresses, paths, names) hold printable
    characters only: an ESC or BEL in a stored value would drive the terminal of
    whoever lists it. Secrets are never shown, so they are not held to this."""
    if not value.isprintable():
        raise ConnectionConfigException(
            f"{name} must not contain control or other non-printing characters, got "
            f"{value[:200]!r}{'...' if len(value) > 200 else ''}"
        )
    return value


def secret_problem(value: str) -> str:
    """What keeps `value` from being a password or token, in words ("" if nothing): it is
    empty, only whitespace, or holds a control character (a second line, an escape)."""
    if not value:
        return "nothing"
    if not value.strip():
        return "only whitespace"
    if not value.isprintable():
        return "a control or other non-printing character"
    return ""


def command_words(name: str, command: str) -> list[str]:
    """A secret command split as a POSIX shell splits words (it is run without a shell)."""
    import shlex  # only an alias with a command needs it

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConnectionConfigException(f"{name} {command!r} cannot be split: {exc}") from None
    if not words:
        raise ConnectionConfigException(f"{name} is blank: give the command to run")
    return words


def check_timeout(timeout: object, name: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConnectionConfigException(f"{name} must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConnectionConfigException(f"{name} must be greater than 0, got {timeout!r}")
    return float(timeout)


def check_given(given: dict[str, Any]) -> dict[str, Any]:
    """Options given for one alias (`conn add`, `conn connect`), checked for conflicts
    before any I/O: the given ones (not None), TLS paths made absolute."""
    from . import lite  # small, and loaded here only: the library rarely needs it

    if lite.is_local_db(given.get("uri")):
        raise ConnectionConfigException(
            "a .db uri runs Milvus Lite inside the Python program that opens it, so conn "
            "cannot keep it connected: run 'milvus-lite server --data-dir DIR --port P' and "
            "use its address, or call connections.connect(uri=...) in Python"
        )
    targets = [name for name in ("uri", "address", "host") if given.get(name) is not None]
    if len(targets) > 1:
        raise ConnectionConfigException(f"give only one of --{', --'.join(targets)}")
    if given.get("port") is not None and given.get("host") is None:
        raise ConnectionConfigException("--port needs --host")
    checked = {name: value for name, value in given.items() if value is not None}
    for name in TLS_FILE_KEYS:
        if checked.get(name):
            checked[name] = os.path.abspath(os.path.expanduser(checked[name]))
    return checked


class _Fields(NamedTuple):
    address: str
    uri: str = ""
    user: str = ""
    db_name: str = ""
    secure: bool = False
    server_pem_path: str = ""
    server_name: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    ca_pem_path: str = ""
    timeout: float | None = None
    probe: str = "auto"
    health_service: str = ""
    password_env: str = ""
    token_env: str = ""
    password_command: str = ""
    token_command: str = ""
    password: str = ""
    token: str = ""
    extra: dict[str, Any] = {}  # noqa: RUF012 - never mutated: unknown keys, kept on rewrite


class AliasConfig(_Fields):
    """One alias: where it points, how to authenticate, and how to probe it.

    An immutable NamedTuple (a dataclass of 18 fields costs milliseconds of start-up to
    define), validated on construction."""

    __slots__ = ()

    def __new__(cls, address: str, **values: Any) -> "AliasConfig":
        if values.get("timeout") is not None:
            values["timeout"] = check_timeout(values["timeout"])
        if address.__class__ is str:  # a hand-written `[0::1]:1` is stored as `[::1]:1`
            address = addr.canonical(address)
        config = super().__new__(cls, address, **values)
        config._validate()
        return config

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(self._fields, self, strict=True)
            if name not in ("password", "token", "extra") and value != _DEFAULTS.get(name)
        )
        return f"AliasConfig({shown})"

    def _validate(self) -> None:
        for name in _STRING_FIELDS:
            value = getattr(self, name)
            if value.__class__ is not str:
                raise ConnectionConfigException(f"{name} must be a string, got {value!r}")
            if "\x00" in value:
                raise ConnectionConfigException(f"{name} must not contain a NUL character")
            if name not in SECRET_KEYS:
                check_printable(name, value)
        if not isinstance(self.secure, bool):
            raise ConnectionConfigException(f"secure must be true or false, got {self.secure!r}")
        addr.parse_address(self.address)
        if self.probe not in PROBES:
            raise ConnectionConfigException(
                f"probe must be one of {', '.join(PROBES)}, got {self.probe!r}"
            )
        self._check_tls()
        for name in COMMAND_KEYS:
            if getattr(self, name):
                command_words(name, getattr(self, name))

    def _check_tls(self) -> None:
        given = [key for key in (*TLS_FILE_KEYS, "server_name") if getattr(self, key)]
        if given and not self.secure:
            raise ConnectionConfigException(
                f"{', '.join(given)} given but TLS is off: add --secure (secure = true) "
                "or use an https:// uri"
            )
        if bool(self.client_pem_path) != bool(self.client_key_path):
            raise ConnectionConfigException(
                "mutual TLS needs both client_pem_path and client_key_path"
            )

    @property
    def effective_timeout(self) -> float:
        return self.timeout if self.timeout is not None else default_timeout()

    @property
    def has_plain_secret(self) -> bool:
        return bool(self.password or self.token)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "AliasConfig":
        """Build from add_connection/CLI keywords: address > uri > host/port, as pymilvus."""
        odd = [key for key in options if not isinstance(key, str)]
        if odd:
            raise ConnectionConfigException(f"option names must be strings, got {odd[0]!r}")
        options = {k: v for k, v in options.items() if v is not None}
        target = addr.resolve(
            options.pop("address", ""),
            options.get("uri", ""),
            options.pop("host", ""),
            options.pop("port", ""),
        )
        if target is None:
            target = addr.parse_host_port()
        uri = options.pop("uri", "")
        known = _FIELDS - {"address", "uri", "extra"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConnectionConfigException(f"unknown connection option(s): {', '.join(unknown)}")
        if target.secure:
            options["secure"] = True
        if target.user and not options.get("user"):
            options["user"] = target.user
        if target.password and not options.get("password"):
            options["password"] = target.password
        if target.db_name and not options.get("db_name"):
            options["db_name"] = target.db_name
        return cls(
            address=target.address,
            uri=addr.redact_uri(uri) if isinstance(uri, str) else uri,
            **options,
        )

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> "AliasConfig":
        """Build from a profile table; unknown keys ride along in `extra`."""
        values = {k: v for k, v in table.items() if k in _FIELDS and k != "extra"}
        if "address" not in values:
            uri = values.get("uri")
            if not uri:
                raise ConnectionConfigException("address (or uri) is missing")
            values["address"] = addr.parse_uri(uri).address
        if isinstance(values.get("timeout"), int) and not isinstance(values["timeout"], bool):
            values["timeout"] = float(values["timeout"])
        extra = {k: v for k, v in table.items() if k not in _FIELDS or k == "extra"}
        return cls(**values, extra=extra)

    @classmethod
    def trusted(cls, table: dict[str, Any]) -> "AliasConfig":
        """From a table that already passed `from_table` (the parse cache): no checks."""
        values = {k: v for k, v in table.items() if k in _FIELDS and k != "extra"}
        if isinstance(values.get("timeout"), int):
            values["timeout"] = float(values["timeout"])
        if "address" not in values:
            values["address"] = addr.parse_uri(values["uri"]).address
        values["address"] = addr.canonical(values["address"])
        extra = {k: v for k, v in table.items() if k not in _FIELDS or k == "extra"}
        return cls._make({**_ALL_DEFAULTS, **values, "extra": extra}.values())

    def to_table(self) -> dict[str, Any]:
        """The profile table: only what differs from the defaults, unknown keys kept."""
        table: dict[str, Any] = {"address": self.address}
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                table[name] = value
        return {**table, **self.extra} if self.extra else table

    def public(self) -> dict[str, Any]:
        """Everything but secrets: what listings, JSON and `get_connection_addr` show."""
        table = self.to_table()
        for key in SECRET_KEYS:
            table.pop(key, None)
        return {k: v for k, v in table.items() if k not in self.extra}

    def with_changes(self, **changes: Any) -> "AliasConfig":
        """A validated copy (NamedTuple's own `_replace` would skip validation)."""
        return AliasConfig(**{**self._asdict(), **changes})

    def resolved_tls_paths(self, base_dir: Path) -> dict[str, str]:
        """TLS files with relative paths taken against the profile's directory."""
        return {
            key: str(base_dir / Path(getattr(self, key)).expanduser())
            for key in TLS_FILE_KEYS
            if getattr(self, key)
        }


_FIELDS = frozenset(AliasConfig._fields)

_DEFAULTS = {n: v for n, v in AliasConfig._field_defaults.items() if n != "extra"}
_ALL_DEFAULTS = {"address": "", **AliasConfig._field_defaults}
# Every field whose default is a string holds a string (address included).
_STRING_FIELDS = tuple(name for name, default in _ALL_DEFAULTS.items() if isinstance(default, str))
