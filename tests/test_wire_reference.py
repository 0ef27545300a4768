"""wire.py held to the reference implementation, not to itself: the protobuf runtime
and the generated classes that grpcio-health-checking (`grpc_health.v1.health_pb2`) and
pymilvus (`pymilvus.grpc_gen`) ship, for every reply the core decodes (health Check and
each Watch message, CheckHealth, GetVersion, ShowCollections, GetLoadState).

- Each schema in wire.py lists exactly the fields of its generated message.
- Valid messages, built by protobuf from random values (merged occurrences and unknown
  fields of every wire type included), decode to the values protobuf reads.
- Random and mutated bytes (cut, flipped, spliced, a known field re-tagged with another
  wire type) either decode to what protobuf reads or are `MalformedReply`; never another
  exception, and never accepted where protobuf refuses them.

protobuf is a test-only dependency: src never imports it (test_guards.py)."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymilvus.grpc_gen import milvus_pb2

from milvus_conn.probe import wire
from milvus_conn.probe.endpoint import Credentials, Target
from milvus_conn.probe.health import check
from milvus_conn.probe.request import Probe, ReadySpec
from milvus_conn.probe.results import CollectionState

MESSAGES = {
    "Check": (health_pb2.HealthCheckResponse, wire.HEALTH_CHECK_RESPONSE),
    "CheckHealth": (milvus_pb2.CheckHealthResponse, wire.CHECK_HEALTH_RESPONSE),
    "GetVersion": (milvus_pb2.GetVersionResponse, wire.GET_VERSION_RESPONSE),
    "ShowCollections": (milvus_pb2.ShowCollectionsResponse, wire.SHOW_COLLECTIONS_RESPONSE),
    "GetLoadState": (milvus_pb2.GetLoadStateResponse, wire.GET_LOAD_STATE_RESPONSE),
}
# Enough to matter in CI, within the suite's time budget (a few seconds per message).
VALID_EXAMPLES, FUZZ_EXAMPLES = 250, 750
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

FD = FieldDescriptor
KINDS = {
    FD.TYPE_INT32: wire.INT32,
    FD.TYPE_ENUM: wire.INT32,
    FD.TYPE_INT64: wire.INT64,
    FD.TYPE_UINT64: wire.UINT64,
    FD.TYPE_BOOL: wire.BOOL,
    FD.TYPE_STRING: wire.STRING,
}
VALUES = {
    wire.INT32: st.integers(-(2**31), 2**31 - 1),  # proto3 enums are open: any int32
    wire.INT64: st.integers(-(2**63), 2**63 - 1),
    wire.UINT64: st.integers(0, 2**64 - 1),
    wire.BOOL: st.booleans(),
    wire.STRING: st.text(max_size=12),
}


def repeated(field: Any) -> bool:
    """`is_repeated` on protobuf 6 and later, `label` before."""
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return field.label == FD.LABEL_REPEATED  # pragma: no cover - protobuf 4 and 5


def is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def schema_of(descriptor: Any) -> wire.Schema:
    """What wire.py's schema for `descriptor` must be: every field, its kind, repeated."""
    schema: wire.Schema = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            kind: Any = schema_of(field.message_type)
        else:
            kind = KINDS[field.type]
        schema[field.number] = (field.name, kind, repeated(field))
    return schema


@pytest.mark.parametrize("method", MESSAGES)
def test_each_schema_lists_exactly_the_generated_messages_fields(method):
    message, schema = MESSAGES[method]
    assert schema == schema_of(message.DESCRIPTOR)


# what protobuf reads, in the shape wire.decode returns ---------------------------------


def expected(message: Any) -> dict[str, Any]:
    """`message`'s fields by name, as wire.decode gives them."""
    found: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if is_map(field):
            found[field.name] = dict(value)
        elif field.message_type is not None:
            found[field.name] = expected(value)
        elif repeated(field):
            found[field.name] = list(value)
        else:
            found[field.name] = value
    return found


def comparable(decoded: dict[str, Any], descriptor: Any) -> dict[str, Any]:
    """wire.decode's result with map entries folded into a dict (the last key wins, as in
    protobuf), to compare with `expected`."""
    found = dict(decoded)
    for field in descriptor.fields:
        if is_map(field):
            found[field.name] = {e["key"]: e["value"] for e in decoded[field.name]}
        elif field.message_type is not None:
            found[field.name] = comparable(decoded[field.name], field.message_type)
    return found


def agrees_or_refuses(data: bytes, method: str) -> str:
    """conn's reading of `data`: the same as protobuf's, or MalformedReply; "agrees" or
    "refused"."""
    message, schema = MESSAGES[method]
    try:
        reference = message.FromString(data)
    except DecodeError:
        reference = None
    try:
        decoded = wire.decode(data, schema)
    except wire.MalformedReply:
        return "refused"
    assert reference is not None, f"conn accepted what protobuf refuses: {data!r}"
    assert comparable(decoded, message.DESCRIPTOR) == expected(reference), data
    return "agrees"


# valid messages -------------------------------------------------------------------------


def kwargs_for(descriptor: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Constructor arguments for a message of `descriptor`, each field set or not."""
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if is_map(field):
            text = st.text(max_size=8)
            optional[field.name] = st.dictionaries(text, text, max_size=3)
        elif field.message_type is not None:
            optional[field.name] = kwargs_for(field.message_type)
        elif repeated(field):
            optional[field.name] = st.lists(VALUES[KINDS[field.type]], max_size=4)
        else:
            optional[field.name] = VALUES[KINDS[field.type]]
    return st.fixed_dictionaries({}, optional=optional)


def key(number: int, wire_type: int) -> bytes:
    return wire._varint(number << 3 | wire_type)


@st.composite
def unknown_fields(draw: st.DrawFn, schema: wire.Schema) -> bytes:
    """Fields the message does not declare, at every wire type protobuf skips."""
    out = b""
    for _ in range(draw(st.integers(0, 3))):
        number = draw(st.integers(1, 2**29 - 1).filter(lambda n: n not in schema))
        wire_type = draw(st.sampled_from([0, 1, 2, 5]))
        if wire_type == 0:
            out += key(number, 0) + wire._varint(draw(st.integers(0, 2**64 - 1)))
        elif wire_type == 2:
            payload = draw(st.binary(max_size=8))
            out += key(number, 2) + wire._varint(len(payload)) + payload
        else:
            out += (
                key(number, wire_type)
                + draw(st.binary(min_size=8, max_size=8))[: 8 if wire_type == 1 else 4]
            )
    return out


@st.composite
def valid_bytes(draw: st.DrawFn, method: str) -> bytes:
    """A serialized message, sometimes several merged (as protobuf merges a message sent
    in parts), with unknown fields between them."""
    message, schema = MESSAGES[method]
    parts = [
        message(**draw(kwargs_for(message.DESCRIPTOR))).SerializeToString()
        for _ in range(draw(st.integers(1, 3)))
    ]
    return b"".join(part + draw(unknown_fields(schema)) for part in parts)


@pytest.mark.parametrize("method", MESSAGES)
@settings(max_examples=VALID_EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_valid_messages_decode_to_what_protobuf_reads(method, data):
    encoded = data.draw(valid_bytes(method))
    assert agrees_or_refuses(encoded, method) == "agrees"


# random and mutated bytes ---------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, method: str) -> bytes:
    """A valid message, then one to four edits: cut short, a byte flipped, random bytes
    spliced in, or one of its own fields re-tagged with another wire type."""
    data = bytearray(draw(valid_bytes(method)))
    schema = MESSAGES[method][1]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "flip", "splice", "retag"]))
        if edit == "cut":
            del data[at:]
        elif edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif edit == "retag":
            number = draw(st.sampled_from(sorted(schema)))
            wire_type = draw(st.integers(0, 7))
            data[at:at] = key(number, wire_type) + draw(st.binary(max_size=12))
    return bytes(data)


@pytest.mark.parametrize("method", MESSAGES)
@settings(max_examples=FUZZ_EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_random_and_mutated_bytes_agree_with_protobuf_or_are_malformed(method, data):
    encoded = data.draw(st.one_of(st.binary(max_size=64), mutated_bytes(method)))
    agrees_or_refuses(encoded, method)


# the shapes a fuzzer found first, kept as examples --------------------------------------


REFUSED, SKIPPED, TRUNCATED = "refuses", "reads it as an unknown field", "keeps the low bits"


@pytest.mark.parametrize(
    ("method", "data", "why", "protobuf"),
    [
        ("CheckHealth", b"\x08\x01", "field 1 (status) is a varint, not length-delimited", SKIPPED),
        (
            "CheckHealth",
            b"\x12\x00",
            "field 2 (isHealthy) is length-delimited, not a varint",
            SKIPPED,
        ),
        ("CheckHealth", b"\x1a\x01\xff", "a string is not UTF-8", REFUSED),
        ("Check", b"\x08" + b"\xff" * 10 + b"\x01", "a varint is longer than 10 bytes", REFUSED),
        ("Check", b"\x08" + b"\xff" * 9 + b"\x7f", "a varint is over 64 bits", TRUNCATED),
        ("Check", b"\x08\x80", "a varint is cut short", REFUSED),
        ("Check", b"\x08" + b"\xff" * 10, "a varint is longer than 10 bytes", REFUSED),
        ("Check", b"\x08\x01" * 5 + b"\x08\x80", "a varint is cut short", REFUSED),
        ("GetVersion", b"\x12\x05ab", "field 2 is longer than the rest of the message", REFUSED),
        ("GetVersion", b"\x0a\x02\x08\x80", "a varint is cut short", REFUSED),
        ("GetLoadState", b"\x13", "field 2 has wire type 3", REFUSED),
        ("GetLoadState", b"\x00\x01", "field number 0 is out of range", REFUSED),
        (
            "GetLoadState",
            wire._varint(2**29 << 3) + b"\x00",  # one past the largest field number
            "field number 536870912 is out of range",
            REFUSED,
        ),
        ("ShowCollections", b"\x32\x02\x01\x80", "a varint is cut short", REFUSED),
        ("ShowCollections", b"\x11" + b"\x00" * 3, "field 2 is cut short", REFUSED),
    ],
)
def test_known_wrong_shapes_are_malformed_naming_the_method(method, data, why, protobuf):
    """Each with what protobuf does with it: conn is as strict, or stricter (a field at
    another wire type than its schema says is a malformed reply, not silently skipped)."""
    message, schema = MESSAGES[method]
    with pytest.raises(wire.MalformedReply) as caught:
        wire.decode_reply(f"/x.Service/{method}", data, schema)
    assert str(caught.value) == f"malformed reply to {method} from the server: {why}"
    if protobuf == REFUSED:
        with pytest.raises(DecodeError):
            message.FromString(data)
    else:
        message.FromString(data)  # protobuf reads it (and conn refuses it: stricter)


def test_a_value_protobuf_truncates_reads_as_protobuf_reads_it():
    """An enum sent as a 64-bit varint: protobuf keeps its low 32 bits, signed; so does conn."""
    data = b"\x08" + wire._varint(2**32 + 1)
    assert wire.decode(data, wire.HEALTH_CHECK_RESPONSE)["status"] == 1
    assert health_pb2.HealthCheckResponse.FromString(data).status == 1


# requests ------------------------------------------------------------------------------


def test_the_requests_conn_sends_are_byte_for_byte_what_protobuf_sends(liar):
    """What a server's protobuf classes read from conn's hand-encoded requests: the health
    Check's service, and the readiness calls' database, collection and in-memory query.
    Names past 127 bytes take a length of two varint bytes."""
    service, database, name = "grpc.health.v1." + "s" * 120, "shop_" * 30, "书" * 50
    liar.raw["Check"] = health_pb2.HealthCheckResponse(status=1).SerializeToString()
    liar.raw["ShowCollections"] = milvus_pb2.ShowCollectionsResponse(
        collection_names=[name], inMemory_percentages=[40]
    ).SerializeToString()
    liar.raw["GetLoadState"] = milvus_pb2.GetLoadStateResponse(state=2).SerializeToString()
    probe = Probe(
        Target(liar.address), Credentials(db_name=database), service=service,
        protocol="grpc-health", ready=ReadySpec((name,)),
    )  # fmt: skip
    result = check(probe)
    assert result.healthy, result.reason
    assert result.ready.collections == (CollectionState(name, True, "loading", 40),)
    assert liar.requests["Check"] == [
        health_pb2.HealthCheckRequest(service=service).SerializeToString()
    ]
    assert liar.requests["ShowCollections"] == [
        milvus_pb2.ShowCollectionsRequest(db_name=database).SerializeToString(),
        milvus_pb2.ShowCollectionsRequest(
            db_name=database, type=milvus_pb2.ShowType.InMemory, collection_names=[name]
        ).SerializeToString(),
    ]
    assert liar.requests["GetLoadState"] == [
        milvus_pb2.GetLoadStateRequest(collection_name=name, db_name=database).SerializeToString()
    ]


def test_a_zero_or_empty_field_is_left_out_as_protobuf_leaves_it_out():
    """proto3 writes no default value: a field conn encodes by hand must not either."""
    assert wire.encode_varint_field(wire.SHOW_COLLECTIONS_TYPE, 0) == b""
    assert milvus_pb2.ShowCollectionsRequest(type=0).SerializeToString() == b""
    assert wire.encode_string_field(wire.SHOW_COLLECTIONS_DB, "") == b""
    assert milvus_pb2.ShowCollectionsRequest(db_name="").SerializeToString() == b""


# size limits ---------------------------------------------------------------------------


def padded(message: bytes, size: int) -> bytes:
    """`message` and one unknown length-delimited field (number 15) making it `size` bytes."""
    pad = size - len(message) - 4  # the key and a three-byte length
    assert 2**14 <= pad < 2**21
    return message + b"\x7a" + wire._varint(pad) + b"\x00" * pad


def test_a_reply_of_exactly_the_limit_is_read_and_one_byte_more_is_not():
    reply = padded(health_pb2.HealthCheckResponse(status=1).SerializeToString(), wire.REPLY_LIMIT)
    assert len(reply) == wire.REPLY_LIMIT
    method = "/grpc.health.v1.Health/Check"
    assert wire.decode_reply(method, reply, wire.HEALTH_CHECK_RESPONSE)["status"] == 1
    longer = padded(reply[:2], wire.REPLY_LIMIT + 1)
    with pytest.raises(wire.MalformedReply, match=r"^malformed reply to Check from the server: "):
        wire.decode_reply(method, longer, wire.HEALTH_CHECK_RESPONSE)


def test_a_database_of_many_collections_is_listed_past_the_limit_of_other_replies():
    names = [f"collection_{i:05d}" for i in range(5000)]  # about 100 KiB
    reply = milvus_pb2.ShowCollectionsResponse(collection_names=names).SerializeToString()
    assert wire.REPLY_LIMIT < len(reply) < wire.LIST_REPLY_LIMIT
    method = "/milvus.proto.milvus.MilvusService/ShowCollections"
    decoded = wire.decode_reply(method, reply, wire.SHOW_COLLECTIONS_RESPONSE)
    assert decoded["collection_names"] == names


def test_merged_messages_and_defaults_are_what_protobuf_reads_type_for_type():
    """A status sent twice is merged, later fields winning; an absent field is protobuf's
    default of its own type (False for a bool, 0 for a number, "" for a string)."""
    first = milvus_pb2.CheckHealthResponse(status={"code": 5, "reason": "a"}).SerializeToString()
    second = milvus_pb2.CheckHealthResponse(status={"reason": "b"}).SerializeToString()
    decoded = wire.decode(first + second, wire.CHECK_HEALTH_RESPONSE)
    reference = milvus_pb2.CheckHealthResponse.FromString(first + second)
    assert (decoded["status"]["code"], decoded["status"]["reason"]) == (5, "b")
    assert (reference.status.code, reference.status.reason) == (5, "b")
    for method, (message, schema) in MESSAGES.items():
        empty, default = wire.decode(b"", schema), message()
        for name, kind, repeated in schema.values():
            if isinstance(kind, dict) or repeated:
                continue
            ours, theirs = empty[name], getattr(default, name)
            assert (type(ours), ours) == (type(theirs), theirs), (method, name)


def test_the_largest_varint_reads_as_protobuf_reads_it():
    """A negative int32 goes on the wire as ten bytes, 2**64 - 1 for -1: not over 64 bits."""
    data = health_pb2.HealthCheckResponse(status=-1).SerializeToString()
    assert data == b"\x08" + wire._varint(2**64 - 1)
    assert wire.decode(data, wire.HEALTH_CHECK_RESPONSE)["status"] == -1
    assert health_pb2.HealthCheckResponse.FromString(data).status == -1
