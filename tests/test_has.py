"""`conn has`: one alias or several (`--all`/`--any`), its exit code for every outcome
within the timeout, `--wait`, `--no-probe`, `--quiet`, and an alias that is broken
among good ones. Servers are real, on 127.0.0.1.

Elsewhere, by feature: the gates (`--min-version`, `--max-latency`) in test_gates.py,
`--min-cert-days` in test_tls.py, `--ready`/`--collection` in test_ready.py, and the
time bounds of every network fault in test_faults.py."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pytest

from . import servers
from .conftest import run_conn
from .helpers import (
    ALICE_PASSWORD,
    BROKEN,
    LATENCY,
    NOT_SERVING,
    OUTCOME_KEYS,
    PASSWORD,
    SERVING,
    TOKEN,
    WRONG_PASSWORD,
    assert_no_secret,
    timed,
    within,
    write_profile,
)

# one alias -----------------------------------------------------------------------------


@pytest.fixture
def own_server(cli) -> Iterator[servers.HealthServer]:
    """A grpc.health.v1 server this test may stop, connected as alias `svc`."""
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address)
    yield server
    server.stop()


def test_has_a_healthy_connected_alias_exits_0(cli, connected_lite):
    result = cli("has", "lite")
    assert re.fullmatch(
        rf"lite \({re.escape(connected_lite.address)}\): healthy via milvus in {LATENCY}\n",
        result.stdout,
    ), result.stdout


def test_has_an_alias_not_connected_exits_1(cli, lite):
    result = cli("has", "lite", code=1)
    assert result.stderr == "Error: alias 'lite' is not connected (run: conn connect lite)\n"


def test_has_an_unknown_alias_exits_1(cli):
    assert cli("has", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


def test_has_json_has_the_outcome_shape(cli, connected_lite):
    data = json.loads(cli("has", "lite", "--json").stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["alias"], data["exit_code"], data["status"], data["protocol"]) == (
        "lite",
        0,
        "healthy",
        "milvus",
    )


def test_has_json_of_an_alias_not_connected(cli, lite):
    data = json.loads(cli("has", "lite", "--json", code=1).stdout)
    assert set(data) == OUTCOME_KEYS
    assert (data["exit_code"], data["status"]) == (1, "not_connected")


def test_has_of_a_stopped_server_exits_3_within_timeout(cli, own_server):
    own_server.stop()
    assert timed(cli, "has", "svc", "--timeout", "1", code=3)[0] < within(1)


def test_has_of_a_silent_server_exits_3_within_timeout(cli, own_server):
    own_server.stop()
    with servers.silent_on(own_server.port):
        assert timed(cli, "has", "svc", "--timeout", "1", code=3)[0] < within(1)


def test_has_uses_the_alias_timeout_when_none_is_given(cli):
    with servers.running(servers.HealthServer()) as server:
        cli("connect", "svc", "--address", server.address, "--timeout", "1")
    with servers.silent_on(server.port):
        assert timed(cli, "has", "svc", code=3)[0] < within(1)  # the alias timeout


def test_has_of_a_not_serving_server_exits_4_within_timeout(cli, own_server):
    own_server.set("", NOT_SERVING)
    assert timed(cli, "has", "svc", "--timeout", "1", code=4)[0] < within(1)


def test_has_with_refused_credentials_exits_5_within_timeout(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", ALICE_PASSWORD)
    cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    monkeypatch.setenv("ALICE_PW", WRONG_PASSWORD)
    assert timed(cli, "has", "alice", "--timeout", "1", code=5)[0] < within(1)


def test_has_wait_gives_up_within_wait_and_timeout(cli, own_server):
    own_server.stop()
    assert timed(cli, "has", "svc", "--wait", "1", "--timeout", "1", code=3)[0] < within(1 + 1)


def test_has_no_probe_trusts_the_recorded_state(cli, own_server):
    own_server.stop()
    cli("has", "svc", "--timeout", "1", code=3)
    assert cli("has", "svc", "--no-probe").stdout == "svc: connected (not probed)\n"


def test_has_no_probe_of_an_alias_not_connected_exits_1(cli, lite):
    cli("has", "lite", "--no-probe", code=1)


def test_has_wait_retries_until_the_server_serves(cli, own_server):
    own_server.set("", NOT_SERVING)
    later = threading.Timer(0.5, own_server.set, ("", SERVING))
    later.start()
    cli("has", "svc", "--wait", "5", "--timeout", "1")
    later.join()


def test_a_wait_under_a_second_retries_too(cli, own_server):
    own_server.set("", NOT_SERVING)
    servicer = own_server.servicer
    with servicer.changed:
        checks = servicer.checks

    def serve_after_the_first_check() -> None:  # the second try finds it serving
        with servicer.changed:
            servicer.changed.wait_for(lambda: servicer.checks > checks, 5)
        own_server.set("", SERVING)

    later = threading.Thread(target=serve_after_the_first_check)
    later.start()
    cli("has", "svc", "--wait", "0.9", "--timeout", "1")
    later.join(10)


@pytest.mark.parametrize(
    ("alias", "code"),
    [("svc", 0), ("nope", 1), ("default", 1)],
    ids=["healthy", "unknown", "not-connected"],
)
def test_has_quiet_prints_nothing(cli, own_server, alias, code):
    result = cli("has", alias, "-q", code=code)
    assert (result.stdout, result.stderr) == ("", "")


def test_has_quiet_prints_nothing_when_unhealthy(cli, own_server):
    own_server.set("", NOT_SERVING)
    result = cli("has", "svc", "-q", code=4)
    assert (result.stdout, result.stderr) == ("", "")


# real processes ------------------------------------------------------------------------


def test_process_has_quiet_prints_nothing(connected_lite):
    done = run_conn("has", "lite", "-q")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


# several aliases -----------------------------------------------------------------------


@pytest.fixture
def abc(cli, milvus_lite, serving):
    """a: healthy (Milvus Lite); b: connected, now NOT_SERVING; c: stored, not connected."""
    cli("connect", "a", "--address", milvus_lite.address)
    cli("connect", "b", "--address", serving.address)
    cli("add", "c", "--address", milvus_lite.address)
    serving.set("", NOT_SERVING)


@pytest.mark.parametrize("mode", [(), ("--all",)])
def test_has_several_aliases_exits_with_the_highest_code(cli, abc, mode):
    result = cli("has", "a", "b", "c", *mode, code=4)
    assert result.stdout.startswith("a (")
    assert "NOT_SERVING" in result.stderr
    assert "alias 'c' is not connected" in result.stderr


def test_has_all_of_a_healthy_and_a_not_connected_alias_exits_1(cli, abc):
    cli("has", "a", "c", "--all", code=1)


def test_has_any_exits_0_when_one_alias_passes(cli, abc):
    cli("has", "a", "b", "c", "--any")


def test_has_any_exits_with_the_lowest_failing_code_when_none_passes(cli, abc):
    cli("has", "b", "c", "--any", code=1)


def test_has_any_of_an_unhealthy_and_an_unreachable_alias_exits_3(cli, abc):
    with servers.running(servers.HealthServer()) as server:
        cli("connect", "down", "--address", server.address, "--timeout", "1")
    cli("has", "b", "down", "--any", code=3)


def test_has_several_aliases_json_is_one_object_per_alias(cli, abc):
    objects = json.loads(cli("has", "a", "b", "c", "--json", code=4).stdout)
    assert [set(o) for o in objects] == [OUTCOME_KEYS] * 3
    seen = [(o["alias"], o["exit_code"], o["status"]) for o in objects]
    assert seen == [("a", 0, "healthy"), ("b", 4, "unhealthy"), ("c", 1, "not_connected")]
    assert (objects[0]["protocol"], objects[1]["protocol"]) == ("milvus", "grpc-health")


def test_has_all_of_one_alias_json_is_still_a_list(cli, abc):
    objects = json.loads(cli("has", "a", "--all", "--json").stdout)
    assert [o["alias"] for o in objects] == ["a"]


def test_has_probes_several_aliases_concurrently(cli):
    with servers.running(servers.HealthServer()) as server:
        for alias in ("s1", "s2", "s3"):
            cli("connect", alias, "--address", server.address)
    with servers.silent_on(server.port):
        elapsed, _ = timed(cli, "has", "s1", "s2", "s3", "--timeout", "1", code=3)
    assert elapsed < within(1)  # one timeout, not three


def test_has_all_and_any_together_is_a_usage_error(cli, abc):
    result = cli("has", "a", "b", "--all", "--any", code=2)
    assert "--all" in result.stderr and "--any" in result.stderr


def test_has_several_aliases_never_prints_a_secret(cli, serving, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("connect", "pw", "--address", serving.address, "--user", "ci", "--password-env", "SVC_PW")
    cli("connect", "tok", "--address", serving.address, "--token-env", "SVC_TOKEN")
    serving.set("", NOT_SERVING)
    for extra in ((), ("--json",)):
        result = cli("-v", "has", "pw", "tok", *extra, code=4)
        assert_no_secret(result.stdout, result.stderr)


# a broken alias among good ones --------------------------------------------------------


def test_has_many_answers_the_others_when_one_is_broken(cli, profile, serving):
    write_profile(profile, BROKEN)
    cli("connect", "ok", "--address", serving.address)
    result = cli("has", "ok", "badport", "--all", code=6)
    assert result.stdout.startswith("ok (")
    assert "connection 'badport'" in result.stderr
    cli("has", "ok", "badport", "--any", code=0)
    data = json.loads(cli("has", "ok", "badport", "--all", "--json", code=6).stdout)
    assert [(row["alias"], row["exit_code"]) for row in data] == [("ok", 0), ("badport", 6)]


def test_has_many_answers_the_others_when_a_secret_variable_is_unset(cli, serving, monkeypatch):
    cli("connect", "ok", "--address", serving.address)
    monkeypatch.setenv("GONE_PW", "pw")
    cli("connect", "nopw", "--address", serving.address, "--user", "u", "--password-env",
        "GONE_PW")  # fmt: skip
    monkeypatch.delenv("GONE_PW")
    result = cli("has", "ok", "nopw", code=6)
    assert result.stdout.startswith("ok (") and "GONE_PW" in result.stderr
    rows = json.loads(cli("list", "--check", "--json", code=6).stdout)
    assert [r["health"]["exit_code"] for r in rows if r["alias"] in ("ok", "nopw")] == [0, 6]


# without an alias ----------------------------------------------------------------------


def test_has_without_an_alias_keeps_its_behaviour(cli):
    cli("has", code=1)  # the built-in default, not connected
