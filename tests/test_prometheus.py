"""A real Prometheus (Debian's `prometheus`) in front of `conn exporter`, configured with
the README's own `prometheus.yml` and alert rules (intervals shortened, ports changed):
it discovers the aliases through /sd, scrapes /probe, follows the profile as it changes,
and fires the README's alert for an alias that is down."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import servers
from .exporters import ExporterProcess, exporter, until
from .helpers import require_program, write_profile

README = Path(__file__).parent.parent / "README.md"
README_PORT = "127.0.0.1:19115"
WAIT_S = 90.0  # for Prometheus to start, discover, scrape and evaluate (1 s intervals)


def readme_block(first_line: str) -> str:
    """The README's yaml block that starts with `first_line`."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    return next(block for block in blocks if block.startswith(first_line + "\n"))


def quickened(text: str, exporter_address: str) -> str:
    """The README's config with this test's exporter and 1 s intervals, alerts at once."""
    text = text.replace(README_PORT, exporter_address)
    text = re.sub(r"(interval|timeout): \d+[sm]", r"\1: 1s", text)
    return re.sub(r"for: \d+[sm]", "for: 0s", text)


class Prometheus:
    def __init__(self, program: str, directory: Path, exporter_address: str) -> None:
        directory.mkdir()
        config = directory / "prometheus.yml"
        scrape = readme_block("# prometheus.yml")
        assert scrape.count(README_PORT) == 3  # /sd, where scrapes go, the exporter's own
        config.write_text(quickened(scrape, exporter_address))
        rules = quickened(readme_block("# conn-rules.yml"), exporter_address)
        (directory / "conn-rules.yml").write_text(rules)
        self.address = f"{servers.LOOPBACK}:{servers.free_port()}"
        self.log = directory / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [program, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address={self.address}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=directory,
            )  # fmt: skip

    def api(self, path: str, **params: str) -> object:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        url = f"http://{self.address}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.load(answer)["data"]
        except OSError:
            return None  # not listening yet

    def values(self, query: str) -> dict[str, float]:
        """instance -> value of an instant query."""
        data = self.api("query", query=query)
        if not data:
            return {}
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in data["result"]}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def watched(profile, serving, tmp_path) -> Iterator[tuple[Prometheus, ExporterProcess]]:
    program = require_program("prometheus", "prometheus")
    write_profile(
        profile,
        "version = 1\n"
        f'[connections.up]\naddress = "{serving.address}"\n'
        f'[connections.down]\naddress = "{servers.refused_address()}"\n',
    )
    with exporter(profile) as running:
        prometheus = Prometheus(program, tmp_path / "prometheus", running.address)
        try:
            yield prometheus, running
        finally:
            prometheus.stop()


def test_prometheus_discovers_scrapes_and_alerts_through_the_readme_config(watched, cli, serving):
    prometheus, running = watched
    wanted = {"up": 1.0, "down": 0.0}
    seen = until(lambda: _has(prometheus.values("probe_success"), wanted), WAIT_S, 0.5)
    assert seen == wanted
    codes = prometheus.values("conn_probe_exit_code")
    assert (codes["up"], codes["down"]) == (0, 3)
    addresses = prometheus.api("query", query='probe_success{instance="up"}')["result"]
    assert addresses[0]["metric"]["address"] == serving.address  # from __meta_conn_address

    def firing() -> list[str]:
        alerts = prometheus.api("alerts") or {"alerts": []}
        return [a["labels"]["instance"] for a in alerts["alerts"] if a["state"] == "firing"
                and a["labels"]["alertname"] == "MilvusAliasDown"]  # fmt: skip

    assert until(firing, WAIT_S, 0.5) == ["down"]
    own = until(lambda: prometheus.values('up{job="conn-exporter"}'), WAIT_S, 0.5)
    assert own == {running.address: 1.0}  # the exporter's own /metrics, scraped too

    cli("add", "later", "--address", serving.address)  # no restart: /sd brings it in
    wanted = {**wanted, "later": 1.0}
    assert until(lambda: _has(prometheus.values("probe_success"), wanted), WAIT_S, 0.5)


def _has(values: dict[str, float], wanted: dict[str, float]) -> dict[str, float] | None:
    found = {k: v for k, v in values.items() if k in wanted}
    return found if found == wanted else None
