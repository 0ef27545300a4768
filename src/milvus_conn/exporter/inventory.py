"""The profile as `conn exporter` serves it: every alias a target, re-read as it changes.

The exporter probes the aliases of the profile whether or not anyone connected them, as
`conn list --check` does: "connected" is a fact about one user's shell on one machine, and
a monitoring service should not depend on an interactive step someone once took. Only
the aliases the profile's files define are targets: not the built-in `default`.

Each alias's probe is built once per change of the profile, in the one thread that reads
it, so a scrape reads no file and resolves nothing. An alias that cannot be probed (an
unusable table, an unset secret variable) is still a target, carrying its error, so that
it alerts rather than vanishes. When the profile cannot be read any more, the last good
inventory is kept, with the error, until it can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import MilvusException

if TYPE_CHECKING:
    from ..config import AliasConfig
    from ..probe.request import Probe
    from ..registry import Connections
    from ..storage.profile import Profile

REFRESH_S = 1.0  # how often the profile's files are looked at (a stat each, when unchanged)


class Target(NamedTuple):
    """One alias as a target: its probe, or the error that keeps it from being probed,
    and the labels /sd gives it."""

    alias: str
    probe: Probe | None
    error: MilvusException | None
    labels: dict[str, str]


class Snapshot(NamedTuple):
    """The inventory served now; `error` says why the profile could not be read (the
    targets are then the last good ones)."""

    targets: dict[str, Target]
    error: str = ""


class Inventory:
    """The targets of one profile, refreshed by a thread of its own; `report` hears when
    the profile becomes unreadable and when it is readable again."""

    def __init__(self, registry: Connections, report: Callable[[str], None]) -> None:
        self._registry = registry
        self._report = report
        self._profile: Profile | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot = Snapshot(self._read())  # the first read fails the command: no last good

    def start(self, interval: float = REFRESH_S) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="conn-inventory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> None:
        """Re-read the profile; on failure keep the last good targets and say so once."""
        try:
            targets = self._read()
        except Exception as exc:  # this thread must outlive whatever the files hold
            message = exc.message if isinstance(exc, MilvusException) else repr(exc)
            if message != self.snapshot.error:
                kept = len(self.snapshot.targets)
                self._report(
                    f"cannot read the profile: {message}; serving the last good "
                    f"inventory ({_aliases(kept)})"
                )
                self.snapshot = Snapshot(self.snapshot.targets, message)
            return
        if self.snapshot.error:
            self._report(f"the profile is readable again: {_aliases(len(targets))}")
        if self.snapshot.error or targets is not self.snapshot.targets:
            self.snapshot = Snapshot(targets)  # a new snapshot only for a change

    def _read(self) -> dict[str, Target]:
        """The targets as the profile says now; the same ones while it is unchanged (the
        store hands back the very same parsed profile then)."""
        store = self._registry.store
        profile = store.load()
        if profile is self._profile:
            return self.snapshot.targets
        sources = store.sources()
        targets = {}
        for alias, config in profile.aliases.items():
            targets[alias] = self._target(alias, config, sources.get(alias))
        for alias, broken in profile.broken.items():
            labels = {"__meta_conn_alias": alias}
            targets[alias] = Target(alias, None, broken.error(), labels)
        self._profile = profile
        return targets

    def _target(self, alias: str, config: AliasConfig, source: Path | None) -> Target:
        labels = {
            "__meta_conn_alias": alias,
            "__meta_conn_address": config.address,
            "__meta_conn_secure": "true" if config.secure else "false",
            "__meta_conn_db_name": config.db_name or "default",
        }
        if source is not None:
            labels["__meta_conn_profile"] = str(source)
        try:
            probe = self._registry.probe_for(alias, config, None)
        except MilvusException as exc:  # this alias's own fault (an unset secret variable)
            return Target(alias, None, exc, labels)
        labels["__meta_conn_db_name"] = probe.credentials.db_name or "default"
        return Target(alias, probe, None, labels)


def _aliases(count: int) -> str:
    return f"{count} alias" if count == 1 else f"{count} aliases"


def service_discovery(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Prometheus HTTP service discovery: one target group per alias, the alias's name
    as the target (relabeling makes it `__param_alias`), a profile error on every group."""
    groups = []
    for target in snapshot.targets.values():
        labels = dict(target.labels)
        if snapshot.error:
            labels["__meta_conn_profile_error"] = snapshot.error
        groups.append({"targets": [target.alias], "labels": labels})
    return groups
