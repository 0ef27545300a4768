"""Commands over the OS credential store: login, logout."""

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from ..errors import ConnectionConfigException
from . import shapes
from .options import AliasArg, PasswordStdin, TokenStdin, read_stdin
from .output import Outcome, Text
from .session import session


def login(
    ctx: typer.Context,
    alias: AliasArg,
    token: Annotated[
        bool, typer.Option("--token", help="Store a token instead of the password.")
    ] = False,
    password_stdin: PasswordStdin = False,
    token_stdin: TokenStdin = False,
) -> Outcome:
    """Ask for the alias's password (or token), check it with the server, and keep it in
    the OS credential store for that server and user: 0 stored, 5 refused, 3 unreachable,
    6 no usable store; nothing is stored unless the server accepted it."""
    if password_stdin and (token or token_stdin):
        raise ConnectionConfigException("--password-stdin reads a password: not with --token")
    kind = "token" if token or token_stdin else "password"
    secret = _reader(kind, alias, from_stdin=password_stdin or token_stdin)
    done = session(ctx).registry.login(alias, secret, kind=kind)
    return Outcome([Text(line) for line in shapes.login_lines(done)])


def logout(ctx: typer.Context, alias: AliasArg) -> Outcome:
    """Remove what conn login stored for the alias's server and user (0 even if nothing)."""
    removed = session(ctx).registry.logout(alias)
    if not removed:
        return Outcome([Text(f"{alias}: nothing stored by conn login")])
    kinds = " and ".join(login.kind for login in removed)
    return Outcome([Text(f"Logged out {alias}: its {kinds} removed from the OS credential store")])


def _reader(kind: str, alias: str, *, from_stdin: bool) -> Callable[[], str]:
    """How the secret is read, once the store is known to work: standard input, or a
    prompt that does not echo (only on a terminal: nothing waits on a pipe)."""

    def read() -> str:
        if from_stdin:
            return read_stdin(kind)
        if not sys.stdin.isatty():
            raise ConnectionConfigException(
                f"standard input is not a terminal, so conn cannot ask for the {kind}: "
                f"give it with --{kind}-stdin"
            )
        import getpass

        try:
            return getpass.getpass(f"{kind.capitalize()} for {alias}: ")
        except EOFError:
            raise ConnectionConfigException(f"no {kind} given; nothing stored") from None

    return read
