"""Turning `address`, `uri` or `host`/`port` into one normalised target, as pymilvus does.

Priority and messages follow pymilvus's `Connections.__get_full_address`; the one
deliberate difference is the port range, 1-65535 (pymilvus accepts 0, rejects 65535).
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
from typing import NamedTuple
from urllib import parse

from .errors import ConnectionConfigException

DEFAULT_HOST = "localhost"
DEFAULT_PORT = "19530"
HTTPS_PORT = "443"
NETWORK_SCHEMES = ("http", "https", "tcp", "grpc", "unix")
_ILLEGAL_URI = "Illegal uri: [{}], expected form 'http[s]://[user:password@]example.com[:12345]'"


def shown(value: object) -> str:
    """A value as it may appear in a one-line message: control characters escaped."""
    return value if isinstance(value, str) and value.isprintable() else repr(value)


class ParsedAddress(NamedTuple):
    """A normalised `host:port` (or `unix:path`) plus what the URI carried besides."""

    address: str
    secure: bool = False
    user: str = ""
    password: str = ""
    db_name: str = ""


def is_legal_host(host: object) -> bool:
    return isinstance(host, str) and len(host) > 0 and ":" not in host and host.isprintable()


def is_legal_port(port: object) -> bool:
    if isinstance(port, bool) or not isinstance(port, (str, int)):
        return False
    try:
        int(port)
    except ValueError:
        return False
    return True


def verify_host_port(host: object, port: object) -> None:
    if not is_legal_host(host):
        raise ConnectionConfigException("Type of 'host' must be str.")
    if not is_legal_port(port):
        raise ConnectionConfigException("Type of 'port' must be str or int.")
    if not 1 <= int(port) <= 65535:  # type: ignore[arg-type]
        raise ConnectionConfigException(
            f"port number {shown(port)} out of range, valid range [1, 65535]"
        )


def _split_address(address: str) -> tuple[str, str] | None:
    parts = address.split(":")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def parse_address(address: object) -> ParsedAddress:
    """`host:port`, or `unix:/path/to/socket`."""
    if isinstance(address, str) and address.startswith("unix:") and len(address) > 5:
        return ParsedAddress(address)
    pair = _split_address(address) if isinstance(address, str) else None
    if pair is None or not is_legal_host(pair[0]) or not is_legal_port(pair[1]):
        raise ConnectionConfigException(
            f"Illegal address: {shown(address)}, should be in form 'localhost:19530'"
        )
    verify_host_port(*pair)
    return ParsedAddress(f"{pair[0]}:{int(pair[1])}")


def parse_uri(uri: object) -> ParsedAddress:
    """`http[s]://[user:password@]host[:port][/db_name]`, `tcp://`, `grpc://` or `unix:`."""
    if not isinstance(uri, str) or not uri.isprintable():  # urlparse drops \t and \n silently
        raise ConnectionConfigException(_ILLEGAL_URI.format(shown(uri)))
    if uri.startswith("unix:"):
        return parse_address(uri)
    try:
        parsed = parse.urlparse(uri)
        port = parsed.port
    except ValueError as exc:
        raise ConnectionConfigException(f"{_ILLEGAL_URI.format(shown(uri))}: {exc}") from None
    if not parsed.netloc or parsed.scheme.lower() not in NETWORK_SCHEMES:
        raise ConnectionConfigException(_ILLEGAL_URI.format(shown(uri)))
    host = parsed.hostname or DEFAULT_HOST
    secure = parsed.scheme.lower() == "https"
    default_port = HTTPS_PORT if secure else DEFAULT_PORT
    port_text = str(port) if port is not None else default_port
    verify_host_port(host, port_text)
    segments = [segment for segment in parsed.path.split("/") if segment]
    return ParsedAddress(
        address=f"{host}:{int(port_text)}",
        secure=secure,
        user=parse.unquote(parsed.username or ""),
        password=parse.unquote(parsed.password or ""),
        db_name=segments[0] if segments else "",
    )


def parse_host_port(host: object = "", port: object = "") -> ParsedAddress:
    host = host if host not in ("", None) else DEFAULT_HOST
    port = port if port not in ("", None) else DEFAULT_PORT
    verify_host_port(host, port)
    return ParsedAddress(f"{host}:{int(port)}")  # type: ignore[arg-type]


def resolve(
    address: object = "", uri: object = "", host: object = "", port: object = ""
) -> ParsedAddress | None:
    """pymilvus priority: address > uri > host/port; None when none is given."""
    if address not in ("", None):
        return parse_address(address)
    if uri not in ("", None):
        return parse_uri(uri)
    if host not in ("", None) or port not in ("", None):
        return parse_host_port(host, port)
    return None


def redact_uri(uri: str) -> str:
    """The URI with any password removed, so it can be stored and shown."""
    try:
        parsed = parse.urlparse(uri)
    except ValueError:
        return uri
    if not parsed.password:
        return uri
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = parsed.username or ""
    return parse.urlunparse(parsed._replace(netloc=f"{user}@{netloc}" if user else netloc))
