"""httpd.py's own promises, on real sockets: an answer bigger than the kernel takes at
once reaches a client that reads slowly, whole, while it holds no probe worker and stalls
no other client; a client gets `client_timeout` to send its head, connections past the
limit are closed at once; and the server stops when told, answers in flight or not."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from milvus_conn.exporter.httpd import DEFAULT_LIMITS, Job, Limits, Server
from milvus_conn.exporter.messages import Request, Response, text_response

from .exporters import until
from .helpers import before, within

# Loopback takes about 4 MiB into its socket buffers before a sender waits for its reader:
# 16 MiB cannot be sent at once, from any thread.
BIG = bytes(range(256)) * (16 * 1024 * 1024 // 256)


@contextmanager
def serving(handler, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[Server, int]]:
    """A Server on a free loopback port, run by a thread of its own; stopped at the end."""
    server = Server(handler, limits)
    bound: queue.SimpleQueue[int] = queue.SimpleQueue()
    thread = threading.Thread(
        target=server.run, args=("127.0.0.1", 0, lambda _h, port: bound.put(port)), daemon=True
    )
    thread.start()
    try:
        yield server, bound.get(timeout=30)
    finally:
        server.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop"


def big_or_small(on_worker: bool):
    """/big answers BIG (from a pool thread, as a probe, or from the selector thread, as
    /sd); anything else a short text."""

    def handler(request: Request) -> Response | Job:
        if request.path != "/big":
            return text_response(200, "small")
        return (lambda: Response(200, BIG)) if on_worker else Response(200, BIG)

    return handler


def get(port: int, target: str, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\n\r\n".encode())
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("on_worker", [True, False], ids=["from a worker", "from the selector"])
def test_a_client_that_does_not_read_its_answer_stalls_no_one(on_worker):
    with serving(big_or_small(on_worker)) as (server, port), socket.socket() as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(30)
        slow.connect(("127.0.0.1", port))
        slow.sendall(b"GET /big HTTP/1.1\r\n\r\n")
        until(lambda: server.pool.pending == 0 and server.open == 1)  # the rest is queued
        assert get(port, "/").endswith(b"\r\n\r\nsmall\n")  # answered meanwhile
        answer = read_all(slow)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert f"Content-Length: {len(BIG)}".encode() in head
    assert body == BIG  # whole, in order


def test_stop_ends_run_with_an_answer_still_unsent():
    with socket.socket() as slow:  # open till after the server stopped
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(30)
        with serving(big_or_small(on_worker=False)) as (server, port):
            slow.connect(("127.0.0.1", port))
            slow.sendall(b"GET /big HTTP/1.1\r\n\r\n")
            until(lambda: server.open == 1 and server.pool.pending == 0)
        # serving() asserts that run returned; the connection it held is closed:
        assert server.open == 0
        assert len(read_all(slow)) < len(BIG)  # cut short


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost:"], ids=["nothing", "half a head"])
def test_a_client_that_does_not_send_its_head_in_time_is_closed_unanswered(sent):
    limits = Limits(client_timeout=0.5)
    with serving(big_or_small(on_worker=True), limits) as (server, port):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as idle:
            idle.sendall(sent)
            started = time.monotonic()
            answer = read_all(idle)
            took = time.monotonic() - started
        assert answer == b""
        assert took < within(limits.client_timeout), took
        until(lambda: server.open == 0)


def test_connections_past_the_limit_are_closed_at_once():
    with serving(big_or_small(on_worker=True), Limits(connections=2)) as (server, port):
        held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(2)]
        try:
            until(lambda: server.open == 2)
            with socket.create_connection(("127.0.0.1", port), timeout=30) as third:
                started = time.monotonic()
                assert read_all(third) == b""  # closed before it could ask anything
                took = time.monotonic() - started
            assert took < before(DEFAULT_LIMITS.client_timeout), took  # at once, not timed out
            held.pop().close()
            until(lambda: server.open == 1)
            assert get(port, "/").endswith(b"\r\n\r\nsmall\n")  # room again
        finally:
            for sock in held:
                sock.close()
