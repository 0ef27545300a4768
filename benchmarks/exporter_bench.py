"""Rows 8a-8c of `make bench`: `conn exporter` as Prometheus would load it.

The exporter runs as `conn exporter` in a process of its own; this runner is the client
(a raw socket, a new connection per scrape, as the exporter answers each with
`Connection: close`).

- 8a: a /probe scrape of a healthy grpc.health.v1 alias against the very same probe made
  in this process by the library (`Connections.probe_for` + `connection.run`: a fresh
  channel, Check, GetVersion), sample by sample interleaved; the ratio of the medians.
- 8b: 100 scrapes at once of 100 aliases, 50 of them silent with a 1 s timeout: the wall
  time until the last answer (median of the rounds).
- 8c: the exporter's resident memory (VmRSS) after 10,000 scrapes against after 100.
"""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import profiles
from bench_servers import LOOPBACK, ServerError, free_port

PROBE_LIMIT = 1.5  # 8a, times the in-process probe
FANOUT_LIMIT_S = 1.5  # 8b, seconds
MEMORY_LIMIT = 1.1  # 8c, times
FANOUT = 100
MEMORY_SCRAPES = (100, 10_000)


class Row(NamedTuple):
    number: str
    what: str
    measured: float | None
    limit: float
    unit: str
    detail: str


def measure(conn: Path, env: dict[str, str], work: Path, health: str, silent: str,
            rounds: int) -> list[Row]:  # fmt: skip
    """Start the exporter on a profile of these servers; the three rows."""
    profile = profiles.write_profile(
        work / "pexporter" / "profiles.toml",
        [("bench", {"address": health})]
        + [(f"live-{i:02d}", {"address": health, "timeout": 1.0}) for i in range(FANOUT // 2)]
        + [(f"silent-{i:02d}", {"address": silent, "timeout": 1.0}) for i in range(FANOUT // 2)],
    )
    port = free_port()
    with (work / "exporter.err").open("w") as errors:
        process = subprocess.Popen(
            [str(conn), "exporter", "--listen", f"{LOOPBACK}:{port}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
            env={**env, "CONN_PROFILE": str(profile)}, text=True,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        if not process.stdout.readline().startswith("Serving"):
            raise ServerError(f"conn exporter did not start (exit {process.poll()})")
        return [
            _overhead(port, profile, rounds),
            _fanout(port, rounds),
            _memory(port, process.pid),
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def scrape(port: int, alias: str) -> str:
    """One scrape on a new connection, with as little client as Python allows (what
    Prometheus's Go client costs is closer to this than to http.client's parsing)."""
    request = f"GET /probe?alias={alias} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode()
    with socket.create_connection((LOOPBACK, port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):  # the exporter closes after its answer
            chunks.append(chunk)
    return b"".join(chunks).decode()


def _healthy(body: str) -> bool:
    return "\nprobe_success 1.0\n" in body


def _overhead(port: int, profile: Path, rounds: int) -> Row:
    from milvus_conn import Connections
    from milvus_conn.connection import run

    registry = Connections(profile=profile)
    probe = registry.probe_for("bench", registry.store.load().aliases["bench"], None)
    what = "exporter: /probe scrape / in-process probe"
    if not (run(probe).healthy and _healthy(scrape(port, "bench"))):
        return Row("8a", what, None, PROBE_LIMIT, "x", "the bench alias is not healthy")
    scraped, direct = [], []
    for _ in range(rounds * 20):
        started = time.perf_counter()
        scrape(port, "bench")
        scraped.append(time.perf_counter() - started)
        started = time.perf_counter()
        run(probe)
        direct.append(time.perf_counter() - started)
    a, b = statistics.median(scraped), statistics.median(direct)
    detail = f"{a * 1000:.2f} ms / {b * 1000:.2f} ms, {len(scraped)} samples each"
    return Row("8a", what, a / b, PROBE_LIMIT, "x", detail)


def _fanout(port: int, rounds: int) -> Row:
    aliases = [f"live-{i:02d}" for i in range(FANOUT // 2)]
    aliases += [f"silent-{i:02d}" for i in range(FANOUT // 2)]
    walls, healthy = [], 0
    with ThreadPoolExecutor(FANOUT) as pool:
        list(pool.map(lambda a: scrape(port, a), aliases[: FANOUT // 2]))  # threads up, warm
        for _ in range(rounds):
            started = time.perf_counter()
            bodies = list(pool.map(lambda a: scrape(port, a), aliases))
            walls.append(time.perf_counter() - started)
            healthy = sum(map(_healthy, bodies))
    what = f"exporter: {FANOUT} scrapes at once, half silent"
    detail = f"min-max {min(walls):.2f}-{max(walls):.2f} s; {healthy} of {FANOUT // 2} live healthy"
    measured = statistics.median(walls) if healthy == FANOUT // 2 else None
    return Row("8b", what, measured, FANOUT_LIMIT_S, "s", detail)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ServerError("no VmRSS in /proc: the memory row needs Linux")


def _memory(port: int, pid: int) -> Row:
    first, total = MEMORY_SCRAPES
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: scrape(port, "bench"), range(first)))
        early = _rss_kb(pid)
        list(pool.map(lambda _: scrape(port, "bench"), range(total - first)))
        late = _rss_kb(pid)
    detail = f"{late / 1024:.1f} MB / {early / 1024:.1f} MB"
    what = f"exporter: RSS after {total:,} / {first} scrapes"
    return Row("8c", what, late / early, MEMORY_LIMIT, "x", detail)
