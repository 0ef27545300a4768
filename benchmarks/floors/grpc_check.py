"""Floor of `conn has`: a fresh interpreter that imports typer and grpc and makes one
grpc.health.v1 Check on a fresh channel, the request hand-encoded (empty service = b"").

usage: grpc_check.py HOST:PORT [METHOD]   (METHOD defaults to grpc.health.v1's Check)
"""

import sys

import grpc
import typer  # noqa: F401  (the CLI framework conn cannot do without)

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}

address = sys.argv[1]
method = sys.argv[2] if len(sys.argv) > 2 else HEALTH_CHECK
channel = grpc.insecure_channel(address)
try:
    reply = channel.unary_unary(method)(b"", timeout=10)
finally:
    channel.close()
if method == HEALTH_CHECK and reply != SERVING:
    sys.exit(f"not SERVING: {reply!r}")
