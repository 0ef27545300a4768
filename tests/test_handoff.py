"""`Connections.client()` / `async_client()` and `milvus_conn.client`: a ready pymilvus
MilvusClient for an alias, against Milvus Lite and the real Milvus 2.3.5 server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest
from pymilvus import AsyncMilvusClient, MilvusClient

from .certs import SERVER_NAME

ROOT_PASSWORD = "Milvus"  # the real server's root password


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
    with pytest.raises(Exception, match="Fail connecting to server"):  # pymilvus says no more
        registry.client("secured").list_collections()


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
