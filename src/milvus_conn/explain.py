"""`conn addr ALIAS --explain`: each resolved setting and where it came from.

Sources: `flag` (an option given to `conn connect --explain`), `profile:PATH` (stored
for the alias in that file: with layered profiles, the one whose definition wins), `uri`
(read from the alias's URI: address, TLS from https, user, db_name from the path),
`env:NAME` (an environment variable: `$MILVUS_URI` outranks a stored alias, as in
pymilvus; `$MILVUS_CONN_TIMEOUT`; secret variables), or `default`.
Secrets are shown only as "set" or "unset".
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from . import address as addr
from .config import SECRET_KEYS, AliasConfig, default_timeout
from .credentials import SECRET_KINDS, resolve_secret
from .errors import ProfileException

_FROM_URI = ("address", "secure", "user", "db_name")
_HIDDEN = {*SECRET_KEYS, "password_env", "token_env", "extra"}


def explain(
    alias: str,
    config: AliasConfig,
    *,
    stored: bool,
    base_dir: Path,
    origin: str = "uri",
    flags: Collection[str] = (),
    stored_in: str = "profile",
) -> dict[str, Any]:
    """{field: {"value": ..., "source": ...}} for the settings `connect` would use.

    `config` is already resolved; `origin` names where its URI came from (`uri` for
    the alias's own, `env:MILVUS_URI`, or `flag`), `flags` the fields given as options,
    and `stored` whether the rest came from the profile (`stored_in` names the file)."""
    parsed = addr.parse_uri(config.uri) if config.uri else None
    defaults = AliasConfig(address=config.address)
    report: dict[str, Any] = {}
    for name in AliasConfig._fields:
        if name in _HIDDEN:
            continue
        value = getattr(config, name)
        from_uri = parsed is not None and _from_uri(name, value, parsed)
        if from_uri or (name == "uri" and origin != "uri"):
            source = origin
        elif name in flags:
            source = "flag"
        elif name != "address" and value == getattr(defaults, name):
            source = "default"
        else:
            source = stored_in if stored else "default"
        report[name] = {"value": value, "source": source}
    report["db_name"]["value"] = config.db_name or "default"
    report["timeout"] = (
        {"value": config.timeout, "source": "flag"}
        if "timeout" in flags
        else (_timeout(config, stored_in if stored else ""))
    )
    for key, path in config.resolved_tls_paths(base_dir).items():
        report[key]["value"] = path
    for kind in SECRET_KINDS:
        report[kind] = _secret(alias, config, kind)
        if report[kind]["source"] == "profile":  # in the file, or inside a URI
            report[kind]["source"] = stored_in if stored else origin
    return report


def _from_uri(name: str, value: object, parsed: addr.ParsedAddress) -> bool:
    if name not in _FROM_URI:
        return False
    if name == "address":
        return True
    if name == "secure":
        return parsed.secure and value is True
    return bool(value) and getattr(parsed, name) == value


def _timeout(config: AliasConfig, stored_in: str) -> dict[str, Any]:
    if config.timeout is not None:
        return {"value": config.timeout, "source": stored_in or "default"}
    if os.environ.get("MILVUS_CONN_TIMEOUT"):
        return {"value": default_timeout(), "source": "env:MILVUS_CONN_TIMEOUT"}
    return {"value": default_timeout(), "source": "default"}


def _secret(alias: str, config: AliasConfig, kind: str) -> dict[str, Any]:
    try:
        value, source = resolve_secret(alias, config, kind)
    except ProfileException:
        return {"value": "unset", "source": f"env:{getattr(config, f'{kind}_env')} (not set)"}
    return {"value": "set" if value else "unset", "source": source if value else "default"}
