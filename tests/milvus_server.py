"""Start and stop a real Milvus 2.3.5 standalone server (``pip install milvus==2.3.5``) on loopback.

    @pytest.fixture(scope="session")
    def milvus():
        with MilvusServer(auth=True) as server:
            yield server        # server.address == "127.0.0.1:<proxy port>", server.channel()

Every port flag of ``milvus-server`` gets a free port; the embedded etcd leaves 2379/2380
through an embed-etcd YAML named by ``ETCD_CONFIG_PATH``; the binaries (246 MB unpacked)
are unpacked once into a shared cache that each instance's ``bin`` links to. Linux x86_64
only (the wheel is manylinux2014_x86_64). Milvus 2.3.5 itself still binds its gRPC ports
and the metrics port (9091 upwards, picked by the launcher) on all interfaces; the tests
only ever connect to 127.0.0.1.
"""

from __future__ import annotations

import base64
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PORT_FLAGS = (
    "root-coord",
    "proxy",
    "proxy-internal",
    "query-coord",
    "query-node",
    "index-coord",
    "index-node",
    "data-coord",
    "data-node",
)
IP_COMPONENTS = (
    "rootCoord",
    "proxy",
    "queryCoord",
    "queryNode",
    "indexNode",
    "dataCoord",
    "dataNode",
)
ROOT_USER, ROOT_PASSWORD = "root", "Milvus"


@dataclass(frozen=True)
class TLSFiles:
    """PEM files: CA, server pair (SAN covers 127.0.0.1), client pair (for tls_mode=2)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path | None = None
    client_key: Path | None = None


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # all bound at once, so the ports are distinct
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def auth_metadata(user: str = ROOT_USER, password: str = ROOT_PASSWORD) -> list[tuple[str, str]]:
    return [("authorization", base64.b64encode(f"{user}:{password}".encode()).decode())]


def _alive(pid: int) -> bool:
    try:  # a zombie still has /proc/<pid>; its state letter is Z
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _sigint_on_parent_death() -> None:
    """In the child before exec: if pytest dies (say, killed), the launcher gets SIGINT.

    Linux ties this to the starting *thread*: call start() from the main thread."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # 1 == PR_SET_PDEATHSIG


class MilvusServer:
    def __init__(
        self,
        *,
        auth: bool = False,
        tls_mode: int = 0,
        tls: TLSFiles | None = None,
        startup_timeout: float = 180.0,
        base_dir: Path | None = None,
    ) -> None:
        if tls_mode not in (0, 1, 2) or (tls_mode and tls is None):
            raise ValueError("tls_mode must be 0, 1 or 2, and 1 or 2 need TLSFiles")
        if tls_mode == 2 and tls is not None and not (tls.client_cert and tls.client_key):
            raise ValueError("tls_mode=2 needs a client certificate and key")
        self.auth, self.tls_mode, self.tls, self.startup_timeout = (
            auth,
            tls_mode,
            tls,
            startup_timeout,
        )
        self.launcher = Path(sys.executable).parent / "milvus-server"
        self.base_dir = Path(
            base_dir or tempfile.gettempdir()
        )  # instance dirs and the shared bin cache
        self.bin_cache = self.base_dir / f"milvus-2.3.5-bin-{os.getuid()}"
        self.root: Path | None = None
        self.ports: dict[str, int] = {}
        self.command: list[str] = []
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.child: int | None = None  # pid of `milvus run standalone`, the launcher's child
        self.startup_seconds: float | None = None

    @property
    def port(self) -> int:
        return self.ports["proxy"]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        if self.tls_mode == 0 or self.tls is None:
            return grpc.insecure_channel(self.address)
        key, cert = (
            p.read_bytes() if p else None for p in (self.tls.client_key, self.tls.client_cert)
        )
        return grpc.secure_channel(
            self.address, grpc.ssl_channel_credentials(self.tls.ca.read_bytes(), key, cert)
        )

    def start(self) -> MilvusServer:
        if not self.launcher.exists():
            raise FileNotFoundError(f"{self.launcher} not found: pip install milvus==2.3.5")
        self.bin_cache.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="milvus235-", dir=self.base_dir))
        # One lock serialises unpacking and start-up: the launcher picks the metrics port
        # (9091 upwards) by a bind test, so two launchers starting at once could pick the same.
        with open(self.bin_cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import milvus,sys; milvus._initialize_data_files(sys.argv[1])",
                    str(self.bin_cache),
                ],
                check=True,
            )
            (self.root / "milvus").mkdir()
            (self.root / "milvus" / "bin").symlink_to(self.bin_cache / "bin")
            try:
                self._launch()
                self._wait_ready()
            except BaseException:
                self.stop()
                raise
        return self

    def _launch(self) -> None:
        assert self.root is not None
        etcd, peer, *others = free_ports(2 + len(PORT_FLAGS))
        self.ports = {"etcd": etcd, "etcd-peer": peer, **dict(zip(PORT_FLAGS, others, strict=True))}
        etcd_yaml = self.root / "embed-etcd.yaml"
        etcd_yaml.write_text(
            f"name: default\nlisten-client-urls: http://127.0.0.1:{etcd}\nadvertise-client-urls: http://127.0.0.1:{etcd}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\ninitial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\ninitial-cluster-state: new\n"
        )
        cmd = [str(self.launcher), "--data", str(self.root / "milvus"), "--etcd-port", str(etcd)]
        for flag in PORT_FLAGS:
            cmd += [f"--{flag}-port", str(self.ports[flag])]
        for comp in IP_COMPONENTS:
            cmd += ["--extra-config", f"{comp}.ip=127.0.0.1"]
        if (
            self.auth
        ):  # argparse type=bool: ANY non-empty value, even "false", turns it on; pass only when on
            cmd += ["--authorization-enabled", "true"]
        if self.tls_mode and self.tls is not None:
            cmd += [
                "--tls-mode",
                str(self.tls_mode),
                "--server-pem-path",
                str(self.tls.server_cert),
                "--server-key-path",
                str(self.tls.server_key),
                "--ca-pem-path",
                str(self.tls.ca),
            ]
        self.command, self.env = cmd, {"ETCD_CONFIG_PATH": str(etcd_yaml)}
        with open(self.root / "launcher.log", "wb") as out:  # own session: see stop()
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.root,
                start_new_session=True,
                preexec_fn=_sigint_on_parent_death,  # noqa: PLW1509 - started before threads
            )

    def _find_child(self) -> int | None:
        if self.child is None and self.proc is not None:
            try:
                kids = (
                    Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
                )
                self.child = int(kids[0]) if kids else None
            except OSError:
                pass
        return self.child

    def _wait_ready(self) -> None:
        assert self.proc is not None
        t0, last = time.monotonic(), "no reply yet"
        metadata = (
            auth_metadata() if self.auth else None
        )  # with auth on, even grpc.health.v1 needs it
        while time.monotonic() < t0 + self.startup_timeout:
            child = self._find_child()
            if self.proc.poll() is not None or (child is not None and not _alive(child)):
                raise RuntimeError(
                    f"milvus-server exited during start-up ({last})\n{self.log_tail()}"
                )
            with self.channel() as ch:
                try:
                    reply = health_pb2_grpc.HealthStub(ch).Check(
                        health_pb2.HealthCheckRequest(), timeout=2, metadata=metadata
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        self.startup_seconds = time.monotonic() - t0
                        return
                    last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                except grpc.RpcError as exc:
                    last = f"{exc.code().name}: {exc.details()}"
                    if (
                        "handshake failed" in last.lower()
                    ):  # TLS is set up before the port opens: won't heal
                        raise RuntimeError(  # noqa: B904 - the RpcError is in the message
                            f"TLS handshake with {self.address} failed: {last}\n{self.log_tail()}"
                        )
            if self._log_has(
                'starts error"]'
            ):  # e.g. proxy can't read its cert: milvus stays up, port closed
                raise RuntimeError(f"a Milvus component failed to start\n{self.log_tail()}")
            time.sleep(0.5)
        raise TimeoutError(
            f"Milvus not SERVING on {self.address} after {self.startup_timeout:.0f}s "
            f"(last: {last})\n{self.log_tail()}"
        )

    def _log_has(self, needle: str) -> bool:
        log = self.root / "milvus/logs/milvus-stdout.log" if self.root else None
        return bool(log and log.exists() and needle in log.read_text(errors="replace"))

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for name in (
            "launcher.log",
            "milvus/logs/milvus-stderr.log",
            "milvus/logs/milvus-stdout.log",
        ):
            log = self.root / name if self.root else None
            if log and log.exists():
                parts.append(
                    f"--- {name} ---\n"
                    + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(parts)

    def stop(self, timeout: float = 20.0, keep_data: bool = False) -> None:
        """SIGINT the launcher (it SIGTERMs milvus, SIGKILLs it after 1 s); SIGKILL what is left."""
        if self.proc is not None:
            child = self._find_child()
            if self.proc.poll() is None:
                self.proc.send_signal(
                    signal.SIGINT
                )  # SIGTERM would kill only the launcher and orphan milvus
                try:
                    self.proc.wait(timeout)
                except (
                    subprocess.TimeoutExpired
                ):  # launcher not reaped yet, so the group id is surely ours
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            try:  # a milvus that outlived its launcher is still in our process group
                if child is not None and _alive(child) and os.getpgid(child) == self.proc.pid:
                    os.kill(child, signal.SIGKILL)
                    for _ in range(50):
                        if not _alive(child):
                            break
                        time.sleep(0.1)
            except ProcessLookupError:
                pass
            if child is not None:  # milvus leaves this behind at a fixed path, whatever TMPDIR says
                Path(f"/tmp/milvus/server_id_{child}").unlink(missing_ok=True)
            self.proc, self.child = None, None
        if self.root is not None and not keep_data:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
