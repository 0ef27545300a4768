"""Turning `address`, `uri` or `host`/`port` into one normalised target.

Priority follows pymilvus's `Connections.__get_full_address` (address > uri > host/port),
and so do its message texts where they are right. The differences are deliberate:

- IPv6 is accepted in every form (`[::1]:19530`, `http://[::1]:19530/db`, host `::1` or
  `[::1]`) and stored as `[compressed]:port`, the target form grpcio reads;
- host names that are not ASCII become IDNA (`bücher.example` → `xn--bcher-kva.example`);
- the port range is 1-65535 (pymilvus accepts 0 and rejects 65535);
- an error names the problem (`'[::1:19530' is not a valid address: missing ']'`), and
  quotes the input with any password in it replaced by `***`.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
import re
from typing import NamedTuple
from urllib import parse

from .errors import ConnectionConfigException

DEFAULT_HOST = "localhost"
DEFAULT_PORT = "19530"
HTTPS_PORT = "443"
NETWORK_SCHEMES = ("http", "https", "tcp", "grpc", "unix")
_ILLEGAL_URI = "Illegal uri: [{}], expected form 'http[s]://[user:password@]example.com[:12345]'"
_ILLEGAL_ADDRESS = "Illegal address: {}, should be in form 'localhost:19530'"
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
_SHOWN_MAX = 200  # characters of an input quoted in a message
ZONE_REFUSED = (
    "a zone-scoped link-local address cannot be used: grpcio's target names and the "
    "URIs pymilvus reads have no reliable way to carry the zone; use the server's "
    "global or unique-local address, or a host name"
)


def shown(value: object) -> str:
    """A value as it may appear in a one-line message: control characters escaped."""
    return value if isinstance(value, str) and value.isprintable() else repr(value)


def redact(text: str) -> str:
    """`scheme://user:secret@host` → `scheme://user:***@host`. Errs on the side of hiding:
    everything up to the last `@` counts as user info, however malformed the rest."""
    head, sep, rest = text.partition("://")
    if not sep:
        head, rest = "", text
    if "@" not in rest:
        return text
    userinfo, _, tail = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{head}{sep}{user}{':***' if colon else ''}@{tail}"


def _safe(value: object) -> str:
    """An input as a message may show it: password hidden, long values cut."""
    if not isinstance(value, str):
        return repr(value)
    text = redact(value)
    return f"{text[:_SHOWN_MAX]}..." if len(text) > _SHOWN_MAX else text


def quoted(value: object) -> str:
    """An input quoted in a message, as `_safe`, control characters escaped."""
    return repr(_safe(value)) if isinstance(value, str) else repr(value)


def unquoted(value: object) -> str:
    """As `quoted`, without quotes unless control characters need escaping (pymilvus's
    own messages put inputs in brackets)."""
    return shown(_safe(value)) if isinstance(value, str) else repr(value)


def _bad(value: object, kind: str, problem: str) -> ConnectionConfigException:
    return ConnectionConfigException(f"{quoted(value)} is not a valid {kind}: {problem}")


class ParsedAddress(NamedTuple):
    """A normalised `host:port` (or `unix:path`) plus what the URI carried besides."""

    address: str
    secure: bool = False
    user: str = ""
    password: str = ""
    db_name: str = ""


def is_ipv6(address: str) -> bool:
    """Whether a normalised address names an IPv6 literal (`[::1]:19530`)."""
    return address.startswith("[")


def host_of(address: str) -> str:
    """The host of a normalised address, without brackets: what a socket connects to."""
    host = address.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host


def _ipv6(text: str, value: object, kind: str) -> str:
    """The compressed form of an IPv6 literal written without its brackets."""
    import ipaddress  # here: only IPv6 input pays for it

    if "%" in text:
        raise _bad(value, kind, ZONE_REFUSED)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        if "." in text and ":" not in text:
            raise _bad(value, kind, "brackets are for IPv6 addresses only") from None
        raise _bad(value, kind, f"{text!r} is not an IPv6 address") from None
    if address.ipv4_mapped is not None:  # RFC 5952 5: dotted, on every Python (3.13 is)
        return f"::ffff:{address.ipv4_mapped}"
    return address.compressed


def _host_name(text: str, value: object, kind: str) -> str:
    """A host name as given; one that is not ASCII converted to IDNA."""
    if not text:
        raise _bad(value, kind, "missing host")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _bad(value, kind, f"the host name cannot be written in IDNA ({exc})") from None
    if _HOST_NAME.fullmatch(text) is None:
        odd = next((c for c in text if not (c.isalnum() or c in "._-")), "")
        problem = (
            f"{odd!r} cannot appear in a host name" if odd else "a host name has no empty labels"
        )
        raise _bad(value, kind, problem)
    return text


def normalise_host(host: object, kind: str = "host", value: object = None) -> str:
    """A host as it goes into `host:port`: an IPv6 literal bracketed and compressed.
    `value` is the whole input the host came from, quoted in errors."""
    if not isinstance(host, str):
        raise ConnectionConfigException("Type of 'host' must be str.")
    value = host if value is None else value
    if host.startswith("[") or host.endswith("]"):
        if not host.startswith("["):
            raise _bad(value, kind, "missing '['")
        if not host.endswith("]") or len(host) < 2:
            raise _bad(value, kind, "missing ']'")
        return f"[{_ipv6(host[1:-1], value, kind)}]"
    if ":" in host:
        if host.count(":") == 1:
            raise _bad(value, kind, "a host has no port: give the port separately")
        return f"[{_ipv6(host, value, kind)}]"
    return _host_name(host, value, kind)


def _port(text: str, value: object, kind: str) -> int:
    """The port of an address or URI, checked without quoting it (it may be part of a
    password that was not percent-encoded)."""
    if not (text.isascii() and text.isdigit()):
        raise _bad(value, kind, "the port is not a number" if text else "missing port")
    number = int(text) if len(text.lstrip("0")) <= 5 else 0x10000
    if not 1 <= number <= 65535:
        raise _bad(value, kind, f"port {text.lstrip('0') or 0} out of range (1-65535)")
    return number


def _looks_ipv6(text: str) -> bool:
    """`::1` or `::1:19530` (a port after an unbracketed literal)."""
    import ipaddress

    for candidate in (text, text.rpartition(":")[0]):
        try:
            ipaddress.IPv6Address(candidate.partition("%")[0])
        except ValueError:
            continue
        return True
    return False


def _split(text: str, value: object, kind: str) -> tuple[str, str]:
    """`host:port`, `[v6]:port`, `host` or `[v6]` → (host, port text, "" if none)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _bad(value, kind, "missing ']'")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _bad(value, kind, f"{rest[0]!r} after ']' (a port is written ']:19530')")
        return host, rest[1:] if rest else ""
    if "]" in text:
        raise _bad(value, kind, "missing '['")
    if text.count(":") > 1:
        if not _looks_ipv6(text) and kind == "address":
            raise ConnectionConfigException(_ILLEGAL_ADDRESS.format(unquoted(value)))
        raise _bad(value, kind, "an IPv6 address needs brackets, as in '[::1]:19530'")
    host, _, port = text.partition(":")
    return host, port


def parse_address(address: object) -> ParsedAddress:
    """`host:port`, `[ipv6]:port`, or `unix:/path/to/socket`."""
    if isinstance(address, str) and address.startswith("unix:") and len(address) > 5:
        return ParsedAddress(address)
    if not isinstance(address, str) or not address.isprintable() or ":" not in address:
        # pymilvus's words, right for these (the commonest slip: no port at all)
        raise ConnectionConfigException(_ILLEGAL_ADDRESS.format(unquoted(address)))
    host, port = _split(address, address, "address")
    if not host:
        raise _bad(address, "address", "missing host")
    if not port:
        raise _bad(address, "address", f"missing port, as in '{host}:19530'")
    number = _port(port, address, "address")
    return ParsedAddress(f"{normalise_host(host, 'address', address)}:{number}")


def canonical(address: str) -> str:
    """A stored address in its normalised form. Only IPv6 and non-ASCII hosts can differ,
    so other addresses skip the parse (profiles of thousands of aliases)."""
    if address.startswith("[") or not address.isascii():
        return parse_address(address).address
    return address


def parse_uri(uri: object) -> ParsedAddress:
    """`http[s]://[user:password@]host[:port][/db_name]`, `tcp://`, `grpc://` or `unix:`."""
    if not isinstance(uri, str) or not uri.isprintable():  # urlparse drops \t and \n silently
        raise ConnectionConfigException(_ILLEGAL_URI.format(unquoted(uri)))
    if uri.startswith("unix:"):
        return parse_address(uri)
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in NETWORK_SCHEMES:
        raise ConnectionConfigException(_ILLEGAL_URI.format(unquoted(uri)))
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in tail:
        raise _bad(uri, "uri", "'@' after the host: percent-encode the password ('/' is %2F)")
    if not authority:
        raise ConnectionConfigException(_ILLEGAL_URI.format(unquoted(uri)))
    userinfo, _, hostport = authority.rpartition("@")
    secure = scheme.lower() == "https"
    host, port = _split(hostport, uri, "uri")
    number = _port(port, uri, "uri") if port else int(HTTPS_PORT if secure else DEFAULT_PORT)
    host = normalise_host(host, "uri", uri) if host else DEFAULT_HOST  # pymilvus: none → localhost
    user, _, password = userinfo.partition(":")
    return ParsedAddress(
        address=f"{host}:{number}",
        secure=secure,
        user=parse.unquote(user),
        password=parse.unquote(password),
        db_name=_db_name(tail, uri),
    )


def _db_name(tail: str, uri: str) -> str:
    """The one path segment a Milvus URI may have: the database's name."""
    if "?" in tail or "#" in tail:
        raise _bad(uri, "uri", "a query or fragment ('?...', '#...') means nothing to Milvus")
    segments = [segment for segment in tail.split("/") if segment]
    if len(segments) > 1:
        raise _bad(uri, "uri", "only one path segment is allowed: the database name")
    return parse.unquote(segments[0]) if segments else ""


def _port_value(port: object) -> str:
    """A `port` keyword: an int, or a string of digits."""
    if isinstance(port, bool) or not isinstance(port, (str, int)):
        raise ConnectionConfigException("Type of 'port' must be str or int.")
    text = str(port)
    if text.startswith("-") and text[1:].isdigit():
        raise ConnectionConfigException(f"port {text} out of range (1-65535)")
    if not (text.isascii() and text.isdigit()):
        raise ConnectionConfigException(f"port {quoted(port)} is not a number")
    if len(text.lstrip("0")) > 5 or not 1 <= int(text) <= 65535:
        shown_port = text if len(text) <= 20 else f"{text[:20]}..."
        raise ConnectionConfigException(f"port {shown_port} out of range (1-65535)")
    return str(int(text))


def parse_host_port(host: object = "", port: object = "") -> ParsedAddress:
    host = host if host not in ("", None) else DEFAULT_HOST
    port = port if port not in ("", None) else DEFAULT_PORT
    name = normalise_host(host)
    return ParsedAddress(f"{name}:{_port_value(port)}")


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
    head, sep, rest = uri.partition("://")
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority = rest[:cut]
    if not sep or "@" not in authority:
        return uri
    userinfo, _, hostport = authority.rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{head}{sep}{user + '@' if user else ''}{hostport}{rest[cut:]}"


def pymilvus_refusal(alias: str, address: str) -> ConnectionConfigException:
    """pymilvus (3.0 and earlier) cannot reach an IPv6 literal: `connections` refuses it
    and `MilvusClient` drops the brackets from the URI and dials `::1:19530`
    (milvus-io/pymilvus#2266). Say so rather than hand over a URI it misreads."""
    return ConnectionConfigException(
        f"alias {alias!r} is at the IPv6 address {address}, which pymilvus cannot reach yet "
        "(it drops the brackets: milvus-io/pymilvus#2266); give the server a host name "
        "that resolves to it (DNS or /etc/hosts) and point an alias at that name"
    )
