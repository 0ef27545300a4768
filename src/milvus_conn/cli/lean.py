"""The lean app, a start-up device: `main()` builds only the command it runs.

Typer builds the click object of every registered command on every run, about 25 ms
for all of them; a run needs only the one it invokes. The `make bench` rows that need
this are 2a-2c (`conn list`, `conn addr`, `conn has --no-probe` against `import typer`,
at most 1.15x): without it each offline command costs about half as much again.
"""

from typing import Any

import typer

from .app import SETTINGS, app

_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def command_named(args: list[str]) -> str | None:
    """The command word in `args`, past the global options; None for anything else."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--profile":
            index += 2
        elif arg.startswith("--profile=") or arg in _GLOBAL_FLAGS:
            index += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def lean_app(command: str) -> typer.Typer:
    """`app` with only `command` in it (the whole app when there is no such command)."""
    lean = typer.Typer(**SETTINGS)
    lean.registered_callback = app.registered_callback
    lean.registered_commands = [
        info for info in app.registered_commands if _name_of(info) == command
    ]
    return lean if lean.registered_commands else app


def _name_of(info: Any) -> str:
    return str(info.name or info.callback.__name__)
