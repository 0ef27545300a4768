"""Hand an alias to pymilvus's MilvusClient / AsyncMilvusClient.

MilvusClient has no named connections, and pymilvus 3.x deprecates `connections` (to be
removed in 3.1): this is how code keeps its aliases. pymilvus stays optional; without
it the error names the extra that brings it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pymilvus is optional: only type checkers need its names here
    from pymilvus import AsyncMilvusClient, MilvusClient

EXTRA = "pip install 'milvus-conn[pymilvus]'"


def _pymilvus_class(name: str) -> Any:
    """`pymilvus.<name>`, or ImportError naming the extra that installs it."""
    try:
        import pymilvus
    except ImportError as exc:
        raise ImportError(f"{name} needs pymilvus, which is not installed: {EXTRA}") from exc
    found = getattr(pymilvus, name, None)
    if found is None:
        version = getattr(pymilvus, "__version__", "?")
        raise ImportError(f"pymilvus {version} has no {name}: upgrade it ({EXTRA} --upgrade)")
    return found


def milvus_client(kwargs: dict[str, Any]) -> MilvusClient:
    """A MilvusClient built from `Connections.client_kwargs` (plus overrides)."""
    return _pymilvus_class("MilvusClient")(**kwargs)  # type: ignore[no-any-return]


def async_milvus_client(kwargs: dict[str, Any]) -> AsyncMilvusClient:
    """An AsyncMilvusClient built the same way; it connects on first use in the loop."""
    return _pymilvus_class("AsyncMilvusClient")(**kwargs)  # type: ignore[no-any-return]
