"""`conn`: a thin shell over the library. Each command parses, calls it once, and
returns an outcome that one printer shows.

  commands.py the Typer app: its table of commands, where errors become exit codes
  options.py  options shared by commands, declared once
  aliases.py  offline commands over the profile (add, remove, addr, use, env, ...)
  probes.py   commands that probe or read the recorded state (connect, has, list, ...)
  tools.py    commands about conn itself (version, completion, schema)
  monitor.py  conn exporter, the one command that serves (HTTP, for Prometheus)
  output.py   the printer (`Output`) and what outcomes hold; shapes.py their shapes
  session.py  one run's registry, printer and caught warnings
  lean.py     the start-up device that builds only the command a run invokes

ARCHITECTURE.md says what the CLI must not know, and where a new command goes.
"""

import gc
import os
import sys
from typing import Any

from .commands import COMPLETE_VAR
from .lean import command_named, lean_app

__all__ = ["COMPLETE_VAR", "app", "main"]


def __getattr__(name: str) -> Any:
    """`app`: the whole app, built when first asked for (main() builds only its command)."""
    if name != "app":
        raise AttributeError(name)
    from .commands import app

    return app


def main() -> None:
    """Console-script entry point (`conn`, `python -m milvus_conn`).

    The CLI owns its process: gRPC's C core logs nothing to the user's stderr unless
    GRPC_VERBOSITY says so (conn's own messages say what failed).

    `gc.freeze()` moves every object alive so far out of the cyclic collector's reach:
    once here, so that collections during the run skip all that was imported, and once at
    the end, so that the interpreter's exit does not collect it all again (20-25 ms with
    typer loaded, for memory the process is about to give back). Reference counting, and
    with it every close and flush, works as before."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    command = None if os.environ.get(COMPLETE_VAR) else command_named(sys.argv[1:])
    if command is None and "--version" in sys.argv[1:]:
        command = "version"  # the eager --version needs no other command built
    gc.freeze()
    try:
        lean_app(command)(prog_name="conn")
    finally:
        gc.freeze()
