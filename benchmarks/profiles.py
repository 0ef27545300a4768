"""Profiles written as TOML directly, so generating 10,000 aliases costs conn nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

Table = dict[str, object]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_profile(path: Path, aliases: Iterable[tuple[str, Table]]) -> Path:
    lines = ["version = 1", ""]
    for alias, table in aliases:
        lines.append(f"[connections.{_value(alias)}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    os.chmod(path, 0o600)
    return path


def varied(n: int, address: Callable[[int], str], prefix: str = "alias") -> list[tuple[str, Table]]:
    """`n` aliases with the settings real profiles have: some users, databases, timeouts."""
    aliases = []
    for i in range(n):
        table: Table = {"address": address(i)}
        if i % 3 == 0:
            table["user"] = f"user{i % 7}"
        if i % 5 == 0:
            table["db_name"] = f"db{i % 11}"
        if i % 2 == 0:
            table["timeout"] = 5.0
        aliases.append((f"{prefix}-{i:05d}", table))
    return aliases


def spread(i: int) -> str:
    """Loopback addresses on many ports (never contacted by the commands that list them)."""
    return f"127.0.0.1:{20000 + i % 40000}"
