"""Where an alias's password and token come from, in the order `connect` looks.

1. the value passed explicitly (`connect(password=...)`, `--password-stdin`);
2. `CONN_<ALIAS>_PASSWORD` / `CONN_<ALIAS>_TOKEN` (alias upper-cased, other characters `_`);
3. the variable the profile names (`password_env`, `token_env`); unset is an error;
4. a plain `password` / `token` in the profile.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from .config import AliasConfig
from .errors import ProfileException

SECRET_KINDS = ("password", "token")


def override_variable(alias: str, kind: str) -> str:
    return f"CONN_{re.sub(r'[^A-Z0-9]', '_', alias.upper())}_{kind.upper()}"


def resolve_secret(
    alias: str,
    config: AliasConfig,
    kind: str,
    explicit: str = "",
    env: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(value, source): source is `explicit`, `env:NAME`, `profile` or `unset`. `env` is
    the environment to read (the process's unless given)."""
    env = os.environ if env is None else env
    if explicit:
        return explicit, "explicit"
    override = override_variable(alias, kind)
    if env.get(override):
        return env[override], f"env:{override}"
    variable = getattr(config, f"{kind}_env")
    if variable:
        if variable not in env:
            raise ProfileException(
                f"alias {alias!r}: {kind}_env names ${variable}, which is not set in the "
                "environment"
            )
        return env[variable], f"env:{variable}"
    plain = getattr(config, kind)
    return (plain, "profile") if plain else ("", "unset")
