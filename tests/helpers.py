"""Small helpers the test files share: the files of a profile and hand-made profiles, the
JSON shapes, the servers' statuses, the secrets no output may hold and the passwords the
test servers accept, one-line errors, a pseudo-terminal, wall-time bounds, a lock holder."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2
from typer.testing import Result

from milvus_conn.storage import paths

WRITER = Path(__file__).with_name("writer.py")  # processes that write, crash or hold locks
DATA = Path(__file__).parent / "data"  # reference profiles

# profiles ------------------------------------------------------------------------------

# A profile TOML cannot parse: `address =` has no value (line 4).
CORRUPT = "version = 1\n\n[connections.a]\naddress = \n"

# Broken aliases beside a good one: a bad port, a table without a target, a non-string
# address. Each is that alias's fault alone.
BROKEN = """version = 1
[connections.good]
address = "127.0.0.1:19531"

[connections.badport]
address = "127.0.0.1:99999"

[connections.notable]
x = 1
y = "z"

[connections.scalar_holder]
address = 5
"""

# What `has --json` and `connect --json` print, on success and failure alike.
OUTCOME_KEYS = {
    "alias",
    "exit_code",
    "status",
    "protocol",
    "latency_ms",
    "server_version",
    "reason",
}


def state_file(profile: Path) -> Path:
    """This user's state file for `profile`: in $XDG_STATE_HOME/conn (isolated per test).
    Its directory is made (0700, as conn makes it), so a test may write a hand-made one."""
    path = paths.state_file(profile.absolute())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def state_lock(profile: Path) -> Path:
    """What connect and disconnect lock: a file beside the state file."""
    return paths.state_lock(profile.absolute())


def profile_lock(profile: Path) -> Path:
    """What commands that write the profile lock: its directory, opened read-only."""
    return profile.absolute().parent


def cache_file(profile: Path) -> Path:
    return paths.cache_file(profile.absolute())


MARKER = "marked-in-the-cache"  # an alias only a doctored parse cache holds


def mark_cache(profile: Path) -> None:
    """Add alias MARKER to the profile's entry in the parse cache, its key unchanged: a
    reader that shows MARKER read the cache; one that does not, parsed the file."""
    import marshal

    cache = cache_file(profile)
    entries = marshal.loads(cache.read_bytes())
    key, document = entries["profile"]
    tables = {**document.get("connections", {}), MARKER: {"address": "cached.example:1"}}
    entries["profile"] = (key, {**document, "connections": tables})
    cache.write_bytes(marshal.dumps(entries))


def snapshot(profile: Path) -> dict[str, bytes | None]:
    """The exact bytes of the profile and the state file (None when absent)."""
    return {p.name: p.read_bytes() if p.exists() else None for p in (profile, state_file(profile))}


def state_of(profile: Path) -> dict:
    """The aliases the state file records as connected ({} when there is none)."""
    path = state_file(profile)
    return json.loads(path.read_text())["connected"] if path.exists() else {}


def write_profile(profile: Path, text: str | bytes) -> bytes:
    """Write a hand-made profile (0600, as conn would) and return its bytes."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    profile.chmod(0o600)
    return profile.read_bytes()


def write_tls_alias(profile: Path, address: str, certs: Path) -> None:
    """`profile` holding alias `t` at `address` over TLS, trusting the test CA by the
    relative path `certs/ca.pem`, copied beside the profile."""
    write_profile(
        profile,
        f'[connections.t]\naddress = "{address}"\nsecure = true\nca_pem_path = "certs/ca.pem"\n',
    )
    (profile.parent / "certs").mkdir()
    shutil.copy(certs / "ca.pem", profile.parent / "certs" / "ca.pem")


# servers -------------------------------------------------------------------------------

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
LATENCY = r"\d+\.\d ms"  # how a latency is printed

# secrets -------------------------------------------------------------------------------

PASSWORD = "PW-7f3a9c-never-print-me"  # distinctive: found wherever it leaks
TOKEN = "TOK-91c2e4-never-print-me"
OVERRIDE = "Ovr-2hJ6-distinctive-Wb5"  # a CONN_<ALIAS>_PASSWORD that outranks PASSWORD
PLAIN = "Pln-9cT1-distinctive-Yd4"  # a password written in the profile itself
SECRETS = (PASSWORD, TOKEN, OVERRIDE, PLAIN)
ALICE_PASSWORD = "s3cr3t-Pa55"  # what auth_server accepts for user alice
WRONG_PASSWORD = "Wr0ng-Pa55-q7Zx"
ROOT_PASSWORD = "Milvus"  # the real Milvus server's root password


def assert_no_secret(*texts: object) -> None:
    """No password or token of SECRETS in any of `texts` (outputs, errors, reprs, files)."""
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"secret leaked into: {text!r}"


# errors and terminals ------------------------------------------------------------------


def one_error_line(stderr: str) -> str:
    """`stderr` is exactly one `Error:` line."""
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    return stderr


def on_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`conn ARGS` with stdout and stderr on a pseudo-terminal, as a user sees it."""
    master, slave = pty.openpty()
    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "milvus_conn", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environment,
    )  # fmt: skip
    os.close(slave)
    code, text = _read_terminal(master, process, 60)
    assert code is not None, f"conn {' '.join(args)} still running after 60 s:\n{text}"
    return code, text


def on_own_terminal(
    *args: str, env: dict[str, str] | None = None, seconds: float = 30
) -> tuple[int | None, str]:
    """`conn ARGS` in a session of its own whose controlling terminal is a fresh
    pseudo-terminal, which is also its stdin, stdout and stderr: OpenSSL's pass phrase
    prompt opens /dev/tty, so only here would it wait. A command still running after
    `seconds` is killed, and its code is None (it waited for input)."""
    import fcntl
    import termios

    master, slave = pty.openpty()

    def own_terminal() -> None:  # in the child, before exec
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "milvus_conn", *args], stdin=slave, stdout=slave,
        stderr=slave, env=environment, preexec_fn=own_terminal,  # noqa: PLW1509
    )  # fmt: skip
    os.close(slave)
    return _read_terminal(master, process, seconds)


def _read_terminal(
    master: int, process: subprocess.Popen[bytes], seconds: float
) -> tuple[int | None, str]:
    """What the child writes to the terminal, until it closes it, and its exit code; after
    `seconds` the child is killed and the code is None."""
    import select

    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 0.1)[0]:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    try:
        code: int | None = process.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        code = None
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


# time ----------------------------------------------------------------------------------

# The one allowance for wall time. A command promised to end within T seconds (its
# --timeout, --wait, --for or lock timeout) is checked against T + SLACK: the suite runs
# on 2 cores shared with other suites, where a loaded machine adds process start-up,
# thread switches and garbage collection to every run. Speed itself belongs in benchmarks/.
SLACK = 1.0


def within(seconds: float) -> float:
    """The upper wall-time bound of something promised to end within `seconds`."""
    return seconds + SLACK


def before(seconds: float) -> float:
    """The upper wall-time bound that proves a command did not sit out `seconds` (a timeout
    or a wait it must not spend), with SLACK to spare."""
    return seconds - SLACK


def timed(cli: Callable[..., Result], *args: str, code: int) -> tuple[float, Result]:
    """Seconds `conn ARGS` took to exit with `code`, and its result."""
    started = time.monotonic()
    result = cli(*args, code=code)
    return time.monotonic() - started, result


# locks ---------------------------------------------------------------------------------


@contextmanager
def lock_held(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process (tests/writer.py hold) holding the flock of `lock_path` until it
    is killed or the block ends."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, str(WRITER), "hold", str(lock_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stderr is not None
        line = holder.stdout.readline()
        assert line == "locked\n", holder.stderr.read()
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(10)
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()


def require_program(name: str, package: str) -> str:
    """The path of `name`, a program a test runs for real. Without it the test skips,
    saying which Debian package `make test` installs it from; in CI (CI=true), where
    `make test` installs it as root, a missing program fails the test instead."""
    found = shutil.which(name)
    if found is None:
        why = f"{name} is not installed (make test installs Debian's {package} as root)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return found
