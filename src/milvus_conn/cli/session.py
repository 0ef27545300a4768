"""One run of `conn`: its registry, its printer, the warnings the library raised.

The app's callback builds it (`ctx.obj`); commands read it with `session(ctx)`. It is
per run, never module state: an embedding program can invoke `app` again and again.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import typer

from ..errors import UntrustedFileWarning
from .output import Output

if TYPE_CHECKING:
    from ..registry import Connections


class Session:
    """The registry and the printer of this run, and the warnings caught so far."""

    __slots__ = ("caught", "output", "registry")

    def __init__(
        self, registry: Connections, output: Output, caught: list[warnings.WarningMessage]
    ) -> None:
        self.registry, self.output, self.caught = registry, output, caught

    def flush_warnings(self) -> None:
        """Print the library's warnings (`Warning: ...` on stderr, even under --quiet);
        a file not believed (UntrustedFileWarning) is a --verbose diagnostic: conn goes on
        without it, and `conn doctor` reports it with its fix."""
        for caught in self.caught:
            if issubclass(caught.category, UntrustedFileWarning):
                self.output.diag(str(caught.message))
            else:
                self.output.warning(caught.message)
        del self.caught[:]


def start(ctx: typer.Context, registry: Connections, output: Output) -> Session:
    """The session of this run. Warnings are recorded from here until the run's context
    closes, and printed by the printer: warnings.showwarning is left alone. The live
    handles the run opened are closed with the context."""
    caught = ctx.with_resource(warnings.catch_warnings(record=True))
    ctx.call_on_close(registry.reset)  # the channels this run's handles opened
    ctx.obj = Session(registry, output, caught)
    return ctx.obj  # type: ignore[no-any-return]


def session(ctx: typer.Context) -> Session:
    return ctx.obj  # type: ignore[no-any-return]
