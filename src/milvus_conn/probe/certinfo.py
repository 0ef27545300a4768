"""The server certificate of a TLS target: subject, issuer, days until it expires.

gRPC does not hand a client its peer's certificate, so this makes one more TLS
handshake with the standard library, verifying nothing (it describes; the probe
judges), offering the client certificate when there is one, and reads the fields
with the ssl module's own decoder (`decode_certificate_file`, the one private API of
the standard library conn leans on, at the end with its reason). Part of the health
core; `CertInfo` itself lives with the other results (results.py).
"""

import contextlib
import os
import time
from typing import Any

from .results import CertInfo

_SECONDS_PER_DAY = 86400


def _name(rdns: Any) -> str:
    """(('commonName', 'localhost'),), ... → 'CN=localhost, O=...'."""
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
    parts = [f"{short.get(k, k)}={v}" for rdn in rdns for k, v in rdn]
    return ", ".join(parts)


def describe_der(der: bytes, now: float | None = None) -> CertInfo:
    """Decode a DER certificate with the ssl module's decoder (it reads only files)."""
    import ssl  # here, not at import: most commands never need it
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ssl.DER_cert_to_PEM_cert(der))
        return describe_file(path, now)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def describe_file(path: str, now: float | None = None) -> CertInfo:
    """The first certificate of a PEM file (`conn doctor`); ssl.SSLError if there is none."""
    import ssl

    fields = decode_certificate_file(path)
    not_after = fields["notAfter"]
    left = ssl.cert_time_to_seconds(not_after) - (time.time() if now is None else now)
    return CertInfo(
        subject=_name(fields.get("subject", ())),
        issuer=_name(fields.get("issuer", ())),
        not_after=not_after,
        expires_in_days=int(left // _SECONDS_PER_DAY),
    )


def _no_pass() -> bytes:
    raise ValueError("an encrypted key: conn never prompts for a pass phrase")


def peer_certificate(
    address: str,
    timeout: float,
    *,
    server_name: str = "",
    client_pem_path: str = "",
    client_key_path: str = "",
) -> CertInfo | None:
    """The certificate a TLS server at `host:port` presents, or None if none could be had."""
    import socket
    import ssl

    host, _, port = address.rpartition(":")
    if not host or address.startswith("unix:"):
        return None
    if host.startswith("[") and host.endswith("]"):  # an IPv6 literal: `[::1]:19530`
        host = host[1:-1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        if client_pem_path:  # never OpenSSL's pass phrase prompt: an encrypted key fails
            context.load_cert_chain(client_pem_path, client_key_path or None, password=_no_pass)
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=server_name or host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        return describe_der(der) if der else None
    except (OSError, ssl.SSLError, ValueError, KeyError):
        return None


def decode_certificate_file(path: str) -> dict[str, Any]:
    """The fields of the first certificate in a PEM file, as `SSLSocket.getpeercert()`
    gives them for a verified peer.

    The standard library has no public decoder for a certificate it did not verify;
    `ssl._ssl._test_decode_cert` is the one `getpeercert()` uses (and CPython's tests).
    The public replacement is the `cryptography` package (`x509.load_pem_x509_certificate`),
    a compiled dependency conn does not otherwise need."""
    import ssl  # here: most commands never need it

    return ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined,no-any-return]
