"""The one place that prints: rich tables on a terminal, plain text when piped, JSON.

Commands hand data here and never print themselves. rich is imported only when a
table is drawn on a terminal. Nothing that reaches this module holds a secret: the
library's public views (`AliasConfig.public`, `HealthResult`) have none.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from .errors import (
    ConnectionConfigException,
    ConnectionNotExistException,
    MilvusException,
    NotConnectedException,
    ProbeException,
    ProfileException,
)
from .registry import AliasInfo
from .untrusted import escape, escape_json, escape_lines

if TYPE_CHECKING:
    from typing import TypeAlias

    from .health import HealthResult

    Answer: TypeAlias = HealthResult | MilvusException | None  # a result, an error, or not probed

LIST_COLUMNS = ("ALIAS", "ADDRESS", "USER", "DB", "TLS", "STATE")
CHECK_COLUMNS = ("HEALTH", "LATENCY", "VERSION", "CERT")
_ERROR_STATUS = (
    (NotConnectedException, "not_connected"),
    (ConnectionNotExistException, "unknown_alias"),
    (ProfileException, "profile_error"),
    (ConnectionConfigException, "config_error"),
)


class Shell(str, Enum):
    sh = "sh"
    fish = "fish"
    powershell = "powershell"


class _Settings:
    quiet = False
    verbose = False


def configure(*, quiet: bool, verbose: bool) -> None:
    _Settings.quiet, _Settings.verbose = quiet, verbose


def is_verbose() -> bool:
    return _Settings.verbose


def out(text: str) -> None:
    """Data and answers, on stdout; nothing under --quiet. Every line is escaped
    (untrusted.py): text from files and servers never reaches the terminal as control."""
    if not _Settings.quiet:
        sys.stdout.write(escape_lines(text) + "\n")


def err(text: str) -> None:
    sys.stderr.write(escape(text) + "\n")


def error(message: str) -> None:
    """`Error: ...` on stderr, always one line (a value may carry a newline)."""
    err("Error: " + message)


def diag(text: str) -> None:
    """--verbose diagnostics, on stderr."""
    if _Settings.verbose:
        sys.stderr.write(f"conn: {escape(text)}\n")


def emit_json(data: object) -> None:
    """Indented for a person at a terminal; one line when piped, as `gh` does: only
    unindented JSON gets the json module's C encoder (10,000 aliases: 0.4 s -> 0.1 s)."""
    import json  # here: most runs print no JSON

    out(escape_json(json.dumps(data, indent=2 if _on_terminal() else None, ensure_ascii=False)))


def _on_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table on a terminal (colourless when NO_COLOR is set and not empty, as
    no-color.org says), aligned columns otherwise. Cells are escaped, and reach rich as
    Text: a value is never read as markup (`[link=...]`) or emoji codes."""
    if _Settings.quiet:
        return
    rows = [[escape(str(c)) for c in row] for row in rows]
    if not _on_terminal():
        widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
        for row in (headers, *rows):
            out("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    grid = Table(box=None, header_style="bold", pad_edge=False)
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(c) for c in row), style=_row_style(row))
    Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False).print(grid)


def _row_style(row: Sequence[str]) -> str:
    if len(row) > len(LIST_COLUMNS):
        return {"healthy": "green", "unhealthy": "yellow"}.get(row[len(LIST_COLUMNS)], "red")
    return ""


# the shapes of each command's output ---------------------------------------------


def list_json(info: AliasInfo) -> dict[str, Any]:
    """One alias; `builtin` marks the implicit default, and an alias that cannot be used
    or probed has a `health` object with its error's exit_code and reason."""
    config = info.config
    data: dict[str, Any] = {
        "alias": info.alias,
        "address": config.address if config else None,
        "user": config.user if config else None,
        "db_name": (config.db_name or "default") if config else None,
        "secure": config.secure if config else None,
        "connected": info.connected,
        "default": info.default,
        "profile": str(info.profile) if info.profile else None,
        "builtin": info.builtin,
    }
    if info.error is not None:
        data["health"] = _error_health(info.error)
    elif info.health is not None:
        data["health"] = info.health.to_dict()
    return data


def _error_health(exc: MilvusException) -> dict[str, Any]:
    """The health object of an alias that could not be probed: same keys, its error."""
    status = next((name for kind, name in _ERROR_STATUS if isinstance(exc, kind)), "error")
    return {
        "status": status, "protocol": None, "latency_ms": None, "server_version": None,
        "reason": exc.message, "exit_code": exc.exit_code,
        "tls_subject": None, "tls_issuer": None, "tls_expires_in_days": None,
    }  # fmt: skip


def aliases(infos: Sequence[AliasInfo], *, as_json: bool, checked: bool = False) -> None:
    """The listing, then an `Error:` line for each alias that could not be used."""
    if as_json:
        emit_json([list_json(info) for info in infos])
    else:
        checked = checked or any(info.health is not None for info in infos)
        rows = [_list_row(info, checked) for info in infos]
        table(LIST_COLUMNS + (CHECK_COLUMNS if checked else ()), rows)
    for info in infos:
        if info.error is not None:
            error(info.error.message)


def _list_row(info: AliasInfo, checked: bool) -> list[str]:
    data = list_json(info)
    state = "connected" if info.connected else "-"
    if info.builtin:
        state = "connected (built-in)" if info.connected else "built-in"
    row = [
        f"{info.alias}{' *' if info.default else ''}",
        data["address"] or "-",
        data["user"] or "-",
        data["db_name"] or "-",
        "-" if data["secure"] is None else "yes" if data["secure"] else "no",
        "error" if info.config is None else state,
    ]
    if info.error is not None and checked:
        row += [data["health"]["status"], "-", "-", "-"]
    elif info.health is not None:
        row += _health_cells(info.health)
    return row


def _health_cells(result: HealthResult) -> list[str]:
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else "-"
    cert = f"{result.tls.expires_in_days} days left" if result.tls else "-"
    return [result.status, latency, result.server_version or "-", cert]


def outcome_json(
    alias: str, result: HealthResult | None, exit_code: int, reason: str = "", status: str = ""
) -> dict[str, Any]:
    """The `has --json` / `connect --json` object, for successes and failures alike."""
    data = result.to_dict() if result is not None else {}
    shape = {
        "alias": alias,
        "exit_code": exit_code,
        "status": status or data.get("status") or "error",
        "protocol": data.get("protocol"),
        "latency_ms": data.get("latency_ms"),
        "server_version": data.get("server_version"),
        "reason": reason or data.get("reason", ""),
    }
    if result is not None and result.ready is not None:  # --ready / --collection asked
        shape["ready"] = result.ready.to_dict()
    return shape


def failure_json(alias: str, exc: MilvusException) -> dict[str, Any]:
    """The same object for an error: the probe's result if there was one."""
    result = exc.result if isinstance(exc, ProbeException) else None
    status = next((name for kind, name in _ERROR_STATUS if isinstance(exc, kind)), "")
    return outcome_json(alias, result, exc.exit_code, exc.message, status)  # type: ignore[arg-type]


def describe_result(alias: str, address: str, result: HealthResult) -> str:
    """One line: `prod (host:19530): healthy via grpc-health in 1.2 ms, version v2.3.5`."""
    text = f"{alias} ({address}): {result.status}"
    if result.protocol:
        text += f" via {result.protocol}"
    if result.latency_ms is not None:
        text += f" in {result.latency_ms:.1f} ms"
    if result.healthy and result.server_version:
        text += f", version {result.server_version}"
    elif result.reason:
        text += f": {result.reason}"
    if result.healthy and result.ready is not None:
        text += f"; {result.ready.summary()}"
    return text


def addr(config: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(config)
    else:
        out(str(config["address"]))


def explanation(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    rows = [(field, _shown(item["value"]), item["source"]) for field, item in report.items()]
    table(("SETTING", "VALUE", "SOURCE"), rows)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value in ("", None) else str(value)


def change(alias: str, result: HealthResult, *, as_json: bool) -> None:
    """One `conn watch` line, flushed at once so a pipe sees it as it happens."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if as_json:
        data = {"time": stamp, "alias": alias, **outcome_json(alias, result, result.exit_code)}
        import json

        out(escape_json(json.dumps(data, ensure_ascii=False)))
    else:
        latency = f" {result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
        reason = f" ({result.reason})" if result.reason and not result.healthy else ""
        out(f"{stamp} {alias} {result.status}{latency}{reason}")
    sys.stdout.flush()


def diag_probe(alias: str, config: dict[str, Any], result: HealthResult) -> None:
    """--verbose: what was probed, how, and what answered (the public config has no secret),
    with gRPC's own words where the reason put them into a sentence."""
    diag(
        f"{alias}: probed {config.get('address', '?')} (tls "
        f"{'on' if config.get('secure') else 'off'}, probe {config.get('probe', 'auto')}, "
        f"timeout {config.get('timeout', 'default')}): {result.status}"
        f" via {result.protocol or '-'}"
    )
    diag_detail(alias, result)


def diag_detail(alias: str, result: HealthResult) -> None:
    if result.detail:
        diag(f"{alias}: gRPC said: {result.detail}")


def diag_failure(alias: str, exc: MilvusException) -> None:
    """--verbose on a failed probe: gRPC's own words behind the reason, if any."""
    if isinstance(exc, ProbeException) and exc.result is not None:
        diag_detail(alias, exc.result)  # type: ignore[arg-type]


def diag_certificate(alias: str, result: HealthResult) -> None:
    if result.tls is not None:
        diag(
            f"{alias}: certificate subject {result.tls.subject}, issuer {result.tls.issuer}, "
            f"expires {result.tls.not_after} (in {result.tls.expires_in_days} days)"
        )


def exports(variables: dict[str, str], shell: Shell) -> None:
    """`export NAME='value'` lines (or fish's / PowerShell's) for `eval`."""
    import shlex

    for name, value in variables.items():
        if shell is Shell.fish:  # fish: only \\ and \' are escapes inside '...'
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            out(f"set -gx {name} '{escaped}';")
        elif shell is Shell.powershell:  # PowerShell also ends '...' at typographic quotes
            escaped = re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value)
            out(f"$Env:{name} = '{escaped}'")
        else:
            out(f"export {name}={shlex.quote(value)}")


def exit_code_of(answer: Answer) -> int:
    if isinstance(answer, MilvusException):
        return int(answer.exit_code)
    return answer.exit_code if answer is not None else 0


def answer_json(alias: str, answer: Answer) -> dict[str, Any]:
    if isinstance(answer, MilvusException):
        return failure_json(alias, answer)
    return outcome_json(alias, answer, exit_code_of(answer), status="" if answer else "connected")


def answer(alias: str, result: Answer, address: str) -> None:
    """One `has` answer: healthy on stdout, the rest as `Error:` lines on stderr. Under
    --quiet only errors that are not answers (usage, profile: exit 2 and 6) still print."""
    if isinstance(result, MilvusException):
        if not _Settings.quiet or result.exit_code in (2, 6):
            error(result.message)
    elif result is None:
        out(f"{alias}: connected (not probed)")
    elif result.healthy:
        out(describe_result(alias, address, result))
    elif not _Settings.quiet:
        error(describe_result(alias, address, result))
