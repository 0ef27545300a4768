"""Fixtures: an isolated profile per test, the CLI runner, and the real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from milvus_conn import Connections
from milvus_conn.cli import app

from . import servers
from .certs import make_certs, server_certificate
from .keyrings import FILE_BACKEND, GnomeKeyring
from .milvus_server import MilvusServer, TLSFiles

# Variables that would make a test depend on the machine it runs on.
_ISOLATE = (
    "CONN_PROFILE",
    "MILVUS_URI",
    "MILVUS_CONN_ALIAS",
    "MILVUS_CONN_TIMEOUT",
    "MILVUS_DEFAULT_CONNECTION",
    "NO_COLOR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "grpc_proxy",
    # the credential store: no test reaches the developer's own keyring
    "PYTHON_KEYRING_BACKEND",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_CURRENT_DESKTOP",
)


# Fixtures that start a server process: left out of mutation runs (scripts/mutants.py sets
# MILVUS_CONN_MUTANTS), where each mutant's run would start one; in-process servers stay.
_PROCESS_SERVERS = {"milvus_lite", "lite", "connected_lite", "milvus", "milvus_auth",
                    "milvus_tls", "milvus_mtls", "gnome_keyring_session"}  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("MILVUS_CONN_MUTANTS"):
        return
    kept = [item for item in items if not _PROCESS_SERVERS & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def mutant_in_subprocesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """In a mutation run, the processes a test starts (`conn` as a shell runs it, writer.py)
    import the mutated copy too, so they can kill a mutant. In the run's first pass, where
    mutmut records which test reaches which function, they also report what they reached
    (tests/mutmut_hits/), so such a test is run for those functions' mutants."""
    if not os.environ.get("MILVUS_CONN_MUTANTS"):
        yield
        return
    import milvus_conn

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(Path(milvus_conn.__file__).parents[1]), prepend=os.pathsep)
        if os.environ.get("MUTANT_UNDER_TEST") == "stats":
            patch.setenv(
                "PYTHONPATH", str(Path(__file__).with_name("mutmut_hits")), prepend=os.pathsep
            )
            patch.setenv("MILVUS_CONN_MUTANT_HITS", str(tmp_path_factory.mktemp("hits") / "hits"))
            patch.setenv("MILVUS_CONN_MUTANT_ROOT", os.getcwd())  # mutmut runs pytest there
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Credit a test with what the processes it started reached (mutant_in_subprocesses)."""
    yield
    hits = os.environ.get("MILVUS_CONN_MUTANT_HITS")
    if hits and os.path.exists(hits):
        from mutmut.state import state

        state()._stats.update(Path(hits).read_text(encoding="utf-8").split())
        os.unlink(hits)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("CONN_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))  # keyrings.alt's files
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module", autouse=True)
def no_pooled_pymilvus_connection() -> Iterator[None]:
    """pymilvus 3 keeps a MilvusClient's connection open after `close()`, pooled for the
    next client of the same address. Left idle, its keepalive pings get it refused by Milvus
    Lite (GOAWAY too_many_pings) about 30 s later, and a later test's new client would
    inherit the refused connection. Each test file closes what its tests left open."""
    yield
    manager = sys.modules.get("pymilvus.client.connection_manager")
    if manager is not None:
        manager.ConnectionManager.get_instance().close_all()


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The profile the CLI and the library use in this test (not created yet)."""
    path = tmp_path / "conf" / "profiles.toml"
    monkeypatch.setenv("CONN_PROFILE", str(path))
    return path


@pytest.fixture
def registry(profile: Path) -> Iterator[Connections]:
    conns = Connections(profile=profile)
    yield conns
    conns.reset()


class Cli:
    """Runs `conn` in-process through Typer's CliRunner, stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        result = self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (
                f"conn {' '.join(args)} exited {result.exit_code}, not {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def cli(profile: Path) -> Cli:
    return Cli()


def run_conn(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The installed `conn`, as a shell runs it (`python -m milvus_conn` is the same)."""
    return subprocess.run(
        [sys.executable, "-m", "milvus_conn", *args],
        check=False,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


# real servers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def milvus_lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MilvusLite]:
    server = servers.MilvusLite(tmp_path_factory.mktemp("lite") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def health_server() -> Iterator[servers.HealthServer]:
    server = servers.HealthServer()
    yield server
    server.stop()


@pytest.fixture
def serving(health_server: servers.HealthServer) -> Iterator[servers.HealthServer]:
    """The shared health server, reset to SERVING for "" around each test."""
    from grpc_health.v1 import health_pb2

    health_server.set("", health_pb2.HealthCheckResponse.SERVING)
    yield health_server
    health_server.set("", health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="session")
def auth_server() -> Iterator[servers.HealthServer]:
    server = servers.HealthServer(require_auth="alice:s3cr3t-Pa55")
    yield server
    server.stop()


@pytest.fixture
def milvus_protocol() -> Iterator[servers.MilvusProtocolServer]:
    server = servers.MilvusProtocolServer()
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[servers.SocketServer]:
    server = servers.SocketServer(servers.never_answer)
    yield server
    server.stop()


@pytest.fixture
def http1_server() -> Iterator[servers.SocketServer]:
    server = servers.SocketServer(servers.answer_http1)
    yield server
    server.stop()


@pytest.fixture
def closing_server() -> Iterator[servers.SocketServer]:
    server = servers.SocketServer(servers.close_at_once)
    yield server
    server.stop()


# the real Milvus 2.3.5 (Go) server, one per flavour per test session -----------------------


def _start(**kwargs) -> MilvusServer:
    server = MilvusServer(**kwargs)
    if not server.launcher.exists():
        pytest.skip("milvus==2.3.5 is not installed (Linux x86_64 only)")
    return server.start()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    make_certs(out)
    return out


def _tls(certs: Path) -> TLSFiles:
    return TLSFiles(
        ca=certs / "ca.pem",
        server_cert=certs / "server.pem",
        server_key=certs / "server.key",
        client_cert=certs / "client.pem",
        client_key=certs / "client.key",
    )


@pytest.fixture
def tls_health(certs: Path) -> Iterator[servers.TLSHealthServer]:
    """grpc.health.v1 over TLS, certificate valid for 90 more days."""
    server = servers.TLSHealthServer(*server_certificate(certs, expired=False))
    yield server
    server.stop()


@pytest.fixture
def expired_tls(certs: Path) -> Iterator[servers.TLSHealthServer]:
    """grpc.health.v1 over TLS with a certificate that expired yesterday (trusted CA)."""
    server = servers.TLSHealthServer(*server_certificate(certs, expired=True))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus() -> Iterator[MilvusServer]:
    server = _start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_auth() -> Iterator[MilvusServer]:
    server = _start(auth=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_tls(certs: Path) -> Iterator[MilvusServer]:
    server = _start(tls_mode=1, tls=_tls(certs))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus_mtls(certs: Path) -> Iterator[MilvusServer]:
    server = _start(tls_mode=2, tls=_tls(certs))
    yield server
    server.stop()


@pytest.fixture
def lite(cli, milvus_lite):
    """Milvus Lite, stored as alias `lite` (not connected)."""
    cli("add", "lite", "--address", milvus_lite.address)
    return milvus_lite


@pytest.fixture
def connected_lite(cli, lite):
    """Milvus Lite, stored and connected as alias `lite`."""
    cli("connect", "lite")
    return lite


@pytest.fixture
def liar() -> Iterator[servers.LyingServer]:
    server = servers.LyingServer()
    yield server
    server.stop()


# credential stores ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def gnome_keyring_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GnomeKeyring]:
    keyring = GnomeKeyring(tmp_path_factory.mktemp("gnome-keyring"))
    yield keyring
    keyring.stop()


@pytest.fixture
def gnome_keyring(
    gnome_keyring_session: GnomeKeyring, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GnomeKeyring]:
    """conn's store is the real GNOME Keyring (no keyring configuration: conn's own
    choice of the Secret Service); emptied after each test."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", gnome_keyring_session.address)
    yield gnome_keyring_session
    gnome_keyring_session.delete_all()


@pytest.fixture
def file_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """conn's store is keyrings.alt's file backend, named as keyring's users name it; the
    path of its file (in this test's $XDG_DATA_HOME)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FILE_BACKEND)
    return tmp_path / "xdg-data" / "python_keyring" / "keyring_pass.cfg"
