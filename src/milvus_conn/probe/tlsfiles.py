"""The TLS files of a target, read and checked before any connection is made.

The one place conn reads a CA, a server certificate, a client certificate or a client
key: channel.py before it opens a secure channel, `list --check` before its fan-out, and
`conn doctor`. Each file is read with bounds (untrusted.read_bounded: a regular file, at most
TLS_FILE_LIMIT bytes), must hold PEM of its kind, and a client key must not be encrypted:
OpenSSL would ask for the pass phrase on the terminal, and a probe never waits for input.
Every refusal is a `TLSFileError` (exit 2) whose message names the option and the path.

Part of the health core, and loaded by the offline `conn doctor` too: the standard
library's base64 only, never ssl.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up.
import binascii
import re
from typing import NamedTuple

from ..errors import ConnectionConfigException
from ..untrusted import TLS_FILE_LIMIT, UnreadableFile, read_bounded
from .endpoint import Target

# Each TLS setting and the option that sets it, in the order conn reads them.
OPTIONS = {
    "ca_pem_path": "--ca-pem-path",
    "server_pem_path": "--server-pem-path",
    "client_pem_path": "--client-pem-path",
    "client_key_path": "--client-key-path",
}
KEY = "client_key_path"

# What a problem is, for callers that say more than the message (doctor's fixes).
MISSING, UNREADABLE, NOT_PEM, ENCRYPTED = "missing", "unreadable", "not PEM", "encrypted"

_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)  # fmt: skip
_CERTIFICATE_LABELS = {b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"}
_DER_SEQUENCE = 0x30  # every certificate and key is an ASN.1 SEQUENCE


class TLSFileError(ConnectionConfigException):
    """A TLS file conn will not hand to OpenSSL; `problem` is one of the kinds above."""

    problem: str = ""


def _refused(key: str, path: str, problem: str, reason: str) -> TLSFileError:
    joined = f": {reason}" if problem in (MISSING, UNREADABLE) else f" {reason}"
    error = TLSFileError(f"{OPTIONS[key]} {path}{joined}")
    error.problem = problem
    return error


class TLSMaterial(NamedTuple):
    """What grpc.ssl_channel_credentials takes, read and checked."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None


def read_tls_files(target: Target) -> TLSMaterial:
    """The files a secure channel to `target` needs (the CA, else the server's
    certificate, as trust; the client pair for mutual TLS); TLSFileError if one is
    unreadable, not PEM or an encrypted key."""
    trusted = ("ca_pem_path", target.ca_pem_path) if target.ca_pem_path else (
        "server_pem_path", target.server_pem_path)  # fmt: skip
    return TLSMaterial(
        read_tls_file(*trusted) if trusted[1] else None,
        read_tls_file(KEY, target.client_key_path) if target.client_key_path else None,
        read_tls_file("client_pem_path", target.client_pem_path)
        if target.client_pem_path
        else None,
    )


def read_tls_file(key: str, path: str) -> bytes:
    """The bytes of the file `key` (a name of OPTIONS) names, once checked."""
    try:
        data = read_bounded(path, TLS_FILE_LIMIT)
    except UnreadableFile as exc:
        raise _refused(key, path, MISSING if exc.missing else UNREADABLE, exc.reason) from None
    blocks = _pem_blocks(data)
    if key == KEY:
        keys = [(label, body) for label, body in blocks if label.endswith(b"PRIVATE KEY")]
        if not keys:
            raise _refused(key, path, NOT_PEM, "is not a PEM private key")
        if any(_encrypted(label, body) for label, body in keys):
            raise _refused(
                key, path, ENCRYPTED, "is encrypted; conn cannot prompt for its pass phrase"
            )
    elif not any(label in _CERTIFICATE_LABELS for label, _ in blocks):
        raise _refused(key, path, NOT_PEM, "is not a PEM certificate")
    return data


def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Each well-formed PEM block as (label, the text between its armour lines); text
    around the blocks (`Bag Attributes`, comments) is ignored, as OpenSSL ignores it."""
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(data) if _decodes(m.group(2))]


def _decodes(body: bytes) -> bool:
    """The body is base64 of DER (of ciphertext, after RFC 1421 headers such as
    `Proc-Type: 4,ENCRYPTED` and a blank line)."""
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    headers = b":" in lines[0]
    if headers:
        lines = lines[lines.index(b"") + 1 :] if b"" in lines else []
    text = b"".join(line.strip() for line in lines)
    if re.fullmatch(rb"[A-Za-z0-9+/]+={0,2}", text) is None:
        return False
    try:
        der = binascii.a2b_base64(text)
    except binascii.Error:
        return False
    return bool(der) and (headers or der[0] == _DER_SEQUENCE)


def _encrypted(label: bytes, body: bytes) -> bool:
    """PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`."""
    return label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in body
