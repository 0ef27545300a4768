"""Floor of `conn has`: a fresh interpreter that imports typer and grpc and makes one
grpc.health.v1 Check on a fresh channel, the request hand-encoded (empty service = b"").

usage: grpc_check.py [--gc-freeze] HOST:PORT [METHOD]   (METHOD: grpc.health.v1's Check)

--gc-freeze ends the way conn does, with `gc.freeze()`, so that the interpreter's exit
skips the cyclic collection of everything imported: the floor of conn's own cost.
"""

import gc
import sys

import grpc
import typer  # noqa: F401  (the CLI framework conn cannot do without)

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}

args = sys.argv[1:]
freeze = args[:1] == ["--gc-freeze"]
address, *rest = args[1:] if freeze else args
method = rest[0] if rest else HEALTH_CHECK
channel = grpc.insecure_channel(address)
try:
    reply = channel.unary_unary(method)(b"", timeout=10)
finally:
    channel.close()
if method == HEALTH_CHECK and reply != SERVING:
    sys.exit(f"not SERVING: {reply!r}")
if freeze:
    gc.freeze()
