"""Gates: requirements beyond "healthy" (`--min-version`, `--max-latency`,
`--min-cert-days`). A healthy result that misses one becomes unhealthy, its reason
naming the gate and both values (health._Checker.run).

Pure judgments on what a probe saw; no I/O, no grpc: the CLI builds gates from its
options before it knows whether anything will be probed.
"""

import re
from typing import TYPE_CHECKING

from .request import Gates

if TYPE_CHECKING:
    from .results import HealthResult


def make_gates(
    min_version: str | None = None,
    max_latency_ms: float | None = None,
    min_cert_days: int | None = None,
) -> Gates:
    """Gates from user input; ValueError for a version with no number in it."""
    if min_version and version_tuple(min_version) is None:
        raise ValueError(
            f"--min-version must be a version such as 2.4 or v2.3.5, not {min_version!r}"
        )
    return Gates(min_version or "", max_latency_ms, min_cert_days)


def version_tuple(version: str) -> tuple[int, ...] | None:
    """`v2.3.5-lite` → (2, 3, 5); None when there is no number to compare."""
    match = re.match(r"^\D*?(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def missed_gate(result: "HealthResult", gates: Gates) -> str:
    """Why `result` misses a gate (the first it misses), naming the gate and both
    values; "" when it meets them all."""
    if gates.min_version:
        required = version_tuple(gates.min_version)
        seen = version_tuple(result.server_version or "")
        if seen is None or required is None or _padded(seen) < _padded(required):
            observed = result.server_version or "unknown"
            return f"min-version gate: requires {gates.min_version}, server reports {observed}"
    if gates.max_latency_ms is not None and (result.latency_ms or 0) > gates.max_latency_ms:
        return (
            f"max-latency gate: requires at most {gates.max_latency_ms:g} ms, "
            f"observed {result.latency_ms:.1f} ms"
        )
    if gates.min_cert_days is not None:
        days = result.tls.expires_in_days if result.tls else None
        if days is None or days < gates.min_cert_days:
            observed = "no certificate" if days is None else f"it expires in {days} days"
            return f"min-cert-days gate: requires {gates.min_cert_days} days, {observed}"
    return ""


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    return version + (0,) * (4 - len(version))
