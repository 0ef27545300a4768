"""`conn exporter`, the one command that serves: the profile's aliases for Prometheus.

Nothing heavy is imported here: `conn --help` builds every command, and the exporter's
dependencies (prometheus_client, its own modules) load only when `conn exporter` runs.
"""

import sys
from typing import Annotated

import typer

from .output import Outcome, Text
from .session import session

# blackbox_exporter listens on 9115. The range Prometheus allocates to exporters,
# 9100-9999, is taken in full, so any port in it belongs to some other exporter; 19115 is
# outside it, clear of Milvus's own ports (19530, its components' 19529 and 19531, metrics
# on 9091) and of Prometheus's (9090-9094), and reads as "9115, for Milvus".
DEFAULT_LISTEN = "127.0.0.1:19115"


def exporter(
    ctx: typer.Context,
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Where to serve /probe, /sd and /metrics (loopback unless told otherwise).",
        ),
    ] = DEFAULT_LISTEN,
) -> Outcome:
    """Serve the profile's aliases to Prometheus, as blackbox_exporter serves URLs:
    /probe?alias=A, /sd, /metrics (SIGTERM or Ctrl-C stops it)."""
    from ..exporter import (
        endpoints as served,  # here: prometheus_client loads for this command only
    )

    run = session(ctx)

    def report(message: str) -> None:
        run.flush_warnings()
        run.output.warning(message)
        sys.stderr.flush()

    def listening(url: str, aliases: int) -> None:
        run.flush_warnings()
        count = f"{aliases} alias" if aliases == 1 else f"{aliases} aliases"
        run.output.show([Text(f"Serving {count} on {url} (/probe?alias=A, /sd, /metrics)")])
        sys.stdout.flush()

    served.serve(run.registry, listen, report=report, on_listening=listening)
    return Outcome()
