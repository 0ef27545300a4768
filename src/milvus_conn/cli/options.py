"""The options commands share, each declared once.

`add` and `connect` take the same connection options: their names are listed once in
`CONNECTION_OPTIONS`, and `connection_options` collects them from the command's parsed
parameters (Typer still needs each one in the signature, typed by the aliases below).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ..config import check_given, secret_problem
from ..errors import ConnectionConfigException, MilvusException
from ..registry import Connections

# The options that say where an alias is and how to reach it, in the order of --help.
CONNECTION_OPTIONS = (
    "uri", "address", "host", "port", "user", "password_env", "token_env", "password_command",
    "token_command", "db_name",
    "secure", "server_pem_path", "server_name", "client_pem_path", "client_key_path",
    "ca_pem_path", "timeout", "probe", "health_service",
)  # fmt: skip


def connection_options(ctx: typer.Context, *, leave: tuple[str, ...] = ()) -> dict[str, Any]:
    """The connection options given to this command, checked (config.check_given)."""
    given = {name: ctx.params[name] for name in CONNECTION_OPTIONS if name not in leave}
    return check_given(given)


def complete_alias(ctx: typer.Context, incomplete: str) -> list[str]:
    """Alias names from the active profile (--profile or $CONN_PROFILE), for the shell."""
    profile = ctx.find_root().params.get("profile")
    try:
        names = [info.alias for info in Connections(profile=profile).describe()]
    except MilvusException:
        return []
    return [name for name in names if name.startswith(incomplete)]


def gates(min_version: str | None, max_latency: float | None, min_days: int | None) -> Any:
    """request.Gates, or None when no gate is asked for (probe/gates.py imports no grpc)."""
    if min_version is None and max_latency is None and min_days is None:
        return None
    from ..probe.gates import make_gates

    try:
        return make_gates(min_version, max_latency, min_days)
    except ValueError as exc:
        raise ConnectionConfigException(str(exc)) from None


def ready_spec(ready: bool, collections: list[str] | None, loaded: bool) -> Any:
    """request.ReadySpec, or None when not asked for (probe/readiness.py imports no grpc)."""
    if not (ready or collections or loaded):
        return None
    from ..probe.readiness import make_spec

    return make_spec(tuple(collections or ()), loaded)


MAX_STDIN = 64 * 1024  # characters of a secret read from standard input


def read_stdin(what: str) -> str:
    """A secret from standard input, as `docker login --password-stdin` reads it: all of
    it, one trailing newline dropped; refused (exit 2) if empty, blank or several lines."""
    value = sys.stdin.read(MAX_STDIN + 1)
    if len(value) > MAX_STDIN:
        raise ConnectionConfigException(f"--{what}-stdin: more than {MAX_STDIN} characters")
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    problem = secret_problem(value)
    if problem == "nothing":
        raise ConnectionConfigException(f"--{what}-stdin given but standard input is empty")
    if problem:
        raise ConnectionConfigException(f"--{what}-stdin: the {what} read holds {problem}")
    return value


# the declarations ------------------------------------------------------------------

AliasArg = Annotated[
    str,
    typer.Argument(
        metavar="ALIAS", help="The alias name.", show_default=False, autocompletion=complete_alias
    ),
]
OptionalAlias = Annotated[
    str | None,
    typer.Argument(
        metavar="[ALIAS]",
        help="The alias [default: $MILVUS_CONN_ALIAS, else the profile's (conn use), "
        "else 'default'].",
        show_default=False,
        autocompletion=complete_alias,
    ),
]
Aliases = Annotated[
    list[str] | None,
    typer.Argument(metavar="[ALIAS]...", show_default=False, autocompletion=complete_alias,
                   help="Aliases to check [default: the default alias]."),
]  # fmt: skip
Uri = Annotated[
    str | None, typer.Option(help="http[s]://[user@]host[:port][/db_name] or unix:/path.")
]
Address = Annotated[str | None, typer.Option(help="host:port.")]
Host = Annotated[str | None, typer.Option(help="Host name or IP (with --port).")]
Port = Annotated[int | None, typer.Option(help="Port, 1-65535 (with --host).")]
User = Annotated[str | None, typer.Option(help="User name.")]
PasswordEnv = Annotated[
    str | None, typer.Option(help="Name of the environment variable holding the password.")
]
TokenEnv = Annotated[
    str | None, typer.Option(help="Name of the environment variable holding the token.")
]
PasswordCommand = Annotated[
    str | None,
    typer.Option(metavar="CMD", help="Command that prints the password (run without a shell, "
                 "e.g. 'pass show milvus/prod').")
]  # fmt: skip
TokenCommand = Annotated[
    str | None,
    typer.Option(metavar="CMD", help="Command that prints the token (e.g. 'op read "
                 "op://ops/milvus/token').")
]  # fmt: skip
DbName = Annotated[str | None, typer.Option(help="Database name [default: default].")]
Secure = Annotated[bool | None, typer.Option("--secure/--no-secure", help="Use TLS.")]
ServerPem = Annotated[str | None, typer.Option(help="Server certificate (one-way TLS).")]
ServerName = Annotated[str | None, typer.Option(help="TLS server name override.")]
ClientPem = Annotated[str | None, typer.Option(help="Client certificate (mutual TLS).")]
ClientKey = Annotated[str | None, typer.Option(help="Client private key (mutual TLS).")]
CaPem = Annotated[str | None, typer.Option(help="CA certificate.")]
Timeout = Annotated[float | None, typer.Option(help="Seconds to wait for an answer [default: 10].")]
ProbeKind = Annotated[
    str | None, typer.Option("--probe", help="auto, grpc-health or milvus [default: auto].")
]
HealthService = Annotated[str | None, typer.Option(help="grpc.health.v1 service name.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
TokenStdin = Annotated[
    bool, typer.Option("--token-stdin", help="Read the token from standard input.")
]
Wait = Annotated[
    float, typer.Option(help="Retry for up to this many seconds until healthy.", min=0)
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
MinVersion = Annotated[
    str | None, typer.Option(help="Gate: the server must report at least this version.")
]
MaxLatency = Annotated[
    float | None, typer.Option(help="Gate: the health answer must take at most MS.", min=0)
]
MinCertDays = Annotated[
    int | None,
    typer.Option(help="Gate: the TLS certificate must be valid at least N more days."),
]
Ready = Annotated[
    bool,
    typer.Option("--ready", help="Also: the alias's database exists and its user may use it."),
]
Collection = Annotated[
    list[str] | None,
    typer.Option("--collection", metavar="NAME", show_default=False,
                 help="Also: this collection exists in that database (repeatable; implies "
                 "--ready)."),
]  # fmt: skip
Loaded = Annotated[
    bool, typer.Option("--loaded", help="Each --collection must also be fully loaded.")
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing alias.")]
