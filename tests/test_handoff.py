"""Handing an alias to pymilvus: `client_kwargs`, `Connections.client()` /
`async_client()` and `milvus_conn.client` give a ready MilvusClient for an alias,
against Milvus Lite and the real Milvus 2.3.5 server (credentials and TLS included)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import grpc
import pytest
from pymilvus import AsyncMilvusClient, MilvusClient
from pymilvus.exceptions import MilvusException as PymilvusError

from milvus_conn import Connections

from .certs import SERVER_NAME
from .helpers import ROOT_PASSWORD


def test_client_kwargs_carry_everything_pymilvus_needs(registry, monkeypatch):
    monkeypatch.setenv("PW", "pw1")
    registry.add_connection(
        a={"uri": "http://h:1", "user": "bob", "password_env": "PW", "db_name": "d", "timeout": 3}
    )
    assert registry.client_kwargs("a") == {
        "uri": "http://h:1",
        "user": "bob",
        "password": "pw1",
        "db_name": "d",
        "timeout": 3.0,
    }


def test_pymilvus_client_connects_with_client_kwargs(registry, milvus_lite):
    from pymilvus import MilvusClient

    registry.add_connection(lite={"address": milvus_lite.address})
    client = MilvusClient(**registry.client_kwargs("lite"))
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()


@pytest.mark.slow
def test_client_kwargs_hand_tls_to_pymilvus(milvus_mtls, certs, profile):
    registry = Connections(profile=profile)
    registry.add_connection(
        mtls={
            "address": milvus_mtls.address,
            "secure": True,
            "ca_pem_path": str(certs / "ca.pem"),
            "client_pem_path": str(certs / "client.pem"),
            "client_key_path": str(certs / "client.key"),
        }
    )
    kwargs = registry.client_kwargs("mtls")
    assert kwargs["uri"] == f"https://{milvus_mtls.address}"
    assert kwargs["client_pem_path"] == str(certs / "client.pem")


@pytest.fixture
def lite_alias(cli, milvus_lite):
    cli("add", "lite", "--address", milvus_lite.address, "--timeout", "20")
    return milvus_lite


def test_client_returns_a_milvus_client_that_works(registry, lite_alias):
    name = f"c_{uuid.uuid4().hex[:12]}"
    client = registry.client("lite")
    try:
        assert isinstance(client, MilvusClient)
        client.create_collection(name, dimension=2)
        client.insert(name, [{"id": 1, "vector": [0.1, 0.2]}])
        assert name in client.list_collections()
    finally:
        client.drop_collection(name)
        client.close()


def test_client_overrides_win_over_the_alias(cli, registry, lite_alias):
    cli("add", "dead", "--address", "127.0.0.1:1")
    client = registry.client("dead", uri=f"http://{lite_alias.address}")
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()


def test_client_without_alias_uses_the_chosen_default(cli, registry, lite_alias):
    cli("use", "lite")
    client = registry.client()
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()


def test_client_of_an_unknown_alias_raises_as_client_kwargs_does(registry):
    from milvus_conn import ConnectionNotExistException

    with pytest.raises(ConnectionNotExistException, match="unknown alias 'nope'"):
        registry.client("nope")


def test_async_client_lists_collections(registry, lite_alias):
    async def run() -> list[str]:
        client = registry.async_client("lite")
        assert isinstance(client, AsyncMilvusClient)
        try:
            return await client.list_collections()
        finally:
            await client.close()

    assert isinstance(asyncio.run(run()), list)


def test_module_level_client_uses_the_default_profile(profile, lite_alias):
    code = "import milvus_conn; print(type(milvus_conn.client('lite').list_collections()).__name__)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "list\n"


@pytest.mark.slow
def test_client_resolves_the_password_variable_for_real_milvus(cli, registry, milvus_auth,
                                                                monkeypatch):  # fmt: skip
    monkeypatch.setenv("MILVUS_PW", ROOT_PASSWORD)
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "MILVUS_PW")  # fmt: skip
    client = registry.client("secured")
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()
    monkeypatch.setenv("MILVUS_PW", "wrong")
    with pytest.raises(PymilvusError) as info:  # "Fail connecting to server": no cause said
        registry.client("secured").list_collections()
    assert grpc.StatusCode.UNAUTHENTICATED in status_codes(info.value)  # the password, then


def status_codes(exc: BaseException) -> set:
    """The gRPC status codes of the RpcErrors in an exception's chain of causes."""
    codes, seen = set(), set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, grpc.RpcError):
            codes.add(exc.code())
        exc = exc.__cause__ or exc.__context__
    return codes


@pytest.mark.slow
def test_client_carries_the_alias_tls_settings(cli, registry, milvus_mtls, certs):
    cli("add", "mtls", "--address", milvus_mtls.address, "--secure",
        "--ca-pem-path", str(certs / "ca.pem"), "--server-name", SERVER_NAME,
        "--client-pem-path", str(certs / "client.pem"),
        "--client-key-path", str(certs / "client.key"))  # fmt: skip
    client = registry.client("mtls")
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()
