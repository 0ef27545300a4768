"""Live handles own their channels: `connect` keeps the channel it checked, and every
handle that is let go (disconnect, re-connect, remove, reset, a lost race between
threads) closes it. Proven from the server's side: a proxy in front of a real
grpc.health.v1 server counts the TCP connections open through it. gRPC shares one
connection among a process's channels to an address, so the count falls to 0 only when
every channel to it is closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from milvus_conn import Connection, Connections, ServerUnhealthyException

from . import servers
from .helpers import NOT_SERVING, state_of


@pytest.fixture
def proxy(serving) -> Iterator[servers.CountingProxy]:
    """The health server, reached through a proxy that counts open connections."""
    counting = servers.CountingProxy(serving.address)
    yield counting
    counting.stop()


def test_connect_keeps_the_channel_it_checked(registry, proxy):
    handle = registry.connect("h", address=proxy.address)
    assert proxy.wait_until_open(1), proxy.open
    assert handle.check().healthy  # on the same connection: no second one is made
    assert (proxy.opened, proxy.open) == (1, 1)


def test_disconnect_closes_the_handles_channel(registry, proxy, profile):
    handle = registry.connect("h", address=proxy.address)
    assert proxy.wait_until_open(1), proxy.open
    registry.disconnect("h")
    assert proxy.wait_until_open(0), f"{proxy.open} connection(s) still open"
    assert state_of(profile) == {}
    assert handle.address == proxy.address  # the handle itself is still referenced here


def test_reconnect_closes_the_replaced_handles_channel(registry, proxy):
    first = registry.connect("h", address=proxy.address)
    second = registry.connect("h")
    assert registry.get_connection("h") is second
    assert proxy.wait_until_open(1), proxy.open
    registry.disconnect("h")  # closes `second`: `first` was closed when it was replaced
    assert proxy.wait_until_open(0), f"{proxy.open} open: the replaced handle kept its channel"
    assert first is not second


def test_a_disconnect_by_another_instance_closes_this_ones_handle_when_next_asked(
    registry, proxy, profile
):
    registry.connect("h", address=proxy.address)
    assert proxy.wait_until_open(1), proxy.open
    Connections(profile=profile).disconnect("h")  # another program, say
    assert registry.get_connection("h") is None
    assert proxy.wait_until_open(0), f"{proxy.open} open: the stale handle kept its channel"


def test_remove_connection_and_reset_close_the_channels(registry, proxy):
    registry.add_connection(a={"address": proxy.address}, b={"address": proxy.address})
    kept = [registry.connect("a"), registry.connect("b")]
    registry.remove_connection("a")
    assert proxy.wait_until_open(1), proxy.open  # b's channel still open
    registry.reset()
    assert proxy.wait_until_open(0), proxy.open
    assert len(kept) == 2


def test_a_failed_connect_leaves_no_channel_open(registry, proxy, serving):
    serving.set("", NOT_SERVING)
    with pytest.raises(ServerUnhealthyException):
        registry.connect("h", address=proxy.address)
    assert proxy.opened == 1
    assert proxy.wait_until_open(0), proxy.open
    assert registry.get_connection("h") is None


def test_32_threads_connecting_one_alias_close_the_31_replaced_handles(registry, proxy, profile):
    registry.add_connection(h={"address": proxy.address})
    start = threading.Barrier(32)

    def connect(_: int) -> Connection:
        start.wait()
        return registry.connect("h")

    with ThreadPoolExecutor(32) as pool:
        handles = list(pool.map(connect, range(32)))  # all 32 kept alive by this list
    live = registry.get_connection("h")
    assert live in handles and len({id(h) for h in handles}) == 32
    assert list(state_of(profile)) == ["h"]
    assert registry.get_connection_addr("h")["address"] == proxy.address
    assert proxy.wait_until_open(1), proxy.open
    registry.disconnect("h")  # the live handle closes: 0 only if the other 31 closed too
    assert proxy.wait_until_open(0), f"{proxy.open} open: a replaced handle kept its channel"
