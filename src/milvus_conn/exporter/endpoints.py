"""`conn exporter`: the profile's aliases, probed for Prometheus as blackbox_exporter
probes URLs.

- `GET /probe?alias=A[&collection=C...][&loaded=1][&ready=1]`: the alias's probe, as
  `conn has A` with those readiness flags makes it, plus its version and, over TLS, its
  certificate (exposition.py writes the answer).
- `GET /sd`: Prometheus HTTP service discovery, a target per alias (inventory.py).
- `GET /metrics`: the exporter's own metrics.

A request names an alias, never an address: only the profile's aliases can be probed
(404 for any other name, 400 for a request without one or with a parameter of another
name), so no query string can aim the exporter elsewhere, as blackbox_exporter's
`target=` can. A probe takes the alias's timeout, or less when the scrape's
`X-Prometheus-Scrape-Timeout-Seconds` leaves less, less a margin, as blackbox_exporter
does, counted from the request's arrival. Probes run on httpd.py's bounded pool; past its
backlog a scrape gets a 503 at once.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qsl

from .. import address as addr
from ..connection import run
from ..errors import ConnectionConfigException, ExitCode, MilvusException
from ..untrusted import escape
from .exposition import CONTENT_TYPE, ExporterMetrics, ProbeReport, probe_text
from .httpd import DEFAULT_LIMITS, Job, Limits, Server
from .inventory import Inventory, Snapshot, Target, service_discovery
from .messages import Request, Response, text_response

if TYPE_CHECKING:
    from ..probe.request import ReadySpec
    from ..registry import Connections

SCRAPE_MARGIN_S = 0.5  # taken off the scrape's timeout, as blackbox_exporter's default offset
MAX_COLLECTIONS = 64
MAX_COLLECTION_NAME = 255  # Milvus's own limit on a collection name
_MAX_FIELDS = 100  # query parameters in one request
_FLAGS = {"1": True, "true": True, "0": False, "false": False}
_SHOWN_ALIAS = 64  # characters of an unknown alias echoed back
INDEX = (
    "conn exporter: the profile's aliases for Prometheus\n"
    "  /probe?alias=ALIAS[&collection=NAME...][&loaded=1][&ready=1]  probe one alias\n"
    "  /sd       HTTP service discovery: a target per alias\n"
    "  /metrics  the exporter's own metrics\n"
)


class BadRequest(Exception):
    """A /probe request that cannot be served as asked (400)."""


class Asked(NamedTuple):
    """What one /probe request asks: the alias, readiness, and the scrape's time."""

    alias: str
    ready: ReadySpec | None
    budget: float | None  # seconds the scrape leaves for the probe; None: no header


class Exporter:
    """The three endpoints over one profile's inventory, served by a bounded server."""

    def __init__(
        self, registry: Connections, report: Callable[[str], None], limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.inventory = Inventory(registry, report)
        self.metrics = ExporterMetrics()
        self.limits = limits
        self.server = Server(self.handle, limits)
        self._discovery: tuple[Snapshot | None, bytes] = (None, b"")

    def handle(self, request: Request) -> Response | Job:
        if request.path == "/probe":
            return self.probe(request)
        if request.path == "/sd":
            return Response(200, self.discovery(), "application/json")
        if request.path == "/metrics":
            snapshot = self.inventory.snapshot
            self.metrics.profile(not snapshot.error, len(snapshot.targets))
            return Response(200, self.metrics.text(), CONTENT_TYPE)
        if request.path == "/":
            return Response(200, INDEX.encode())
        self.metrics.refuse("not_found")
        return text_response(404, "not found: the exporter serves /probe, /sd and /metrics")

    def discovery(self) -> bytes:
        """/sd's body, encoded once per inventory (10,000 aliases take ~20 ms)."""
        snapshot = self.inventory.snapshot
        if self._discovery[0] is not snapshot:
            self._discovery = (snapshot, json.dumps(service_discovery(snapshot)).encode())
        return self._discovery[1]

    def probe(self, request: Request) -> Response | Job:
        """An answer now (400, 404, 503), or the probe to run on a pool thread."""
        arrived = time.monotonic()
        try:
            asked = parse_probe(request)
        except BadRequest as exc:
            self.metrics.refuse("bad_request")
            return text_response(400, str(exc))
        snapshot = self.inventory.snapshot
        target = snapshot.targets.get(asked.alias)
        if target is None:
            self.metrics.refuse("unknown_alias")
            return text_response(404, f"unknown alias '{_shown(asked.alias)}': not in the profile")
        if self.server.pool.pending >= self.limits.pending:
            self.metrics.refuse("overloaded")
            message = f"overloaded: {self.limits.pending} probes already running or waiting"
            return text_response(503, message)._replace(headers=(("Retry-After", "1"),))
        deadline = None if asked.budget is None else arrived + asked.budget
        readable = not snapshot.error
        self.metrics.in_flight.inc()

        def job() -> Response:
            try:
                report = probed(target, asked, deadline, readable)
            finally:
                self.metrics.in_flight.dec()
            self.metrics.probed(report.success)
            return Response(200, probe_text(report), CONTENT_TYPE)

        return job


def parse_probe(request: Request) -> Asked:
    """The alias, readiness and time budget a /probe request asks for; BadRequest else."""
    try:
        fields = parse_qsl(
            request.query, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict"
        )
    except UnicodeDecodeError:
        raise BadRequest("the query is not UTF-8") from None
    except ValueError:
        raise BadRequest(f"more than {_MAX_FIELDS} query parameters") from None
    given: dict[str, list[str]] = {}
    for name, value in fields:
        given.setdefault(name, []).append(value)
    unknown = sorted(set(given) - {"alias", "collection", "loaded", "ready"})
    if unknown:
        raise BadRequest(
            f"unknown parameter '{_shown(unknown[0])}': the exporter takes alias, collection, "
            "loaded and ready, and probes only the aliases of its profile"
        )
    aliases = given.get("alias", [])
    if not aliases or not aliases[0]:
        raise BadRequest("missing alias: /probe?alias=NAME")
    if len(aliases) > 1:
        raise BadRequest("give alias once")
    collections = given.get("collection", [])
    _check_collections(collections)
    return Asked(aliases[0], _ready(collections, given), _budget(request))


def _check_collections(names: list[str]) -> None:
    if len(names) > MAX_COLLECTIONS:
        raise BadRequest(f"at most {MAX_COLLECTIONS} collections")
    for name in names:
        if not name or not name.isprintable() or len(name) > MAX_COLLECTION_NAME:
            raise BadRequest(
                f"collection '{_shown(name)}': a name is 1-{MAX_COLLECTION_NAME} printable "
                "characters"
            )


def _ready(collections: list[str], given: dict[str, list[str]]) -> ReadySpec | None:
    flags = {}
    for name in ("loaded", "ready"):
        values = given.get(name, [])
        if len(values) > 1 or (values and values[0] not in _FLAGS):
            raise BadRequest(f"{name} is given once, as 1 or 0")
        flags[name] = bool(values) and _FLAGS[values[0]]
    if not (collections or flags["loaded"] or flags["ready"]):
        return None
    from ..probe.readiness import make_spec

    try:
        return make_spec(collections, flags["loaded"])
    except ConnectionConfigException:
        raise BadRequest(
            "loaded=1 needs collection=NAME (which collections must be loaded?)"
        ) from None


def _budget(request: Request) -> float | None:
    """The scrape's timeout less the margin (at most half of it), as blackbox_exporter."""
    header = request.headers.get("x-prometheus-scrape-timeout-seconds")
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise BadRequest("X-Prometheus-Scrape-Timeout-Seconds must be a number of seconds > 0")
    return seconds - min(SCRAPE_MARGIN_S, seconds / 2)


def probed(target: Target, asked: Asked, deadline: float | None, readable: bool) -> ProbeReport:
    """Probe one target (on a pool thread) within the alias's timeout and the deadline."""
    started = time.monotonic()
    collections = asked.ready.collections if asked.ready else ()

    def failed(code: int, reason: str) -> ProbeReport:
        spent = time.monotonic() - started
        return ProbeReport(False, spent, code, reason, None, collections, readable)

    if target.probe is None:
        error = target.error or MilvusException("cannot be probed")
        return failed(error.exit_code, error.message)
    timeout = target.probe.timeout
    if deadline is not None:
        timeout = min(timeout, deadline - started)
        if timeout <= 0:
            return failed(ExitCode.UNREACHABLE, "the scrape's time ran out waiting for a worker")
    try:
        result = run(target.probe._replace(timeout=timeout, ready=asked.ready))
    except MilvusException as exc:  # a TLS file that cannot be read: the alias's own fault
        return failed(exc.exit_code, exc.message)
    reason = f"{result.status}: {result.reason}" if result.reason else ""
    spent = time.monotonic() - started
    return ProbeReport(result.healthy, spent, result.exit_code, reason, result, collections,
                       readable)  # fmt: skip


def _shown(text: str) -> str:
    """Request text echoed in an answer: escaped, and cut."""
    cut = text[:_SHOWN_ALIAS] + ("..." if len(text) > _SHOWN_ALIAS else "")
    return escape(cut)


def listen_address(listen: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPV6]:PORT` → (host, port); ConnectionConfigException else."""
    wrong = f"--listen {addr.quoted(listen)} is not HOST:PORT with a port 1-65535"
    if listen.startswith("unix:"):
        raise ConnectionConfigException(f"{wrong}: a unix socket is not served")
    try:
        parsed = addr.parse_address(listen).address
    except ConnectionConfigException:
        raise ConnectionConfigException(f"{wrong} (as 127.0.0.1:19115)") from None
    return addr.host_of(parsed), int(parsed.rpartition(":")[2])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    registry: Connections,
    listen: str,
    *,
    report: Callable[[str], None],
    on_listening: Callable[[str, int], None],
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Serve until SIGTERM or SIGINT. `report` hears what an operator should know (a
    profile that became unreadable); `on_listening(url, aliases)` is called once bound."""
    from ..probe.channel import core_kept_up

    host, port = listen_address(listen)
    exporter = Exporter(registry, report, limits)  # an unreadable profile fails here
    if not is_loopback(host):
        report(
            f"listening on {host}, beyond loopback: whoever reaches it sees the aliases' "
            "addresses (/sd) and can have them probed"
        )
    shown = f"[{host}]" if ":" in host else host

    def listening(_host: str, bound: int) -> None:
        on_listening(f"http://{shown}:{bound}", len(exporter.inventory.snapshot.targets))

    exporter.inventory.start()
    try:
        with core_kept_up():  # grpc loaded before the first scrape, its core up throughout
            exporter.server.run(host, port, listening)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)  # the socket's words are long
        raise ConnectionConfigException(f"cannot listen on {listen}: {why}") from None
    finally:
        exporter.inventory.stop()
