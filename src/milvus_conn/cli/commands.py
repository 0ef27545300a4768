"""The Typer app: global options, the table of commands, and where runs end.

Every command returns an `Outcome`; `_shown` prints it and turns it into the exit code.
Every error ends in `_Group`: one `Error: ...` line on stderr (`fail`) and the error's
exit code. No traceback reaches a user unless CONN_DEBUG=1 asks for one.
"""

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import ExitCode, MilvusException
from ..registry import Connections
from .compat import click_exception_base, init_completion_classes
from .output import Outcome, Output
from .session import session, start

COMPLETE_VAR = "_CONN_COMPLETE"  # what the scripts in completions/ set
_ClickException = click_exception_base()
# Usage errors, --help and exits are click's to finish; the user's Ctrl-C too.
_PASSED_ON = (typer.Exit, _ClickException, KeyboardInterrupt, BrokenPipeError)


def fail(output: Output, exc: MilvusException) -> int:
    """A library error's `Error:` line; its exit code."""
    output.error(exc.message)
    return int(exc.exit_code)


class _Group(TyperGroup):
    """Every error ends here: one `Error: ...` line on stderr and its exit code."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # plain `conn`: the help, exit 2
                Output().out(exc.format_message())
            else:
                where = (
                    f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
                )
                Output().error(f"{exc.format_message()}{where}")
            code = exc.exit_code
        except typer.Abort:
            code = ExitCode.FALSE
        if not standalone_mode:
            return code
        sys.exit(code or 0)

    def _main_shell_completion(
        self, ctx_args: Any, prog_name: str, complete_var: Any = None
    ) -> None:
        """Shell completion (completions/): Typer's completers are loaded only when asked."""
        if os.environ.get(COMPLETE_VAR):
            init_completion_classes()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except Exception as exc:
            output = _flushed(ctx)
            if isinstance(exc, MilvusException):
                raise typer.Exit(fail(output, exc)) from None
            if isinstance(exc, _PASSED_ON) or os.environ.get("CONN_DEBUG"):
                raise
            output.error(f"unexpected {type(exc).__name__}: {exc} (CONN_DEBUG=1 shows more)")
            raise typer.Exit(ExitCode.FALSE) from None
        except BaseException:  # KeyboardInterrupt and the like: warnings first, all the same
            _flushed(ctx)
            raise
        _flushed(ctx)
        return result


def _flushed(ctx: typer.Context) -> Output:
    """The run's printer, once the warnings caught so far are printed."""
    if ctx.obj is None:  # the run failed before its session began
        return Output()
    session(ctx).flush_warnings()
    return session(ctx).output


SETTINGS: dict[str, Any] = {
    "cls": _Group,
    "name": "conn",
    "help": "Named, health-checked connections to Milvus and any grpc.health.v1 server.",
    "no_args_is_help": True,
    "add_completion": False,
    "rich_markup_mode": None,
    "pretty_exceptions_enable": False,
    "pretty_exceptions_show_locals": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def _show_version(given: bool) -> None:
    """`conn --version`: the version command's output, before any other option counts."""
    if given:
        from .tools import versions

        Output.for_run().show(versions(as_json=False).items)
        raise typer.Exit(ExitCode.OK)


def main_callback(
    ctx: typer.Context,
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            metavar="PATH",
            help="Profile file to use; repeat it, or join files with the path separator "
            "(':'), to layer them, the first one winning [default: $CONN_PROFILE, else "
            "profiles.toml in the conn app directory].",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print nothing but errors; exit status only.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Diagnostics on stderr (never a secret).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print the versions of conn, Python, grpcio, typer (and pymilvus); exit.",
        ),
    ] = False,
) -> None:
    run = start(
        ctx, Connections(profile=profile or None), Output.for_run(quiet=quiet, verbose=verbose)
    )
    run.output.diag(f"profile {os.pathsep.join(map(str, run.registry.store.paths))}")


def _shown(command: Callable[..., Outcome]) -> Callable[..., None]:
    """The command as Typer runs it: its outcome printed (the library's warnings first),
    then its error's `Error:` line, and its exit code."""

    @functools.wraps(command)
    def run(ctx: typer.Context, **params: Any) -> None:
        outcome = command(ctx, **params)
        output = _flushed(ctx)
        output.show(outcome.items)
        code = fail(output, outcome.error) if outcome.error is not None else outcome.code
        if code:
            raise typer.Exit(code)

    return run


# The commands, in the order of `conn --help`: name, module (in cli/), function.
COMMANDS = (
    ("add", "aliases", "add"),
    ("remove", "aliases", "remove"),
    ("connect", "probes", "connect"),
    ("disconnect", "probes", "disconnect"),
    ("has", "probes", "has"),
    ("list", "probes", "list_"),
    ("addr", "aliases", "addr"),
    ("watch", "probes", "watch"),
    ("exporter", "monitor", "exporter"),
    ("use", "aliases", "use"),
    ("env", "aliases", "env"),
    ("export", "aliases", "export"),
    ("import", "aliases", "import_"),
    ("login", "login", "login"),
    ("logout", "login", "logout"),
    ("version", "tools", "version"),
    ("completion", "tools", "completion"),
    ("doctor", "probes", "doctor"),
    ("schema", "tools", "schema"),
)


def build(only: str | None = None) -> typer.Typer:
    """The app with every command, or `only` that one (cli/lean.py): a command's module
    is imported when the command is registered."""
    built = typer.Typer(**SETTINGS)
    built.callback()(main_callback)
    for name, module, function in COMMANDS:
        if only in (None, name):
            command = getattr(importlib.import_module(f".{module}", __package__), function)
            built.command(name)(_shown(command))
    return built


def __getattr__(name: str) -> typer.Typer:
    """`app`, the whole app, built on first use: a run of `conn` builds only its command."""
    if name != "app":
        raise AttributeError(name)
    globals()["app"] = full = build()
    return full
