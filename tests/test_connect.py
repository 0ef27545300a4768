"""`conn connect` and `conn disconnect`: the outcome printed (text and JSON), the
recorded state, every failure's exit code, a `.db` file as an in-process Milvus Lite,
and what a real process shares with the next one. Servers are real, on 127.0.0.1.

Elsewhere, by feature: credentials in test_credentials.py, TLS in test_tls.py, the gates
in test_gates.py, `--ready` in test_ready.py, network faults in test_faults.py, and the
library's `connect` in test_library.py."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_conn import ConnectionConfigException, Connections

from . import servers
from .conftest import run_conn
from .helpers import LATENCY, NOT_SERVING, OUTCOME_KEYS, state_file, timed, within

# connect -------------------------------------------------------------------------------


def test_connect_milvus_lite_prints_version_and_latency(cli, lite):
    result = cli("connect", "lite")
    assert re.fullmatch(
        rf"Connected lite \({re.escape(lite.address)}\): healthy via milvus in {LATENCY}, "
        r"version milvus_lite-\S+\n",
        result.stdout,
    ), result.stdout


def test_connect_records_the_alias_as_connected(cli, lite, registry):
    cli("connect", "lite")
    assert registry.has_connection("lite") is True


def test_connect_json_has_the_outcome_shape(cli, lite):
    data = json.loads(cli("connect", "lite", "--json").stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"], data["protocol"]) == (
        "lite",
        0,
        "healthy",
        "milvus",
    )
    assert data["server_version"].startswith("milvus_lite-")
    assert data["latency_ms"] > 0


def test_connect_json_of_a_failure_has_the_same_shape(cli):
    address = servers.refused_address()
    result = cli("connect", "x", "--address", address, "--timeout", "1", "--json", code=3)
    data = json.loads(result.stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"]) == ("x", 3, "unreachable")
    assert address in data["reason"]


def test_connect_with_an_address_stores_a_new_alias(cli, milvus_lite):
    cli("connect", "fresh", "--address", milvus_lite.address)
    assert cli("addr", "fresh").stdout == f"{milvus_lite.address}\n"


def test_connect_grpc_health_server_reports_version_unknown(cli, serving):
    result = cli("connect", "h", "--address", serving.address)
    assert re.fullmatch(
        rf"Connected h \({re.escape(serving.address)}\): healthy via grpc-health in {LATENCY}: "
        r"version unknown\n",
        result.stdout,
    ), result.stdout


def test_connect_server_without_get_version_is_connected(cli, milvus_protocol):
    data = json.loads(cli("connect", "m", "--address", milvus_protocol.address, "--json").stdout)
    assert (data["exit_code"], data["status"], data["server_version"]) == (0, "healthy", None)


def test_connect_unknown_alias_without_address_exits_1(cli):
    result = cli("connect", "nope", code=1)
    assert result.stderr == (
        "Error: You need to pass in the configuration of the connection named 'nope' .\n"
    )


def test_connect_refused_exits_3(cli, registry):
    cli("connect", "x", "--address", servers.refused_address(), code=3)
    assert registry.has_connection("x") is False


def test_connect_silent_server_exits_3_after_its_timeout(cli, silent_server):
    elapsed, result = timed(cli, "connect", "x", "--address", silent_server.address,
                            "--timeout", "1", code=3)  # fmt: skip
    assert elapsed < within(1)
    assert f"no answer from {silent_server.address} within 1 s" in result.stderr


def test_connect_server_that_closes_at_once_exits_3(cli, closing_server):
    cli("connect", "x", "--address", closing_server.address, "--timeout", "1", code=3)


def test_connect_not_serving_exits_4(cli, serving):
    serving.set("", NOT_SERVING)
    result = cli("connect", "h", "--address", serving.address, code=4)
    assert result.stderr.endswith(": health status NOT_SERVING\n")


def test_an_alias_checks_the_health_service_it_names(cli, serving):
    serving.set("conn.test.Named", NOT_SERVING)  # the server itself ("") serves
    cli("add", "n", "--address", serving.address, "--health-service", "conn.test.Named")
    result = cli("connect", "n", code=4)
    assert (
        result.stderr
        == f"Error: cannot connect 'n' ({serving.address}): health status NOT_SERVING\n"
    )


def test_an_alias_probed_by_grpc_health_only_never_asks_milvus(cli, liar):
    cli("add", "g", "--address", liar.address, "--probe", "grpc-health")
    result = cli("connect", "g", code=4)
    assert result.stderr == (
        f"Error: cannot connect 'g' ({liar.address}): server does not implement grpc.health.v1\n"
    )
    assert liar.calls == {"Check": 1}


def test_connect_http1_server_exits_4(cli, http1_server):
    result = cli("connect", "w", "--address", http1_server.address, "--timeout", "2", code=4)
    assert f"{http1_server.address} speaks HTTP/1.x, not gRPC" in result.stderr


def test_connect_state_file_is_0600(cli, connected_lite, profile):
    assert stat.S_IMODE(state_file(profile).stat().st_mode) == 0o600


# disconnect ----------------------------------------------------------------------------


def test_disconnect_forgets_the_connected_state(cli, connected_lite, registry):
    assert cli("disconnect", "lite").stdout == "Disconnected lite\n"
    assert registry.has_connection("lite") is False


def test_disconnect_of_an_alias_not_connected_exits_0(cli, lite):
    assert cli("disconnect", "lite").stdout == "lite was not connected\n"


def test_disconnect_of_an_unknown_alias_exits_1(cli):
    assert cli("disconnect", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


# real processes ------------------------------------------------------------------------


def test_connect_in_a_process_is_seen_by_a_fresh_registry(lite, profile):
    done = run_conn("connect", "lite")
    assert done.returncode == 0, done.stderr
    fresh = Connections(profile=profile)
    try:
        assert fresh.has_connection("lite") is True
        assert fresh.get_connection("lite").address == lite.address
    finally:
        fresh.reset()


def test_a_db_uri_is_refused_with_the_reason(cli, profile, tmp_path):
    for command in ("add", "connect"):
        result = cli(command, "local", "--uri", str(tmp_path / "demo.db"), code=2)
        assert result.stderr.startswith("Error: a .db uri runs Milvus Lite inside the Python")
    assert not profile.exists()


# a .db file: an embedded Milvus Lite ---------------------------------------------------


@pytest.fixture
def local_db(tmp_path) -> Iterator[Path]:
    """A .db file for an in-process Milvus Lite, released after the test."""
    from milvus_lite.server_manager import server_manager_instance

    db = tmp_path / "x.db"
    yield db
    server_manager_instance.release_server(str(db))


def test_connect_to_a_db_file_gives_a_healthy_handle_not_stored(registry, profile, local_db):
    handle = registry.connect("local", uri=str(local_db))
    assert handle.check().healthy is True
    assert "local" not in registry.store.load().aliases
    assert not profile.exists() or "local" not in profile.read_text()


def test_a_db_file_connection_is_live_in_its_process(registry, local_db):
    handle = registry.connect("local", uri=str(local_db))
    assert registry.has_connection("local") is True
    assert registry.get_connection("local") is handle
    assert registry.client_kwargs("local")["uri"] == f"http://{handle.address}"
    registry.disconnect("local")
    assert registry.has_connection("local") is False


def test_a_db_file_alias_keeps_its_address_until_disconnected(registry, local_db, serving):
    """As pymilvus: a connected alias is not pointed elsewhere; once disconnected, it is an
    alias like any other."""
    registry.connect("local", uri=str(local_db))
    with pytest.raises(ConnectionConfigException) as info:
        registry.connect("local", address=serving.address)
    assert info.value.exit_code == 1
    registry.disconnect("local")
    registry.connect("local", address=serving.address)
    assert registry.get_connection_addr("local")["address"] == serving.address


def test_a_db_uri_without_milvus_lite_names_the_extra(profile, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.modules["milvus_lite"] = None
        sys.modules["milvus_lite.server_manager"] = None
        from milvus_conn import ConnectionConfigException, Connections
        try:
            Connections(profile=sys.argv[1]).connect("local", uri=sys.argv[2])
        except ConnectionConfigException as exc:
            print(exc.message)
        """
    )
    command = [sys.executable, "-c", script, str(profile), str(tmp_path / "x.db")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "milvus-conn[lite]" in done.stdout
    assert not profile.exists()


def test_a_db_file_in_a_missing_directory_is_a_config_error(registry, profile, tmp_path):
    missing = tmp_path / "absent" / "x.db"
    with pytest.raises(ConnectionConfigException, match="not exists"):
        registry.connect("local", uri=str(missing))
    assert not profile.exists()


# the real Milvus 2.3.5 -----------------------------------------------------------------


@pytest.mark.slow
def test_connect_reports_version_2_3_5_over_grpc_health(cli, milvus):
    cli("add", "real", "--address", milvus.address)
    result = cli("connect", "real", "--json")
    assert '"protocol": "grpc-health"' in result.stdout
    assert '"server_version": "v2.3.5' in result.stdout
    cli("has", "real")
