"""Hand an alias to pymilvus: MilvusClient / AsyncMilvusClient keywords, and `conn env`.

MilvusClient has no named connections, and pymilvus 3.x deprecates `connections` (to be
removed in 3.1): this is how code keeps its aliases. pymilvus stays optional; without
it the error names the extra that brings it.

`conn env` exports the variables pymilvus really reads, and nothing it does not.
pymilvus (checked against its source) reads three variables, once, when it is
imported: `MILVUS_URI` (the address, `user:password@`, https for TLS; only its
`connections` reads it, and not the `/db_name` path), `MILVUS_CONN_ALIAS` (the name of
its default alias) and `MILVUS_CONN_TIMEOUT`. MilvusClient reads no environment at all:
it is handed the URI, `MilvusClient(uri=os.environ["MILVUS_URI"])`, and then reads the
user, password and `/db_name` from it. There is no MILVUS_TOKEN, and no variable for TLS
files. Neither reader URL-decodes the user or password, so they are written as they are,
and refused where they could not be read back exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib import parse

from . import address as addr
from .address import parse_uri
from .config import AliasConfig
from .errors import ConnectionConfigException

if TYPE_CHECKING:
    from .resolve import Resolved

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


def make(name: str, kwargs: Callable[[], dict[str, Any]], overrides: dict[str, Any]) -> Any:
    """`pymilvus.<name>(**kwargs())`, `overrides` laid over; a missing pymilvus is told
    before the alias is looked up."""
    found = pymilvus_class(name)
    return found(**{**kwargs(), **overrides})


def client_kwargs(resolved: Resolved) -> dict[str, Any]:
    """What `pymilvus.MilvusClient(**kwargs)` needs to reach the alias, secrets included."""
    refuse_ipv6(resolved.alias, resolved.config)
    config, credentials = resolved.config, resolved.credentials
    kwargs: dict[str, Any] = {
        "uri": _uri(config, "", "", with_db=False),  # db_name is its own keyword
        "user": credentials.user,
        "password": credentials.password,
        "token": credentials.token,
        "db_name": credentials.db_name,
        "timeout": config.effective_timeout,
    }
    if config.secure:
        kwargs.update(resolved.target._asdict())
        kwargs.pop("address")
    return {k: v for k, v in kwargs.items() if v not in ("", None)}


def environment(resolved: Resolved, *, with_secrets: bool = False) -> dict[str, str]:
    """`conn env`: the variables for a resolved alias; secrets only when asked."""
    refuse_ipv6(resolved.alias, resolved.config)
    if not with_secrets:
        return variables(resolved.alias, resolved.config)
    secrets = resolved.credentials
    return variables(resolved.alias, resolved.config, secrets.password, secrets.token)


def refuse_ipv6(alias: str, config: AliasConfig) -> None:
    """pymilvus cannot reach an IPv6 address: refused here rather than failing there."""
    if addr.is_ipv6(config.address):
        raise addr.pymilvus_refusal(alias, config.address)


def variables(
    alias: str, config: AliasConfig, password: str = "", token: str = ""
) -> dict[str, str]:
    """The exports for `alias`; secrets only as given (the caller resolves them when asked).

    A token of the form `user:password` goes into the URI's user part: pymilvus sends
    `user:password` from the URI exactly as it sends such a token. Any other token
    (an API key) has no variable pymilvus reads, so it is refused, not dropped."""
    user, secret = config.user, password
    if token:
        user, colon, secret = token.partition(":")
        if not colon:
            raise ConnectionConfigException(
                f"alias {alias!r} authenticates with a token, and pymilvus reads no token from "
                f"the environment (there is no MILVUS_TOKEN): in Python use "
                f"milvus_conn.client({alias!r}); or leave out --with-secrets"
            )
    uri = _uri(config, user, secret)
    if not _reads_back(uri, user, secret):
        raise ConnectionConfigException(
            f"alias {alias!r}: its user name or password has a character (/ ? # % [ ] or a "
            "control character) that pymilvus cannot read back from MILVUS_URI, since it does "
            f"not URL-decode it: in Python use milvus_conn.client({alias!r})"
        )
    return {
        "MILVUS_URI": uri,
        "MILVUS_CONN_ALIAS": alias,
        "MILVUS_CONN_TIMEOUT": f"{config.effective_timeout:g}",
    }


def _uri(config: AliasConfig, user: str, secret: str, *, with_db: bool = True) -> str:
    if config.address.startswith("unix:"):
        return config.address
    userinfo = f"{user}:{secret}" if secret else user
    uri = f"{'https' if config.secure else 'http'}://{userinfo + '@' if userinfo else ''}"
    uri += config.address
    if with_db and config.db_name and config.db_name != "default":
        uri += "/" + parse.quote(config.db_name, safe="")
    return uri


def _reads_back(uri: str, user: str, secret: str) -> bool:
    """pymilvus (urlparse, no decoding) and conn itself both find exactly `user`/`secret`."""
    if not (user or secret) or uri.startswith("unix:"):
        return True
    try:
        theirs = parse.urlparse(uri)
        ours = parse_uri(uri)
        found = (theirs.username or "", theirs.password or "", ours.user, ours.password)
    except (ValueError, ConnectionConfigException):
        return False
    return found == (user, secret, user, secret)
