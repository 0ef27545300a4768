"""gRPC itself: imported on first use only, and the one place a channel is opened.

Offline commands never import grpc (a guard test checks it), so nothing here runs at
import time. TLS files are read and checked (tlsfiles.py) before a secure channel is
opened: a file that cannot be used is a TLSFileError (exit 2), before any connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc

    from .endpoint import Target


def load_grpc() -> Any:
    """grpc, imported on first use. The library leaves the process's environment alone:
    the CLI's main() keeps grpc's C-core logging off its user's stderr."""
    import grpc

    return grpc


def open_channel(target: Target) -> grpc.Channel:
    """A channel to `target`; its TLS files are read and checked first (TLSFileError)."""
    grpc = load_grpc()
    if not target.secure:
        return grpc.insecure_channel(target.address)
    from .tlsfiles import read_tls_files

    credentials = grpc.ssl_channel_credentials(*read_tls_files(target))
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    return grpc.secure_channel(target.address, credentials, options=options)


@contextmanager
def core_kept_up() -> Iterator[None]:
    """grpc's core kept initialised for the block. gRPC starts its core (a handful of
    threads) when a process opens its first channel and stops it when the last one
    closes, so a process that probes on fresh channels, one at a time, starts and stops
    it on every probe: half a millisecond of CPU, more from a thread other than the main
    one. A channel that is never used (and so never connects) keeps the core up; each
    probe still opens its own channel and connection. `conn exporter` serves inside this
    (bench row 8a)."""
    idle = load_grpc().insecure_channel(_NEVER_USED)
    try:
        yield
    finally:
        idle.close()


_NEVER_USED = "127.0.0.1:9"  # a channel connects on its first call only: this one makes none
