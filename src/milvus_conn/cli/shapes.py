"""The shapes of conn's output: JSON objects, table rows and one-line texts.

Pure functions from library values to data; output.py prints what they return. Nothing
that reaches this module holds a secret: the library's public views
(`AliasConfig.public`, `HealthResult`) have none.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConnectionConfigException,
    ConnectionNotExistException,
    MilvusException,
    NotConnectedException,
    ProbeException,
    ProfileException,
)
from ..registry import AliasInfo
from ..untrusted import escape_json

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..login import LoggedIn
    from ..probe.results import HealthResult
    from ..secrets.logins import Login

    Answer: TypeAlias = HealthResult | MilvusException | None  # a result, an error, or not probed

LIST_COLUMNS = ("ALIAS", "ADDRESS", "USER", "DB", "TLS", "STATE")
CHECK_COLUMNS = ("HEALTH", "LATENCY", "VERSION", "CERT")
EXPLAIN_COLUMNS = ("SETTING", "VALUE", "SOURCE")
_ERROR_STATUS = (
    (NotConnectedException, "not_connected"),
    (ConnectionNotExistException, "unknown_alias"),
    (ProfileException, "profile_error"),
    (ConnectionConfigException, "config_error"),
)


# conn list -------------------------------------------------------------------------


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


def list_row(info: AliasInfo, checked: bool) -> list[str]:
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


def row_style(row: Sequence[str]) -> str:
    """A checked listing's row, coloured by its HEALTH cell."""
    if len(row) > len(LIST_COLUMNS):
        return {"healthy": "green", "unhealthy": "yellow"}.get(row[len(LIST_COLUMNS)], "red")
    return ""


# conn has / connect / watch --------------------------------------------------------


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


def exit_code_of(answer: Answer) -> int:
    if isinstance(answer, MilvusException):
        return int(answer.exit_code)
    return answer.exit_code if answer is not None else 0


def answer_json(alias: str, answer: Answer) -> dict[str, Any]:
    if isinstance(answer, MilvusException):
        return failure_json(alias, answer)
    return outcome_json(alias, answer, exit_code_of(answer), status="" if answer else "connected")


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


def change_json(alias: str, result: HealthResult) -> str:
    """One `conn watch --json` line: always one line, each a JSON object, as it happens."""
    import json

    data = {"time": _stamp(), "alias": alias, **outcome_json(alias, result, result.exit_code)}
    return escape_json(json.dumps(data, ensure_ascii=False))


def change_text(alias: str, result: HealthResult) -> str:
    latency = f" {result.latency_ms:.1f} ms" if result.latency_ms is not None else ""
    reason = f" ({result.reason})" if result.reason and not result.healthy else ""
    return f"{_stamp()} {alias} {result.status}{latency}{reason}"


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --verbose diagnostics -------------------------------------------------------------


def probe_lines(alias: str, config: dict[str, Any], result: HealthResult) -> list[str]:
    """What was probed, how, and what answered (the public config has no secret), with
    gRPC's own words where the reason put them into a sentence."""
    return [
        f"{alias}: probed {config.get('address', '?')} (tls "
        f"{'on' if config.get('secure') else 'off'}, probe {config.get('probe', 'auto')}, "
        f"timeout {config.get('timeout', 'default')}): {result.status}"
        f" via {result.protocol or '-'}",
        *detail_lines(alias, result),
    ]


def detail_lines(alias: str, result: HealthResult) -> list[str]:
    return [f"{alias}: gRPC said: {result.detail}"] if result.detail else []


def failure_lines(alias: str, exc: MilvusException) -> list[str]:
    """On a failed probe: gRPC's own words behind the reason, if any."""
    if isinstance(exc, ProbeException) and exc.result is not None:
        return detail_lines(alias, exc.result)  # type: ignore[arg-type]
    return []


def certificate_lines(alias: str, result: HealthResult) -> list[str]:
    if result.tls is None:
        return []
    return [
        f"{alias}: certificate subject {result.tls.subject}, issuer {result.tls.issuer}, "
        f"expires {result.tls.not_after} (in {result.tls.expires_in_days} days)"
    ]


# conn addr --explain / conn env ----------------------------------------------------


def explain_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(field, _shown(item["value"]), item["source"]) for field, item in report.items()]


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value in ("", None) else str(value)


def export_lines(variables: dict[str, str], shell: str) -> Iterator[str]:
    """`export NAME='value'` lines (or fish's / PowerShell's) for `eval`."""
    import shlex

    for name, value in variables.items():
        if shell == "fish":  # fish: only \\ and \' are escapes inside '...'
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            yield f"set -gx {name} '{escaped}';"
        elif shell == "powershell":  # PowerShell also ends '...' at typographic quotes
            escaped = re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value)
            yield f"$Env:{name} = '{escaped}'"
        else:
            yield f"export {name}={shlex.quote(value)}"


def login_lines(done: LoggedIn) -> list[str]:
    """`conn login`: what was stored where, and what became of a plain secret."""
    from ..login import whom

    kind, alias = done.login.kind, done.alias
    lines = [f"Logged in {alias}: its {kind} for {whom(done.login)} is in {done.store}"]
    if done.moved_from:
        lines.append(f"Moved the plain {kind} of {alias} out of {done.moved_from}")
    if done.left_in:
        lines.append(
            f"{done.left_in} still holds a plain {kind} for {alias} and is read-only here: "
            "remove it there (the stored one is used first)"
        )
    return lines


def kept_login_lines(logins: Sequence[Login]) -> list[str]:
    """`conn remove`: a stored secret stays, since other aliases may share it."""
    from ..login import whom
    from ..secrets.keystore import service, username

    return [
        f"Note: the {login.kind} conn login stored for {whom(login)} stays in the OS "
        "credential store, for every alias of that server and user; to delete it, run "
        "conn logout with one of them (before removing the last), or: keyring del "
        f"{shlex_quote(service(login))} {shlex_quote(username(login))}"
        for login in logins
    ]


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
