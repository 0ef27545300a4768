"""Just enough protobuf for the health core: a string field out, varints and strings in.

The messages are tiny (HealthCheckRequest.service = 1; HealthCheckResponse.status = 1;
Milvus CheckHealthResponse status = 1, isHealthy = 2, reasons = 3; GetVersionResponse
status = 1, version = 2; common.Status error_code = 1, reason = 2, code = 3), so they are
encoded by hand and generated modules are never imported. Unknown fields are skipped.
"""

from __future__ import annotations

from typing import Any


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


def packed_varints(data: bytes) -> list[int]:
    """A packed `repeated int64` (proto3 packs them by default); ValueError if truncated."""
    values, pos = [], 0
    try:
        while pos < len(data):
            shift = value = 0
            while True:
                byte = data[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    break
                shift += 7
            values.append(value)
    except IndexError:
        raise ValueError("truncated packed field") from None
    return values


# The readiness messages (milvus_conn.readiness), milvus.proto.milvus in milvus-proto's
# proto/milvus.proto, the same numbers at tags go-api/v2.3.5 and go-api/v2.5.0:
#   ShowCollectionsRequest     db_name = 2, type = 4 (ShowType All = 0, InMemory = 1),
#                              collection_names = 5 (deprecated, still honoured)
#   ShowCollectionsResponse    status = 1, collection_names = 2,
#                              inMemory_percentages = 6 (packed int64)
#   GetLoadStateRequest        collection_name = 2, db_name = 4
#   GetLoadStateResponse       status = 1, state = 2 (common.LoadState, proto/common.proto:
#                              NotExist = 0, NotLoad = 1, Loading = 2, Loaded = 3)
# A request's field 1 (common.MsgBase base) is optional and left out.
SHOW_COLLECTIONS_DB, SHOW_COLLECTIONS_TYPE, SHOW_COLLECTIONS_NAMES = 2, 4, 5
SHOW_TYPE_IN_MEMORY = 1
SHOWN_NAMES, SHOWN_PERCENTAGES = 2, 6
LOAD_STATE_COLLECTION, LOAD_STATE_DB = 2, 4
LOAD_STATE = 2


def decode_fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Varint and length-delimited fields by number; fixed-width ones are skipped.
    ValueError for anything that does not decode."""
    try:
        return _decode(data)
    except IndexError:
        raise ValueError("truncated protobuf message") from None


def _decode(data: bytes) -> dict[int, list[int | bytes]]:
    fields: dict[int, list[int | bytes]] = {}
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == 0:
            value = read_varint()
        elif wire_type == 2:
            size = read_varint()
            if pos + size > len(data):
                raise IndexError
            value, pos = data[pos : pos + size], pos + size
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
            continue
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        fields.setdefault(number, []).append(value)
    return fields


def first(fields: dict[int, list[int | bytes]], number: int, default: Any) -> Any:
    values = fields.get(number)
    return values[-1] if values else default


def milvus_status(fields: dict[int, list[int | bytes]]) -> tuple[int, int, str]:
    """(error_code, code, reason) of the common.Status in field 1."""
    status = decode_fields(first(fields, 1, b""))
    reason = first(status, 2, b"").decode("utf-8", "replace")
    return first(status, 1, 0), first(status, 3, 0), reason
