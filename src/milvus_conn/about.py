"""`conn --version`: the versions that matter when someone reports a bug.

Read from the installed distributions' metadata, never by importing them: importing
grpcio or pymilvus would cost more than the whole command, and pymilvus imports grpc.
"""

from __future__ import annotations

import sys

# distribution name -> what it is called in the output; None: not installed
DISTRIBUTIONS = {"milvus-conn": "conn", "grpcio": "grpcio", "typer": "typer"}
OPTIONAL = {"pymilvus": "pymilvus", "milvus-lite": "milvus-lite"}


def installed(distribution: str) -> str | None:
    """The installed version of `distribution`, or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """conn, Python, and each dependency's version; optional ones only when installed."""
    found: dict[str, str | None] = {"conn": installed("milvus-conn")}
    python = ".".join(str(part) for part in sys.version_info[:3])
    found["python"] = f"{python} ({sys.implementation.name})"
    for dist, label in DISTRIBUTIONS.items():
        if label != "conn":
            found[label] = installed(dist)
    for dist, label in OPTIONAL.items():
        version = installed(dist)
        if version is not None:
            found[label] = version
    return found


def text(found: dict[str, str | None]) -> str:
    """`conn 0.1.0` first, as `gh --version` starts, then one `name version` per line."""
    lines = [f"conn {found['conn'] or 'unknown'}"]
    lines += [f"{name} {version or 'not installed'}" for name, version in found.items()][1:]
    return "\n".join(lines)
