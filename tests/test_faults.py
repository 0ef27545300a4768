"""Issue 4, parts 4 and 5: hand-edited profiles, and network faults that keep their bounds.

Profiles: a syntax error is exit 6 with path, line and column; a wrong type for a known
key is exit 6 naming alias and key; unknown keys survive a rewrite; a newer `version`
is refused and the file left as it is.

Network: every fault, on 127.0.0.1 only, gives its documented exit code through
`conn connect` and `conn has` with `--timeout T`, within T + SLACK seconds of wall time;
`--wait S` never runs past S + one timeout.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
import pytest

from milvus_conn import Connections, ProfileException

from . import servers
from .helpers import NOT_SERVING, snapshot, state_file, timed, within, write_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

T = 1.0  # the --timeout of every probe here
WAIT = 1.5  # --wait S


def one_error_line(stderr: str) -> str:
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    return stderr


# hand-edited profiles ---------------------------------------------------------------

SYNTAX_ERRORS = {
    # name: (text, line, column) of the first error, as a TOML parser counts them
    "unterminated-string": ('version = 1\n[connections.a]\naddress = "h:1\n', 3, 15),
    "duplicate-key": ('version = 1\n[connections.a]\naddress = "h:1"\naddress = "h:2"\n', 4, 16),
    "bad-table-header": ('version = 1\n[connections.a\naddress = "h:1"\n', 2, 15),
    "bad-number": ('version = 1\n\n[connections.a]\naddress = "h:1"\ntimeout = 1.0.0\n', 5, 14),
    "table-twice": ('[connections.a]\naddress = "h:1"\n[connections.a]\nuser = "x"\n', 3, 15),
    "missing-value": ('version = 1\n[connections.a]\naddress = \nuser = "x"\n', 3, 11),
}
TRUNCATED = {
    # A file cut short (an editor crash, a full disk): the error is at the end.
    "cut-in-a-string": 'version = 1\n[connections.a]\naddress = "h:1',
    "cut-after-equals": 'version = 1\n[connections.a]\naddress = "h:1"\ntimeout = ',
    "cut-in-a-header": 'version = 1\n[connections.a]\naddress = "h:1"\n[connections.b',
}


@pytest.mark.parametrize(("text", "line", "column"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS)
@pytest.mark.parametrize("command", [["list"], ["addr", "a"], ["add", "b", "--address", "h:2"]])
def test_a_syntax_error_exits_6_with_path_line_and_column(
    cli, profile, text, line, column, command
):
    write_profile(profile, text)
    before = snapshot(profile)
    result = cli(*command, code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: invalid TOML: ")
    assert f"line {line}, column {column}" in message
    assert snapshot(profile) == before


@pytest.mark.parametrize("text", TRUNCATED.values(), ids=TRUNCATED)
def test_a_truncated_profile_is_reported_with_line_and_column(cli, profile, text):
    """DESIGN §4: 'A corrupt file is reported with its line and column.'"""
    write_profile(profile, text)
    before = snapshot(profile)
    result = cli("list", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: invalid TOML: ")
    last_line = text.count("\n") + 1
    assert re.search(rf"line {last_line}, column \d+", message), message
    assert snapshot(profile) == before


def test_a_profile_that_is_not_utf8_exits_6_and_is_kept(cli, profile):
    write_profile(profile, b'version = 1\n[connections.a]\naddress = "h\xff:1"\n')
    before = snapshot(profile)
    result = cli("add", "b", "--address", "h:2", code=6)
    assert one_error_line(result.stderr).startswith(f"Error: {profile}: not UTF-8")
    assert snapshot(profile) == before


WRONG_TYPES = {
    # key: a TOML value of the wrong type
    "address": "5",
    "uri": "[1, 2]",
    "user": "5",
    "db_name": "true",
    "secure": '"yes"',
    "server_pem_path": "1.5",
    "server_name": "{ a = 1 }",
    "client_pem_path": "false",
    "client_key_path": "0",
    "ca_pem_path": "[]",
    "timeout": '"fast"',
    "probe": "3",
    "health_service": "2024-01-01",
    "password_env": "1",
    "token_env": "[true]",
    "password": "7",
    "token": "7",
}


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES.items(), ids=WRONG_TYPES)
def test_a_wrong_type_for_a_known_key_exits_6_naming_alias_and_key(cli, profile, key, value):
    address = "" if key in ("address", "uri") else 'address = "127.0.0.1:19530"\n'
    write_profile(profile, f"version = 1\n[connections.prod]\n{address}{key} = {value}\n")
    before = snapshot(profile)
    result = cli("addr", "prod", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: connection 'prod': ")
    assert key in message.removeprefix(f"Error: {profile}: connection 'prod': ")
    cli("use", "prod", code=6)  # what uses the alias fails; the others are its own
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    "table",
    ['user = "x"', 'db_name = "d"\nprobe = "milvus"', ""],
    ids=["user-only", "no-target", "empty"],
)
def test_an_alias_without_address_or_uri_exits_6_naming_alias_and_address(cli, profile, table):
    """A hand-written alias with no target is a profile error, never an empty address."""
    write_profile(profile, f"version = 1\n[connections.prod]\n{table}\n")
    result = cli("addr", "prod", code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: connection 'prod': ")
    assert "address" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version = 1\nconnections = 5\n", "'connections' must be a table"),
        ("version = 1\n[[connections]]\nname = 'a'\n", "'connections' must be a table"),
        ("version = 1\n[connections]\nprod = 'h:1'\n", "connection 'prod' must be a table"),
    ],
    ids=["connections-number", "connections-array", "alias-not-a-table"],
)
def test_a_misshapen_profile_exits_6(cli, profile, text, words):
    write_profile(profile, text)
    result = cli("list", code=6)
    assert words in one_error_line(result.stderr)


def test_unknown_keys_survive_every_rewrite(cli, profile):
    write_profile(
        profile,
        """# team profile -- this comment is dropped on rewrite (README: The profile)
version = 1
owner = "team-x"
tags = ["a", "b"]

[meta]
reviewed = 2024-05-01

[connections.prod]
address = "127.0.0.1:19530"   # trailing comment
note = "keep me"
labels = { env = "prod", tier = 1 }

[connections.prod.extra_table]
x = 1

[connections.stage]
address = "127.0.0.1:19531"
retries = 3
""",
    )
    original = tomllib.loads(profile.read_text())
    cli("add", "new", "--address", "127.0.0.1:19532")
    cli("add", "prod", "--address", "127.0.0.1:19533", "--force")  # replaces, keeps extras
    cli("remove", "new")
    after = tomllib.loads(profile.read_text())

    assert {k: after[k] for k in ("owner", "tags", "meta")} == {
        k: original[k] for k in ("owner", "tags", "meta")
    }
    prod = after["connections"]["prod"]
    assert prod["address"] == "127.0.0.1:19533"
    for key in ("note", "labels", "extra_table"):
        assert prod[key] == original["connections"]["prod"][key]
    assert after["connections"]["stage"] == original["connections"]["stage"]
    text = profile.read_text()
    assert "#" not in text  # documented: comments are not kept
    # Unknown keys are carried, never shown as config.
    assert "note" not in json.loads(cli("addr", "prod", "--json").stdout)


def test_unknown_keys_survive_a_library_rewrite(profile):
    write_profile(
        profile,
        'version = 1\nowner = "x"\n[connections.a]\naddress = "127.0.0.1:1"\nnote = "n"\n',
    )
    Connections(profile=profile).add_connection(b={"address": "127.0.0.1:2"})
    document = tomllib.loads(profile.read_text())
    assert document["owner"] == "x"
    assert document["connections"]["a"]["note"] == "n"


VERSION_COMMANDS = pytest.mark.parametrize(
    "command",
    [["list"], ["add", "x", "--address", "127.0.0.1:1"], ["remove", "a"], ["disconnect", "a"]],
    ids=["list", "add", "remove", "disconnect"],
)


@pytest.mark.parametrize("version", ["2", "99"])
@VERSION_COMMANDS
def test_a_newer_profile_version_is_refused_and_not_rewritten(cli, profile, version, command):
    write_profile(profile, f'version = {version}\n[connections.a]\naddress = "h:1"\nnew = 1\n')
    before = snapshot(profile)
    result = cli(*command, code=6)
    assert one_error_line(result.stderr) == (
        f"Error: {profile}: profile version {version} is not supported; this conn reads "
        "version 1 (upgrade milvus-conn); file left unchanged\n"
    )
    assert snapshot(profile) == before


@pytest.mark.parametrize("version", ['"2"', "1.5", "0", "-1", "true"])
@VERSION_COMMANDS
def test_an_unusable_profile_version_is_refused_and_not_rewritten(cli, profile, version, command):
    write_profile(profile, f'version = {version}\n[connections.a]\naddress = "h:1"\n')
    before = snapshot(profile)
    result = cli(*command, code=6)
    message = one_error_line(result.stderr)
    assert message.startswith(f"Error: {profile}: ") and "version" in message
    assert snapshot(profile) == before


def test_a_newer_profile_version_is_refused_by_the_library(profile):
    write_profile(profile, 'version = 2\n[connections.a]\naddress = "h:1"\n')
    before = snapshot(profile)
    registry = Connections(profile=profile)
    with pytest.raises(ProfileException, match="profile version 2 is not supported"):
        registry.add_connection(b={"address": "h:2"})
    with pytest.raises(ProfileException, match="profile version 2"):
        registry.remove_connection("a")
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    "state",
    ["{not json", "[]", '{"connected": []}', '{"connected": {"a": 5}}', ""],
    ids=["syntax", "array", "connected-list", "entry-not-object", "empty"],
)
def test_a_hand_broken_state_file_exits_6_and_is_kept(cli, profile, state):
    cli("add", "a", "--address", "127.0.0.1:1")
    state_file(profile).write_text(state)
    before = snapshot(profile)
    result = cli("has", "a", "--no-probe", code=6)
    assert one_error_line(result.stderr).startswith(f"Error: {state_file(profile)}: ")
    cli("disconnect", "a", code=6)
    assert snapshot(profile) == before


# network faults ------------------------------------------------------------------------


class Listener:
    """A TCP listener on 127.0.0.1 (a chosen port, or a free one): each connection gets
    `behaviour(conn)`, or is never accepted when `behaviour` is None (a full backlog)."""

    def __init__(self, behaviour: Callable[[socket.socket], None] | None, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((servers.LOOPBACK, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"{servers.LOOPBACK}:{self.port}"
        self.behaviour = behaviour
        self.conns: list[socket.socket] = []
        self.closed = threading.Event()
        if behaviour is not None:
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.behaviour, args=(conn,), daemon=True).start()

    def stop(self) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


def close_after(seconds: float) -> Callable[[socket.socket], None]:
    """Accepts, reads what comes for `seconds`, then closes: the server that answers slowly
    with nothing but a hang-up."""

    def behaviour(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if not conn.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        with contextlib.suppress(OSError):
            conn.close()

    return behaviour


def send_garbage(conn: socket.socket) -> None:
    """Answers the HTTP/2 preface with bytes that are no protocol at all, then waits."""
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.sendall(b"\x00\xff garbage \xfe" * 64)
        while conn.recv(65536):
            pass


class SlowHealthServer:
    """A real gRPC server whose grpc.health.v1 Check answers SERVING after `delay` s."""

    def __init__(self, delay: float, port: int = 0) -> None:
        self.delay = delay
        self.server = grpc.server(futures.ThreadPoolExecutor(8))
        self.server.add_generic_rpc_handlers((_SlowHandler(self),))
        self.port = self.server.add_insecure_port(f"{servers.LOOPBACK}:{port}")
        self.address = f"{servers.LOOPBACK}:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait()


class _SlowHandler(grpc.GenericRpcHandler):
    def __init__(self, owner: SlowHealthServer) -> None:
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails):
        if details.method != "/grpc.health.v1.Health/Check":
            return None

        def check(request: bytes, context: grpc.ServicerContext) -> bytes:
            time.sleep(self.owner.delay)
            return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

        return grpc.unary_unary_rpc_method_handler(check)


# name: (what to start on a port (None: nothing, the port refuses), exit code)
FAULTS: dict[str, tuple[Callable[[int], object] | None, int]] = {
    "refused": (None, 3),
    "never-answers": (lambda port: Listener(servers.never_answer, port), 3),
    "never-accepts": (lambda port: Listener(None, port), 3),
    "hangs-up-after-0.3s": (lambda port: Listener(close_after(0.3), port), 3),
    "hangs-up-after-3s": (lambda port: Listener(close_after(3.0), port), 3),
    "grpc-answers-after-3s": (lambda port: SlowHealthServer(3.0, port), 3),
    "http1": (lambda port: Listener(servers.answer_http1, port), 4),
    "closes-at-once": (lambda port: Listener(servers.close_at_once, port), 3),
    "grpc-answers-after-0.3s": (lambda port: SlowHealthServer(0.3, port), 0),
}


@contextlib.contextmanager
def fault_on(name: str, port: int) -> Iterator[None]:
    start, _ = FAULTS[name]
    server = start(port) if start else None
    try:
        yield
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def connected_port(cli) -> Iterator[int]:
    """A port where alias `svc` was connected; its server is gone, the port is free."""
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address, "--timeout", "5")
    server.stop()
    yield server.port


@pytest.mark.parametrize(("name", "code"), [(n, c) for n, (_, c) in FAULTS.items()], ids=FAULTS)
def test_connect_to_a_fault_exits_with_its_code_within_the_timeout(cli, name, code):
    port = servers.free_port()
    with fault_on(name, port):
        elapsed, result = timed(cli, "connect", "x", "--address", f"127.0.0.1:{port}",
                        "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed < within(T), f"{name}: {elapsed:.2f} s"
    assert not code or result.stderr.startswith("Error: "), result.stderr
    assert Connections().has_connection("x") is (code == 0)


@pytest.mark.parametrize(("name", "code"), [(n, c) for n, (_, c) in FAULTS.items()], ids=FAULTS)
def test_has_of_a_connected_alias_gone_faulty_keeps_the_timeout(cli, connected_port, name, code):
    with fault_on(name, connected_port):
        elapsed, result = timed(cli, "has", "svc", "--timeout", str(T), code=code)
    assert elapsed < within(T), f"{name}: {elapsed:.2f} s"
    assert not code or result.stderr.startswith("Error: "), result.stderr
    cli("has", "svc", "--no-probe")  # a failed probe does not forget the connection


def test_has_without_timeout_uses_the_alias_timeout(cli):
    server = servers.HealthServer()
    cli("connect", "svc", "--address", server.address, "--timeout", str(T))
    server.stop()
    with fault_on("never-answers", server.port):
        elapsed, result = timed(cli, "has", "svc", code=3)
        assert elapsed < within(T)
        assert result.stderr.startswith("Error: "), result.stderr


@pytest.mark.parametrize(
    "name",
    ["refused", "never-answers", "hangs-up-after-0.3s", "closes-at-once", "grpc-answers-after-3s"],
)
def test_has_wait_never_runs_past_wait_plus_one_timeout(cli, connected_port, name):
    with fault_on(name, connected_port):
        elapsed, result = timed(cli, "has", "svc", "--wait", str(WAIT), "--timeout", str(T), code=3)
    assert elapsed <= within(WAIT + T), f"{name}: {elapsed:.2f} s"
    assert result.stderr.startswith("Error: "), result.stderr
    assert elapsed >= WAIT - 0.2, f"{name}: gave up after {elapsed:.2f} s, before --wait"


@pytest.mark.parametrize("name", ["refused", "never-answers", "http1"])
def test_connect_wait_never_runs_past_wait_plus_one_timeout(cli, name):
    port = servers.free_port()
    code = FAULTS[name][1]
    with fault_on(name, port):
        elapsed, result = timed(cli, "connect", "x", "--address", f"127.0.0.1:{port}",
                        "--wait", str(WAIT), "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed <= within(WAIT + T), f"{name}: {elapsed:.2f} s"
    assert result.stderr.startswith("Error: "), result.stderr


def test_wait_with_a_timeout_longer_than_the_wait_stops_at_the_wait(cli, connected_port):
    with fault_on("never-answers", connected_port):
        elapsed, result = timed(cli, "has", "svc", "--wait", "0.5", "--timeout", "5", code=3)
    assert elapsed <= within(0.5)
    assert result.stderr.startswith("Error: "), result.stderr


def test_has_wait_of_a_not_serving_server_exits_4_within_wait(cli):
    server = servers.HealthServer()
    try:
        cli("connect", "svc", "--address", server.address)
        server.set("", NOT_SERVING)
        elapsed, result = timed(cli, "has", "svc", "--wait", str(WAIT), "--timeout", str(T), code=4)
    finally:
        server.stop()
    assert WAIT - 0.2 <= elapsed <= within(WAIT + T)
    assert result.stderr.startswith("Error: "), result.stderr


@pytest.mark.parametrize(
    ("target", "code"),
    [("serving", 3), ("http1", 3), ("never-answers", 3), ("closes-at-once", 3)],
    ids=["plaintext-grpc", "http1", "never-answers", "closes-at-once"],
)
def test_tls_to_a_plaintext_port_exits_3_within_the_timeout(cli, serving, target, code):
    port = servers.free_port()
    with fault_on(target, port) if target != "serving" else contextlib.nullcontext():
        address = serving.address if target == "serving" else f"127.0.0.1:{port}"
        elapsed, result = timed(cli, "connect", "x", "--address", address, "--secure",
                        "--timeout", str(T), code=code)  # fmt: skip
    assert elapsed < within(T)
    assert result.stderr.startswith("Error: "), result.stderr


def test_tls_to_a_plaintext_port_says_so(cli, serving):
    result = cli("connect", "x", "--address", serving.address, "--secure", "--timeout", str(T),
                 code=3)  # fmt: skip
    assert "TLS" in one_error_line(result.stderr)


def test_a_server_sending_garbage_gets_a_documented_code_within_the_timeout(cli):
    server = Listener(send_garbage)
    try:
        started = time.monotonic()
        result = cli("connect", "x", "--address", server.address, "--timeout", str(T),
                     code=None)  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert result.exit_code in (3, 4), result.stderr  # unreachable or no health protocol
    one_error_line(result.stderr)
    assert elapsed < within(T)


def test_list_check_probes_every_fault_at_once(cli):
    started_servers = []
    names = [n for n in FAULTS if n != "grpc-answers-after-0.3s"]
    for name in names:
        port = servers.free_port()
        start, _ = FAULTS[name]
        if start:
            started_servers.append(start(port))
        cli("add", name, "--address", f"127.0.0.1:{port}")
    try:
        started = time.monotonic()
        result = cli("list", "--check", "--json", "--timeout", str(T), code=4)
        elapsed = time.monotonic() - started
    finally:
        for server in started_servers:
            server.stop()
    assert elapsed < within(T)
    codes = {row["alias"]: row["health"]["exit_code"] for row in json.loads(result.stdout)}
    assert codes == {"default": 3} | {name: FAULTS[name][1] for name in names}


def test_a_fault_error_is_one_line_and_names_the_address(cli):
    address = servers.refused_address()
    result = cli("connect", "x", "--address", address, "--timeout", str(T), code=3)
    assert address in one_error_line(result.stderr)


def test_connect_json_reports_the_fault_code(cli, http1_server):
    result = cli("connect", "x", "--address", http1_server.address, "--timeout", str(T),
                 "--json", code=4)  # fmt: skip
    data = json.loads(result.stdout)
    assert (data["exit_code"], data["status"]) == (4, "unhealthy")
