"""gRPC itself: imported on first use only, and the one place a channel is opened.

Offline commands never import grpc (a guard test checks it), so nothing here runs at
import time. TLS files are read when the channel is opened: an unreadable one is an
OSError for the caller to name (the registry says "cannot read TLS file").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc

    from .health import Target


def load_grpc() -> Any:
    """grpc, imported on first use. The library leaves the process's environment alone:
    the CLI's main() keeps grpc's C-core logging off its user's stderr."""
    import grpc

    return grpc


def open_channel(target: Target) -> grpc.Channel:
    """A channel to `target`; TLS files are read here (OSError if unreadable)."""
    grpc = load_grpc()
    if not target.secure:
        return grpc.insecure_channel(target.address)
    root = (
        Path(target.ca_pem_path or target.server_pem_path).read_bytes()
        if (target.ca_pem_path or target.server_pem_path)
        else None
    )
    key = Path(target.client_key_path).read_bytes() if target.client_key_path else None
    chain = Path(target.client_pem_path).read_bytes() if target.client_pem_path else None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=chain
    )
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    return grpc.secure_channel(target.address, credentials, options=options)
