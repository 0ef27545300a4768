"""The profile's values (aliases, TOML: configuration only) and this user's state for it
(which aliases are connected), and the pure changes made to them.

Nothing here touches a file: store.py reads and writes them under locks, paths.py says
where they live. A change is a function from a value to a new value (`with_aliases`,
`without_alias`, `state_without`), so the store can apply it to what it reads fresh
under the lock, and a change that changes nothing returns its input unchanged: then
nothing is written.

One alias's fault stays its own: a table that is not a usable config is kept as a
`BrokenAlias` (shown by listings, refused by commands that use it, written back as it
was), and every other alias still loads.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..config import SECRET_KEYS, AliasConfig
from ..errors import ConnectionConfigException, FileLimitException, ProfileException

PROFILE_VERSION = 1
_KNOWN_KEYS = ("version", "connections", "default_alias")


class BrokenAlias(NamedTuple):
    """An alias whose table is not a usable config. One alias's fault stays its own: the
    others load, listings show this one with `message`, commands that use it fail with
    it, and a rewrite keeps `table` as it was written."""

    table: Any
    message: str

    def error(self) -> ProfileException:
        return ProfileException(self.message)


class Profile(NamedTuple):
    """The parsed profile: aliases in file order, plus top-level keys we do not know.
    (NamedTuples here and below: never mutated, and cheap to define at start-up.)"""

    aliases: Mapping[str, AliasConfig]  # a dict, or parsecache.TrustedAliases
    extra: dict[str, Any]
    default_alias: str = ""  # set by `conn use`
    broken: Mapping[str, BrokenAlias] = {}  # never mutated

    def to_toml(self) -> dict[str, Any]:
        tables = {alias: config.to_table() for alias, config in self.aliases.items()}
        tables.update({alias: alias_.table for alias, alias_ in self.broken.items()})
        chosen = {"default_alias": self.default_alias} if self.default_alias else {}
        return {"version": PROFILE_VERSION, **chosen, **self.extra, "connections": tables}

    def replace(self, **changes: Any) -> "Profile":
        return self._replace(**changes)


EMPTY_PROFILE = Profile({}, {})


class State(NamedTuple):
    """Connected aliases, each with the public config it was connected with."""

    connected: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"version": PROFILE_VERSION, "connected": self.connected}


# reading: a parsed document becomes a value -----------------------------------------


def parse_toml(data: bytes, path: Path) -> dict[str, Any]:
    """The TOML document in `data`; errors name `path`, with a line and column. Tables
    and arrays nested deeper than MAX_DEPTH are refused: the parser, the writer and the
    parse cache all recurse."""
    tomllib = _tomllib()

    def parse() -> Any:
        try:
            return tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ProfileException(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ProfileException(f"{path}: invalid TOML: {_located(exc, data)}") from None

    return within_limits(parse, str(path))  # type: ignore[no-any-return]


def within_limits(parse: Callable[[], Any], where: str) -> Any:
    """`parse()`'s document (its own decoding errors raised as ProfileException), or
    FileLimitException naming `where`: an integer past Python's digit limit (the one
    ValueError left), or nesting past MAX_DEPTH, measured or met as RecursionError."""
    from ..untrusted import TOO_DEEP, TOO_LONG, too_deep  # here: only a real parse needs them

    try:
        document = parse()
    except ValueError:  # int() past sys.get_int_max_str_digits()
        raise FileLimitException(f"{where}: {TOO_LONG}") from None
    except RecursionError:  # deeper than the parser goes: deeper than MAX_DEPTH too
        raise FileLimitException(f"{where}: {TOO_DEEP}") from None
    if too_deep(document):
        raise FileLimitException(f"{where}: {TOO_DEEP}")
    return document


def checked(document: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The document's alias tables, unknown top-level keys and default alias, once its
    version and shape are ones this conn reads."""
    version = document.get("version", PROFILE_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProfileException(f"{path}: version must be an integer, got {version!r}")
    if version != PROFILE_VERSION:
        raise ProfileException(
            f"{path}: profile version {version!r} is not supported; this conn "
            f"reads version {PROFILE_VERSION} (upgrade milvus-conn); file left unchanged"
        )
    tables = document.get("connections", {})
    if not isinstance(tables, dict):
        raise ProfileException(f"{path}: 'connections' must be a table")
    chosen = document.get("default_alias", "")
    if not isinstance(chosen, str):
        raise ProfileException(f"{path}: default_alias must be a string")
    extra = {k: v for k, v in document.items() if k not in _KNOWN_KEYS}
    return tables, extra, chosen


def profile_from(document: dict[str, Any], path: Path) -> Profile:
    """The profile in `document`, every alias validated."""
    tables, extra, chosen = checked(document, path)
    parsed = {alias: _parse_alias(path, alias, table) for alias, table in tables.items()}
    aliases = {a: c for a, c in parsed.items() if isinstance(c, AliasConfig)}
    broken = {a: c for a, c in parsed.items() if isinstance(c, BrokenAlias)}
    return Profile(aliases, extra, chosen, broken)


def _parse_alias(path: Path, alias: str, table: object) -> AliasConfig | BrokenAlias:
    where = f"{path}: connection {alias!r}"
    if not isinstance(table, dict):
        return BrokenAlias(table, f"{where} must be a table")
    try:
        return AliasConfig.from_table(table)
    except (ConnectionConfigException, TypeError) as exc:
        return BrokenAlias(table, f"{where}: {exc}")


def state_from(document: Any, path: Path) -> State:
    """The state in a parsed state file; errors name `path`."""
    connected = document.get("connected") if isinstance(document, dict) else None
    if not isinstance(connected, dict):
        raise ProfileException(f"{path}: invalid state file: no 'connected' table")
    # An entry that is not a table is its alias's own fault (an empty record that does
    # not validate when read); `conn disconnect ALIAS` clears it, the others still work.
    return State({alias: e if isinstance(e, dict) else {} for alias, e in connected.items()})


def secret_holders(document: dict[str, Any]) -> list[str]:
    """The aliases holding a plain password or token, read from the document's tables
    (so that no alias is built for it)."""
    password, token = SECRET_KEYS
    tables = document.get("connections", {})
    return [
        alias
        for alias, t in tables.items()
        if isinstance(t, dict) and (t.get(password) or t.get(token)) and _holds_secret(t)
    ]


def _holds_secret(table: dict[str, Any]) -> bool:
    """A usable plain secret: a broken alias's `password = 7` is its error, not a secret."""
    return any(isinstance(table.get(key), str) and table[key] for key in SECRET_KEYS)


def _tomllib() -> Any:
    """The TOML parser, imported only when a file must really be parsed (the cache is cold)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def _located(exc: Exception, data: bytes) -> str:
    """tomllib's message, with a line and column also where it says only "end of document"
    (a file cut short by an editor or a full disk)."""
    message = str(exc)
    if "(at end of document)" not in message:
        return message
    lines = data.decode("utf-8").split("\n")
    where = f"(at end of document, line {len(lines)}, column {len(lines[-1]) + 1})"
    return message.replace("(at end of document)", where)


# changes: each returns its input itself when it changes nothing ---------------------


def with_aliases(
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


def without_alias(profile: Profile, alias: str) -> Profile:
    if alias not in profile.aliases and alias not in profile.broken:
        return profile
    chosen = "" if profile.default_alias == alias else profile.default_alias
    return profile.replace(
        aliases={a: c for a, c in profile.aliases.items() if a != alias},
        broken={a: b for a, b in profile.broken.items() if a != alias},
        default_alias=chosen,
    )


def state_without(state: State, alias: str) -> State:
    if alias not in state.connected:
        return state
    return State({a: e for a, e in state.connected.items() if a != alias})


def appended(current: Profile, updated: Profile) -> list[str]:
    """The aliases `updated` adds at the end of `current`, if that is its only change
    (then the store appends them to the file's text, keeping its comments)."""
    if updated.extra != current.extra or updated.default_alias != current.default_alias:
        return []
    if updated.broken != current.broken:
        return []
    old, new = current.aliases, updated.aliases
    if len(new) <= len(old) or any(new.get(a) is not c for a, c in old.items()):
        return []
    return list(new)[len(old) :]
