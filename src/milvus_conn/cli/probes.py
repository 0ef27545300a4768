"""Commands that ask servers (or the recorded state): connect, disconnect, has, list,
watch, doctor. The health core loads only when one of them probes."""

import sys
import time
from typing import Annotated

import typer

from ..errors import ConnectionConfigException, ExitCode, MilvusException
from ..fanout import combined_exit_code, exit_code
from . import shapes
from .options import (
    Address,
    Aliases,
    CaPem,
    ClientKey,
    ClientPem,
    Collection,
    DbName,
    HealthService,
    Host,
    Json,
    Loaded,
    MaxLatency,
    MinCertDays,
    MinVersion,
    OptionalAlias,
    PasswordCommand,
    PasswordEnv,
    PasswordStdin,
    Port,
    ProbeKind,
    Ready,
    Secure,
    ServerName,
    ServerPem,
    Timeout,
    TokenCommand,
    TokenEnv,
    TokenStdin,
    Uri,
    User,
    Wait,
    connection_options,
    gates,
    read_stdin,
    ready_spec,
)
from .output import Diag, Item, Outcome, Problem, Reply, Table, Text, explanation
from .output import Json as JsonItem
from .session import session


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
    password_stdin: PasswordStdin = False,
    token_stdin: TokenStdin = False,
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
) -> Outcome:
    """Probe an alias with credentials and record it as connected."""
    spec = ready_spec(ready, collection, loaded)
    if password_stdin and token_stdin:
        raise ConnectionConfigException("give only one of --password-stdin, --token-stdin")
    password = read_stdin("password") if password_stdin else ""
    token = read_stdin("token") if token_stdin else ""
    options = connection_options(ctx, leave=("user", "db_name"))
    run = session(ctx)
    name = run.registry.resolve_alias(alias)
    if explain:
        report = run.registry.explain(name, user=user, db_name=db_name, **options)
        return explanation(report, as_json=as_json)
    try:
        handle = run.registry.connect(
            alias, user=user or "", password=password, token=token,
            db_name=db_name or "default", wait=wait, want_certificate=run.output.verbose,
            gates=gates(min_version, max_latency, min_cert_days), ready=spec, **options,
        )  # fmt: skip
    except MilvusException as exc:
        failed: list[Item] = [Diag(line) for line in shapes.failure_lines(name, exc)]
        if as_json:
            failed.append(JsonItem(shapes.failure_json(name, exc)))
        return Outcome(failed, error=exc)
    result = handle.result
    assert result is not None
    shown: list[Item] = [
        Diag(line) for line in shapes.probe_lines(name, handle.config.public(), result)
    ]
    shown += [Diag(line) for line in shapes.certificate_lines(name, result)]
    if as_json:
        shown.append(JsonItem(shapes.outcome_json(name, result, ExitCode.OK)))
    else:
        shown.append(Text("Connected " + shapes.describe_result(name, handle.address, result)))
    return Outcome(shown)


def disconnect(ctx: typer.Context, alias: OptionalAlias = None) -> Outcome:
    """Forget an alias's connected state (a no-op when it is not connected)."""
    registry = session(ctx).registry
    name = registry.resolve_alias(alias)
    registry.require_known(name)
    was_connected = registry.has_connection(name)
    registry.disconnect(name)
    return Outcome([Text(f"Disconnected {name}" if was_connected else f"{name} was not connected")])


def has(
    ctx: typer.Context,
    aliases: Aliases = None,
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
) -> Outcome:  # fmt: skip
    """Exit 0 if the alias exists, is connected and (unless --no-probe) answers healthy
    (and, with --ready or --collection, ready for a job)."""
    if all_ and any_:
        raise ConnectionConfigException("give only one of --all, --any")
    spec = ready_spec(ready, collection, loaded)
    if spec is not None and no_probe:
        raise ConnectionConfigException("--ready, --collection and --loaded need a probe")
    run = session(ctx)
    if quiet:
        run.output = run.output.silenced()
    answers = run.registry.probe_many(
        aliases or [None], probe=not no_probe, wait=wait, timeout=timeout,
        gates=gates(min_version, max_latency, min_cert_days), ready=spec,
    )  # fmt: skip
    shown: list[Item] = []
    if as_json:
        objects = [shapes.answer_json(a.alias, a.outcome) for a in answers]
        shown.append(JsonItem(objects[0] if len(answers) == 1 and not (all_ or any_) else objects))
    for answer in answers:
        if answer.error is not None:
            shown.append(Reply(answer.alias, answer.error, ""))
            continue
        if answer.result is not None:
            lines = shapes.probe_lines(answer.alias, answer.config, answer.result)
            shown += [Diag(line) for line in lines]
        if not as_json:
            shown.append(Reply(answer.alias, answer.result, answer.config.get("address", "")))
    codes = [shapes.exit_code_of(answer.outcome) for answer in answers]
    return Outcome(shown, combined_exit_code(codes, any_=any_))


def list_(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Probe every alias at once; add health columns.")
    ] = False,
    timeout: Timeout = None,
    as_json: Json = False,
) -> Outcome:
    """Show every alias; with --check, probe them all concurrently."""
    infos = session(ctx).registry.describe(check=check, timeout=timeout)
    shown: list[Item] = []
    for info in infos:
        shown.append(Diag(f"alias {info.alias}: from {info.profile or 'conn (built in)'}"))
        if info.health is not None and info.config is not None:
            shown += [
                Diag(line)
                for line in shapes.probe_lines(info.alias, info.config.public(), info.health)
            ]
    if as_json:
        shown.append(JsonItem([shapes.list_json(info) for info in infos]))
    else:
        checked = check or any(info.health is not None for info in infos)
        rows = [shapes.list_row(info, checked) for info in infos]
        columns = shapes.LIST_COLUMNS + (shapes.CHECK_COLUMNS if checked else ())
        shown.append(Table(columns, rows))
    shown += [Problem(info.error.message) for info in infos if info.error is not None]
    return Outcome(shown, exit_code(infos))


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
) -> Outcome:
    """Print the alias's health now and on every change (Ctrl-C stops)."""
    run = session(ctx)
    name = run.registry.resolve_alias(alias)
    until = time.monotonic() + for_seconds if for_seconds is not None else None
    code, seen = ExitCode.OK, -1
    try:  # the one command that streams: each change is shown as it happens
        for result in run.registry.watch(name, interval=interval, until=until):
            run.flush_warnings()
            shown = (
                shapes.change_json(name, result) if as_json else shapes.change_text(name, result)
            )
            run.output.show([Text(shown)])
            sys.stdout.flush()
            if prometheus:
                from .. import metrics

                metrics.write_textfile(prometheus, name, result)
            code, seen = result.exit_code, seen + 1
            if changes is not None and seen >= changes:
                break
    except KeyboardInterrupt:
        pass
    return Outcome(code=code)


def doctor(
    ctx: typer.Context,
    network: Annotated[
        bool, typer.Option("--network", help="Also probe every alias, as list --check does.")
    ] = False,
    timeout: Timeout = None,
    as_json: Json = False,
) -> Outcome:
    """Check the setup (profile and state files, secrets, TLS files, pymilvus) and say how to
    fix what is wrong: exit 0 all good, 1 something to fix, 6 profile unreadable."""
    from .. import doctor as checks

    report = checks.diagnose(session(ctx).registry, network=network, timeout=timeout)
    shown = JsonItem(report.to_dict()) if as_json else Text(checks.text(report))
    return Outcome([shown], report.exit_code)
