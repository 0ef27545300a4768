"""Several aliases at once (`conn list`, `list --check`): one alias's fault stays its own.

An alias whose table is unusable, whose secret variable is unset or whose TLS file
cannot be read is one row carrying its error (and its exit code); every other alias is
still listed and probed. The implicit built-in `default` is marked as such, so that a
machine without a Milvus on localhost:19530 does not fail a listing of healthy aliases.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class on every start-up. Forward references are quoted instead.
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .config import AliasConfig
from .errors import MilvusException

if TYPE_CHECKING:
    from .probe.request import Probe
    from .probe.results import HealthResult


class AliasInfo(NamedTuple):
    """One row of `conn list`: the alias, its config (shown only through public()) and
    its state; `error` is what keeps this one alias from being used or probed."""

    alias: str
    config: AliasConfig | None  # its public() view is what may be shown; None if unusable
    connected: bool
    default: bool
    health: "HealthResult | None" = None
    builtin: bool = False  # the implicit `default`: not stored, no $MILVUS_URI
    error: MilvusException | None = None
    profile: Path | None = None  # the file that defines it (None: built in, or embedded)


class Answer(NamedTuple):
    """One alias's answer to `conn has`: its public config (what the printed line and -v
    show) and its result (None when not probed), or the error that alias alone raised."""

    alias: str
    config: dict[str, Any]
    result: "HealthResult | None" = None
    error: MilvusException | None = None

    @property
    def outcome(self) -> "HealthResult | MilvusException | None":
        return self.error if self.error is not None else self.result


ProbeFor = Callable[[str, AliasConfig], "Probe"]


def describe(
    entries: Mapping[str, "AliasConfig | MilvusException"],
    *,
    connected: Mapping[str, Any],
    chosen: str,
    builtin: str = "",
    probe_for: ProbeFor | None = None,
    sources: Mapping[str, Path] | None = None,
) -> list[AliasInfo]:
    """A row per alias; with `probe_for`, every usable alias probed at once."""
    errors = {a: _naming(a, e) for a, e in entries.items() if isinstance(e, MilvusException)}
    results: dict[str, HealthResult] = {}
    if probe_for is not None:
        probes = {}
        for alias, config in entries.items():
            if isinstance(config, AliasConfig):
                try:
                    probes[alias] = _readable(probe_for(alias, config))
                except MilvusException as exc:
                    errors[alias] = _naming(alias, exc)
        results = _check_all(probes)
    return [  # positional: 10,000 rows with keywords cost ~5 ms more
        AliasInfo(
            alias,
            None if isinstance(entry, MilvusException) else entry,
            alias in connected,
            alias == chosen,
            results.get(alias),
            alias == builtin,
            errors.get(alias),
            sources.get(alias) if sources else None,
        )
        for alias, entry in entries.items()
    ]


def each(fn: Callable[[str], Any], aliases: Sequence[str]) -> "list[Any | MilvusException]":
    """`fn(alias)` for each alias at once (in threads); each answer is what it returned
    or the error it raised for that alias alone."""

    def one(alias: str) -> Any:
        try:
            return fn(alias)
        except MilvusException as exc:
            return exc

    if len(aliases) == 1:
        return [one(aliases[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(aliases), 64)) as pool:
        return list(pool.map(one, aliases))


def exit_code(infos: list[AliasInfo]) -> int:
    """The highest code among the rows, the built-in default's outcome left out."""
    codes = [info.error.exit_code for info in infos if info.error is not None]
    codes += [info.health.exit_code for info in infos if info.health and not info.builtin]
    return max(codes, default=0)


def combined_exit_code(codes: Sequence[int], *, any_: bool = False) -> int:
    """The exit code of several answers (`conn has a b`): by default every one must pass,
    so the worst code; with `any_`, 0 if one passed, else the least bad."""
    if any_:
        return 0 if 0 in codes else min(codes)
    return max(codes)


def _check_all(probes: "dict[str, Probe]") -> "dict[str, HealthResult]":
    if not probes:
        return {}
    from .probe.health import check_many

    return dict(zip(probes, check_many(list(probes.values())), strict=True))


def _readable(probe: "Probe") -> "Probe":
    """The probe, once its TLS files were read and checked: a file that cannot be used is
    this alias's error (exit 2, as for `connect`), not the failure of the whole fan-out."""
    if probe.target.secure:
        from .probe.tlsfiles import read_tls_files

        read_tls_files(probe.target)
    return probe


def _naming(alias: str, exc: MilvusException) -> MilvusException:
    """The error with the alias named, for a row's reason and its `Error:` line."""
    if repr(alias) in exc.message:
        return exc
    named = type(exc)(f"alias {alias!r}: {exc.message}")
    named.exit_code = exc.exit_code
    return named
