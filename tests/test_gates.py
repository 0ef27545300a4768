"""The gates of `has` and `connect`: `--min-version` against Milvus 2.3.5 and servers that
report no version, and `--max-latency`. A failed gate names the gate, what it required
and what it observed."""

from __future__ import annotations

import json
import re

import pytest

# --min-version and --max-latency -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("required", "code"), [("2.3", 0), ("v2.3", 0), ("2.3.5", 0), ("2.3.6", 4), ("3", 4)]
)
def test_connect_min_version_against_milvus_2_3_5(cli, milvus, required, code):
    cli("connect", "real", "--address", milvus.address, "--min-version", required, code=code)


@pytest.mark.slow
def test_has_min_version_2_3_passes_against_milvus_2_3_5(cli, milvus):
    cli("connect", "real", "--address", milvus.address)
    cli("has", "real", "--min-version", "2.3")


@pytest.mark.slow
def test_has_min_version_2_4_fails_naming_gate_required_and_observed(cli, milvus):
    cli("connect", "real", "--address", milvus.address)
    result = cli("has", "real", "--min-version", "2.4", code=4)
    assert re.search(r"min-version gate: requires 2\.4, server reports v2\.3\.5", result.stderr)


@pytest.mark.slow
def test_connect_min_version_2_4_fails_and_leaves_the_alias_not_connected(cli, milvus, registry):
    result = cli("connect", "real", "--address", milvus.address, "--min-version", "2.4", code=4)
    assert re.search(r"min-version gate: requires 2\.4, server reports v2\.3\.5", result.stderr)
    assert not registry.has_connection("real")


def test_min_version_that_is_not_a_version_is_a_usage_error(cli, milvus_lite):
    result = cli("connect", "x", "--address", milvus_lite.address, "--min-version", "banana",
                 code=2)  # fmt: skip
    assert "--min-version" in result.stderr


def test_min_version_fails_when_the_server_reports_no_version(cli, serving):
    result = cli("connect", "svc", "--address", serving.address, "--min-version", "1.0", code=4)
    assert "min-version gate: requires 1.0, server reports unknown" in result.stderr


def test_has_min_version_json_names_the_gate_in_reason(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    data = json.loads(cli("has", "svc", "--min-version", "1.0", "--json", code=4).stdout)
    assert (data["exit_code"], data["status"]) == (4, "unhealthy")
    assert data["reason"] == "min-version gate: requires 1.0, server reports unknown"


def test_max_latency_of_a_microsecond_fails_naming_the_observed_latency(cli, serving):
    cli("connect", "svc", "--address", serving.address)
    result = cli("has", "svc", "--max-latency", "0.001", code=4)
    assert re.search(
        r"max-latency gate: requires at most 0\.001 ms, observed \d+\.\d ms", result.stderr
    )


def test_connect_max_latency_of_a_microsecond_fails(cli, serving):
    result = cli("connect", "svc", "--address", serving.address, "--max-latency", "0.001", code=4)
    assert "max-latency gate" in result.stderr


def test_max_latency_of_ten_seconds_passes(cli, serving):
    cli("connect", "svc", "--address", serving.address, "--max-latency", "10000")
    cli("has", "svc", "--max-latency", "10000")
