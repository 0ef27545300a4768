"""`conn watch`: follows the grpc.health.v1 Watch stream (or polls a server without it),
prints each change as a line or JSON, stops at `--changes`/`--for`, and writes a
Prometheus textfile atomically; no secret in any of it."""

from __future__ import annotations

import contextlib
import json
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from . import servers
from .helpers import (
    NOT_SERVING,
    PASSWORD,
    SERVING,
    TOKEN,
    assert_no_secret,
    before,
    timed,
    within,
)

# conn watch ----------------------------------------------------------------------------


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def meanwhile(*steps: Callable[[], None]) -> Iterator[None]:
    """Run each step in turn on a background thread while the body runs; a step's failure
    (a wait that timed out) fails the test once the body is done."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            for step in steps:
                step()
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(60)
    assert not thread.is_alive(), "a step never ended"
    if failed:
        raise failed[0]


def flips_after_watch(server: servers.HealthServer, *statuses: int) -> list[Callable[[], None]]:
    """Steps: wait until the server has seen the next Watch subscription, then set each
    status in turn (each reaches the stream, in order: no pause needed)."""
    seen = server.watches
    return [lambda: server.wait_for_watch(seen + 1)] + [
        (lambda status=status: server.set("", status)) for status in statuses
    ]


def test_watch_follows_the_grpc_health_watch_stream(cli, serving):
    cli("add", "svc", "--address", serving.address)
    with meanwhile(*flips_after_watch(serving, NOT_SERVING, SERVING)):
        lines = json_lines(cli("watch", "svc", "--changes", "2", "--for", "60", "--json").stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]
    assert {line["protocol"] for line in lines} == {"grpc-health"}
    assert {line["alias"] for line in lines} == {"svc"}


def test_watch_in_a_process_prints_each_change_as_a_json_line(profile, serving):
    from .conftest import run_conn

    run_conn("add", "svc", "--address", serving.address)
    with meanwhile(*flips_after_watch(serving, NOT_SERVING, SERVING)):
        process = run_conn("watch", "svc", "--changes", "2", "--for", "50", "--json")
    assert process.returncode == 0, process.stderr
    lines = json_lines(process.stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]


def test_watch_polls_a_server_without_health_watch(cli, milvus_protocol):
    cli("add", "m", "--address", milvus_protocol.address)

    def until(served: Callable[[list[bool]], bool]) -> Callable[[], None]:
        def wait() -> None:  # until the replies the server has sent say so
            deadline = time.monotonic() + 30
            while not served(list(milvus_protocol.served)):
                assert time.monotonic() < deadline, "the watch stopped polling"
                time.sleep(0.01)

        return wait

    def set_healthy(healthy: bool) -> Callable[[], None]:
        def flip() -> None:
            milvus_protocol.healthy = healthy

        return flip

    # Sick once the first poll was answered (the second call: the first one only found
    # that the server has no Watch); well again once a sick reply was sent.
    steps = [
        until(lambda served: len(served) >= 2),
        set_healthy(False),
        until(lambda served: False in served),
        set_healthy(True),
    ]
    with meanwhile(*steps):
        result = cli("watch", "m", "--changes", "2", "--for", "60", "--interval", "0.2",
                     "--json")  # fmt: skip
    lines = json_lines(result.stdout)
    assert [line["status"] for line in lines] == ["healthy", "unhealthy", "healthy"]
    assert {line["protocol"] for line in lines} == {"milvus"}


def test_watch_changes_1_stops_after_the_first_change(cli, serving):
    cli("add", "svc", "--address", serving.address)
    with meanwhile(*flips_after_watch(serving, NOT_SERVING)):
        elapsed, result = timed(cli, "watch", "svc", "--changes", "1", "--for", "60", "--json",
                                code=4)  # fmt: skip
    assert [line["status"] for line in json_lines(result.stdout)] == ["healthy", "unhealthy"]
    assert elapsed < before(60)  # it ended at the change, not at --for


def test_watch_plain_lines_name_alias_and_status(cli, serving):
    cli("add", "svc", "--address", serving.address)
    line = cli("watch", "svc", "--for", "0.5").stdout.strip()
    assert re.fullmatch(r"\S+ svc healthy \d+\.\d ms", line), line


def test_watch_for_bounds_the_run_time(cli, serving):
    cli("add", "svc", "--address", serving.address)
    elapsed, _ = timed(cli, "watch", "svc", "--for", "1", code=0)
    assert 1 <= elapsed <= within(1)


def test_watch_for_bounds_the_run_time_when_the_server_never_answers(cli, silent_server):
    cli("add", "quiet", "--address", silent_server.address)  # the alias timeout is 10 s
    elapsed, result = timed(cli, "watch", "quiet", "--for", "1", "--json", code=3)
    assert elapsed <= within(1)
    assert [line["status"] for line in json_lines(result.stdout)] == ["unreachable"]


def test_watch_of_an_unreachable_alias_reports_unreachable_and_exits_3(cli):
    cli("add", "down", "--address", servers.refused_address(), "--timeout", "1")
    lines = json_lines(cli("watch", "down", "--for", "1", "--json", code=3).stdout)
    assert [(line["status"], line["exit_code"]) for line in lines] == [("unreachable", 3)]


def test_watch_prometheus_writes_a_textfile_of_a_healthy_alias(cli, milvus_lite, tmp_path):
    version = json.loads(cli("connect", "lite", "--address", milvus_lite.address, "--json").stdout)[
        "server_version"
    ]
    out = tmp_path / "metrics"
    out.mkdir()
    target = out / "conn.prom"
    cli("watch", "lite", "--for", "0.5", "--prometheus", str(target))
    text = target.read_text()
    assert 'conn_up{alias="lite"} 1\n' in text
    assert re.search(r'^conn_latency_seconds\{alias="lite"\} 0\.\d{6}$', text, re.M)
    assert f'conn_server_info{{alias="lite",version="{version}"}} 1\n' in text
    assert "# TYPE conn_up gauge" in text


def test_watch_prometheus_textfile_is_0644_and_leaves_no_temp_file(cli, serving, tmp_path):
    cli("add", "svc", "--address", serving.address)
    out = tmp_path / "metrics"
    out.mkdir()
    target = out / "conn.prom"
    with meanwhile(*flips_after_watch(serving, NOT_SERVING)):
        cli("watch", "svc", "--changes", "1", "--for", "60", "--prometheus", str(target),
            code=4)  # fmt: skip
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["conn.prom"]


def test_watch_prometheus_to_a_path_it_cannot_write_is_exit_6_naming_it(cli, serving, tmp_path):
    cli("add", "svc", "--address", serving.address)
    result = cli("watch", "svc", "--for", "0.3", "--prometheus", str(tmp_path), code=6)
    assert result.stderr == f"Error: cannot write {tmp_path}: Is a directory\n"


def test_watch_prometheus_of_an_unhealthy_alias_says_down(cli, serving, tmp_path):
    serving.set("", NOT_SERVING)
    cli("add", "svc", "--address", serving.address)
    target = tmp_path / "conn.prom"
    cli("watch", "svc", "--for", "0.5", "--prometheus", str(target), code=4)
    text = target.read_text()
    assert 'conn_up{alias="svc"} 0\n' in text
    assert 'conn_server_info{alias="svc",version="unknown"} 1\n' in text


def test_watch_lines_and_textfile_never_contain_a_secret(cli, serving, monkeypatch, tmp_path):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("add", "pw", "--address", serving.address, "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "tok", "--address", serving.address, "--token-env", "SVC_TOKEN")
    for alias in ("pw", "tok"):
        target = tmp_path / f"{alias}.prom"
        for extra in ((), ("--json",)):
            result = cli("-v", "watch", alias, "--for", "0.5", "--prometheus", str(target), *extra)
            assert_no_secret(result.stdout, result.stderr, target.read_text())


@pytest.mark.parametrize("interval", ["0.000000001", "0.05"])
def test_watch_refuses_an_interval_that_would_flood_the_server(cli, serving, interval):
    cli("add", "s", "--address", serving.address)
    result = cli("watch", "s", "--interval", interval, "--for", "1", code=2)
    assert "interval must be at least 0.1 s" in result.stderr, result.stderr
    assert result.stdout == ""
