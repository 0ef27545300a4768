"""A `uri` naming a local `.db` file: an in-process Milvus Lite, as pymilvus starts one.

The server lives in this Python process (milvus-lite's server manager stops it at
exit), so it is a library feature only; the CLI refuses such URIs with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib import parse

from .address import NETWORK_SCHEMES
from .errors import ConnectionConfigException

INSTALL_HINT = "pip install 'milvus-conn[lite]'"


def is_local_db(uri: object) -> bool:
    """A string ending in `.db` whose scheme is not a network one."""
    if not isinstance(uri, str) or not uri.endswith(".db"):
        return False
    return parse.urlparse(uri).scheme.lower() not in NETWORK_SCHEMES


def started(given: dict[str, Any]) -> bool:
    """`connect`'s keywords name a local Milvus Lite file as `uri`: start it here, and the
    uri becomes its address."""
    if not is_local_db(given.get("uri")):
        return False
    given["uri"] = start(given["uri"])
    return True


def start(uri: str) -> str:
    """Start (or reuse) the Milvus Lite server for this file; return its `http://` URI."""
    parent = Path(uri).expanduser().absolute().parent
    if not parent.is_dir():
        raise ConnectionConfigException(f"Open local milvus failed, dir: {parent} not exists")
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError as exc:
        raise ConnectionConfigException(
            f"a .db uri needs milvus-lite, which is not installed: {INSTALL_HINT}"
        ) from exc
    local_uri = server_manager_instance.start_and_get_uri(str(Path(uri).expanduser()))
    if local_uri is None:
        raise ConnectionConfigException(f"Open local milvus failed for {uri}")
    return str(local_uri)
