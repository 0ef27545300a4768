"""gRPC itself: imported on first use only, and the one place a channel is opened.

Offline commands never import grpc (a guard test checks it), so nothing here runs at
import time. TLS files are read and checked (tlsfiles.py) before a secure channel is
opened: a file that cannot be used is a TLSFileError (exit 2), before any connection.
"""

from __future__ import annotations

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
