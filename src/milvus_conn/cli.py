"""`conn`: a thin shell over the library. Each command parses, calls it once, renders.

Errors end in one handler (`_Group.invoke`): one `Error: ...` line on stderr and the
exception's exit code. No traceback reaches a user unless CONN_DEBUG=1 asks for one.
"""

import gc
import os
import sys
import time
import warnings
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from . import lite, render
from .completion import SHELLS
from .completion import script as completion_script
from .errors import ConnectionConfigException, ExitCode, MilvusException
from .registry import Connections

COMPLETE_VAR = "_CONN_COMPLETE"  # what the scripts in completions/ set
# click's base of usage errors (typer 0.28 vendors click; older typers import it).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """Every error ends here: one `Error: ...` line on stderr and its exit code."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # plain `conn`: the help, exit 2
                render.out(exc.format_message())
            else:
                where = (
                    f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
                )
                render.error(f"{exc.format_message()}{where}")
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
            from typer._completion_classes import completion_init

            completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MilvusException as exc:
            _fail(exc)
        except (typer.Exit, _ClickException, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as exc:
            if os.environ.get("CONN_DEBUG"):
                raise
            render.error(f"unexpected {type(exc).__name__}: {exc} (CONN_DEBUG=1 shows more)")
            raise typer.Exit(ExitCode.FALSE) from None


_SETTINGS: dict[str, Any] = {
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
app = typer.Typer(**_SETTINGS)


def _fail(exc: MilvusException, *, quiet: bool = False) -> NoReturn:
    if not quiet:
        render.error(exc.message)
    raise typer.Exit(exc.exit_code)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    render.err(f"Warning: {message}")


@app.callback()
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
            callback=lambda given: _show_version(given, as_json=False),
            help="Print the versions of conn, Python, grpcio, typer (and pymilvus); exit.",
        ),
    ] = False,
) -> None:
    warnings.showwarning = _show_warning
    render.configure(quiet=quiet, verbose=verbose)
    ctx.obj = Connections(profile=profile or None)
    render.diag(f"profile {os.pathsep.join(map(str, ctx.obj.store.paths))}")


def _registry(ctx: typer.Context) -> Connections:
    return ctx.obj  # type: ignore[no-any-return]


# options shared by `add` and `connect` ---------------------------------------------


def _complete_alias(ctx: typer.Context, incomplete: str) -> list[str]:
    """Alias names from the active profile (--profile or $CONN_PROFILE), for the shell."""
    profile = ctx.find_root().params.get("profile")
    try:
        names = [info.alias for info in Connections(profile=profile).describe()]
    except MilvusException:
        return []
    return [name for name in names if name.startswith(incomplete)]


AliasArg = Annotated[
    str,
    typer.Argument(
        metavar="ALIAS",
        help="The alias name.",
        show_default=False,
        autocompletion=_complete_alias,
    ),
]
OptionalAlias = Annotated[
    str | None,
    typer.Argument(
        metavar="[ALIAS]",
        help="The alias [default: $MILVUS_CONN_ALIAS, else the profile's (conn use), "
        "else 'default'].",
        show_default=False,
        autocompletion=_complete_alias,
    ),
]
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

_TLS_FILES = ("server_pem_path", "client_pem_path", "client_key_path", "ca_pem_path")


def _options(**given: Any) -> dict[str, Any]:
    """The options the user gave, checked for conflicts, TLS paths made absolute."""
    if lite.is_local_db(given.get("uri")):
        raise ConnectionConfigException(
            "a .db uri runs Milvus Lite inside the Python program that opens it, so conn "
            "cannot keep it connected: run 'milvus-lite server --data-dir DIR --port P' and "
            "use its address, or call connections.connect(uri=...) in Python"
        )
    targets = [name for name in ("uri", "address", "host") if given.get(name) is not None]
    if len(targets) > 1:
        raise ConnectionConfigException(f"give only one of --{', --'.join(targets)}")
    if given.get("port") is not None and given.get("host") is None:
        raise ConnectionConfigException("--port needs --host")
    for name in _TLS_FILES:
        if given.get(name):
            given[name] = os.path.abspath(os.path.expanduser(given[name]))
    return {k: v for k, v in given.items() if v is not None}


def _gates(min_version: str | None, max_latency: float | None, min_days: int | None) -> Any:
    """health.Gates, imported here: the health core loads only for commands that probe."""
    if min_version is None and max_latency is None and min_days is None:
        return None
    from .health import make_gates

    try:
        return make_gates(min_version, max_latency, min_days)
    except ValueError as exc:
        raise ConnectionConfigException(str(exc)) from None


def _ready(ready: bool, collections: list[str] | None, loaded: bool) -> Any:
    """readiness.ReadySpec, or None when not asked for (readiness.py imports no grpc)."""
    if not (ready or collections or loaded):
        return None
    from .readiness import make_spec

    try:
        return make_spec(tuple(collections or ()), loaded)
    except ValueError as exc:
        raise ConnectionConfigException(str(exc)) from None


def _read_stdin(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise ConnectionConfigException(f"--{what}-stdin given but standard input is empty")
    return value


# commands --------------------------------------------------------------------------


@app.command()
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
    force: Annotated[bool, typer.Option("--force", help="Replace an existing alias.")] = False,
) -> None:
    """Store an alias in the profile (no network)."""
    options = _options(**{k: v for k, v in locals().items() if k not in ("ctx", "alias", "force")})
    config = _registry(ctx).add(alias, force=force, **options)
    render.out(f"Added {alias} ({config.address})")


@app.command()
def remove(ctx: typer.Context, alias: AliasArg) -> None:
    """Delete an alias and its connection state."""
    _registry(ctx).remove(alias)
    render.out(f"Removed {alias}")


@app.command()
def connect(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    uri: Uri = None,
    address: Address = None,
    host: Host = None,
    port: Port = None,
    user: User = None,
    password_env: PasswordEnv = None,
    token_env: TokenEnv = None,
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
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from standard input.")
    ] = False,
    wait: Wait = 0,
    min_version: MinVersion = None,
    max_latency: MaxLatency = None,
    min_cert_days: MinCertDays = None,
    ready: Ready = False,
    collection: Collection = None,
    loaded: Loaded = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show how each setting would resolve; connect nothing."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Probe an alias with credentials and record it as connected."""
    spec = _ready(ready, collection, loaded)
    if password_stdin and token_stdin:
        raise ConnectionConfigException("give only one of --password-stdin, --token-stdin")
    password = _read_stdin("password") if password_stdin else ""
    token = _read_stdin("token") if token_stdin else ""
    options = _options(
        uri=uri, address=address, host=host, port=port, secure=secure,
        server_pem_path=server_pem_path, server_name=server_name,
        client_pem_path=client_pem_path, client_key_path=client_key_path,
        ca_pem_path=ca_pem_path, timeout=timeout, probe=probe, health_service=health_service,
        password_env=password_env, token_env=token_env,
    )  # fmt: skip
    name = _registry(ctx).resolve_alias(alias)
    if explain:
        report = _registry(ctx).explain(name, user=user, db_name=db_name, **options)
        render.explanation(report, as_json=as_json)
        return
    try:
        handle = _registry(ctx).connect(
            alias, user=user or "", password=password, token=token,
            db_name=db_name or "default", wait=wait, want_certificate=render.is_verbose(),
            gates=_gates(min_version, max_latency, min_cert_days), ready=spec, **options,
        )  # fmt: skip
    except MilvusException as exc:
        render.diag_failure(name, exc)
        if as_json:
            render.emit_json(render.failure_json(name, exc))
        _fail(exc)
    assert handle.result is not None
    render.diag_probe(name, handle.config.public(), handle.result)
    render.diag_certificate(name, handle.result)
    if as_json:
        render.emit_json(render.outcome_json(name, handle.result, ExitCode.OK))
    else:
        render.out("Connected " + render.describe_result(name, handle.address, handle.result))


@app.command()
def disconnect(ctx: typer.Context, alias: OptionalAlias = None) -> None:
    """Forget an alias's connected state (a no-op when it is not connected)."""
    registry = _registry(ctx)
    name = _registry(ctx).resolve_alias(alias)
    registry.require_known(name)
    was_connected = registry.has_connection(name)
    registry.disconnect(name)
    render.out(f"Disconnected {name}" if was_connected else f"{name} was not connected")


@app.command()
def has(
    ctx: typer.Context,
    aliases: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ALIAS]...", show_default=False, autocompletion=_complete_alias,
                       help="Aliases to check [default: the default alias]."),
    ] = None,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Only check the recorded state; no network.")
    ] = False,
    wait: Wait = 0,
    timeout: Timeout = None,
    min_version: MinVersion = None,
    max_latency: MaxLatency = None,
    min_cert_days: MinCertDays = None,
    ready: Ready = False,
    collection: Collection = None,
    loaded: Loaded = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Several aliases: 0 only if every one passes.")
    ] = False,
    any_: Annotated[
        bool, typer.Option("--any", help="Several aliases: 0 if at least one passes.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print nothing; exit status only.")
    ] = False,
    as_json: Json = False,
) -> None:  # fmt: skip
    """Exit 0 if the alias exists, is connected and (unless --no-probe) answers healthy
    (and, with --ready or --collection, ready for a job)."""
    if all_ and any_:
        raise ConnectionConfigException("give only one of --all, --any")
    spec = _ready(ready, collection, loaded)
    if spec is not None and no_probe:
        raise ConnectionConfigException("--ready, --collection and --loaded need a probe")
    if quiet:
        render.configure(quiet=True, verbose=False)
    registry = _registry(ctx)
    names = [registry.resolve_alias(a) for a in aliases or [None]]
    gates = _gates(min_version, max_latency, min_cert_days)
    answers = registry.probe_many(
        names, probe=not no_probe, wait=wait, timeout=timeout, gates=gates, ready=spec
    )
    codes = [render.exit_code_of(answer) for answer in answers]
    objects = [render.answer_json(n, a) for n, a in zip(names, answers, strict=True)]
    if as_json:
        render.emit_json(objects[0] if len(names) == 1 and not (all_ or any_) else objects)
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, MilvusException):  # that alias's own error: no more lookups
            render.answer(name, answer, "")
            continue
        if answer is not None:
            render.diag_probe(name, registry.get_connection_addr(name), answer)
        if not as_json:
            render.answer(name, answer, registry.get_connection_addr(name).get("address", ""))
    passed = [code for code in codes if code == ExitCode.OK]
    raise typer.Exit((ExitCode.OK if passed else min(codes)) if any_ else max(codes))


@app.command("list")
def list_(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Probe every alias at once; add health columns.")
    ] = False,
    timeout: Timeout = None,
    as_json: Json = False,
) -> None:
    """Show every alias; with --check, probe them all concurrently."""
    from .fanout import exit_code

    infos = _registry(ctx).describe(check=check, timeout=timeout)
    for info in infos:
        render.diag(f"alias {info.alias}: from {info.profile or 'conn (built in)'}")
        if info.health is not None and info.config is not None:
            render.diag_probe(info.alias, info.config.public(), info.health)
    render.aliases(infos, as_json=as_json, checked=check)
    raise typer.Exit(exit_code(infos))


@app.command()
def addr(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Every resolved setting and where it came from.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Print the alias's address (or, with --json, its whole public config)."""
    registry = _registry(ctx)
    name = registry.resolve_alias(alias)
    registry.require_known(name)
    if explain:
        render.explanation(registry.explain(name), as_json=as_json)
    else:
        render.addr(registry.get_connection_addr(name), as_json=as_json)


@app.command()
def watch(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    for_seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds.", min=0)
    ] = None,
    changes: Annotated[
        int | None, typer.Option("--changes", help="Stop after N changes of status.", min=0)
    ] = None,
    interval: Annotated[
        float, typer.Option(help="Seconds between polls where the server has no Watch.")
    ] = 2.0,
    prometheus: Annotated[
        str | None, typer.Option(metavar="FILE", help="Keep a node-exporter textfile.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Print the alias's health now and on every change (Ctrl-C stops)."""
    registry = _registry(ctx)
    name = registry.resolve_alias(alias)
    until = time.monotonic() + for_seconds if for_seconds is not None else None
    code, seen = ExitCode.OK, -1
    try:
        for result in registry.watch(name, interval=interval, until=until):
            render.change(name, result, as_json=as_json)
            if prometheus:
                from . import metrics

                metrics.write_textfile(prometheus, name, result)
            code, seen = result.exit_code, seen + 1
            if changes is not None and seen >= changes:
                break
    except KeyboardInterrupt:
        pass
    raise typer.Exit(code)


@app.command()
def use(ctx: typer.Context, alias: OptionalAlias = None) -> None:
    """Make ALIAS the one commands use when none is named (no ALIAS: show it)."""
    registry = _registry(ctx)
    if alias is not None:
        registry.use(alias)
    render.out(registry.resolve_alias(None))


@app.command()
def env(
    ctx: typer.Context,
    alias: OptionalAlias = None,
    shell: Annotated[render.Shell, typer.Option(help="Syntax of the exports.")] = render.Shell.sh,
    with_secrets: Annotated[
        bool,
        typer.Option(
            "--with-secrets",
            help="Put the password (or a user:password token) into MILVUS_URI, where pymilvus "
            "reads it; a token of another form is refused (no variable carries it).",
        ),
    ] = False,
) -> None:
    """Print the exports pymilvus reads: eval "$(conn env prod)".

    MILVUS_URI is read by pymilvus's connections only (connections.connect() with no
    address), with MILVUS_CONN_ALIAS and MILVUS_CONN_TIMEOUT. MilvusClient reads no
    environment; hand it the URI:

    \b
    python -c 'import os, pymilvus; pymilvus.MilvusClient(uri=os.environ["MILVUS_URI"])'

    pymilvus reads no MILVUS_TOKEN and no TLS files from the environment: for those, use
    milvus_conn.client("prod") in Python."""
    variables = _registry(ctx).environment(alias, with_secrets=with_secrets)
    render.exports(variables, shell)


@app.command()
def export(
    ctx: typer.Context,
    aliases: Annotated[
        list[str] | None,
        typer.Argument(metavar="[ALIAS]...", help="Aliases to export [default: all].",
                       autocompletion=_complete_alias, show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Print the profile (or some aliases) without secrets, to share with a team."""
    render.out(_registry(ctx).export_profile(aliases or ()).rstrip("\n"))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A profile to merge in.")],
    force: Annotated[bool, typer.Option("--force", help="Replace conflicting aliases.")] = False,
) -> None:
    """Merge another profile's aliases; conflicting ones are refused unless --force."""
    imported = _registry(ctx).import_profile(file, force=force)
    render.out(f"Imported {len(imported)} alias(es): {', '.join(imported)}")


@app.command()
def version(as_json: Json = False) -> None:
    """Print the versions of conn, Python, grpcio, typer and pymilvus (as conn --version)."""
    _show_version(True, as_json=as_json)


def _show_version(given: bool, *, as_json: bool) -> None:
    """Versions from the installed packages' metadata: nothing is imported for them."""
    if not given:
        return
    from . import about

    found = about.versions()
    if as_json:
        render.emit_json(found)
    else:
        render.out(about.text(found))
    raise typer.Exit(ExitCode.OK)


@app.command()
def completion(
    shell: Annotated[
        str,
        typer.Argument(
            metavar="SHELL",
            help="bash, zsh, fish or powershell.",
            show_default=False,
            autocompletion=lambda incomplete: [s for s in SHELLS if s.startswith(incomplete)],
        ),
    ],
) -> None:
    """Print the completion script for SHELL, e.g.
    conn completion fish > ~/.config/fish/completions/conn.fish"""
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}", param_hint="SHELL")
    sys.stdout.write(completion_script(shell))


@app.command()
def doctor(
    ctx: typer.Context,
    network: Annotated[
        bool, typer.Option("--network", help="Also probe every alias, as list --check does.")
    ] = False,
    timeout: Timeout = None,
    as_json: Json = False,
) -> None:
    """Check the setup (profile and state files, secrets, TLS files, pymilvus) and say how to
    fix what is wrong: exit 0 all good, 1 something to fix, 6 profile unreadable."""
    from . import doctor as checks

    report = checks.diagnose(_registry(ctx), network=network, timeout=timeout)
    if as_json:
        render.emit_json(report.to_dict())
    else:
        render.out(checks.text(report))
    raise typer.Exit(report.exit_code)


@app.command()
def schema() -> None:
    """Print the profile's JSON Schema (draft-04) for editors: see #:schema in the README."""
    import json

    from .schema import profile_schema

    render.out(json.dumps(profile_schema(), indent=2))


_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _command_named(args: list[str]) -> str | None:
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
    """`app` with only `command` in it. Typer builds the click object of every command on
    every run, about 25 ms for all of them; a run needs only the one it invokes."""
    lean = typer.Typer(**_SETTINGS)
    lean.registered_callback = app.registered_callback
    lean.registered_commands = [
        info for info in app.registered_commands if _name_of(info) == command
    ]
    return lean if lean.registered_commands else app


def _name_of(info: Any) -> str:
    return str(info.name or info.callback.__name__)


def main() -> None:
    """Console-script entry point.

    `gc.freeze()` moves every object alive so far out of the cyclic collector's reach:
    once here, so that collections during the run skip all that was imported, and once at
    the end, so that the interpreter's exit does not collect it all again (20-25 ms with
    typer loaded, for memory the process is about to give back). Reference counting, and
    with it every close and flush, works as before."""
    command = None if os.environ.get(COMPLETE_VAR) else _command_named(sys.argv[1:])
    if command is None and "--version" in sys.argv[1:]:
        command = "version"  # the eager --version needs no other command built
    gc.freeze()
    try:
        (lean_app(command) if command else app)(prog_name="conn")
    finally:
        gc.freeze()
