"""Follow a target's health over time and report each change of status.

Uses the `grpc.health.v1.Health/Watch` stream where the server has it (the server
pushes changes), and polls (`check`: Health/Check or Milvus CheckHealth) where it does
not, such as Milvus Lite. Part of the health core: it knows nothing of profiles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from .channel import load_grpc, open_channel
from .health import MAX_WAIT, check
from .request import Probe
from .results import PROTOCOL_GRPC_HEALTH, PROTOCOL_MILVUS, SERVING_STATUS, UNHEALTHY, HealthResult
from .wire import HEALTH_CHECK_RESPONSE, MalformedReply, decode_reply, encode_string_field

HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
MIN_INTERVAL = 0.1  # seconds between polls, at the least
_SERVING = 1


def changes(probe: Probe, *, interval: float, until: float | None = None) -> Iterator[HealthResult]:
    """Yield the first result, then one for every change of status, until `until`
    (a time.monotonic() value) or forever."""
    last: str | None = None
    for result in _observations(probe, interval, until):
        if result.status != last:
            last = result.status
            yield result


def _remaining(until: float | None) -> float | None:
    return None if until is None else until - time.monotonic()


def _bounded(probe: Probe, until: float | None) -> Probe:
    """The probe with its timeout cut to what is left before `until`."""
    remaining = _remaining(until)
    if remaining is None or remaining >= probe.timeout:
        return probe
    return probe._replace(timeout=max(remaining, 0.05))


def _observations(probe: Probe, interval: float, until: float | None) -> Iterator[HealthResult]:
    interval = min(interval, MAX_WAIT)  # time.sleep overflows on `--interval 1e308`
    streaming = probe.protocol in ("auto", PROTOCOL_GRPC_HEALTH)
    while (_remaining(until) or 1) > 0:
        if streaming:
            supported = yield from _stream(probe, until)
            if supported:
                time.sleep(min(interval, max(_remaining(until) or interval, 0)))
                continue
            streaming = False
        started = time.monotonic()
        yield check(_bounded(probe, until))
        pause = interval - (time.monotonic() - started)
        remaining = _remaining(until)
        time.sleep(max(0.0, min(pause, remaining if remaining is not None else pause)))


def _stream(probe: Probe, until: float | None) -> Iterator[HealthResult]:
    """Results from one Watch stream; returns False if the server has no Watch."""
    grpc = load_grpc()
    channel = open_channel(probe.target)
    try:
        now = check(_bounded(probe, until), channel)
        if now.protocol == PROTOCOL_MILVUS:  # no grpc.health.v1 here: poll instead
            return False
        if now.protocol is None:  # unreachable, refused credentials: say so, retry later
            yield now
            return True
        remaining = _remaining(until)
        call = channel.unary_stream(HEALTH_WATCH)(
            encode_string_field(1, probe.service),
            timeout=min(remaining, MAX_WAIT) if remaining is not None else None,
            metadata=probe.credentials.metadata(),
        )
        try:
            for reply in call:
                try:
                    status = decode_reply(HEALTH_WATCH, reply, HEALTH_CHECK_RESPONSE)["status"]
                except MalformedReply as exc:  # the stream cannot be trusted: start again later
                    call.cancel()
                    yield HealthResult(UNHEALTHY, PROTOCOL_GRPC_HEALTH, reason=str(exc))
                    return True
                if status == _SERVING:
                    yield check(_bounded(probe, until), channel)  # latency of an answer now
                else:
                    name = SERVING_STATUS.get(status, str(status))
                    yield HealthResult(
                        UNHEALTHY, PROTOCOL_GRPC_HEALTH, reason=f"health status {name}"
                    )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                yield check(_bounded(probe, until))  # the stream broke: how the server is now
        return True
    finally:
        channel.close()
