"""`conn list`: the plain columns when piped, the JSON shape, and `--check`, which probes
every alias at once and exits with the highest code."""

from __future__ import annotations

import json

from . import servers
from .helpers import NOT_SERVING, timed, within

# list ----------------------------------------------------------------------------------


LIST_KEYS = {"alias", "address", "user", "db_name", "secure", "connected", "default"} | {
    "profile",
    "builtin",
}


# The health object of `list --check --json` (an outcome without the alias), plus the
# certificate fields (null unless the alias uses TLS).
HEALTH_KEYS = {"status", "protocol", "latency_ms", "server_version", "exit_code", "reason"} | {
    "tls_subject",
    "tls_issuer",
    "tls_expires_in_days",
}


def test_list_piped_prints_aligned_plain_columns(cli):
    cli("add", "a", "--address", "127.0.0.1:19531", "--user", "ci", "--db-name", "prod")
    cli("add", "bb", "--uri", "https://milvus.example:443")
    assert cli("list").stdout == (
        "ALIAS      ADDRESS             USER  DB       TLS  STATE\n"
        "default *  localhost:19530     -     default  no   built-in\n"
        "a          127.0.0.1:19531     ci    prod     no   -\n"
        "bb         milvus.example:443  -     default  yes  -\n"
    )


def test_list_piped_shows_the_connected_state(cli, connected_lite):
    rows = [line.split() for line in cli("list").stdout.splitlines()]
    assert rows[2] == ["lite", connected_lite.address, "-", "default", "no", "connected"]


def test_list_json_has_the_documented_shape(cli, connected_lite, profile):
    data = json.loads(cli("list", "--json").stdout)
    assert [set(row) for row in data] == [LIST_KEYS, LIST_KEYS]
    assert data[1] == {
        "alias": "lite",
        "address": connected_lite.address,
        "user": "",
        "db_name": "default",
        "secure": False,
        "connected": True,
        "default": False,
        "profile": str(profile),  # the file that defines it (null for the built-in default)
        "builtin": False,
    }
    assert data[0]["profile"] is None


def test_list_check_json_adds_a_health_object(cli, milvus_lite):
    cli("add", "default", "--address", milvus_lite.address)
    [row] = json.loads(cli("list", "--check", "--json").stdout)
    assert set(row) == {*LIST_KEYS, "health"}
    assert set(row["health"]) == HEALTH_KEYS
    health = row["health"]
    assert (health["status"], health["protocol"], health["exit_code"]) == ("healthy", "milvus", 0)
    assert health["server_version"].startswith("milvus_lite-")


def test_list_check_shows_the_servers_version(cli, liar):
    liar.version = "v2.3.5"
    cli("add", "default", "--address", liar.address)
    [row] = json.loads(cli("list", "--check", "--json").stdout)
    assert (row["health"]["status"], row["health"]["server_version"]) == ("healthy", "v2.3.5")


def test_list_check_exits_0_when_all_are_healthy(cli, milvus_lite, serving):
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "h", "--address", serving.address)
    result = cli("list", "--check")
    assert result.stdout.splitlines()[0].split() == [
        "ALIAS", "ADDRESS", "USER", "DB", "TLS", "STATE", "HEALTH", "LATENCY", "VERSION", "CERT",
    ]  # fmt: skip


def test_list_check_exits_with_the_unreachable_code(cli, milvus_lite):
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    cli("list", "--check", code=3)


def test_list_check_exits_with_the_highest_code(cli, milvus_lite, serving):
    serving.set("", NOT_SERVING)
    cli("add", "default", "--address", milvus_lite.address)
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    cli("add", "sick", "--address", serving.address)
    cli("list", "--check", code=4)


def test_list_check_probes_all_aliases_at_once(cli, silent_server):
    for alias in ("s1", "s2", "s3"):
        cli("add", alias, "--address", silent_server.address)
    elapsed, _ = timed(cli, "list", "--check", "--timeout", "1", code=3)
    assert elapsed < within(1)  # one timeout, not three
