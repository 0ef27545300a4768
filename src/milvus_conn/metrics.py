"""`conn watch --prometheus FILE`: a node-exporter textfile, rewritten atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .storage.files import atomic_write

if TYPE_CHECKING:
    from .probe.results import HealthResult

TEXTFILE_MODE = 0o644  # read by node-exporter; it holds no secret


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def textfile(alias: str, result: HealthResult) -> str:
    """The three metrics for one alias, in the Prometheus text exposition format."""
    name = _label(alias)
    latency = (result.latency_ms or 0.0) / 1000
    version = _label(result.server_version or "unknown")
    return (
        "# HELP conn_up Whether the alias answered healthy (1) or not (0).\n"
        "# TYPE conn_up gauge\n"
        f'conn_up{{alias="{name}"}} {1 if result.healthy else 0}\n'
        "# HELP conn_latency_seconds Time the last health answer took.\n"
        "# TYPE conn_latency_seconds gauge\n"
        f'conn_latency_seconds{{alias="{name}"}} {latency:.6f}\n'
        "# HELP conn_server_info The server version the alias reports.\n"
        "# TYPE conn_server_info gauge\n"
        f'conn_server_info{{alias="{name}",version="{version}"}} 1\n'
    )


def write_textfile(path: str, alias: str, result: HealthResult) -> None:
    atomic_write(Path(path), textfile(alias, result).encode("utf-8"), TEXTFILE_MODE)
