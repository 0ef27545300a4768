"""Real servers for the tests, all on 127.0.0.1: Milvus Lite, a grpc.health.v1 server
whose status a test sets, a Milvus-protocol server with settable health, and socket
servers for the faults (refused, silent, HTTP/1.1, closes at once)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from milvus_conn.probe.endpoint import Target
from milvus_conn.probe.health import check
from milvus_conn.probe.request import Probe

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host.strip("[]"), 0))
        return sock.getsockname()[1]


def wait_healthy(address: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        if check(Probe(Target(address), timeout=1.0)).healthy:
            return
        time.sleep(0.1)
    raise RuntimeError(f"no healthy server at {address} after {seconds} s")


def _term_on_parent_death() -> None:
    """In the child before exec: SIGTERM when the process that started it dies, killed
    or not, so that no server outlives its test run (Linux: tied to the starting thread,
    and session fixtures start in the main thread)."""
    import ctypes
    import signal

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


class MilvusLite:
    """`milvus-lite server` in a subprocess, as a user would run it."""

    def __init__(self, data_dir: Path, host: str = LOOPBACK) -> None:
        self.port = free_port(host)
        self.address = f"{host}:{self.port}"
        self.log = data_dir.parent / "milvus-lite.log"
        command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir)]
        command += ["--host", host, "--port", str(self.port)]  # IPv6 only as "[::1]"
        with self.log.open("wb") as log:  # SIGTERM if the test process dies (mutmut's workers)
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_term_on_parent_death,  # noqa: PLW1509 - no fork-unsafe work
            )
        try:
            wait_healthy(self.address, 60, self.process)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(
                f"Milvus Lite did not start: {self.log.read_text()[-2000:]}"
            ) from exc

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class HealthServer:
    """grpcio-health-checking's servicer on a real gRPC server; statuses are settable.

    With `require_token`, every call must carry `authorization` = base64 of that token,
    else it is refused with UNAUTHENTICATED, as an authenticating proxy would.
    """

    def __init__(self, require_auth: str = "", host: str = LOOPBACK) -> None:
        interceptors = [_AuthInterceptor(require_auth)] if require_auth else []
        self.server = grpc.server(futures.ThreadPoolExecutor(8), interceptors=interceptors)
        self.servicer = _WatchedServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"{host}:0")  # "[::1]" for IPv6
        self.address = f"{host}:{self.port}"
        self.set("", health_pb2.HealthCheckResponse.SERVING)
        self.server.start()

    def set(self, service: str, status: int) -> None:
        self.servicer.set(service, status)

    @property
    def watches(self) -> int:
        """How many Watch streams have subscribed so far."""
        with self.servicer.changed:
            return self.servicer.watches

    def wait_for_watch(self, count: int, seconds: float = 30.0) -> None:
        """Until the server has seen `count` Watch subscriptions in all, and after the last
        one the Check that `conn watch` asks on the stream's first reply (SERVING): a
        status set from then on is a change the watch reports. AssertionError after
        `seconds`."""
        servicer = self.servicer

        def settled() -> bool:
            return servicer.watches >= count and servicer.checks > servicer.before[count - 1]

        with servicer.changed:
            seen = servicer.changed.wait_for(settled, seconds)
        assert seen, f"no Watch subscription after {seconds} s ({servicer.watches} seen)"

    def stop(self) -> None:
        self.server.stop(0).wait()


class _WatchedServicer(health.HealthServicer):
    """The health servicer, counting Check calls and Watch subscriptions (and the Checks
    seen before each subscription)."""

    def __init__(self) -> None:
        self.watches, self.checks, self.before = 0, 0, []
        self.changed = threading.Condition()
        super().__init__()

    def Check(self, request, context):
        answer = super().Check(request, context)
        with self.changed:
            self.checks += 1
            self.changed.notify_all()
        return answer

    def Watch(self, request, context, send_response_callback=None):
        with self.changed:
            self.before.append(self.checks)  # before the first reply can be answered
        answer = super().Watch(request, context, send_response_callback)  # subscribes
        with self.changed:
            self.watches += 1
            self.changed.notify_all()
        return answer


class TLSHealthServer:
    """grpcio-health-checking's servicer over TLS (one-way), with the given key pair."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), self.server)
        credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
        self.port = self.server.add_secure_port(f"{LOOPBACK}:0", credentials)
        self.address = f"{LOOPBACK}:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()


class _AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, secret: str) -> None:
        import base64

        self.expected = base64.b64encode(secret.encode()).decode()

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails):
        metadata = dict(details.invocation_metadata)
        if metadata.get("authorization") == self.expected:
            return continuation(details)

        def refuse(request: bytes, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "auth check failure")

        return grpc.unary_unary_rpc_method_handler(refuse)


class MilvusProtocolServer:
    """Answers only Milvus's CheckHealth (like Milvus Lite) with a settable reply, and
    UNIMPLEMENTED for everything else, including grpc.health.v1 and GetVersion."""

    def __init__(self) -> None:
        self.healthy = True
        self.reasons: list[str] = []
        self.seen_metadata: list[dict[str, str]] = []
        self.served: list[bool] = []  # the health of each reply sent, in order
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        self.server.add_generic_rpc_handlers((_Generic(self),))
        self.port = self.server.add_insecure_port(f"{LOOPBACK}:0")
        self.address = f"{LOOPBACK}:{self.port}"
        self.server.start()

    def reply(self) -> bytes:
        from milvus_conn.probe.wire import encode_string_field

        healthy = self.healthy
        self.served.append(healthy)
        body = b"\x0a\x00" + (b"\x10\x01" if healthy else b"")
        return body + b"".join(encode_string_field(3, r) for r in self.reasons)

    def stop(self) -> None:
        self.server.stop(0).wait()


class _Generic(grpc.GenericRpcHandler):
    def __init__(self, owner: MilvusProtocolServer) -> None:
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails):
        if details.method != "/milvus.proto.milvus.MilvusService/CheckHealth":
            return None
        owner = self.owner

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            owner.seen_metadata.append(dict(context.invocation_metadata()))
            return owner.reply()

        return grpc.unary_unary_rpc_method_handler(handle)


class SocketServer:
    """A TCP listener whose connections get `behaviour(conn)`: the fault servers."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"{LOOPBACK}:{self.port}"
        self.behaviour = behaviour
        self.open: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(conn)
            threading.Thread(target=self.behaviour, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
        for conn in self.open:
            with contextlib.suppress(OSError):
                conn.close()


class CountingProxy:
    """A TCP proxy to `upstream` that counts the connections open through it: what a
    server sees of the channels a client keeps open or closes. gRPC shares one TCP
    connection among the channels of a process to one address, so the count falls to 0
    only once every channel to it is closed."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.opened = 0  # connections accepted so far
        self._open = 0
        self._changed = threading.Condition()
        self.server = SocketServer(self._relay)
        self.address = self.server.address

    @property
    def open(self) -> int:
        with self._changed:
            return self._open

    def wait_until_open(self, count: int, seconds: float = 10.0) -> bool:
        """True once exactly `count` connections are open (False after `seconds`)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._open == count, seconds)

    def _relay(self, client: socket.socket) -> None:
        with self._changed:
            self._open += 1
            self.opened += 1
            self._changed.notify_all()
        try:
            with socket.create_connection(self.upstream, timeout=10) as upstream:
                upstream.settimeout(None)
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(10)
        except OSError:
            pass
        finally:
            client.close()
            with self._changed:
                self._open -= 1
                self._changed.notify_all()

    def stop(self) -> None:
        self.server.stop()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy until either side ends, then end both directions."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for side in (source, sink):
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)


def never_answer(conn: socket.socket) -> None:
    """Accepts and reads, but never writes: the server that hangs."""
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


def answer_http1(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()


def close_at_once(conn: socket.socket) -> None:
    conn.close()


def refused_address() -> str:
    """A loopback port with nothing listening (bound, then released)."""
    return f"{LOOPBACK}:{free_port()}"


@contextlib.contextmanager
def silent_on(port: int) -> Iterator[None]:
    """A listener on `port` that never accepts: connections open and nothing answers."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen(64)
        yield


@contextlib.contextmanager
def running(server: object) -> Iterator[object]:
    try:
        yield server
    finally:
        server.stop()  # type: ignore[attr-defined]


class LyingServer:
    """A server that says what a test makes it say: Milvus CheckHealth with any reasons,
    GetVersion with any version, or every call aborted with any status and details
    (escape sequences, huge strings). `raw` sends any bytes as the reply to a method, by
    its short name ("Check", "CheckHealth", "GetVersion", "ShowCollections",
    "GetLoadState"; "Watch": a list of messages, streamed): replies of every wrong shape.
    grpc.health.v1 (and the readiness methods) are UNIMPLEMENTED unless `raw` names them,
    as on Milvus Lite."""

    def __init__(self) -> None:
        self.healthy = True
        self.reasons: list[str] = []
        self.version = "v2.3.5"
        self.abort: tuple[grpc.StatusCode, str] | None = None
        self.raw: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()  # calls by short method name, answered or not
        self.metadata: list[dict[str, str]] = []  # each call's metadata (dbname, ...)
        self.requests: dict[str, list[bytes]] = defaultdict(list)  # by short method name
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        self.server.add_generic_rpc_handlers((_Liar(self),))
        self.port = self.server.add_insecure_port(f"{LOOPBACK}:0")
        self.address = f"{LOOPBACK}:{self.port}"
        self.server.start()

    def reply(self, method: str) -> bytes:
        from milvus_conn.probe.wire import encode_string_field

        name = method.rsplit("/", 1)[-1]
        if name in self.raw:
            return self.raw[name]  # type: ignore[no-any-return]
        if name == "GetVersion":
            return b"\x0a\x00" + encode_string_field(2, self.version)
        body = b"\x0a\x00" + (b"\x10\x01" if self.healthy else b"")
        return body + b"".join(encode_string_field(3, r) for r in self.reasons)

    def stop(self) -> None:
        self.server.stop(0).wait()


class _Liar(grpc.GenericRpcHandler):
    _METHODS = (
        "/milvus.proto.milvus.MilvusService/CheckHealth",
        "/milvus.proto.milvus.MilvusService/GetVersion",
    )

    def __init__(self, owner: LyingServer) -> None:
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails):
        owner, method = self.owner, details.method
        name = method.rsplit("/", 1)[-1]
        owner.calls[name] += 1
        owner.metadata.append(dict(details.invocation_metadata))
        if method == "/grpc.health.v1.Health/Watch" and name in owner.raw:

            def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
                yield from owner.raw[name]

            return grpc.unary_stream_rpc_method_handler(stream)
        if method not in self._METHODS and name not in owner.raw:
            return None

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            owner.requests[name].append(request)
            if owner.abort is not None:
                context.abort(*owner.abort)
            return owner.reply(method)

        return grpc.unary_unary_rpc_method_handler(handle)
