"""Readiness: `has`/`connect` --ready, --collection, --loaded and `Connections.ready`,
against Milvus Lite, the real Milvus 2.3.5 (with authorization) and a plain
grpc.health.v1 server. Databases, collections and users are made with pymilvus."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from milvus_conn import (
    AuthenticationException,
    ConnectionConfigException,
    Connections,
    NotConnectedException,
    ServerUnhealthyException,
)

from .helpers import snapshot

ROOT_TOKEN = "root:Milvus"


def _client(address: str, db_name: str = "default", token: str = ""):
    from pymilvus import MilvusClient

    return MilvusClient(uri=f"http://{address}", token=token, db_name=db_name)


def _make(address: str, db_name: str, token: str = "") -> dict[str, str]:
    """A fresh database with a loaded, a released and a not-yet-loaded collection."""
    suffix = uuid.uuid4().hex[:8]
    db = f"{db_name}_{suffix}"
    _client(address, token=token).create_database(db)
    client = _client(address, db, token)
    names = {kind: f"{kind}_{suffix}" for kind in ("loaded", "released", "later")}
    for name in names.values():
        client.create_collection(name, dimension=4)
    client.release_collection(names["released"])
    client.release_collection(names["later"])
    return {"db": db, **names}


@pytest.fixture(scope="module")
def shop(milvus_lite) -> dict[str, str]:
    return _make(milvus_lite.address, "shop")


@pytest.fixture
def aliases(cli, milvus_lite, shop) -> dict[str, str]:
    """`lite` (database default), `shop` (the shop database), `nodb` (a missing one)."""
    address = milvus_lite.address
    cli("connect", "lite", "--address", address)
    cli("connect", "shop", "--address", address, "--db-name", shop["db"])
    cli("connect", "nodb", "--address", address, "--db-name", "no_such_db")
    return shop


def _json(result) -> dict:
    return json.loads(result.stdout)


# Milvus Lite -----------------------------------------------------------------------------


class TestDatabase:
    """--ready alone: the alias's database must exist (ShowCollections scoped to it)."""

    def test_ready_on_the_default_database_exits_0_and_says_so(self, cli, aliases):
        result = cli("has", "lite", "--ready")
        assert "database 'default' ready" in result.stdout

    def test_json_gains_the_ready_object(self, cli, aliases):
        data = _json(cli("has", "shop", "--ready", "--json"))
        assert data["ready"] == {"database": aliases["db"], "collections": []}
        assert data["status"] == "healthy"

    def test_missing_database_exits_4_naming_it(self, cli, aliases):
        result = cli("has", "nodb", "--ready", code=4)
        assert "database 'no_such_db' does not exist" in result.stderr

    def test_plain_has_of_the_same_alias_still_passes(self, cli, aliases):
        cli("has", "nodb")  # health alone says nothing of databases

    def test_no_ready_flag_no_ready_key(self, cli, aliases):
        assert "ready" not in _json(cli("has", "lite", "--json"))


class TestCollections:
    """--collection NAME: exists in the alias's database; --loaded: fully loaded."""

    def test_loaded_collection_passes_loaded(self, cli, aliases):
        result = cli("has", "shop", "--collection", aliases["loaded"], "--loaded")
        assert f"'{aliases['loaded']}' loaded" in result.stdout

    def test_released_collection_fails_loaded_naming_it_and_its_state(self, cli, aliases):
        name = aliases["released"]
        result = cli("has", "shop", "--collection", name, "--loaded", code=4)
        assert f"collection '{name}'" in result.stderr
        assert "not loaded (state: not_loaded)" in result.stderr

    def test_released_collection_passes_without_loaded(self, cli, aliases):
        data = _json(cli("has", "shop", "--collection", aliases["released"], "--json"))
        assert data["ready"]["collections"] == [
            {"name": aliases["released"], "exists": True, "load_state": "not_loaded",
             "progress": 0}
        ]  # fmt: skip

    def test_missing_collection_exits_4_naming_it(self, cli, aliases):
        result = cli("has", "shop", "--collection", "nope", code=4)
        assert f"collection 'nope' does not exist in database '{aliases['db']}'" in result.stderr

    def test_json_lists_every_collection_in_order(self, cli, aliases):
        args = ["--collection", aliases["loaded"], "--collection", "nope", "--json"]
        data = _json(cli("has", "shop", *args, code=4))
        assert data["exit_code"] == 4
        states = [(c["name"], c["exists"], c["load_state"]) for c in data["ready"]["collections"]]
        assert states == [(aliases["loaded"], True, "loaded"), ("nope", False, "missing")]
        assert data["ready"]["collections"][0]["progress"] == 100

    def test_collection_is_found_only_through_the_alias_of_its_database(self, cli, aliases):
        name = aliases["loaded"]
        cli("has", "shop", "--collection", name)
        result = cli("has", "lite", "--collection", name, code=4)
        assert "does not exist in database 'default'" in result.stderr

    def test_loaded_without_collection_is_a_usage_error_and_changes_nothing(
        self, cli, aliases, profile
    ):
        before = snapshot(profile)
        result = cli("has", "shop", "--loaded", code=2)
        assert result.stderr.startswith("Error: --loaded needs --collection")
        assert snapshot(profile) == before

    def test_ready_with_no_probe_is_a_usage_error(self, cli, aliases):
        cli("has", "shop", "--ready", "--no-probe", code=2)

    def test_several_aliases_all_and_any(self, cli, aliases):
        args = ["--collection", aliases["loaded"]]
        cli("has", "shop", "lite", *args, "--all", code=4)
        cli("has", "shop", "lite", *args, "--any")
        data = json.loads(cli("has", "shop", "lite", *args, "--json", code=4).stdout)
        assert [d["exit_code"] for d in data] == [0, 4]

    def test_wait_succeeds_when_the_collection_is_loaded_partway(self, cli, aliases, milvus_lite):
        name = aliases["later"]
        cli("has", "shop", "--collection", name, "--loaded", code=4)  # not loaded yet
        client = _client(milvus_lite.address, aliases["db"])
        loader = threading.Timer(1.5, client.load_collection, args=(name,))
        loader.start()
        try:
            result = cli("has", "shop", "--collection", name, "--loaded", "--wait", "60")
        finally:
            loader.join()
        assert f"'{name}' loaded" in result.stdout

    def test_wait_gives_up_on_a_missing_database_after_the_wait(self, cli, aliases):
        started = time.monotonic()
        cli("has", "nodb", "--ready", "--wait", "1", code=4)
        assert time.monotonic() - started >= 1  # retried for the whole wait, then failed


class TestConnect:
    def test_connect_ready_json_and_connected(self, cli, aliases, milvus_lite, registry):
        address = milvus_lite.address
        result = cli("connect", "c", "--address", address, "--db-name", aliases["db"],
                     "--collection", aliases["loaded"], "--loaded", "--json")  # fmt: skip
        data = _json(result)
        assert data["ready"]["collections"][0]["load_state"] == "loaded"
        assert registry.has_connection("c")

    def test_connect_to_a_missing_collection_exits_4_and_connects_nothing(
        self, cli, milvus_lite, registry
    ):
        result = cli("connect", "c", "--address", milvus_lite.address, "--collection", "nope",
                     code=4)  # fmt: skip
        assert "collection 'nope' does not exist" in result.stderr
        assert not registry.has_connection("c")


class TestLibrary:
    @pytest.fixture
    def conns(self, aliases, profile) -> Iterator[Connections]:
        conns = Connections(profile=profile)
        yield conns
        conns.reset()

    def test_ready_returns_the_result_with_what_it_saw(self, conns, aliases):
        result = conns.ready("shop", collections=[aliases["loaded"]], loaded=True)
        assert result.healthy
        assert result.ready.database == aliases["db"]
        assert result.ready.collections[0].load_state == "loaded"

    def test_not_loaded_raises_server_unhealthy_naming_the_collection(self, conns, aliases):
        name = aliases["released"]
        with pytest.raises(ServerUnhealthyException, match=f"collection '{name}'") as caught:
            conns.ready("shop", collections=[name], loaded=True)
        assert caught.value.exit_code == 4
        assert caught.value.result.ready.collections[0].load_state == "not_loaded"

    def test_missing_database_raises_server_unhealthy(self, conns, aliases):
        with pytest.raises(ServerUnhealthyException, match="database 'no_such_db'"):
            conns.ready("nodb")

    def test_loaded_without_collections_is_a_config_error(self, conns, aliases):
        with pytest.raises(ConnectionConfigException, match="--collection"):
            conns.ready("shop", loaded=True)

    def test_an_alias_not_connected_is_refused(self, conns, cli, milvus_lite):
        cli("add", "idle", "--address", milvus_lite.address)
        with pytest.raises(NotConnectedException):
            conns.ready("idle")

    def test_has_connection_keeps_its_meaning(self, conns, aliases):
        assert conns.has_connection("nodb")  # connected, though its database is missing


# a plain grpc.health.v1 server ---------------------------------------------------------


def test_plain_health_server_has_no_milvus_api_exit_4(cli, serving):
    cli("connect", "h", "--address", serving.address)
    cli("has", "h")
    result = cli("has", "h", "--ready", code=4)
    assert "no Milvus API" in result.stderr


def test_plain_health_server_connect_ready_exit_4(cli, serving, registry):
    result = cli("connect", "h", "--address", serving.address, "--collection", "c", code=4)
    assert "no Milvus API" in result.stderr
    assert not registry.has_connection("h")


# the real Milvus 2.3.5, authorization on --------------------------------------------------


@pytest.fixture(scope="module")
def real(milvus_auth) -> dict[str, str]:
    """A database with collections, and a user `nopriv` that was granted nothing."""
    made = _make(milvus_auth.address, "real", ROOT_TOKEN)
    _client(milvus_auth.address, token=ROOT_TOKEN).create_user("nopriv", "Nopriv-123")
    return made


@pytest.fixture
def real_aliases(cli, milvus_auth, real, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("ROOT_PW", "Milvus")
    monkeypatch.setenv("NOPRIV_PW", "Nopriv-123")
    address = milvus_auth.address
    cli("connect", "root", "--address", address, "--user", "root", "--password-env", "ROOT_PW",
        "--db-name", real["db"])  # fmt: skip
    cli("connect", "nopriv", "--address", address, "--user", "nopriv",
        "--password-env", "NOPRIV_PW", "--db-name", real["db"])  # fmt: skip
    cli("connect", "rootnodb", "--address", address, "--user", "root",
        "--password-env", "ROOT_PW", "--db-name", "no_such_db")  # fmt: skip
    return real


@pytest.mark.slow
class TestRealMilvus:
    def test_ready_with_root_credentials(self, cli, real_aliases):
        data = _json(cli("has", "root", "--ready", "--json"))
        assert data["ready"]["database"] == real_aliases["db"]

    def test_missing_database_exits_4_naming_it(self, cli, real_aliases):
        result = cli("has", "rootnodb", "--ready", code=4)
        assert "database 'no_such_db' does not exist" in result.stderr

    def test_load_states(self, cli, real_aliases):
        cli("has", "root", "--collection", real_aliases["loaded"], "--loaded")
        result = cli("has", "root", "--collection", real_aliases["released"], "--loaded", code=4)
        assert "not loaded (state: not_loaded)" in result.stderr
        cli("has", "root", "--collection", "nope", code=4)

    def test_wrong_password_exits_5_and_is_never_retried(self, cli, real_aliases, milvus_auth):
        cli("add", "bad", "--address", milvus_auth.address, "--user", "root")
        started = time.monotonic()
        cli("connect", "bad", "--ready", "--wait", "30", "--password-stdin", input="nope\n",
            code=5)  # fmt: skip
        assert time.monotonic() - started < 15  # one attempt, not thirty seconds of them

    def test_user_without_privileges_passes_ready(self, cli, real_aliases):
        # 2.3.5's built-in `public` role grants ShowCollections to every user.
        cli("has", "nopriv", "--ready")

    def test_user_without_privileges_is_refused_on_a_collection_exit_5(self, cli, real_aliases):
        started = time.monotonic()
        result = cli("has", "nopriv", "--collection", real_aliases["loaded"], "--wait", "30",
                     code=5)  # fmt: skip
        assert "permission refused" in result.stderr
        assert "Nopriv-123" not in result.output
        assert time.monotonic() - started < 15  # refused permissions are not retried

    def test_library_raises_authentication_for_the_refused_permission(self, real_aliases, profile):
        conns = Connections(profile=profile)
        with pytest.raises(AuthenticationException, match="permission refused"):
            conns.ready("nopriv", collections=[real_aliases["loaded"]])
        conns.reset()


# the hand-encoded messages, byte for byte against pymilvus's generated ones ------------------


def test_requests_encode_as_the_generated_messages_do():
    from pymilvus.grpc_gen import milvus_pb2

    from milvus_conn.probe.readiness import _show_request, _state_request

    show = milvus_pb2.ShowCollectionsRequest(db_name="shop", type=1, collection_names=["a", "b"])
    assert _show_request("shop", ("a", "b")) == show.SerializeToString()
    assert (
        _show_request("shop")
        == milvus_pb2.ShowCollectionsRequest(db_name="shop").SerializeToString()
    )
    state = milvus_pb2.GetLoadStateRequest(collection_name="books", db_name="shop")
    assert _state_request("books", "shop") == state.SerializeToString()


def test_responses_decode_as_the_generated_messages_say():
    from pymilvus.grpc_gen import common_pb2, milvus_pb2

    from milvus_conn.probe import wire

    shown = milvus_pb2.ShowCollectionsResponse(
        collection_names=["a", "b"], inMemory_percentages=[100, 300]
    ).SerializeToString()
    fields = wire.decode(shown, wire.SHOW_COLLECTIONS_RESPONSE)
    assert fields["collection_names"] == ["a", "b"]
    assert fields["inMemory_percentages"] == [100, 300]
    state = milvus_pb2.GetLoadStateResponse(state=common_pb2.LoadStateLoading)
    assert wire.decode(state.SerializeToString(), wire.GET_LOAD_STATE_RESPONSE)["state"] == 2
    with pytest.raises(wire.MalformedReply):
        wire.decode(b"\x32\x01\xff", wire.SHOW_COLLECTIONS_RESPONSE)  # a packed array cut short


def _percentages(address: str, database: str, names: list[str], **credentials: str) -> dict:
    """What the loading-percentage call (asked only while a collection loads) returns."""
    from milvus_conn.probe import health, readiness
    from milvus_conn.probe.channel import open_channel
    from milvus_conn.probe.endpoint import Credentials, Target
    from milvus_conn.probe.request import Probe

    probe = Probe(Target(address), Credentials(**credentials))
    channel = open_channel(probe.target)
    try:
        return readiness._progress(health._Checker(probe, channel), database, names)
    finally:
        channel.close()


def test_loading_percentages_from_milvus_lite(milvus_lite, shop):
    found = _percentages(milvus_lite.address, shop["db"], [shop["loaded"]])
    assert found == {shop["loaded"]: 100}


@pytest.mark.slow
def test_loading_percentages_from_real_milvus(milvus_auth, real):
    found = _percentages(
        milvus_auth.address, real["db"], [real["loaded"]], user="root", password="Milvus"
    )
    assert found == {real["loaded"]: 100}


@pytest.mark.slow
def test_real_milvus_reports_loading_with_its_percentage(
    milvus_auth, real, profile, cli, monkeypatch
):
    """100,000 rows take seconds to load on 2.3.5: long enough to be seen loading."""
    import random

    client = _client(milvus_auth.address, real["db"], ROOT_TOKEN)
    name = f"big_{uuid.uuid4().hex[:8]}"
    client.create_collection(name, dimension=16)
    rows = [{"id": i, "vector": [random.random() for _ in range(16)]} for i in range(100_000)]
    for start in range(0, len(rows), 25_000):
        client.insert(name, rows[start : start + 25_000])
    client.flush(name)
    client.release_collection(name)
    monkeypatch.setenv("ROOT_PW", "Milvus")
    cli("connect", "root", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "ROOT_PW", "--db-name", real["db"])  # fmt: skip
    conns = Connections(profile=profile)
    seen: list = []
    try:
        for _ in range(3):  # a load that ends before the first poll is tried again
            client.release_collection(name)
            loader = threading.Thread(target=client.load_collection, args=(name,))
            loader.start()
            try:
                while loader.is_alive():
                    try:
                        conns.ready("root", collections=[name], loaded=True)
                    except ServerUnhealthyException as exc:
                        seen.append((exc.result.ready.collections[0], exc.message))
            finally:
                loader.join()
            if any(state.load_state == "loading" for state, _ in seen):
                break
    finally:
        conns.reset()
    loading = [(state, message) for state, message in seen if state.load_state == "loading"]
    assert loading, f"never seen loading: {seen[:3]}"
    state, message = loading[-1]
    assert isinstance(state.progress, int) and 0 <= state.progress <= 100  # two calls: may race
    assert f"not loaded (state: loading, {state.progress}%)" in message
    cli("has", "root", "--collection", name, "--loaded")
