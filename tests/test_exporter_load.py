"""`conn exporter` under load and abuse: 128 concurrent scrapes, a silent alias beside
healthy ones, a backlog past its limit, slow clients, hostile query strings and requests,
signals."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from milvus_conn.exporter.httpd import DEFAULT_LIMITS

from .exporters import exporter, until
from .helpers import before, within, write_profile

SILENT_TIMEOUT = 8.0  # the silent alias's own timeout


@pytest.fixture
def fleet(profile, serving, silent_server):
    write_profile(
        profile,
        "version = 1\n"
        f'[connections.up]\naddress = "{serving.address}"\n'
        f'[connections.mute]\naddress = "{silent_server.address}"\n'
        f"timeout = {SILENT_TIMEOUT}\n",
    )
    return profile


@pytest.fixture
def running(fleet):
    with exporter(fleet) as process:
        yield process


def _in_flight(running) -> float:
    return running.get("/metrics").samples()["conn_exporter_probes_in_flight"]


def _raw(address: str, request: bytes, timeout: float = 30) -> bytes:
    """Send `request` as it is; everything the exporter answers before it closes."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class SlowHealthServer:
    """grpc.health.v1 that answers SERVING after `delay` seconds, to any number at once:
    scrapes of it are all in flight together."""

    def __init__(self, delay: float) -> None:
        import grpc

        def check(request: bytes, context: grpc.ServicerContext) -> bytes:
            time.sleep(delay)
            return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

        class Handler(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails):
                if details.method != "/grpc.health.v1.Health/Check":
                    return None  # UNIMPLEMENTED: GetVersion says "version unknown"
                return grpc.unary_unary_rpc_method_handler(check)

        self.server = grpc.server(ThreadPoolExecutor(256), handlers=(Handler(),))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()


def test_128_concurrent_scrapes_of_a_healthy_alias_all_succeed(profile):
    slow = SlowHealthServer(delay=5.0)
    aliases = "".join(f'[connections.slow{i}]\naddress = "{slow.address}"\n' for i in range(128))
    write_profile(profile, "version = 1\n" + aliases)
    try:
        with exporter(profile) as running, ThreadPoolExecutor(128) as pool:
            scrapes = [pool.submit(running.probe, f"slow{i}") for i in range(128)]
            until(lambda: _in_flight(running) == 128)  # all at once: each takes 5 s
            answers = [scrape.result(timeout=60) for scrape in scrapes]
    finally:
        slow.stop()
    assert [a.status for a in answers] == [200] * 128
    assert [a.samples()["probe_success"] for a in answers] == [1] * 128


def test_a_silent_alias_never_delays_a_healthy_one(running):
    with ThreadPoolExecutor(33) as pool:
        silent = [pool.submit(running.probe, "mute") for _ in range(32)]
        until(lambda: _in_flight(running) == 32)
        started = time.monotonic()
        healthy = pool.submit(running.probe, "up").result(timeout=60)
        took = time.monotonic() - started
        assert healthy.samples()["probe_success"] == 1
        assert took < before(SILENT_TIMEOUT), took
        assert not any(f.done() for f in silent)  # they were all still waiting meanwhile
        assert [f.result(timeout=60).samples()["probe_success"] for f in silent] == [0] * 32


def test_past_512_pending_probes_a_scrape_gets_a_fast_503(running):
    """128 probes run on the silent alias, 384 wait for a thread: the documented limit."""
    request = b"GET /probe?alias=mute HTTP/1.1\r\nHost: x\r\n\r\n"
    host, _, port = running.address.rpartition(":")
    held = []
    try:
        for _ in range(512):
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(request)
            held.append(sock)
        until(lambda: _in_flight(running) == 512)
        started = time.monotonic()
        answer = running.probe("up")
        took = time.monotonic() - started
        assert answer.status == 503, answer
        assert answer.headers["retry-after"] == "1"
        assert answer.body == "overloaded: 512 probes already running or waiting\n"
        assert took < before(SILENT_TIMEOUT), took
        found = running.get("/metrics").samples()
        assert found['conn_exporter_requests_refused_total{reason="overloaded"}'] == 1
    finally:
        for sock in held:
            sock.close()
    code, _, stderr = running.stop()  # it stops at once, 512 probes in flight or not
    assert code == 0, stderr


def test_probes_past_the_pools_size_wait_for_a_thread_of_it(running):
    """Twice as many probes as threads on the silent alias: all in flight, on no more
    threads than the pool's (plus the server's own and gRPC's): never a thread per probe."""
    request = b"GET /probe?alias=mute HTTP/1.1\r\nHost: x\r\n\r\n"
    host, _, port = running.address.rpartition(":")
    held = []
    try:
        for _ in range(2 * DEFAULT_LIMITS.workers):
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(request)
            held.append(sock)
        until(lambda: _in_flight(running) == 2 * DEFAULT_LIMITS.workers)
        threads = _threads(running.process.pid)
    finally:
        for sock in held:
            sock.close()
    assert threads < DEFAULT_LIMITS.workers + 32, threads


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def test_slow_clients_hold_no_probe_worker(running):
    """More clients than probe threads send half a request head and wait (slowloris): each
    holds a connection, none a worker, and a scrape meanwhile is answered at once."""
    host, _, port = running.address.rpartition(":")
    slow = []
    try:
        for _ in range(DEFAULT_LIMITS.workers + 72):
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(b"GET /probe?alias=up HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            slow.append(sock)
        started = time.monotonic()
        answer = running.probe("up")
        took = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    assert answer.samples()["probe_success"] == 1, answer
    assert took < before(DEFAULT_LIMITS.client_timeout), took


# hostile requests ----------------------------------------------------------------------

HOSTILE = {
    "escape sequence": ("/probe?alias=%1b%5b2J%07", 404, "unknown alias '\\u001b[2J\\u0007'"),
    "newline": ("/probe?alias=up%0aprobe_success%201", 404, "unknown alias 'up\\nprobe_success 1'"),
    "percent-encoded NUL": ("/probe?alias=up%00", 404, "unknown alias 'up\\u0000'"),
    "10,000 characters": ("/probe?alias=" + "a" * 10_000, 404, f"unknown alias '{'a' * 64}...'"),
    "repeated alias": ("/probe?alias=up&alias=mute", 400, "give alias once"),
    "target, as blackbox takes": ("/probe?target=127.0.0.1:1", 400, "unknown parameter 'target'"),
    "target beside alias": ("/probe?alias=up&target=10.0.0.1:19530", 400, "unknown parameter"),
    "module": ("/probe?alias=up&module=grpc", 400, "unknown parameter 'module'"),
    "empty alias": ("/probe?alias=", 400, "missing alias: /probe?alias=NAME"),
    "no query": ("/probe", 400, "missing alias: /probe?alias=NAME"),
    "not UTF-8": ("/probe?alias=%ff%fe", 400, "the query is not UTF-8"),
    "repeated loaded": ("/probe?alias=up&collection=c&loaded=1&loaded=1", 400, "loaded is given"),
    "loaded=yes": ("/probe?alias=up&collection=c&loaded=yes", 400, "loaded is given once, as 1"),
    "control in a collection": ("/probe?alias=up&collection=a%1bb", 400, "collection 'a\\u001bb'"),
    "huge collection name": ("/probe?alias=up&collection=" + "c" * 256, 400, "1-255 printable"),
    "65 collections": ("/probe?alias=up" + "&collection=c" * 65, 400, "at most 64 collections"),
    "101 parameters": ("/probe?alias=up" + "&x=1" * 100, 400, "more than 100 query parameters"),
}


@pytest.mark.parametrize(("target", "status", "says"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_query_is_refused_with_its_text_escaped(running, target, status, says):
    answer = running.get(target)
    assert answer.status == status, answer
    assert says in answer.body
    assert answer.body.endswith("\n") and answer.body[:-1].isprintable(), answer  # one line


def test_after_every_hostile_query_it_still_serves(running):
    for target, _, _ in HOSTILE.values():
        running.get(target)
    assert running.probe("up").samples()["probe_success"] == 1
    found = running.get("/metrics").samples()
    refused = found['conn_exporter_requests_refused_total{reason="bad_request"}']
    refused += found['conn_exporter_requests_refused_total{reason="unknown_alias"}']
    assert refused == len(HOSTILE)
    code, _, stderr = running.stop()
    assert (code, stderr) == (0, "")  # nothing on stderr: no traceback, no noise


RAW = {
    "POST": (b"POST /probe?alias=up HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"405"),
    "absolute URL, as to a proxy": (b"GET http://10.0.0.1/probe?alias=up HTTP/1.1\r\n\r\n", b"400"),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"400"),
    "no version": (b"GET /probe?alias=up\r\n\r\n", b"400"),
    "header without a colon": (b"GET / HTTP/1.1\r\nbroken\r\n\r\n", b"400"),
    "head over 64 KiB": (b"GET /?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"431"),
}


@pytest.mark.parametrize(("request_", "status"), RAW.values(), ids=RAW.keys())
def test_a_malformed_request_gets_a_status_and_the_connection_closed(running, request_, status):
    answer = _raw(running.address, request_)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:200]
    assert b"Connection: close\r\n" in answer


# signals -------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_it_with_exit_0_at_once_even_mid_probe(running, sig):
    host, _, port = running.address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /probe?alias=mute HTTP/1.1\r\n\r\n")
        until(lambda: _in_flight(running) == 1)
        started = time.monotonic()
        code, out, stderr = running.stop(sig)
        took = time.monotonic() - started
    assert code == 0, stderr
    assert (out, stderr) == ("", "")
    assert took < within(1.0), took


def test_a_signal_the_kernel_hands_to_another_thread_stops_it_too(running):
    """A process's signal may go to any of its threads (here one of its Python threads,
    not the main one, which waits for connections): it still stops at once."""
    host, _, port = running.address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /probe?alias=mute HTTP/1.1\r\n\r\n")
        until(lambda: _in_flight(running) == 1)
        pid = running.process.pid
        tasks = Path(f"/proc/{pid}/task")
        python = (tasks / str(pid) / "comm").read_text()  # gRPC's own threads are named
        other = next(
            t.name
            for t in tasks.iterdir()
            if t.name != str(pid) and (t / "comm").read_text() == python
        )
        started = time.monotonic()
        os.kill(int(other), signal.SIGTERM)
        running.process.wait(timeout=30)
        took = time.monotonic() - started
    code, out, stderr = running.stop()
    assert code == 0, stderr
    assert (out, stderr) == ("", "")
    assert took < within(1.0), took
