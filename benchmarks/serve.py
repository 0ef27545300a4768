"""The benchmark's own servers, each in a process of its own so that serving costs no
CPU in the runner: `serve.py health` (grpc.health.v1, SERVING) or `serve.py silent`
(accepts connections and never answers). Both listen on 127.0.0.1 only, print their
port on the first line of stdout, and stop when their standard input closes."""

from __future__ import annotations

import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

LOOPBACK = "127.0.0.1"


def serve_health() -> None:
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the runner closes our stdin (or dies)
    server.stop(0).wait()


def serve_silent() -> None:
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(1024)
    held: list[socket.socket] = []  # kept open, never read from or written to

    def accept_forever() -> None:
        while True:
            conn, _ = listener.accept()
            held.append(conn)

    threading.Thread(target=accept_forever, daemon=True).start()
    print(listener.getsockname()[1], flush=True)
    sys.stdin.read()


def main() -> None:
    kinds = {"health": serve_health, "silent": serve_silent}
    if len(sys.argv) != 2 or sys.argv[1] not in kinds:
        sys.exit(f"usage: serve.py {{{','.join(kinds)}}}")
    kinds[sys.argv[1]]()


if __name__ == "__main__":
    main()
