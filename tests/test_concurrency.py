"""Concurrent writers lose no alias and never tear a file.

Processes: WRITER_PROCESSES real processes (half through the library, half through the
CLI's entry point) add and remove their own aliases on one profile at once, started
together by a go-file. Threads: THREADS threads of one process connect, disconnect and
read the same and different aliases through one `Connections` (or one per thread)
against a real grpc.health.v1 server."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from milvus_conn import Connection, Connections, MilvusException

from . import writer
from .helpers import state_file, state_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def test_concurrent_use_from_32_threads_is_safe_and_consistent(registry, serving, profile):
    aliases = [f"t{i}" for i in range(4)]
    registry.add_connection(**{alias: {"address": serving.address} for alias in aliases})
    start = threading.Barrier(32)
    errors: list[Exception] = []

    def work(worker: int) -> None:
        rnd = random.Random(worker)
        start.wait()
        for step in range(12):
            alias = aliases[worker % 4] if step % 2 else rnd.choice(aliases)
            operation = rnd.choice(("connect", "disconnect", "has", "addr"))
            try:
                if operation == "connect":
                    assert registry.connect(alias).address == serving.address
                elif operation == "disconnect":
                    registry.disconnect(alias)
                elif operation == "has":
                    assert type(registry.has_connection(alias)) is bool  # agrees: see below
                else:
                    assert registry.get_connection_addr(alias)["address"] == serving.address
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(work, range(32)))
    assert errors == []
    connected = state_of(profile)
    fresh = Connections(profile=profile)
    for alias in aliases:
        assert registry.has_connection(alias) is (alias in connected)
        assert fresh.has_connection(alias) is (alias in connected)
        assert (registry.get_connection(alias) is not None) is (alias in connected)
    assert [a for a, _ in fresh.list_connections()] == ["default", *aliases]


def test_32_threads_connecting_distinct_aliases_lose_no_update(registry, serving, profile):
    aliases = [f"c{i}" for i in range(32)]
    start = threading.Barrier(32)

    def connect(alias: str) -> Connection:
        start.wait()
        return registry.connect(alias, address=serving.address)

    with ThreadPoolExecutor(32) as pool:
        handles = dict(zip(aliases, pool.map(connect, aliases), strict=True))
    assert sorted(state_of(profile)) == sorted(aliases)
    listed = {a for a, _ in Connections(profile=profile).list_connections()}
    assert listed == {"default", *aliases}
    assert all(registry.get_connection(a) is handles[a] for a in aliases)

    def disconnect(alias: str) -> None:
        start.wait()
        registry.disconnect(alias)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(disconnect, aliases))
    assert state_of(profile) == {}
    assert not any(registry.has_connection(a) for a in aliases)


def test_32_instances_on_one_profile_lose_no_update(serving, profile):
    """Like 32 processes: only the file lock keeps their read-change-writes apart."""
    aliases = [f"p{i}" for i in range(32)]
    start = threading.Barrier(32)

    def connect(alias: str) -> None:
        own = Connections(profile=profile)
        start.wait()
        own.connect(alias, address=serving.address)
        own.reset()

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(connect, aliases))
    assert sorted(state_of(profile)) == sorted(aliases)
    listed = {a for a, _ in Connections(profile=profile).list_connections()}
    assert listed == {"default", *aliases}


WRITER_COMMAND = (sys.executable, str(Path(__file__).with_name("writer.py")))


CONN = (sys.executable, "-m", "milvus_conn")


WRITER_PROCESSES = 8


OPS_PER_PROCESS = 30


THREADS = 32


STEPS_PER_THREAD = 24


SHARED_ALIASES = ("s0", "s1", "s2", "s3")


def churn_args(go: Path, worker: int) -> list[str]:
    """Operations, go-file, and the way in: odd workers the library, even ones the CLI."""
    return [str(OPS_PER_PROCESS), str(go), "lib" if worker % 2 else "cli"]


def state_path(profile: Path) -> Path:
    return state_file(profile)


def parsed_aliases(profile: Path) -> dict[str, str]:
    """Alias -> address, read with tomllib alone (not through the code under test)."""
    text = profile.read_text(encoding="utf-8")
    document = tomllib.loads(text)
    assert document.get("version") == 1, f"torn profile: {text!r}"
    return {alias: table["address"] for alias, table in document["connections"].items()}


def parsed_state(profile: Path) -> set[str]:
    path = state_path(profile)
    if not path.exists():
        return set()
    return set(json.loads(path.read_text(encoding="utf-8"))["connected"])


def leftovers(profile: Path) -> list[str]:
    return sorted(p.name for p in profile.parent.glob(".*.tmp"))


def test_churn_plan_adds_and_removes():
    plan = writer.churn_plan(0, OPS_PER_PROCESS)
    assert len(plan) == OPS_PER_PROCESS
    assert {op for op, _ in plan} == {writer.ADD, writer.REMOVE}
    assert len(writer.churn_survivors(0, OPS_PER_PROCESS)) == OPS_PER_PROCESS // 3


def test_concurrent_writer_processes_lose_no_alias(profile, tmp_path):
    """8 processes, 240 adds and removes of distinct aliases on one profile at once."""
    Connections(profile=profile).add_connection(base={"address": "127.0.0.1:19530"})
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [*WRITER_COMMAND, "churn", str(profile), str(worker), *churn_args(go, worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WRITER_PROCESSES)
    ]
    go.touch()
    outputs = [p.communicate(timeout=120) for p in processes]
    for worker, (process, (out, err)) in enumerate(zip(processes, outputs, strict=True)):
        assert process.returncode == 0, f"writer {worker}: {err}"
        assert out.splitlines()[-1] == f"done {OPS_PER_PROCESS}", err
        assert "Traceback" not in err

    expected = {"base": "127.0.0.1:19530"}
    for worker in range(WRITER_PROCESSES):
        expected.update(writer.churn_survivors(worker, OPS_PER_PROCESS))
    assert parsed_aliases(profile) == expected
    fresh = Connections(profile=profile)
    assert {a for a, _ in fresh.list_connections()} == {"default", *expected}
    assert leftovers(profile) == []


def test_concurrent_cli_processes_adding_one_alias_store_it_once(profile, tmp_path):
    """8 real `conn add` processes race for the same alias: one wins, 7 exit 1."""
    processes = [
        subprocess.Popen(
            [*CONN, "add", "race", "--address", f"127.0.0.1:{30000 + worker}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WRITER_PROCESSES)
    ]
    results = [(p, *p.communicate(timeout=60)) for p in processes]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0] + [1] * (WRITER_PROCESSES - 1), [err for _, _, err in results]
    winner = next(out for p, out, _ in results if p.returncode == 0)
    assert parsed_aliases(profile) == {"race": winner.split("(")[1].rstrip(")\n")}
    for p, _, err in results:
        if p.returncode:
            assert err == "Error: alias 'race' already exists (use --force to replace it)\n"


def test_32_threads_connect_disconnect_and_read_consistently(registry, serving, profile):
    """Each thread owns one alias (read-your-writes is checked at every step) and shares
    four with all the others; at the end every view agrees with the state file."""
    own = [f"own{t}" for t in range(THREADS)]
    registry.add_connection(
        **{alias: {"address": serving.address} for alias in (*own, *SHARED_ALIASES)}
    )
    start = threading.Barrier(THREADS)
    unexpected: list[BaseException] = []
    documented: list[MilvusException] = []
    lost: list[str] = []

    def step(thread: int, rnd: random.Random, number: int) -> None:
        mine = own[thread]
        shared = rnd.choice(SHARED_ALIASES)
        operation = rnd.choice(("connect", "disconnect", "has", "addr", "list", "get"))
        if operation == "connect":
            alias = mine if number % 2 else shared
            assert registry.connect(alias).address == serving.address
            if alias == mine and not registry.has_connection(mine):
                lost.append(f"{mine} not connected right after connect")
        elif operation == "disconnect":
            alias = mine if number % 2 else shared
            registry.disconnect(alias)
            if alias == mine and registry.has_connection(mine):
                lost.append(f"{mine} still connected right after disconnect")
        elif operation == "has":
            assert type(registry.has_connection(shared)) is bool  # agrees: see the end
        elif operation == "addr":
            assert registry.get_connection_addr(shared)["address"] == serving.address
            assert registry.get_connection_addr(mine)["address"] == serving.address
        elif operation == "list":
            names = [alias for alias, _ in registry.list_connections()]
            assert set(names) == {"default", *own, *SHARED_ALIASES}
        else:
            handle = registry.get_connection(mine)
            if (handle is not None) is not registry.has_connection(mine):
                lost.append(f"{mine}: get_connection and has_connection disagree")

    def work(thread: int) -> None:
        rnd = random.Random(thread)
        start.wait()
        for number in range(STEPS_PER_THREAD - 1):
            try:
                step(thread, rnd, number)
            except MilvusException as exc:
                documented.append(exc)
            except BaseException as exc:
                unexpected.append(exc)
        try:  # the last step decides the thread's own alias: even threads end connected
            if thread % 2 == 0:
                registry.connect(own[thread])
            else:
                registry.disconnect(own[thread])
        except BaseException as exc:
            unexpected.append(exc)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))

    assert unexpected == [], [repr(e) for e in unexpected[:5]]
    assert lost == []
    # A healthy server and valid aliases: no documented error is expected either.
    assert documented == [], [repr(e) for e in documented[:5]]
    connected = parsed_state(profile)
    assert {a for a in own if a in connected} == set(own[0::2])
    fresh = Connections(profile=profile)
    for alias in (*own, *SHARED_ALIASES):
        assert registry.has_connection(alias) is (alias in connected), alias
        assert fresh.has_connection(alias) is (alias in connected), alias
        assert (registry.get_connection(alias) is not None) is (alias in connected), alias
    assert parsed_aliases(profile).keys() == {*own, *SHARED_ALIASES}
    assert leftovers(profile) == []


def test_threads_adding_and_removing_lose_no_alias(registry, profile):
    """THREADS threads each add three aliases and remove one, at once; no network."""
    start = threading.Barrier(THREADS)

    def work(thread: int) -> None:
        start.wait()
        for index in range(3):
            registry.add_connection(**{f"t{thread}.{index}": {"address": f"127.0.0.1:{index + 1}"}})
        registry.remove_connection(f"t{thread}.1")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))
    expected = {f"t{t}.{i}" for t in range(THREADS) for i in (0, 2)}
    assert set(parsed_aliases(profile)) == expected


@pytest.mark.parametrize("instances", [THREADS])
def test_separate_instances_in_threads_agree_with_the_state_file(serving, profile, instances):
    """One `Connections` per thread (like processes): the flock alone orders writes."""
    start = threading.Barrier(instances)

    def work(thread: int) -> None:
        own = Connections(profile=profile)
        start.wait()
        own.connect(f"i{thread}", address=serving.address)
        if thread % 3 == 0:
            own.disconnect(f"i{thread}")
        own.reset()

    with ThreadPoolExecutor(instances) as pool:
        list(pool.map(work, range(instances)))
    expected = {f"i{t}" for t in range(instances) if t % 3}
    assert parsed_state(profile) == expected
    assert set(parsed_aliases(profile)) == {f"i{t}" for t in range(instances)}
    fresh = Connections(profile=profile)
    assert {a for a in parsed_aliases(profile) if fresh.has_connection(a)} == expected
