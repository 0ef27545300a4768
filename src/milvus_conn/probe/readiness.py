"""Readiness: past "healthy", can a job run now, as this user, in this database, on these
collections?

Asked after the health check and the gates, on the same channel, credentials (the
`dbname` metadata included) and deadline. The round trips are fixed:

1. `ShowCollections(db_name)`: the database exists (Milvus 2.3.5 and 2.5 answer code 800
   "database not found", Milvus Lite code 1 "database 'x' does not exist") and these
   credentials may list it; its names say which collections exist.
2. `GetLoadState(collection, db_name)` for each collection asked for, sent together with
   (1): its load state, and proof that the user holds a privilege on it (2.3.5 asks for
   the Load privilege, 2.5 for GetLoadState; both refuse with PERMISSION_DENIED).
3. Only when a collection is still loading: one more `ShowCollections(type=InMemory,
   collection_names=...)` for the loading percentages of all of them.

So: one call for the database (two while something loads), plus one per collection. On
2.3.5 every user may list collections (the built-in `public` role grants
ShowCollections), so a user without privileges passes `--ready` and is refused on a
collection. The core stays a leaf: it knows health results, never aliases or profiles.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations.
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from ..errors import ConnectionConfigException
from ..untrusted import server_text
from . import wire
from .channel import load_grpc
from .request import Probe, ReadySpec
from .results import (
    AUTH_FAILED,
    LOADED,
    LOADING,
    MISSING,
    UNHEALTHY,
    CollectionState,
    HealthResult,
    Readiness,
    state_text,
)

SHOW_COLLECTIONS = "/milvus.proto.milvus.MilvusService/ShowCollections"
GET_LOAD_STATE = "/milvus.proto.milvus.MilvusService/GetLoadState"
_SCHEMAS = {
    SHOW_COLLECTIONS: wire.SHOW_COLLECTIONS_RESPONSE,
    GET_LOAD_STATE: wire.GET_LOAD_STATE_RESPONSE,
}
# common.LoadState, by number (NotExist, NotLoad, Loading, Loaded).
LOAD_STATES = {0: "missing", 1: "not_loaded", 2: "loading", 3: "loaded"}
_DATABASE_NOT_FOUND = 800  # merr.ErrDatabaseNotFound in Milvus 2.3 and 2.5
_NO_DATABASE = re.compile(r"database\b.*\b(not found|does not exist)", re.IGNORECASE)
# common.Status: ErrorCode.PermissionDenied, and merr's auth and privilege codes.
_REFUSED_ERROR_CODES = {3}
_REFUSED_CODES = {1400, 1401, 1402}


def make_spec(collections: Sequence[str] = (), loaded: bool = False) -> ReadySpec:
    """A spec from user input; ConnectionConfigException (exit 2) for `loaded` without a
    collection, or an empty or non-string name."""
    if isinstance(collections, str):
        collections = (collections,)
    for name in collections:
        if not isinstance(name, str) or not name.strip():
            raise ConnectionConfigException(
                f"a collection name must be a non-empty string, not {name!r}"
            )
    if loaded and not collections:
        raise ConnectionConfigException(
            "--loaded needs --collection NAME (which collections must be loaded?)"
        )
    return ReadySpec(tuple(collections), loaded)


class Calls(Protocol):
    """What readiness needs of the probe it extends (health._Checker): the probe, its
    channel, metadata and deadline, and how a failed call reads. A protocol, so that
    readiness and the health core do not import each other."""

    probe: Probe
    channel: Any
    metadata: tuple[tuple[str, str], ...]

    def remaining(self, floor: float = 0.001) -> float: ...

    def failure(self, exc: Any) -> HealthResult: ...


class _NotReady(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_ready(checker: "Calls", result: HealthResult) -> HealthResult:
    """`result` (healthy) held to `checker.probe.ready`: unhealthy naming what is missing,
    auth_failed for a refused permission, else healthy with `ready` filled in."""
    spec = checker.probe.ready
    assert spec is not None
    database = checker.probe.credentials.db_name or "default"
    names = tuple(dict.fromkeys(spec.collections))
    shown = _send(checker, SHOW_COLLECTIONS, _show_request(database))
    asked = {name: _send(checker, GET_LOAD_STATE, _state_request(name, database)) for name in names}
    unknown = Readiness(database, tuple(CollectionState(n, False, MISSING) for n in names))
    try:
        existing = _database(checker, shown, database)
        states = {name: _load_state(checker, future, name) for name, future in asked.items()}
        progress = _progress(checker, database, [n for n, s in states.items() if s == LOADING])
    except _NotReady as exc:
        return result._replace(status=exc.status, reason=exc.reason, ready=unknown)
    except wire.MalformedReply as exc:  # a reply that does not decode
        return result._replace(status=UNHEALTHY, reason=str(exc), ready=unknown)
    found = []
    for name in names:
        state = MISSING if name not in existing else states[name]
        percent = {LOADED: 100, MISSING: None, LOADING: progress.get(name)}.get(state, 0)
        found.append(CollectionState(name, state != MISSING, state, percent))
    readiness = Readiness(database, tuple(found))
    reason = _unmet(readiness, spec.loaded)
    if reason:
        return result._replace(status=UNHEALTHY, reason=reason, ready=readiness)
    return result._replace(ready=readiness)


def _unmet(readiness: Readiness, loaded: bool) -> str:
    """The first requirement that does not hold, as a reason; "" when all hold."""
    where = f"in database {readiness.database!r}"
    for state in readiness.collections:
        if not state.exists:
            return f"collection {state.name!r} does not exist {where}"
        if loaded and state.load_state != LOADED:
            shown = state_text(state).replace(" (", ", ").rstrip(")")
            return f"collection {state.name!r} {where} is not loaded (state: {shown})"
    return ""


def _show_request(database: str, loading: tuple[str, ...] = ()) -> bytes:
    request = wire.encode_string_field(wire.SHOW_COLLECTIONS_DB, database)
    if loading:
        request += wire.encode_varint_field(wire.SHOW_COLLECTIONS_TYPE, wire.SHOW_TYPE_IN_MEMORY)
        names = (wire.encode_string_field(wire.SHOW_COLLECTIONS_NAMES, n) for n in loading)
        request += b"".join(names)
    return request


def _state_request(name: str, database: str) -> bytes:
    return wire.encode_string_field(wire.LOAD_STATE_COLLECTION, name) + wire.encode_string_field(
        wire.LOAD_STATE_DB, database
    )


class _Sent(NamedTuple):
    """A call in flight (a grpc future), and how to read its reply."""

    method: str
    future: Any
    schema: wire.Schema


def _send(checker: "Calls", method: str, request: bytes) -> _Sent:
    """The call in flight: all of a check's calls share one round trip."""
    stub = checker.channel.unary_unary(method)
    future = stub.future(request, timeout=checker.remaining(), metadata=checker.metadata)
    return _Sent(method, future, _SCHEMAS[method])


def _reply(checker: "Calls", sent: _Sent, what: str) -> tuple[dict[str, Any], int, str]:
    """The decoded reply and its status (code, reason); _NotReady for a failed call,
    wire.MalformedReply for a reply that does not decode."""
    grpc = load_grpc()
    try:
        fields = wire.decode_reply(sent.method, sent.future.result(), sent.schema)
    except grpc.RpcError as exc:
        code, details = exc.code(), server_text(exc.details() or "")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise _NotReady(
                UNHEALTHY,
                f"the server has no Milvus API ({what} is not implemented); "
                "readiness needs a Milvus server",
            ) from None
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise _NotReady(AUTH_FAILED, f"permission refused for {what}: {details}") from None
        failed = checker.failure(exc)
        raise _NotReady(failed.status, failed.reason) from None
    error_code, code, reason = wire.milvus_status(fields)
    if error_code in _REFUSED_ERROR_CODES or code in _REFUSED_CODES:
        raise _NotReady(AUTH_FAILED, f"permission refused for {what}: {server_text(reason)}")
    return fields, (code or error_code), server_text(reason)


def _database(checker: "Calls", sent: _Sent, database: str) -> set[str]:
    """The names of the database's collections; _NotReady when it cannot be listed."""
    fields, code, reason = _reply(checker, sent, f"ShowCollections in database {database!r}")
    if code == _DATABASE_NOT_FOUND or (code and _NO_DATABASE.search(reason)):
        raise _NotReady(UNHEALTHY, f"database {database!r} does not exist")
    if code:
        raise _NotReady(UNHEALTHY, f"cannot list database {database!r}: {reason or code}")
    return set(fields["collection_names"])


def _load_state(checker: "Calls", sent: _Sent, name: str) -> str:
    fields, code, reason = _reply(checker, sent, f"GetLoadState of collection {name!r}")
    if code:
        raise _NotReady(UNHEALTHY, f"load state of collection {name!r}: {reason or code}")
    return LOAD_STATES.get(fields["state"], MISSING)


def _progress(checker: "Calls", database: str, loading: list[str]) -> dict[str, int]:
    """Loading percentages by name; best effort ({} when the server will not say)."""
    if not loading:
        return {}
    sent = _send(checker, SHOW_COLLECTIONS, _show_request(database, tuple(loading)))
    try:
        fields, code, _ = _reply(checker, sent, "ShowCollections (in memory)")
    except (_NotReady, wire.MalformedReply):
        return {}
    shown, percentages = fields["collection_names"], fields["inMemory_percentages"]
    return dict(zip(shown, percentages, strict=False)) if not code else {}
