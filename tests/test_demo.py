"""`make demo` stays true: the walk-through runs start to end, each step with the exit code
it expects (scripts/demo.sh stops at the first that differs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
VENV = ROOT / ".venv" / "bin"


def test_make_demo_walks_through_every_step():
    if not (VENV / "conn").exists():
        pytest.skip("the demo runs conn from .venv, which `make setup` creates")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONN_", "MILVUS_"))}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.rstrip().endswith("every command answered as documented.")
    shown = [
        "$ conn has demo --collection books --loaded",  # readiness, loaded then released
        "$ conn addr shared --explain",  # a team profile under a personal one
        "$ conn login secured --password-stdin",
        "probe_success 1.0",  # the exporter's one scrape
        "$ conn doctor --network",
    ]
    assert [step for step in shown if step not in done.stdout] == []
