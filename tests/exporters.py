"""`conn exporter` as a user runs it: a process of its own on a free loopback port, asked
over HTTP, stopped with a signal. Shared by the exporter's tests, the Prometheus test and
the secrets sweep."""

from __future__ import annotations

import http.client
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .servers import LOOPBACK, free_port

START_S = 30.0  # for the process to import, read the profile and bind


class Answer:
    """One HTTP answer: status, headers (lower-cased names) and body as text."""

    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        self.status, self.headers, self.body = status, headers, body

    def samples(self) -> dict[str, float]:
        """`name{labels}` -> value, read with prometheus_client's own parser (so a body
        the format does not allow fails here)."""
        found = {}
        for family in text_string_to_metric_families(self.body):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return found

    def __repr__(self) -> str:
        return f"<Answer {self.status}: {self.body[:2000]!r}>"


class ExporterProcess:
    """`python -m milvus_conn exporter --listen 127.0.0.1:PORT` with `profile`."""

    def __init__(self, profile: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "milvus_conn", "exporter", "--listen", self.address],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CONN_PROFILE": str(profile), **(env or {})},
        )
        self.stderr = ""
        self.stdout_line = self._first_line()

    def _first_line(self) -> str:
        """The line it prints once it listens (or its error, if it exits instead)."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(START_S):
                self.kill()
                raise AssertionError(f"conn exporter did not start within {START_S} s")
        line = self.process.stdout.readline()
        if not line:
            code, _, err = self.stop()
            raise AssertionError(f"conn exporter exited {code}: {err}")
        return line

    def get(
        self, target: str, headers: dict[str, str] | None = None, timeout: float = 60
    ) -> Answer:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=60)
        try:
            connection.request("GET", target, headers=headers or {})
            response = connection.getresponse()
            body = response.read().decode("utf-8")
            found = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, found, body)
        finally:
            connection.close()

    def probe(self, alias: str, extra: str = "", headers: dict[str, str] | None = None) -> Answer:
        from urllib.parse import quote

        return self.get(f"/probe?alias={quote(alias)}{extra}", headers)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send `sig`; its exit code, the rest of its stdout, and its stderr."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=30)
        self.stderr += err
        return self.process.returncode, out, self.stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)


@contextmanager
def exporter(profile: Path, env: dict[str, str] | None = None) -> Iterator[ExporterProcess]:
    """A running exporter, stopped (SIGTERM, then SIGKILL) when the block ends."""
    running = ExporterProcess(profile, env)
    try:
        yield running
    finally:
        try:
            running.stop()
        except subprocess.TimeoutExpired:
            running.kill()


def until(condition, seconds: float = 30.0, pause: float = 0.1):
    """Poll `condition()` until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {seconds} s; last: {value!r}")
        time.sleep(pause)
