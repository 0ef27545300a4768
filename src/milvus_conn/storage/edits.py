"""The pure changes `conn add`, `use`, `import` and `export` make to a profile.

Each takes a `Profile` and returns a new one (or TOML text), raising before anything is
written; registry.py applies them under the store's lock. `refuse` is the registry's
check that an alias connected elsewhere keeps its address.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import COMMAND_KEYS, SECRET_KEYS, AliasConfig, check_alias
from ..errors import (
    AliasExistsException,
    ConnectionConfigException,
    ConnectionNotExistException,
    FileLimitException,
    PlainSecretWarning,
    warn,
)
from .profile import Profile, with_aliases
from .store import ProfileStore

Refuse = Callable[[str, str], None]  # (alias, address): raises if it may not change
Change = Callable[[Profile], Profile]  # what the store applies under its lock


def configs_of(kwargs: Mapping[str, Any]) -> dict[str, AliasConfig]:
    """`add_connection(**kwargs)`'s aliases, each validated: all or none are stored."""
    configs = {}
    for alias, options in kwargs.items():
        check_alias(alias)
        if not isinstance(options, dict):
            raise ConnectionConfigException(f"configuration of {alias!r} must be a dict")
        configs[alias] = AliasConfig.from_options(dict(options))
    return configs


def adding(alias: str, config: AliasConfig, *, force: bool, refuse: Refuse) -> Change:
    """`conn add`: store one alias; one that exists (even broken) only when forced."""

    def change(profile: Profile) -> Profile:
        if (alias in profile.aliases or alias in profile.broken) and not force:
            raise AliasExistsException(
                f"alias {alias!r} already exists (use --force to replace it)"
            )
        refuse(alias, config.address)
        return with_aliases(profile, {alias: config})

    return change


def importing(incoming: Mapping[str, AliasConfig], *, force: bool, refuse: Refuse) -> Change:
    """`conn import`: merge aliases; one that exists with other settings only when forced."""

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
            refuse(alias, config.address)
        return with_aliases(profile, dict(incoming), keep_extra=False)

    return change


def read_import(path: str | os.PathLike[str]) -> Mapping[str, AliasConfig]:
    """The aliases of a file to import; one unusable alias refuses the whole file. The
    file is an argument: one that is missing, not a regular file, or over conn's size or
    nesting limits is a usage error (exit 2); one that does not parse is a profile's."""
    from ..untrusted import UnreadableFile, refuse_special, unreadable

    try:
        refuse_special(path, os.stat(path).st_mode)
        loaded = ProfileStore(path).load()
    except OSError as exc:
        raise ConnectionConfigException(str(unreadable(path, exc))) from None
    except (UnreadableFile, FileLimitException) as exc:
        raise ConnectionConfigException(str(exc)) from None
    if loaded.broken:  # refused as input, as `add` refuses it: nothing is written
        first = next(iter(loaded.broken.values()))
        raise ConnectionConfigException(f"{first.message} (nothing imported)")
    return loaded.aliases


def refuse_commands(path: str | os.PathLike[str], incoming: Mapping[str, AliasConfig]) -> None:
    """A file to import that defines secret commands is refused: a command is code, to
    be read before it is let in (`conn import --allow-commands`)."""
    found = [
        f"{alias!r} {key} `{getattr(config, key)}`"
        for alias, config in incoming.items()
        for key in COMMAND_KEYS
        if getattr(config, key)
    ]
    if found:
        raise ConnectionConfigException(
            f"{path} defines commands that conn would run to get secrets: {'; '.join(found)}. "
            "A command is code: read them, then import with --allow-commands (nothing imported)"
        )


def using(alias: str) -> Change:
    """`conn use`: the alias commands use when none is named."""
    return lambda p: p if p.default_alias == alias else p.replace(default_alias=alias)


def exported(profile: Profile, aliases: Sequence[str] = ()) -> str:
    """`conn export`: the profile (or some aliases) as TOML, plain secrets left out."""
    import tomli_w

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


def _without_secrets(table: Any) -> Any:
    if not isinstance(table, dict):
        return table
    return {k: v for k, v in table.items() if k not in SECRET_KEYS}


def warn_if_plain(configs: dict[str, AliasConfig]) -> None:
    """Warn of each alias that keeps a plain secret in the profile."""
    for alias, config in configs.items():
        if config.has_plain_secret:
            warn(
                f"alias {alias!r} keeps a plain password or token in the profile; "
                "prefer --password-env / --token-env",
                PlainSecretWarning,
            )
