"""A writer process for the concurrency and crash tests, run as `python tests/writer.py MODE ...`.

Modes:

- `churn PROFILE WORKER OPS GO_FILE [lib|cli]`: wait until GO_FILE exists, then run the
  plan of `churn_plan(WORKER, OPS)` (adds and removes of the worker's own aliases) through
  the library or through the real CLI entry point, in this process; print `done N`.
- `crash PROFILE ITERATION STEPS ADDRESS`: run `crash_plan(ITERATION, STEPS)` through the
  library, printing `S k` (flushed) before step k starts, so that whoever kills this
  process knows which write may have been in flight.
- `slow-write PROFILE ALIAS`: add one alias with the disk made slow (fsync sleeps), so a
  killer can catch the temp file on disk and the lock held.
- `hold LOCK`: take a flock (the profile's directory, or the state's lock file), print
  `locked`, sleep until killed.

The plans are plain functions, imported by the tests to compute the expected files.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ADD, REMOVE, CONNECT, DISCONNECT = "add", "remove", "connect", "disconnect"


def churn_alias(worker: int, index: int) -> str:
    return f"w{worker}.a{index}"


def churn_port(worker: int, index: int) -> int:
    return 20000 + worker * 1000 + index


def churn_plan(worker: int, ops: int) -> list[tuple[str, int]]:
    """`ops` operations on the worker's own aliases: add two, remove the older one, ..."""
    plan: list[tuple[str, int]] = []
    index = 0
    while len(plan) < ops:
        plan.append((ADD, index))
        if len(plan) < ops:
            plan.append((ADD, index + 1))
        if len(plan) < ops:
            plan.append((REMOVE, index))
        index += 2
    return plan


def churn_survivors(worker: int, ops: int) -> dict[str, str]:
    """Alias -> address that must be in the profile after the worker's plan."""
    alive: dict[str, str] = {}
    for op, index in churn_plan(worker, ops):
        alias = churn_alias(worker, index)
        if op == ADD:
            alive[alias] = f"127.0.0.1:{churn_port(worker, index)}"
        else:
            alive.pop(alias, None)
    return alive


def crash_alias(iteration: int, index: int) -> str:
    return f"k{iteration}.{index}"


def crash_plan(iteration: int, steps: int) -> list[tuple[str, str]]:
    """Each step writes exactly one file: add (profile), connect (state),
    disconnect (state), remove of a disconnected alias (profile)."""
    plan: list[tuple[str, str]] = []
    index = 0
    while len(plan) < steps:
        alias = crash_alias(iteration, index)
        plan += [(ADD, alias), (CONNECT, alias)]
        if index:
            older = crash_alias(iteration, index - 1)
            plan += [(DISCONNECT, older), (REMOVE, older)]
        index += 1
    return plan[:steps]


def crash_apply(
    plan: list[tuple[str, str]], done: int, profile: set[str], state: set[str]
) -> tuple[set[str], set[str]]:
    """The alias sets of the profile and of the state file after `done` steps of `plan`."""
    profile, state = set(profile), set(state)
    for op, alias in plan[:done]:
        {ADD: profile.add, REMOVE: profile.discard, CONNECT: state.add, DISCONNECT: state.discard}[
            op
        ](alias)
    return profile, state


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.002)


def _churn(profile: str, worker: int, ops: int, go: Path, via: str) -> None:
    from milvus_conn import Connections

    registry = Connections(profile=profile)
    if via == "cli":
        from milvus_conn.cli import app
    _wait_for(go)
    count = 0
    for op, index in churn_plan(worker, ops):
        alias = churn_alias(worker, index)
        address = f"127.0.0.1:{churn_port(worker, index)}"
        if via == "lib":
            if op == ADD:
                registry.add_connection(**{alias: {"address": address}})
            else:
                registry.remove_connection(alias)
        else:
            args = ["add", alias, "--address", address] if op == ADD else ["remove", alias]
            try:
                app(["--profile", profile, *args], prog_name="conn")
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise SystemExit(f"conn {' '.join(args)} exited {exc.code}") from None
        count += 1
    print(f"done {count}", flush=True)


def _crash(profile: str, iteration: int, steps: int, address: str) -> None:
    import grpc  # noqa: F401 - imported before "ready", so kills land among the writes

    from milvus_conn import Connections

    registry = Connections(profile=profile)
    print("ready", flush=True)
    for k, (op, alias) in enumerate(crash_plan(iteration, steps)):
        print(f"S {k}", flush=True)
        if op == ADD:
            registry.add_connection(**{alias: {"address": address}})
        elif op == CONNECT:
            registry.connect(alias)
        elif op == DISCONNECT:
            registry.disconnect(alias)
        else:
            registry.remove_connection(alias)
    print("finished", flush=True)


def _slow_write(profile: str, alias: str) -> None:
    import os

    from milvus_conn import Connections

    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        print("writing", flush=True)
        time.sleep(60)
        real_fsync(fd)

    os.fsync = slow_fsync  # a very slow disk: the temp file sits there, the lock is held
    Connections(profile=profile).add_connection(**{alias: {"address": "127.0.0.1:1"}})


def _hold(lock_file: str) -> None:
    import fcntl
    import os

    # A directory (the profile's lock) opens read-only; a lock file is created if need be.
    flags = os.O_RDONLY | (0 if os.path.isdir(lock_file) else os.O_CREAT)
    fd = os.open(lock_file, flags, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(600)


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "churn":
        _churn(args[0], int(args[1]), int(args[2]), Path(args[3]), args[4])
    elif mode == "crash":
        _crash(args[0], int(args[1]), int(args[2]), args[3])
    elif mode == "slow-write":
        _slow_write(args[0], args[1])
    elif mode == "hold":
        _hold(args[0])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
