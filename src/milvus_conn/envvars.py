"""`conn env`: the variables pymilvus really reads, and nothing it does not.

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

from urllib import parse

from .address import parse_uri
from .config import AliasConfig
from .errors import ConnectionConfigException


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


def _uri(config: AliasConfig, user: str, secret: str) -> str:
    if config.address.startswith("unix:"):
        return config.address
    userinfo = f"{user}:{secret}" if secret else user
    uri = f"{'https' if config.secure else 'http'}://{userinfo + '@' if userinfo else ''}"
    uri += config.address
    if config.db_name and config.db_name != "default":
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
