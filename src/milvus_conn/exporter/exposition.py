"""Prometheus text for `conn exporter`: one probe's metrics, and the exporter's own.

A probe's metrics carry blackbox_exporter's names (`probe_success`,
`probe_duration_seconds`, `probe_ssl_earliest_cert_expiry`), so the alerts and dashboards
written for it apply; conn adds the exit code `conn has` would give, the server's version as
an info metric, each collection asked for and whether the profile could be read.
prometheus_client writes the text, escaping label values as the format requires; text a
server or a request supplied is made inert first (untrusted.py), since people read these
bodies with curl on a terminal. The exporter's own metrics live in a registry of its own,
never in prometheus_client's global one, and no label of theirs comes from a request.

Imported only by `conn exporter` (with prometheus_client): no other command pays for it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ..untrusted import escape

if TYPE_CHECKING:
    from ..probe.results import HealthResult

# The text format Prometheus has always read (prometheus_client's own name for it moved).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REFUSALS = ("bad_request", "unknown_alias", "not_found", "overloaded")


class ProbeReport(NamedTuple):
    """What one scrape of /probe found. `result` is None when the alias could not be
    probed at all (a secret variable unset, a TLS file unreadable): `exit_code` and
    `reason` then say why."""

    success: bool
    duration_s: float
    exit_code: int
    reason: str
    result: HealthResult | None
    collections: tuple[str, ...] = ()
    profile_readable: bool = True


class _Families:
    """Metric families as prometheus_client's writer takes them (anything with collect())."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def probe_text(report: ProbeReport) -> bytes:
    """The body of a /probe answer."""
    result = report.result
    families = [
        _gauge("probe_success", "Whether the probe succeeded (1) or not (0).", report.success),
        _gauge("probe_duration_seconds", "How long the probe took.", report.duration_s),
        _gauge(
            "conn_probe_exit_code",
            "The exit code conn has gives for the same probe (0 ok, 2 config, 3 unreachable, "
            "4 unhealthy, 5 auth, 6 profile).",
            report.exit_code,
        ),
        _gauge(
            "conn_profile_readable",
            "Whether the exporter could read the profile at its last look (0: serving the "
            "last good inventory).",
            report.profile_readable,
        ),
    ]
    if result is not None and result.server_version is not None:
        info = InfoMetricFamily("conn_server", "The version the server reports.")
        info.add_metric([], {"version": escape(result.server_version)})
        families.append(info)
    expiry = _expiry(result)
    if expiry is not None:
        families.append(
            _gauge(
                "probe_ssl_earliest_cert_expiry",
                "When the server certificate expires, as a Unix timestamp.",
                expiry,
            )
        )
    if report.collections:
        loaded = GaugeMetricFamily(
            "conn_collection_loaded",
            "Whether each collection asked for exists and is fully loaded (1) or not (0).",
            labels=["collection"],
        )
        states = {c.name: c.load_state for c in result.ready.collections} if _ready(result) else {}
        for name in report.collections:
            loaded.add_metric([escape(name)], 1 if states.get(name) == "loaded" else 0)
        families.append(loaded)
    body = generate_latest(_Families(families))  # type: ignore[arg-type]
    if report.reason:  # a comment: Prometheus skips it, a person reading the body sees why
        body += f"# conn: {escape(report.reason)}\n".encode()
    return body


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _ready(result: HealthResult | None) -> bool:
    return result is not None and result.ready is not None


def _expiry(result: HealthResult | None) -> float | None:
    """The certificate's notAfter as a Unix timestamp, as blackbox_exporter gives it."""
    if result is None or result.tls is None:
        return None
    try:
        return float(ssl.cert_time_to_seconds(result.tls.not_after))
    except ValueError:
        return None


class ExporterMetrics:
    """The exporter's own metrics (/metrics): probes served, failed and in flight,
    requests refused by kind, the profile's state, and the process's own figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        on = {"registry": self.registry}
        self.probes = Counter("conn_exporter_probes", "Probes run.", **on)
        self.failures = Counter(
            "conn_exporter_probe_failures", "Probes that did not succeed.", **on
        )
        self.in_flight = Gauge(
            "conn_exporter_probes_in_flight", "Probes running or waiting for a worker.", **on
        )
        self.refused = Counter(
            "conn_exporter_requests_refused",
            "Requests answered without a probe, by reason.",
            ["reason"],
            **on,
        )
        for reason in REFUSALS:  # every series exists from the start, at 0
            self.refused.labels(reason)
        self.readable = Gauge(
            "conn_exporter_profile_readable",
            "Whether the profile could be read at the last look (0: the last good "
            "inventory is served).",
            **on,
        )
        self.aliases = Gauge("conn_exporter_aliases", "Aliases in the inventory served.", **on)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def probed(self, success: bool) -> None:
        self.probes.inc()
        if not success:
            self.failures.inc()

    def refuse(self, reason: str) -> None:
        self.refused.labels(reason).inc()

    def profile(self, readable: bool, aliases: int) -> None:
        self.readable.set(1 if readable else 0)
        self.aliases.set(aliases)

    def text(self) -> bytes:
        return generate_latest(self.registry)
