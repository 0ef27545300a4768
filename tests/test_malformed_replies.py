"""A server that answers with a reply of the wrong shape, for every method the core
decodes: each is an unhealthy result (exit 4) whose reason names the method and what is
wrong, never an exception ("unexpected TypeError", exit 1) and never a wrong answer (an
11-byte varint read as "healthy"). The shapes are those tests/test_wire_reference.py
finds against protobuf; the server is tests/servers.py's LyingServer, sending raw bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milvus_conn.probe.endpoint import Target
from milvus_conn.probe.health import check
from milvus_conn.probe.request import Probe
from milvus_conn.probe.results import HEALTHY, UNHEALTHY

EMPTY_STATUS = b"\x0a\x00"  # common.Status, all defaults (success)

WRONG_CHECK_HEALTH = [
    (b"\x08\x01", "field 1 (status) is a varint, not length-delimited"),
    (EMPTY_STATUS + b"\x12\x01x", "field 2 (isHealthy) is length-delimited, not a varint"),
    (EMPTY_STATUS + b"\x18\x05", "field 3 (reasons) is a varint, not length-delimited"),
    (EMPTY_STATUS + b"\x1a\x01\xff", "a string is not UTF-8"),
    (EMPTY_STATUS + b"\x10" + b"\xff" * 10 + b"\x01", "a varint is longer than 10 bytes"),
    (b"\x0a\x05\x08", "field 1 is longer than the rest of the message"),
    (b"\x0a\x03\x0a\x01x", "field 1 (error_code) is length-delimited, not a varint"),
    (b"\x0a\x09\x19" + b"\x00" * 8, "field 3 (code) is 64-bit, not a varint"),
    (b"\x0a\x04\x32\x02\x18\x01", "a map entry has a field 3"),
    (b"\x0f", "field 1 has wire type 7"),
    (b"\x0b\x0c", "field 1 has wire type 3"),
    (b"\x00", "field number 0 is out of range"),
    (EMPTY_STATUS + b"\x10\x80", "a varint is cut short"),
]


WRONG_GET_VERSION = [
    (EMPTY_STATUS + b"\x10\x01", "field 2 (version) is a varint, not length-delimited"),
    (EMPTY_STATUS + b"\x12\x02v\xff", "a string is not UTF-8"),
    (b"\x0a\x02\x12\x05", "field 2 is longer than the rest of the message"),
]


@pytest.mark.parametrize(
    ("method", "reply", "why"),
    [("CheckHealth", *wrong) for wrong in WRONG_CHECK_HEALTH]
    + [("GetVersion", *wrong) for wrong in WRONG_GET_VERSION],
)
def test_a_malformed_milvus_reply_is_exit_4_naming_it(cli, liar, method, reply, why):
    liar.raw[method] = reply
    result = cli("connect", "l", "--address", liar.address, code=4)
    assert result.stderr == (
        f"Error: cannot connect 'l' ({liar.address}): malformed reply to {method} from "
        f"the server: {why}\n"
    )


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"\x0a\x00", "field 1 (status) is length-delimited, not a varint"),
        (b"\x0d\x01\x00\x00\x00", "field 1 (status) is 32-bit, not a varint"),
        (b"\x08" + b"\x80" * 10 + b"\x00", "a varint is longer than 10 bytes"),
    ],
)
def test_a_malformed_health_check_is_exit_4_naming_it(cli, liar, reply, why):
    liar.raw["Check"] = reply
    address = liar.address
    result = cli("connect", "l", "--address", address, "--probe", "grpc-health", code=4)
    assert result.stderr == (
        f"Error: cannot connect 'l' ({address}): malformed reply to Check from the server: {why}\n"
    )


def test_a_malformed_watch_message_is_an_unhealthy_line_naming_it(cli, liar):
    liar.raw["Check"] = b"\x08\x01"  # SERVING
    liar.raw["Watch"] = [b"\x08\x01", b"\x0a\x00"]  # SERVING, then status as a string
    cli("add", "l", "--address", liar.address, "--probe", "grpc-health")
    result = cli("watch", "l", "--changes", "1", "--json", code=4)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["status"], line["reason"]) for line in lines] == [
        (HEALTHY, ""),
        (
            UNHEALTHY,
            "malformed reply to Watch from the server: field 1 (status) is length-delimited, "
            "not a varint",
        ),
    ]


@pytest.mark.parametrize(
    ("method", "reply", "flags", "why"),
    [
        ("ShowCollections", b"\x12\x01\xff", ["--ready"], "a string is not UTF-8"),
        (
            "ShowCollections",
            b"\x10\x01",
            ["--ready"],
            "field 2 (collection_names) is a varint, not length-delimited",
        ),
        (
            "ShowCollections",
            b"\x32\x02\x01\x80",
            ["--ready"],
            "a varint is cut short",  # in the packed inMemory_percentages
        ),
        (
            "GetLoadState",
            b"\x12\x00",
            ["--collection", "books"],
            "field 2 (state) is length-delimited, not a varint",
        ),
    ],
)
def test_a_malformed_readiness_reply_is_exit_4_naming_it(cli, liar, method, reply, flags, why):
    liar.raw["ShowCollections"] = b"\x12\x05books"  # the database holds `books`
    liar.raw["GetLoadState"] = b"\x10\x03"  # loaded
    cli("connect", "l", "--address", liar.address)
    cli("has", "l", "--collection", "books")  # the control: well-formed, ready
    liar.raw[method] = reply
    result = cli("has", "l", *flags, "--json", code=4)
    assert (
        json.loads(result.stdout)["reason"] == f"malformed reply to {method} from the server: {why}"
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reply=st.binary(max_size=32))
def test_any_bytes_from_a_real_server_are_a_result_never_an_exception(liar, reply):
    liar.raw["CheckHealth"] = reply
    liar.raw["GetVersion"] = reply
    result = check(Probe(Target(liar.address), timeout=5, want_version=True))
    assert result.status in (HEALTHY, UNHEALTHY, "auth_failed"), result
    if result.reason.startswith("malformed"):
        assert result.status == UNHEALTHY
        assert result.reason.startswith(
            ("malformed reply to CheckHealth", "malformed reply to GetVersion")
        )


def test_a_health_reply_larger_than_any_real_one_is_refused_unread(cli, liar):
    """4 MiB of tiny unknown fields would cost seconds of CPU to walk: refused by size."""
    liar.raw["CheckHealth"] = EMPTY_STATUS + b"\x78\x00" * (64 * 1024)
    result = cli("connect", "l", "--address", liar.address, code=4)
    assert result.stderr == (
        f"Error: cannot connect 'l' ({liar.address}): malformed reply to CheckHealth from "
        "the server: 131074 bytes, more than such a reply holds (65536)\n"
    )
