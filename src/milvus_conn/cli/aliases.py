"""Commands over the profile, offline: add, remove, use, addr, env, export, import.

Each parses, makes one library call and returns what to show; none opens a socket or
imports grpc (tests/test_guards.py).
"""

from enum import Enum
from typing import Annotated

import typer

from . import shapes
from .options import (
    Address,
    AliasArg,
    CaPem,
    ClientKey,
    ClientPem,
    DbName,
    Force,
    HealthService,
    Host,
    Json,
    OptionalAlias,
    PasswordCommand,
    PasswordEnv,
    Port,
    ProbeKind,
    Secure,
    ServerName,
    ServerPem,
    Timeout,
    TokenCommand,
    TokenEnv,
    Uri,
    User,
    complete_alias,
    connection_options,
)
from .output import Json as JsonItem
from .output import Outcome, Text, explanation
from .session import session


class Shell(str, Enum):
    """The syntaxes `conn env` writes."""

    sh = "sh"
    fish = "fish"
    powershell = "powershell"


def add(
    ctx: typer.Context,
    alias: AliasArg,
    uri: Uri = None,
    address: Address = None,
    host: Host = None,
    port: Port = None,
    user: User = None,
    password_env: PasswordEnv = None,
    token_env: TokenEnv = None,
    password_command: PasswordCommand = None,
    token_command: TokenCommand = None,
    db_name: DbName = None,
    secure: Secure = None,
    server_pem_path: ServerPem = None,
    server_name: ServerName = None,
    client_pem_path: ClientPem = None,
    client_key_path: ClientKey = None,
    ca_pem_path: CaPem = None,
    timeout: Timeout = None,
    probe: ProbeKind = None,
    health_service: HealthService = None,
    force: Force = False,
) -> Outcome:
    """Store an alias in the profile (no network)."""
    config = session(ctx).registry.add(alias, force=force, **connection_options(ctx))
    return Outcome([Text(f"Added {alias} ({config.address})")])


def remove(ctx: typer.Context, alias: AliasArg) -> Outcome:
    """Delete an alias and its connection state (a secret conn login stored stays)."""
    kept = session(ctx).registry.remove(alias)
    return Outcome([Text(f"Removed {alias}"), *map(Text, shapes.kept_login_lines(kept))])


def addr(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Every resolved setting and where it came from.")
    ] = False,
    as_json: Json = False,
) -> Outcome:
    """Print the alias's address (or, with --json, its whole public config)."""
    registry = session(ctx).registry
    name = registry.resolve_alias(alias)
    registry.require_known(name)
    if explain:
        return explanation(registry.explain(name), as_json=as_json)
    config = registry.get_connection_addr(name)
    return Outcome([JsonItem(config) if as_json else Text(str(config["address"]))])


def use(ctx: typer.Context, alias: OptionalAlias = None) -> Outcome:
    """Make ALIAS the one commands use when none is named (no ALIAS: show it)."""
    registry = session(ctx).registry
    if alias is not None:
        registry.use(alias)
    return Outcome([Text(registry.resolve_alias(None))])


def env(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    shell: Annotated[Shell, typer.Option(help="Syntax of the exports.")] = Shell.sh,
    with_secrets: Annotated[
        bool,
        typer.Option(
            "--with-secrets",
            help="Put the password (or a user:password token) into MILVUS_URI, where pymilvus "
            "reads it; a token of another form is refused (no variable carries it).",
        ),
    ] = False,
) -> Outcome:
    """Print the exports pymilvus reads: eval "$(conn env prod)".

    MILVUS_URI is read by pymilvus's connections only (connections.connect() with no
    address), with MILVUS_CONN_ALIAS and MILVUS_CONN_TIMEOUT. MilvusClient reads no
    environment; hand it the URI:

    \b
    python -c 'import os, pymilvus; pymilvus.MilvusClient(uri=os.environ["MILVUS_URI"])'

    pymilvus reads no MILVUS_TOKEN and no TLS files from the environment: for those, use
    milvus_conn.client("prod") in Python."""
    variables = session(ctx).registry.environment(alias, with_secrets=with_secrets)
    return Outcome([Text(line) for line in shapes.export_lines(variables, shell.value)])


def export(
    ctx: typer.Context,
    aliases: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ALIAS]...", help="Aliases to export [default: all].",
                       autocompletion=complete_alias, show_default=False),
    ] = None,
) -> Outcome:  # fmt: skip
    """Print the profile (or some aliases) without secrets, to share with a team."""
    return Outcome([Text(session(ctx).registry.export_profile(aliases or ()).rstrip("\n"))])


def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A profile to merge in.")],
    force: Annotated[bool, typer.Option("--force", help="Replace conflicting aliases.")] = False,
    allow_commands: Annotated[
        bool,
        typer.Option("--allow-commands",
                     help="Accept secret commands (password_command, token_command) in FILE."),
    ] = False,
) -> Outcome:  # fmt: skip
    """Merge another profile's aliases; conflicting ones are refused unless --force, a
    file that defines secret commands unless --allow-commands (never run on import)."""
    registry = session(ctx).registry
    imported = registry.import_profile(file, force=force, allow_commands=allow_commands)
    return Outcome([Text(f"Imported {len(imported)} alias(es): {', '.join(imported)}")])
