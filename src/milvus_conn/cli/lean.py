"""The lean app, a start-up device: `main()` builds only the command it runs.

Typer builds the click object of every registered command on every run, about 25 ms
for all of them, and each command's module costs its import; a run needs only the one
it invokes. The `make bench` rows that need this are 2a-2c (`conn list`, `conn addr`,
`conn has --no-probe` against `import typer`, at most 1.15x): without it each offline
command costs about half as much again.

ARCHITECTURE.md lists it with the other performance devices.
"""

import typer

from .commands import COMMANDS, build

_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")
_NAMES = frozenset(name for name, _, _ in COMMANDS)


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


def lean_app(command: str | None) -> typer.Typer:
    """The app with only `command` in it; the whole app when there is no such command
    (`conn`, `conn --help`, a misspelt command: click lists or suggests them all)."""
    if command in _NAMES:
        return build(command)
    from .commands import app

    return app
