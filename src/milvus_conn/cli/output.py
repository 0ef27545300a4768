"""The one printer: rich tables on a terminal, plain text when piped, JSON.

Commands return an `Outcome` (what to show, the exit code, maybe the error that ends
the run) and never print themselves; an explicit `Output` (quiet, verbose, terminal)
prints it. rich is imported only when a table is drawn on a terminal. Every
line is escaped (untrusted.py): text from files and servers never reaches the terminal
as control characters.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ExitCode, MilvusException
from ..untrusted import escape, escape_json, escape_lines, width
from . import shapes

if TYPE_CHECKING:
    from .shapes import Answer


# what an outcome shows, in order ---------------------------------------------------
# Plain classes: a NamedTuple costs ~0.1 ms to define, on every start-up.


class Item:
    """One thing to show; the printer method of its kind takes its arguments."""

    __slots__ = ("args",)

    def __init__(self, *args: Any) -> None:
        self.args = args


class Text(Item):
    """Data and answers, on stdout: Text(text)."""

    __slots__ = ()


class Problem(Item):
    """An `Error: ...` line that does not end the run (one alias of several): Problem(message)."""

    __slots__ = ()


class Diag(Item):
    """A --verbose diagnostic on stderr: Diag(text)."""

    __slots__ = ()


class Json(Item):
    """Json(data), indented on a terminal."""

    __slots__ = ()


class Table(Item):
    """Table(headers, rows): drawn by rich on a terminal, aligned columns otherwise."""

    __slots__ = ()


class Reply(Item):
    """One `conn has` answer: Reply(alias, answer, address)."""

    __slots__ = ()


class Outcome:
    """What a command did: items to show, its exit code, or the error that ends it (its
    `Error:` line and exit code come from cli/commands.py, after the items)."""

    __slots__ = ("code", "error", "items")

    def __init__(
        self, items: Sequence[Item] = (), code: int = 0, error: MilvusException | None = None
    ) -> None:
        self.items, self.code, self.error = items, code, error


def explanation(report: dict[str, Any], *, as_json: bool) -> Outcome:
    """`--explain` (addr, connect): each setting, its value and where it came from."""
    if as_json:
        return Outcome([Json(report)])
    return Outcome([Table(shapes.EXPLAIN_COLUMNS, shapes.explain_rows(report))])


# the printer -------------------------------------------------------------------------


def on_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


class Output:
    """How this run prints; one per run (cli/session.py), handed to whatever prints.
    --json is no mode of it: a command that was asked for JSON returns `Json` items."""

    __slots__ = ("quiet", "terminal", "verbose")

    def __init__(self, quiet: bool = False, verbose: bool = False, tty: bool = False) -> None:
        self.quiet, self.verbose = quiet, verbose
        self.terminal = tty  # stdout is a terminal: tables drawn by rich, JSON indented

    @classmethod
    def for_run(cls, *, quiet: bool = False, verbose: bool = False) -> Output:
        return cls(quiet, verbose, on_terminal())

    def silenced(self) -> Output:
        """`has -q`: nothing but the errors that are not answers."""
        return Output(True, False, self.terminal)

    def out(self, text: str) -> None:
        """Data and answers, on stdout; nothing under --quiet."""
        if not self.quiet:
            sys.stdout.write(escape_lines(text) + "\n")

    def err(self, text: str) -> None:
        sys.stderr.write(escape(text) + "\n")

    def error(self, message: str) -> None:
        """`Error: ...` on stderr, always one line (a value may carry a newline)."""
        self.err("Error: " + message)

    def warning(self, message: object) -> None:
        self.err(f"Warning: {message}")

    def diag(self, text: str) -> None:
        """--verbose diagnostics, on stderr."""
        if self.verbose:
            sys.stderr.write(f"conn: {escape(text)}\n")

    def emit_json(self, data: object) -> None:
        """Indented for a person at a terminal; one line when piped, as `gh` does: only
        unindented JSON gets the json module's C encoder (10,000 aliases: 0.4 s -> 0.1 s)."""
        import json  # here: most runs print no JSON

        text = json.dumps(data, indent=2 if self.terminal else None, ensure_ascii=False)
        self.out(escape_json(text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A rich table on a terminal (colourless when NO_COLOR is set and not empty, as
        no-color.org says), aligned columns otherwise. Cells are escaped, and reach rich as
        Text: a value is never read as markup (`[link=...]`) or emoji codes."""
        if self.quiet:
            return
        rows = [[escape(str(c)) for c in row] for row in rows]
        if not self.terminal:
            widths = [max(map(width, col)) for col in zip(headers, *rows, strict=False)]
            for row in (headers, *rows):
                cells = (c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True))
                self.out("  ".join(cells).rstrip())
            return
        from rich.console import Console
        from rich.table import Table as Grid
        from rich.text import Text as RichText

        grid = Grid(box=None, header_style="bold", pad_edge=False)
        for header in headers:
            grid.add_column(header, overflow="fold")
        for row in rows:
            grid.add_row(*(RichText(c) for c in row), style=shapes.row_style(row))
        Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False).print(grid)

    def reply(self, alias: str, answer: Answer, address: str) -> None:
        """Under --quiet only errors that are not answers (usage, profile: exit 2 and 6)
        still print."""
        if isinstance(answer, MilvusException):
            if not self.quiet or answer.exit_code in (ExitCode.USAGE, ExitCode.PROFILE):
                self.error(answer.message)
        elif answer is None:
            self.out(f"{alias}: connected (not probed)")
        elif answer.healthy:
            self.out(shapes.describe_result(alias, address, answer))
        elif not self.quiet:
            self.error(shapes.describe_result(alias, address, answer))

    def show(self, items: Iterable[Item]) -> None:
        """Print each item, in order, by the method of its kind."""
        kinds = {Text: self.out, Problem: self.error, Diag: self.diag, Json: self.emit_json,
                 Table: self.table, Reply: self.reply}  # fmt: skip
        for item in items:
            kinds[type(item)](*item.args)
