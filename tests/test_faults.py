"""Network faults on 127.0.0.1 (refused, silent, hanging up, answering slowly, speaking
HTTP/1 or garbage, unresolvable names): each gives its documented exit code, said as a
sentence, through `conn connect` and `conn has` with `--timeout T`, within T plus the
slack of `helpers.SLACK`; `--wait S` never runs past S plus one timeout."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
import pytest

from milvus_conn import Connections
from milvus_conn.probe.endpoint import Target
from milvus_conn.probe.outcomes import unavailable

from . import servers
from .helpers import NOT_SERVING, one_error_line, timed, within

# network faults ------------------------------------------------------------------------


T = 1.0  # the --timeout of every probe here
WAIT = 1.5  # --wait S


class Listener:
    """A TCP listener on 127.0.0.1 (a chosen port, or a free one): each connection gets
    `behaviour(conn)`, or is never accepted when `behaviour` is None (a full backlog)."""

    def __init__(self, behaviour: Callable[[socket.socket], None] | None, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((servers.LOOPBACK, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"{servers.LOOPBACK}:{self.port}"
        self.behaviour = behaviour
        self.conns: list[socket.socket] = []
        self.closed = threading.Event()
        if behaviour is not None:
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.behaviour, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


def close_after(seconds: float) -> Callable[[socket.socket], None]:
    """Accepts, reads what comes for `seconds`, then closes: the server that answers slowly
    with nothing but a hang-up."""

    def behaviour(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if not conn.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        with contextlib.suppress(OSError):
            conn.close()

    return behaviour


def send_garbage(conn: socket.socket) -> None:
    """Answers the HTTP/2 preface with bytes that are no protocol at all, then waits."""
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.sendall(b"\x00\xff garbage \xfe" * 64)
        while conn.recv(65536):
            pass


class SlowHealthServer:
    """A real gRPC server whose grpc.health.v1 Check answers SERVING after `delay` s."""

    def __init__(self, delay: float, port: int = 0) -> None:
        self.delay = delay
        self.server = grpc.server(futures.ThreadPoolExecutor(8))
        self.server.add_generic_rpc_handlers((_SlowHandler(self),))
        self.port = self.server.add_insecure_port(f"{servers.LOOPBACK}:{port}")
        self.address = f"{servers.LOOPBACK}:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()


class _SlowHandler(grpc.GenericRpcHandler):
    def __init__(self, owner: SlowHealthServer) -> None:
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails):
        if details.method != "/grpc.health.v1.Health/Check":
            return None

        def check(request: bytes, context: grpc.ServicerContext) -> bytes:
            time.sleep(self.owner.delay)
            return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

        return grpc.unary_unary_rpc_method_handler(check)


# name: (what to start on a port (None: nothing, the port refuses), exit code)
FAULTS: dict[str, tuple[Callable[[int], object] | None, int]] = {
    "refused": (None, 3),
    "never-answers": (lambda port: Listener(servers.never_answer, port), 3),
    "never-accepts": (lambda port: Listener(None, port), 3),
    "hangs-up-after-0.3s": (lambda port: Listener(close_after(0.3), port), 3),
    "hangs-up-after-3s": (lambda port: Listener(close_after(3.0), port), 3),
    "grpc-answers-after-3s": (lambda port: SlowHealthServer(3.0, port), 3),
    "http1": (lambda port: Listener(servers.answer_http1, port), 4),
    "closes-at-once": (lambda port: Listener(servers.close_at_once, port), 3),
    "grpc-answers-after-0.3s": (lambda port: SlowHealthServer(0.3, port), 0),
}


@contextlib.contextmanager
def fault_on(name: str, port: int) -> Iterator[None]:
    start, _ = FAULTS[name]
    server = start(port) if start else None
    try:
        yield
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def connected_port(cli) -> Iterator[int]:
    """A port where alias `svc` was connected; its server is gone, the port is free."""
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address, "--timeout", "5")
    server.stop()
    yield server.port


@pytest.mark.parametrize(("name", "code"), [(n, c) for n, (_, c) in FAULTS.items()], ids=FAULTS)
def test_connect_to_a_fault_exits_with_its_code_within_the_timeout(cli, name, code):
    port = servers.free_port()
    with fault_on(name, port):
        elapsed, result = timed(cli, "connect", "x", "--address", f"127.0.0.1:{port}",
                        "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed < within(T), f"{name}: {elapsed:.2f} s"
    assert not code or result.stderr.startswith("Error: "), result.stderr
    assert Connections().has_connection("x") is (code == 0)


@pytest.mark.parametrize(("name", "code"), [(n, c) for n, (_, c) in FAULTS.items()], ids=FAULTS)
def test_has_of_a_connected_alias_gone_faulty_keeps_the_timeout(cli, connected_port, name, code):
    with fault_on(name, connected_port):
        elapsed, result = timed(cli, "has", "svc", "--timeout", str(T), code=code)
    assert elapsed < within(T), f"{name}: {elapsed:.2f} s"
    assert not code or result.stderr.startswith("Error: "), result.stderr
    cli("has", "svc", "--no-probe")  # a failed probe does not forget the connection


def test_has_without_timeout_uses_the_alias_timeout(cli):
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address, "--timeout", str(T))
    server.stop()
    with fault_on("never-answers", server.port):
        elapsed, result = timed(cli, "has", "svc", code=3)
        assert elapsed < within(T)
        assert result.stderr.startswith("Error: "), result.stderr


@pytest.mark.parametrize(
    "name",
    ["refused", "never-answers", "hangs-up-after-0.3s", "closes-at-once", "grpc-answers-after-3s"],
)
def test_has_wait_never_runs_past_wait_plus_one_timeout(cli, connected_port, name):
    with fault_on(name, connected_port):
        elapsed, result = timed(cli, "has", "svc", "--wait", str(WAIT), "--timeout", str(T), code=3)
    assert elapsed <= within(WAIT + T), f"{name}: {elapsed:.2f} s"
    assert result.stderr.startswith("Error: "), result.stderr
    assert elapsed >= WAIT - 0.2, f"{name}: gave up after {elapsed:.2f} s, before --wait"


@pytest.mark.parametrize("name", ["refused", "never-answers", "http1"])
def test_connect_wait_never_runs_past_wait_plus_one_timeout(cli, name):
    port = servers.free_port()
    code = FAULTS[name][1]
    with fault_on(name, port):
        elapsed, result = timed(cli, "connect", "x", "--address", f"127.0.0.1:{port}",
                        "--wait", str(WAIT), "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed <= within(WAIT + T), f"{name}: {elapsed:.2f} s"
    assert result.stderr.startswith("Error: "), result.stderr


def test_wait_with_a_timeout_longer_than_the_wait_stops_at_the_wait(cli, connected_port):
    with fault_on("never-answers", connected_port):
        elapsed, result = timed(cli, "has", "svc", "--wait", "0.5", "--timeout", "5", code=3)
    assert elapsed <= within(0.5)
    assert result.stderr.startswith("Error: "), result.stderr


def test_has_wait_of_a_not_serving_server_exits_4_within_wait(cli):
    server = servers.HealthServer()
    try:
        cli("connect", "svc", "--address", server.address)
        server.set("", NOT_SERVING)
        elapsed, result = timed(cli, "has", "svc", "--wait", str(WAIT), "--timeout", str(T), code=4)
    finally:
        server.stop()
    assert WAIT - 0.2 <= elapsed <= within(WAIT + T)
    assert result.stderr.startswith("Error: "), result.stderr


@pytest.mark.parametrize(
    ("target", "code"),
    [("serving", 3), ("http1", 3), ("never-answers", 3), ("closes-at-once", 3)],
    ids=["plaintext-grpc", "http1", "never-answers", "closes-at-once"],
)
def test_tls_to_a_plaintext_port_exits_3_within_the_timeout(cli, serving, target, code):
    port = servers.free_port()
    with fault_on(target, port) if target != "serving" else contextlib.nullcontext():
        address = serving.address if target == "serving" else f"127.0.0.1:{port}"
        elapsed, result = timed(cli, "connect", "x", "--address", address, "--secure",
                        "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed < within(T)
    assert result.stderr.startswith("Error: "), result.stderr


def test_tls_to_a_plaintext_port_says_so(cli, serving):
    result = cli("connect", "x", "--address", serving.address, "--secure", "--timeout", str(T),
                 code=3)  # fmt: skip
    assert "TLS" in one_error_line(result.stderr)


def test_tls_to_a_port_nothing_listens_on_is_refused_not_a_failed_handshake(cli):
    refused = servers.refused_address()
    result = cli("connect", "t", "--address", refused, "--secure", "--timeout", str(T), code=3)
    assert result.stderr == (
        f"Error: cannot connect 't' ({refused}): cannot reach {refused}: connection refused "
        "(is the server running, on this port?)\n"
    )


def test_a_server_sending_garbage_gets_a_documented_code_within_the_timeout(cli):
    server = Listener(send_garbage)
    try:
        started = time.monotonic()
        result = cli("connect", "x", "--address", server.address, "--timeout", str(T),
                     code=None)  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert result.exit_code in (3, 4), result.stderr  # unreachable or no health protocol
    one_error_line(result.stderr)
    assert elapsed < within(T)


def test_list_check_probes_every_fault_at_once(cli):
    started_servers = []
    names = [n for n in FAULTS if n != "grpc-answers-after-0.3s"]
    for name in names:
        port = servers.free_port()
        start, _ = FAULTS[name]
        if start:
            started_servers.append(start(port))
        cli("add", name, "--address", f"127.0.0.1:{port}")
    try:
        started = time.monotonic()
        result = cli("list", "--check", "--json", "--timeout", str(T), code=4)
        elapsed = time.monotonic() - started
    finally:
        for server in started_servers:
            server.stop()
    assert elapsed < within(T)
    codes = {row["alias"]: row["health"]["exit_code"] for row in json.loads(result.stdout)}
    assert codes == {"default": 3} | {name: FAULTS[name][1] for name in names}


def test_a_fault_error_is_one_line_and_names_the_address(cli):
    address = servers.refused_address()
    result = cli("connect", "x", "--address", address, "--timeout", str(T), code=3)
    assert address in one_error_line(result.stderr)


def test_connect_json_reports_the_fault_code(cli, http1_server):
    result = cli("connect", "x", "--address", http1_server.address, "--timeout", str(T),
                 "--json", code=4)  # fmt: skip
    data = json.loads(result.stdout)
    assert (data["exit_code"], data["status"]) == (4, "unhealthy")


# errors read as sentences --------------------------------------------------------------


def test_a_dns_failure_reads_as_a_sentence():
    details = (
        "errors resolving x.example:19530: [field:hostname lookup error:address lookup "
        "failed for x.example:19530: Domain name not found]"
    )
    result = unavailable(Target("x.example:19530"), details)
    assert (result.status, result.reason) == (
        "unreachable",
        "cannot resolve host 'x.example': no such host name",
    )


@pytest.mark.skipif(
    not shutil.which("unshare")
    or subprocess.run(["unshare", "-rn", "true"], check=False).returncode != 0,
    reason="needs unshare -rn (a network namespace with loopback only)",
)
def test_an_unresolvable_name_exits_3_at_once_with_no_traffic(profile):
    """`.invalid` never resolves (RFC 6761); in a namespace with no interface but
    loopback, the lookup cannot leave the machine either."""
    started = time.monotonic()
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "milvus_conn", "-v", "connect", "x",
         "--address", "x.invalid:19530", "--timeout", "10"],
        check=False, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CONN_PROFILE": str(profile)},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "cannot resolve host 'x.invalid'" in done.stderr
    assert "conn: x: gRPC said: " in done.stderr  # -v keeps gRPC's own words
    assert time.monotonic() - started < 10  # the answer, not the timeout
    error = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert "[field:" not in error[0] and "lookup error" not in error[0]


def test_refused_reads_as_a_sentence(cli):
    refused = servers.refused_address()
    result = cli("connect", "r", "--address", refused, "--timeout", "2", code=3)
    assert result.stderr == (
        f"Error: cannot connect 'r' ({refused}): cannot reach {refused}: connection refused "
        "(is the server running, on this port?)\n"
    )


def reset_at_once(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0): gRPC says `Connection reset by peer`."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.mark.parametrize(
    "behaviour", [servers.close_at_once, reset_at_once], ids=["closes", "resets"]
)
def test_a_plaintext_connection_the_server_ends_suggests_tls(cli, behaviour):
    with servers.running(servers.SocketServer(behaviour)) as server:
        address = server.address  # type: ignore[attr-defined]
        result = cli("connect", "c", "--address", address, "--timeout", "2", code=3)
    assert result.stderr == (
        f"Error: cannot connect 'c' ({address}): {address} closed the connection "
        "(if it requires TLS, use --secure)\n"
    )


@pytest.mark.parametrize(("details", "said"), [("db exploded", ": db exploded"), ("", "")])
def test_an_odd_status_reads_as_a_sentence(cli, liar, details, said):
    liar.abort = (grpc.StatusCode.INTERNAL, details)
    result = cli("connect", "l", "--address", liar.address, code=4)
    assert result.stderr == (
        f"Error: cannot connect 'l' ({liar.address}): the server failed the check "
        f"(INTERNAL){said}\n"
    )


# a huge timeout ------------------------------------------------------------------------


def test_a_huge_timeout_waits_instead_of_failing_at_once(cli):
    """Past ~290 years a gRPC deadline overflows and fails at once as a timeout."""
    refused = servers.refused_address()
    result = cli("connect", "h", "--address", refused, "--timeout", "1e308", code=3)
    assert "connection refused" in result.stderr and "no answer" not in result.stderr
