"""Just enough protobuf for the health core, encoded and decoded by hand.

The messages are tiny, so generated modules are never imported. Requests are a string or
a varint field or two. Replies are decoded strictly, since a server may send anything:
a declared field is read only at its declared wire type (a repeated number packed or
not, as protobuf accepts both), a varint is at most 10 bytes and 64 bits, a length stays
within its message, a string is UTF-8, and unknown fields are skipped. Anything else is
`MalformedReply`, which the health core turns into an unhealthy result naming the method.
Groups (wire types 3 and 4, which proto3 never sends) are refused.

Each schema lists every field of its message, those conn never reads too, so that conn
refuses what protobuf itself would refuse (a string that is not UTF-8, a broken packed
array in any field); tests/test_wire_reference.py holds the decoder to protobuf's own
classes. A schema maps a field number to (name, kind, repeated); a kind is a scalar
name below, or the schema of a message. Enums are int32 on the wire.
"""

from __future__ import annotations

from typing import Any

INT32, INT64, UINT64, BOOL, STRING = "int32", "int64", "uint64", "bool", "string"
Schema = dict[int, tuple[str, Any, bool]]

# grpc.health.v1 (grpc-proto's grpc/health/v1/health.proto): HealthCheckRequest
# service = 1; HealthCheckResponse status = 1 (ServingStatus), also each Watch message.
HEALTH_CHECK_RESPONSE: Schema = {1: ("status", INT32, False)}

# milvus-proto's proto/common.proto and proto/milvus.proto, the same numbers at tags
# go-api/v2.3.5 and go-api/v2.5.0.
# A map<string, string> is a repeated entry message; protobuf drops an entry holding any
# other field, conn refuses it.
STRING_MAP: Schema = {1: ("key", STRING, False), 2: ("value", STRING, False)}
STATUS: Schema = {  # common.Status
    1: ("error_code", INT32, False),
    2: ("reason", STRING, False),
    3: ("code", INT32, False),
    4: ("retriable", BOOL, False),
    5: ("detail", STRING, False),
    6: ("extra_info", STRING_MAP, True),
}
CHECK_HEALTH_RESPONSE: Schema = {
    1: ("status", STATUS, False),
    2: ("isHealthy", BOOL, False),
    3: ("reasons", STRING, True),
    4: ("quota_states", INT32, True),
}
GET_VERSION_RESPONSE: Schema = {1: ("status", STATUS, False), 2: ("version", STRING, False)}
SHOW_COLLECTIONS_RESPONSE: Schema = {
    1: ("status", STATUS, False),
    2: ("collection_names", STRING, True),
    3: ("collection_ids", INT64, True),
    4: ("created_timestamps", UINT64, True),
    5: ("created_utc_timestamps", UINT64, True),
    6: ("inMemory_percentages", INT64, True),
    7: ("query_service_available", BOOL, True),
    8: ("shards_num", INT32, True),
}
# state: common.LoadState (NotExist = 0, NotLoad = 1, Loading = 2, Loaded = 3)
GET_LOAD_STATE_RESPONSE: Schema = {1: ("status", STATUS, False), 2: ("state", INT32, False)}

# The readiness requests (milvus_conn.readiness); a request's field 1 (common.MsgBase
# base) is optional and left out.
#   ShowCollectionsRequest     db_name = 2, type = 4 (ShowType All = 0, InMemory = 1),
#                              collection_names = 5 (deprecated, still honoured)
#   GetLoadStateRequest        collection_name = 2, db_name = 4
SHOW_COLLECTIONS_DB, SHOW_COLLECTIONS_TYPE, SHOW_COLLECTIONS_NAMES = 2, 4, 5
SHOW_TYPE_IN_MEMORY = 1
LOAD_STATE_COLLECTION, LOAD_STATE_DB = 2, 4

REPLY_LIMIT = 64 * 1024  # bytes of any reply but ShowCollections's
LIST_REPLY_LIMIT = 4 * 1024 * 1024  # ShowCollections: gRPC's default receive limit
_WIRE_NAMES = {0: "a varint", 1: "64-bit", 2: "length-delimited", 5: "32-bit"}
_MASK64 = (1 << 64) - 1


class MalformedReply(ValueError):
    """A reply that does not decode as its message; the text says where."""


# encoding ------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_string_field(number: int, text: str) -> bytes:
    data = text.encode("utf-8")
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def encode_varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


# decoding ------------------------------------------------------------------------------


def decode_reply(method: str, data: bytes, schema: Schema) -> dict[str, Any]:
    """The reply to `method` (a gRPC path); MalformedReply naming the method. A health,
    version or load-state reply is a few hundred bytes: one over REPLY_LIMIT is refused
    unread (decoding 4 MiB of tiny fields, gRPC's own cap, costs seconds of CPU); only
    the list of a database's collections may be as large as gRPC lets it be."""
    limit = LIST_REPLY_LIMIT if schema is SHOW_COLLECTIONS_RESPONSE else REPLY_LIMIT
    try:
        if len(data) > limit:
            raise MalformedReply(f"{len(data)} bytes, more than such a reply holds ({limit})")
        return decode(data, schema)
    except MalformedReply as exc:
        name = method.rsplit("/", 1)[-1]
        raise MalformedReply(f"malformed reply to {name} from the server: {exc}") from None


def decode(data: bytes, schema: Schema) -> dict[str, Any]:
    """Every field of `schema` by name, a default where absent (0, False, "", [], or the
    empty message). MalformedReply for anything protobuf would not read as `schema`."""
    found: dict[int, list[Any]] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if not 0 < number < 1 << 29:
            raise MalformedReply(f"field number {number} is out of range")
        value: Any = None
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
        elif wire_type == 2:
            size, pos = _read_varint(data, pos)
            if size > end - pos:
                raise MalformedReply(f"field {number} is longer than the rest of the message")
            value, pos = data[pos : pos + size], pos + size
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
            if pos > end:
                raise MalformedReply(f"field {number} is cut short")
        else:
            raise MalformedReply(f"field {number} has wire type {wire_type}")
        if number not in schema:
            if schema is STRING_MAP:
                raise MalformedReply(f"a map entry has a field {number}")
            continue  # an unknown field: skipped
        name, kind, repeated = schema[number]
        expected = 2 if kind == STRING or isinstance(kind, dict) else 0
        if wire_type == expected:
            found.setdefault(number, []).append(value)
        elif repeated and expected == 0 and wire_type == 2:  # a packed array
            found.setdefault(number, []).extend(_packed(value))
        else:
            raise MalformedReply(
                f"field {number} ({name}) is {_WIRE_NAMES[wire_type]}, not {_WIRE_NAMES[expected]}"
            )
    return {name: _value(found.get(n, []), kind, many) for n, (name, kind, many) in schema.items()}


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it: at most 10 bytes and 64 bits."""
    result = shift = 0
    for index in range(pos, min(pos + 10, len(data))):
        byte = data[index]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result > _MASK64:
                raise MalformedReply("a varint is over 64 bits")
            return result, index + 1
        shift += 7
    if len(data) - pos >= 10:
        raise MalformedReply("a varint is longer than 10 bytes")
    raise MalformedReply("a varint is cut short")


def _packed(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        values.append(value)
    return values


def _value(values: list[Any], kind: Any, repeated: bool) -> Any:
    """A field's value from its occurrences, as protobuf reads them: the last one of a
    scalar, all of a repeated field, every occurrence of a message merged."""
    if isinstance(kind, dict):
        messages = [decode(value, kind) for value in values]
        if repeated or len(messages) == 1:
            return messages if repeated else messages[0]
        return decode(b"".join(values), kind)  # merged: later fields override earlier
    converted = [_scalar(value, kind) for value in values]
    if repeated:
        return converted
    if converted:
        return converted[-1]
    return "" if kind == STRING else False if kind == BOOL else 0


def _scalar(value: Any, kind: str) -> Any:
    if kind == STRING:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedReply("a string is not UTF-8") from None
    if kind == BOOL:
        return value != 0
    if kind == UINT64:
        return value
    bits = 32 if kind == INT32 else 64  # protobuf keeps the low bits, signed
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def milvus_status(reply: dict[str, Any]) -> tuple[int, int, str]:
    """(error_code, code, reason) of a decoded Milvus reply's common.Status."""
    status = reply["status"]
    return status["error_code"], status["code"], status["reason"]
