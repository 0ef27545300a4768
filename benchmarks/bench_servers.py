"""Start and stop the servers the benchmark measures against, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"
HERE = Path(__file__).resolve().parent


class ServerError(RuntimeError):
    """A server the benchmark needs did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], name: str) -> None:
    """Close its stdin (our helpers stop on that), else or then SIGTERM, last SIGKILL."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(5)
            return
        except subprocess.TimeoutExpired:
            pass
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        print(f"bench: {name} (pid {process.pid}) ignored SIGTERM; killing it", file=sys.stderr)
        process.kill()
        process.wait()


@contextlib.contextmanager
def helper_server(python: Path, kind: str) -> Iterator[str]:
    """`serve.py KIND` in its own process; yields its 127.0.0.1:PORT address."""
    process = subprocess.Popen(
        [str(python), str(HERE / "serve.py"), kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.isdigit():
            raise ServerError(f"the {kind} server did not start (exit {process.poll()})")
        yield f"{LOOPBACK}:{line}"
    finally:
        _stop(process, f"{kind} server")


def _wait_listening(process: subprocess.Popen[bytes], port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"Milvus Lite exited with {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.1)
    raise ServerError(f"Milvus Lite did not listen on {LOOPBACK}:{port} within {seconds:g} s")


@contextlib.contextmanager
def milvus_lite(python: Path, work: Path) -> Iterator[str]:
    """`python -m milvus_lite server` as a user runs it; yields its address once it listens."""
    port = free_port()
    log = work / "milvus-lite.log"
    command = [str(python), "-m", "milvus_lite", "server", "--data-dir", str(work / "lite-data")]
    command += ["--host", LOOPBACK, "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        try:
            _wait_listening(process, port, 90)
        except ServerError as exc:
            tail = log.read_text(errors="replace")[-1500:]
            raise ServerError(f"{exc}; its log ends with: {tail}") from None
        yield f"{LOOPBACK}:{port}"
    finally:
        _stop(process, "Milvus Lite")


@contextlib.contextmanager
def gnome_keyring(python: Path, work: Path) -> Iterator[str]:
    """A GNOME Keyring on a private D-Bus session (tests/keyring_session.py); yields the
    session bus's address, for `DBUS_SESSION_BUS_ADDRESS`."""
    runner = shutil.which("dbus-run-session")
    if runner is None or shutil.which("gnome-keyring-daemon") is None:
        raise ServerError("dbus-run-session and gnome-keyring-daemon are needed (Debian's "
                          "dbus-daemon and gnome-keyring)")  # fmt: skip
    base = work / "gnome-keyring"
    (base / "run").mkdir(parents=True, mode=0o700)
    places = {"HOME": "", "XDG_DATA_HOME": "data", "XDG_CONFIG_HOME": "config",
              "XDG_RUNTIME_DIR": "run"}  # fmt: skip
    env = {**os.environ, **{name: str(base / sub) for name, sub in places.items()}}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    script = HERE.parent / "tests" / "keyring_session.py"
    process = subprocess.Popen(
        [runner, "--", str(python), str(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        address = process.stdout.readline().decode().strip()
        if not address.startswith("unix:"):
            raise ServerError(f"the GNOME Keyring did not start (exit {process.poll()})")
        yield address
    finally:
        _stop(process, "GNOME Keyring session")
