"""The pymilvus-compatible library (`Connections`, the same calls as pymilvus's
`connections`) against real servers on loopback: addresses, live handles, state seen by
a second instance, failures as pymilvus's exceptions, and the exported names."""

from __future__ import annotations

import json
import time
import types
from datetime import datetime, timezone

import pytest

import milvus_conn
from milvus_conn import (
    AuthenticationException,
    Connection,
    ConnectionConfigException,
    Connections,
    HealthResult,
    MilvusException,
    NotConnectedException,
    PlainSecretWarning,
    ServerUnhealthyException,
    ServerUnreachableException,
)
from milvus_conn import errors as errors_module

from . import servers
from .helpers import NOT_SERVING, state_file, state_of, within

# add_connection: pymilvus's validation -------------------------------------------------


def test_address_wins_over_uri_and_host_port(registry):
    registry.add_connection(a={"address": "h1:1", "uri": "http://h2:2", "host": "h3", "port": 3})
    assert registry.get_connection_addr("a")["address"] == "h1:1"


def test_uri_wins_over_host_port(registry):
    registry.add_connection(a={"uri": "http://h2:2", "host": "h3", "port": 3})
    assert registry.get_connection_addr("a")["address"] == "h2:2"


def test_host_and_port_default_to_localhost_19530(registry):
    registry.add_connection(h={"host": "h3"}, p={"port": 3})
    assert registry.get_connection_addr("h") == {"address": "h3:19530", "user": ""}
    assert registry.get_connection_addr("p") == {"address": "localhost:3", "user": ""}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"address": "localhost"},
            "Illegal address: localhost, should be in form 'localhost:19530'",
        ),
        ({"address": "a:b:1"}, "Illegal address: a:b:1, should be in form 'localhost:19530'"),
        (
            {"uri": "ftp://h:1"},
            "Illegal uri: [ftp://h:1], expected form 'http[s]://[user:password@]example.com[:12345]'",
        ),
        (
            {"uri": "no-scheme"},
            "Illegal uri: [no-scheme], expected form 'http[s]://[user:password@]example.com[:12345]'",
        ),
        ({"host": 1}, "Type of 'host' must be str."),
        (
            {"host": "a:b"},
            "'a:b' is not a valid host: a host has no port: give the port separately",
        ),
        ({"port": 1.5}, "Type of 'port' must be str or int."),
        ({"port": "abc"}, "port 'abc' is not a number"),
        ({"port": 0}, "port 0 out of range (1-65535)"),
        ({"port": 65536}, "port 65536 out of range (1-65535)"),
    ],
)
def test_add_connection_rejects_bad_targets(registry, profile, config, message):
    with pytest.raises(ConnectionConfigException) as info:
        registry.add_connection(bad=config)
    assert str(info.value) == message
    assert info.value.exit_code == 2
    assert not profile.exists()


@pytest.mark.parametrize(
    "method",
    [
        "connect",
        "disconnect",
        "has_connection",
        "get_connection",
        "get_connection_addr",
        "remove_connection",
    ],
)
def test_non_string_alias_is_a_config_error(registry, method):
    with pytest.raises(ConnectionConfigException) as info:
        getattr(registry, method)(1)
    assert str(info.value) == "Alias should be string, but <class 'int'> is given."


def test_https_uri_is_secure_on_port_443(registry):
    registry.add_connection(z={"uri": "https://example.com"})
    addr = registry.get_connection_addr("z")
    assert (addr["address"], addr["secure"]) == ("example.com:443", True)


def test_http_uri_defaults_to_port_19530_without_tls(registry):
    registry.add_connection(z={"uri": "http://example.com"})
    addr = registry.get_connection_addr("z")
    assert addr["address"] == "example.com:19530"
    assert "secure" not in addr


def test_uri_password_is_kept_out_of_the_public_config(registry, profile):
    with pytest.warns(PlainSecretWarning, match="plain password or token") as caught:
        registry.add_connection(z={"uri": "https://bob:hunter2@example.com"})
        addr = registry.get_connection_addr("z")
    assert addr == {"address": "example.com:443", "user": "bob", "secure": True}  # as pymilvus
    assert {warning.filename for warning in caught} == {__file__}  # shown at the caller's line
    assert "hunter2" not in repr(addr)
    assert 'uri = "https://bob@example.com"' in profile.read_text()
    assert 'password = "hunter2"' in profile.read_text()


def test_add_connection_writes_all_aliases_or_none(registry, profile):
    registry.add_connection(a={"address": "h:1"})
    before = profile.read_bytes()
    with pytest.raises(ConnectionConfigException):
        registry.add_connection(b={"address": "h:2"}, c={"port": 0})
    assert profile.read_bytes() == before
    assert registry.get_connection_addr("b") == {}


# connect / disconnect / has / get / list / addr ----------------------------------------


def test_has_connection_is_true_only_after_connect(registry, serving):
    registry.add_connection(h={"address": serving.address})
    assert registry.has_connection("h") is False
    assert registry.get_connection("h") is None
    registry.connect("h")
    assert registry.has_connection("h") is True


def test_get_connection_returns_the_live_handle(registry, serving):
    registry.add_connection(h={"address": serving.address})
    handle = registry.connect("h")
    assert isinstance(handle, Connection)
    assert registry.get_connection("h") is handle
    assert handle.address == serving.address
    assert handle.channel is handle.channel
    result = handle.check()
    assert isinstance(result, HealthResult)
    assert (result.status, result.protocol) == ("healthy", "grpc-health")


def test_milvus_lite_reports_its_version(registry, milvus_lite):
    handle = registry.connect("lite", uri=f"http://{milvus_lite.address}")
    assert handle.server_version.startswith("milvus_lite-")
    assert handle.check().protocol == "milvus"


def test_connection_addr_before_and_after_connect(registry, serving):
    registry.add_connection(h={"host": "127.0.0.1", "port": serving.port})
    assert registry.get_connection_addr("h") == {"address": serving.address, "user": ""}
    registry.connect("h")
    assert registry.get_connection_addr("h") == {
        "address": serving.address,
        "user": "",
        "db_name": "default",
    }


def test_connection_addr_of_unknown_alias_is_empty(registry):
    assert registry.get_connection_addr("nope") == {}


def test_list_connections_pairs_aliases_with_handles(registry, serving):
    registry.add_connection(a={"address": serving.address}, b={"address": serving.address})
    handle = registry.connect("b")
    assert registry.list_connections() == [("default", None), ("a", None), ("b", handle)]


def test_disconnect_clears_the_connection_but_keeps_the_alias(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    handle = registry.connect("h")
    registry.disconnect("h")
    assert registry.has_connection("h") is False
    assert registry.get_connection("h") is None
    assert handle.address == serving.address  # its channel closed: test_channels.py counts
    assert registry.get_connection_addr("h") == {"address": serving.address, "user": ""}
    assert state_of(profile) == {}


def test_disconnect_of_a_not_connected_alias_is_a_no_op(registry, profile):
    registry.add_connection(h={"address": "127.0.0.1:1"})
    registry.disconnect("h")
    registry.disconnect("never-heard-of")
    assert not state_file(profile).exists()
    assert registry.get_connection_addr("h") == {"address": "127.0.0.1:1", "user": ""}


def test_remove_connection_of_an_absent_alias_is_no_error(registry, profile):
    registry.add_connection(h={"address": "127.0.0.1:1"})
    before = profile.read_bytes()
    registry.remove_connection("absent")
    assert profile.read_bytes() == before


def test_remove_connection_disconnects_and_forgets(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    registry.remove_connection("h")
    assert registry.has_connection("h") is False
    assert registry.get_connection_addr("h") == {}
    assert "connections.h" not in profile.read_text()
    assert state_of(profile) == {}


# persistence across instances (and processes) ------------------------------------------


def test_second_instance_sees_aliases_and_connected_state(registry, serving, profile):
    registry.add_connection(a={"address": serving.address}, h={"address": serving.address})
    registry.connect("h")
    other = Connections(profile=profile)
    assert [alias for alias, _ in other.list_connections()] == ["default", "a", "h"]
    assert other.has_connection("h") is True
    assert other.has_connection("a") is False
    assert other.get_connection_addr("h") == registry.get_connection_addr("h")


def test_second_instance_opens_the_handle_lazily_without_probing(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    serving.set("", NOT_SERVING)
    other = Connections(profile=profile)
    handle = other.get_connection("h")
    try:
        assert handle is not None
        assert handle.result is None  # nothing was asked of the server
        assert handle.address == serving.address
        assert handle.check().status == "unhealthy"
    finally:
        other.reset()


def test_disconnect_in_one_instance_is_seen_by_another(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    other = Connections(profile=profile)
    assert other.get_connection("h") is not None
    registry.disconnect("h")
    assert other.has_connection("h") is False
    assert other.get_connection("h") is None


def test_an_alias_removed_from_the_profile_by_hand_is_not_connected(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    profile.write_text("version = 1\n")
    assert registry.has_connection("h") is False
    assert registry.get_connection("h") is None
    Connections(profile=profile).connect("h", address=serving.address)  # stored afresh
    assert registry.get_connection_addr("h")["address"] == serving.address


# failures ------------------------------------------------------------------------------


def test_connect_refused_is_unreachable(registry):
    address = servers.refused_address()
    with pytest.raises(ServerUnreachableException) as info:
        registry.connect("r", address=address, timeout=2)
    assert info.value.exit_code == 3
    assert info.value.result.status == "unreachable"
    assert str(info.value).startswith(f"cannot connect 'r' ({address}): cannot reach {address}")


def test_connect_silent_server_times_out_as_unreachable(registry, silent_server):
    with pytest.raises(ServerUnreachableException) as info:
        registry.connect("s", address=silent_server.address, timeout=0.5)
    assert info.value.exit_code == 3
    assert info.value.result.status == "unreachable"
    assert info.value.result.reason == f"no answer from {silent_server.address} within 0.5 s"


def test_connect_not_serving_is_unhealthy(registry, serving):
    serving.set("", NOT_SERVING)
    with pytest.raises(ServerUnhealthyException) as info:
        registry.connect("h", address=serving.address)
    assert info.value.exit_code == 4
    assert info.value.result.reason == "health status NOT_SERVING"


def test_connect_with_wrong_password_is_an_auth_error(registry, auth_server):
    with pytest.raises(AuthenticationException) as info:
        registry.connect("au", address=auth_server.address, user="alice", password="wrong")
    assert info.value.exit_code == 5
    assert info.value.result.status == "auth_failed"


def test_failed_connect_keeps_the_stored_config_and_is_not_connected(registry, serving):
    registry.add_connection(h={"address": serving.address, "timeout": 2.0})
    serving.set("", NOT_SERVING)
    with pytest.raises(ServerUnhealthyException):
        registry.connect("h")
    assert registry.has_connection("h") is False
    assert registry.get_connection("h") is None
    assert registry.get_connection_addr("h") == {
        "address": serving.address,
        "user": "",
        "timeout": 2.0,
    }


def test_failed_reconnect_of_a_connected_alias_leaves_it_not_connected(registry, serving, profile):
    """A failed `connect` leaves the stored config, and `has_connection` is False."""
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    serving.set("", NOT_SERVING)
    with pytest.raises(ServerUnhealthyException):
        registry.connect("h")
    assert registry.get_connection_addr("h")["address"] == serving.address
    assert registry.has_connection("h") is False
    assert "h" not in state_of(profile)


def test_failed_connect_with_explicit_params_stores_nothing(registry, profile):
    with pytest.raises(ServerUnreachableException):
        registry.connect("new", address=servers.refused_address(), timeout=2)
    assert registry.get_connection_addr("new") == {}
    assert registry.list_connections() == [("default", None)]
    assert not profile.exists() or "new" not in profile.read_text()


def test_connect_unknown_alias_without_address_is_a_config_error(registry):
    with pytest.raises(ConnectionConfigException) as info:
        registry.connect("ghost")
    assert str(info.value) == (
        "You need to pass in the configuration of the connection named 'ghost' ."
    )


def test_readdressing_a_connected_alias_is_refused(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    before = profile.read_bytes()
    with pytest.raises(ConnectionConfigException) as info:
        registry.add_connection(h={"address": "127.0.0.1:1"})
    assert str(info.value) == (
        "Alias of 'h' already creating connections, but the configure is not the same as "
        "passed in. (disconnect it first)"
    )
    assert profile.read_bytes() == before
    registry.add_connection(h={"address": serving.address})  # same address: fine


def test_connecting_a_connected_alias_to_another_address_is_refused(registry, serving, profile):
    registry.connect("h", address=serving.address)
    before = state_file(profile).read_bytes()
    with pytest.raises(ConnectionConfigException) as info:
        registry.connect("h", address="127.0.0.1:1")
    assert (info.value.exit_code, str(info.value)) == (
        1,
        "Alias of 'h' already creating connections, but the configure is not the same as "
        "passed in. (disconnect it first)",
    )
    assert state_file(profile).read_bytes() == before
    registry.connect("h", address=serving.address)  # the same address: reconnected


def test_a_reconnect_takes_the_alias_as_the_profile_now_says(registry, serving, profile):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    serving.set("conn.test.Edited", NOT_SERVING)
    text = profile.read_text() + 'health_service = "conn.test.Edited"\n'
    profile.write_text(text)  # edited by hand while connected, the address unchanged
    with pytest.raises(ServerUnhealthyException):
        Connections(profile=profile).connect("h")


def test_a_reconnect_without_db_name_uses_the_default_database_as_pymilvus(
    registry, serving, profile
):
    """pymilvus reconnects an alias with connect's own `db_name` ("default" when not
    given); the user it connected as is kept (get_connection_addr names it)."""
    registry.add_connection(h={"address": "127.0.0.1:1"})
    registry.connect("h", address=serving.address, user="bob", db_name="shop")
    fresh = Connections(profile=profile)
    fresh.connect("h")
    assert fresh.get_connection_addr("h") == {
        "address": serving.address,
        "user": "bob",
        "db_name": "default",
    }


def test_a_handle_opened_from_the_state_file_asks_for_the_database_connected_to(
    registry, liar, profile
):
    registry.connect("l", address=liar.address, db_name="shop")
    liar.metadata.clear()
    assert Connections(profile=profile).get_connection("l").check().healthy
    assert {call.get("dbname") for call in liar.metadata} == {"shop"}


def test_ready_of_an_alias_not_connected_names_the_fix(registry, serving):
    registry.add_connection(idle={"address": serving.address})
    with pytest.raises(NotConnectedException) as info:
        registry.ready("idle")
    assert str(info.value) == "alias 'idle' is not connected (run: conn connect idle)"


def test_readdressing_after_disconnect_is_allowed(registry, serving):
    registry.add_connection(h={"address": serving.address})
    registry.connect("h")
    registry.disconnect("h")
    registry.add_connection(h={"address": "127.0.0.1:1"})
    assert registry.get_connection_addr("h")["address"] == "127.0.0.1:1"


# client_kwargs and pymilvus ------------------------------------------------------------


def test_connect_to_a_db_file_starts_milvus_lite(registry, tmp_path):
    """A `uri` ending in `.db` starts an in-process Milvus Lite, as pymilvus does."""
    from milvus_lite.server_manager import server_manager_instance

    db = tmp_path / "demo.db"
    try:
        handle = registry.connect("local", uri=str(db))
        assert handle.server_version.startswith("milvus_lite-")
    finally:
        server_manager_instance.release_server(str(db))


# the package's promises ----------------------------------------------------------------


def test_all_is_sorted_and_complete():
    public = {
        name
        for name, value in vars(milvus_conn).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    lazy = {"HealthResult"}  # resolved by the package's __getattr__: the health core loads late
    assert milvus_conn.__all__ == sorted(milvus_conn.__all__)
    assert set(milvus_conn.__all__) == (public - lazy) | lazy | {"__version__"}
    assert all(getattr(milvus_conn, name) is not None for name in milvus_conn.__all__)


def test_every_exception_the_library_raises_is_exported():
    raised = {
        name
        for name, value in vars(errors_module).items()
        if isinstance(value, type)
        and issubclass(value, (MilvusException, Warning))
        and value.__module__ == errors_module.__name__
    }
    assert raised - set(milvus_conn.__all__) == set()


def test_the_protocol_that_answered_is_remembered_but_not_shown(registry, milvus_lite, profile):
    registry.connect("lite", address=milvus_lite.address)
    state = json.loads(state_file(profile).read_text())
    assert state["connected"]["lite"]["protocol"] == "milvus"
    assert "protocol" not in registry.get_connection_addr("lite")
    fresh = Connections(profile=profile)
    assert fresh.get_connection("lite").answered_by == "milvus"
    assert fresh.probe("lite").protocol == "milvus"


def test_the_state_file_says_since_when_an_alias_is_connected(registry, serving, profile):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    registry.connect("h", address=serving.address)
    since = json.loads(state_file(profile).read_text())["connected"]["h"]["since"]
    assert before <= datetime.strptime(since, "%Y-%m-%dT%H:%M:%S%z") <= datetime.now(timezone.utc)


def test_a_server_that_answered_milvus_only_is_asked_checkhealth_first(registry, liar, profile):
    registry.connect("l", address=liar.address)  # grpc.health.v1 first: UNIMPLEMENTED
    assert (liar.calls["Check"], liar.calls["CheckHealth"]) == (1, 1)
    liar.calls.clear()
    fresh = Connections(profile=profile)
    assert fresh.probe("l").protocol == "milvus"
    assert liar.calls == {"CheckHealth": 1}  # one round trip, not two


def test_an_empty_address_or_uri_given_to_connect_leaves_the_stored_one(registry, serving):
    registry.add_connection(h={"address": serving.address})
    assert registry.connect("h", address="", uri="").address == serving.address


def test_a_stored_database_wins_over_pymilvuss_default_keyword(registry, serving, profile):
    registry.add_connection(h={"address": serving.address, "db_name": "analytics"})
    registry.connect("h")  # db_name="default", as pymilvus's signature has it
    assert state_of(profile)["h"]["db_name"] == "analytics"
    registry.connect("h", db_name="sales")
    assert state_of(profile)["h"]["db_name"] == "sales"


def test_a_handle_keeps_the_version_its_connect_read(registry, liar):
    handle = registry.connect("l", address=liar.address)
    liar.calls.clear()
    assert handle.server_version == liar.version
    assert liar.calls == {}  # no second probe to learn it


def test_a_handles_check_keeps_to_the_timeout_it_is_given(registry):
    server = servers.HealthServer()
    handle = registry.connect("svc", address=server.address)  # the alias's timeout: 10 s
    server.stop()
    with servers.silent_on(server.port):
        started = time.monotonic()
        result = handle.check(0.5)
        elapsed = time.monotonic() - started
    assert (result.exit_code, result.reason) == (3, f"no answer from {server.address} within 0.5 s")
    assert elapsed < within(0.5)


def test_a_closed_handle_opens_a_new_channel_when_used_again(registry, serving):
    handle = registry.connect("h", address=serving.address)
    handle.close()
    assert handle.check().healthy
    assert registry.get_connection("h") is handle


# the real Milvus 2.3.5 -----------------------------------------------------------------


@pytest.mark.slow
def test_library_connects_and_reads_the_version(registry, milvus):
    handle = registry.connect("real", address=milvus.address)
    assert handle.server_version is not None
    assert handle.server_version.startswith("v2.3.5")
    assert registry.has_connection("real")
