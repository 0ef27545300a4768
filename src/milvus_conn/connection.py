"""The live handle of a connected alias, and the probes run for an alias.

`Connection` holds one alias's channel (opened by `connect`'s probe, or on first use)
and builds the probe for it (`probe()`); `probe_request` builds one for a resolved alias
that is not connected (`conn list --check`, `conn watch`, doctor). `run` runs a probe.
A TLS file that cannot be used is refused when a channel is opened (probe/tlsfiles.py, exit 2).
The health core (and grpc) is imported only when a probe is built or run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import fanout
from .config import AliasConfig, check_timeout
from .errors import probe_failure
from .probe.endpoint import Credentials, Target

if TYPE_CHECKING:
    from .probe.request import Gates, Probe, ReadySpec
    from .probe.results import HealthResult
    from .resolve import Resolved


class Connection:
    """A live handle: the channel to an alias's server, its address, and `check()`."""

    def __init__(self, resolved: Resolved) -> None:
        """The handle for a resolved alias; its secrets are found at its first probe."""
        self.alias = resolved.alias
        self.config = resolved.config
        self.result: HealthResult | None = None  # the last probe's, set by connect and check
        self.answered_by = ""  # the protocol that answered when it was connected
        self._resolved = resolved
        self._target = resolved.target
        self._channel: Any = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def channel(self) -> Any:
        """The grpc.Channel, opened on first use."""
        from .probe.channel import open_channel

        with self._lock:
            if self._channel is None:
                self._channel = open_channel(self._target)
            return self._channel

    def probe(
        self,
        timeout: float | None = None,
        *,
        want_version: bool = True,
        gates: Gates | None = None,
        want_certificate: bool = False,
        ready: ReadySpec | None = None,
    ) -> Probe:
        """The probe of this alias's server, asking first the protocol that answered it."""
        return probe_request(
            self.config, self._resolved.credentials, self._target, timeout=timeout,
            want_version=want_version, gates=gates, want_certificate=want_certificate,
            ready=ready, first=self.answered_by,
        )  # fmt: skip

    def check(self, timeout: float | None = None) -> HealthResult:
        """Probe the server now on this handle's channel; never raises for server outcomes."""
        from .probe import health

        self.result = health.check(self.probe(timeout), self.channel)
        return self.result

    @property
    def server_version(self) -> str | None:
        if self.result is None:  # a handle opened from the state file: ask once
            self.check()
        return self.result.server_version if self.result else None

    def close(self) -> None:
        """Close the channel (a later use opens a new one)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def __repr__(self) -> str:
        return f"<Connection alias={self.alias!r} address={self.address!r}>"


def probe_request(
    config: AliasConfig,
    credentials: Credentials,
    target: Target,
    *,
    timeout: float | None = None,
    want_version: bool = True,
    gates: Gates | None = None,
    want_certificate: bool = False,
    ready: ReadySpec | None = None,
    first: str = "",
) -> Probe:
    """One health check of `target`, as the alias's config says to probe it."""
    from .probe.request import Probe
    from .probe.results import PROTOCOL_GRPC_HEALTH

    return Probe(
        target=target,
        credentials=credentials,
        timeout=config.effective_timeout if timeout is None else check_timeout(timeout),
        service=config.health_service,
        protocol=config.probe,
        want_version=want_version,
        want_certificate=want_certificate,
        **({"gates": gates} if gates else {}),
        first=first or PROTOCOL_GRPC_HEALTH,
        ready=ready,
    )


def probe_of(resolved: Resolved, timeout: float | None = None) -> Probe:
    """The probe of a resolved alias that is not connected: version and certificate too."""
    return probe_request(
        resolved.config, resolved.credentials, resolved.target, timeout=timeout,
        want_certificate=True,
    )  # fmt: skip


def run(probe: Probe, wait: float = 0, on: Connection | None = None) -> HealthResult:
    """Run a probe now (on the channel of handle `on`, when given: the channel checked is
    the one kept), or retry it until healthy for up to `wait` seconds, each try on a
    fresh channel (one that failed to connect backs off for seconds before retrying)."""
    from .probe import health

    if wait > 0:
        return health.wait_until_healthy(probe, wait)
    return health.check(probe, on.channel if on is not None else None)


def answer(
    handle: Connection,
    probe: bool = True,
    wait: float = 0,
    timeout: float | None = None,
    gates: Gates | None = None,
    ready: ReadySpec | None = None,
) -> fanout.Answer:
    """A connected alias's answer: its public config and, unless not asked, its probe."""
    if not probe:
        return fanout.Answer(handle.alias, handle.config.public())
    asked = handle.probe(timeout, want_version=False, gates=gates, ready=ready)
    return fanout.Answer(handle.alias, handle.config.public(), run(asked, wait))


def confirmed(
    result: HealthResult, what: str, handle: Connection, failed: str = ""
) -> HealthResult:
    """The result if healthy, else its outcome's exception naming alias and address."""
    if not result.healthy:
        message = f"{what} ({handle.address}){failed}: {result.reason}"
        raise probe_failure(result.status, message, result)
    return result
