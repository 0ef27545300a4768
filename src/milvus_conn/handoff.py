"""Hand an alias to pymilvus's MilvusClient / AsyncMilvusClient.

MilvusClient has no named connections, and pymilvus 3.x deprecates `connections` (to be
removed in 3.1): this is how code keeps its aliases. pymilvus stays optional; without
it the error names the extra that brings it.
"""

from __future__ import annotations

from typing import Any

EXTRA = "pip install 'milvus-conn[pymilvus]'"


def pymilvus_class(name: str) -> Any:
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
