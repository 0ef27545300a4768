"""Whole-process measurements: one fresh process per sample, timed from spawn to reap,
its peak memory taken from the kernel's accounting of that very child (`os.wait4`).

The runner does nothing while a child runs (it sleeps in `wait4`), so its own CPU use
does not disturb the figures. A child's stdout goes to a file: not a terminal, so conn
behaves as when piped.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Variables that change what conn or Python does; children never inherit them.
# PYTHONDONTWRITEBYTECODE would make every run recompile milvus_conn (an editable
# install has no bytecode cache yet): the children get a cache of their own instead.
SCRUBBED_ENV = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "PYTHONUNBUFFERED",
    "CONN_PROFILE",
    "CONN_DEBUG",
    "CONN_LOCK_TIMEOUT",
    "MILVUS_URI",
    "MILVUS_CONN_ALIAS",
    "MILVUS_CONN_TIMEOUT",
    "NO_COLOR",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONMALLOC",
    "PYTHONVERBOSE",
    "PYTHONWARNINGS",
)


_pycache: list[str] = []


def use_pycache(directory: Path) -> None:
    """Give every child this bytecode cache (PYTHONPYCACHEPREFIX): no writes into the
    repository, and after one warm-up run no child compiles anything."""
    _pycache[:] = [str(directory)]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    if _pycache:
        env["PYTHONPYCACHEPREFIX"] = _pycache[0]
    env.update(extra)
    return env


@dataclass(frozen=True)
class Sample:
    wall_s: float
    maxrss_kb: int
    cpu_s: float
    exit_code: int


@dataclass
class Case:
    """One command measured many times: `argv` run in `cwd` with `env`."""

    key: str
    label: str
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path
    expect: int = 0
    before: Callable[[], None] | None = None  # run before every sample, not timed
    # Looks at the warm-up run's stdout; what it returns is shown as a warning.
    inspect: Callable[[str], str] | None = None
    samples: list[Sample] = field(default_factory=list)
    error: str = ""
    warning: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.samples)

    def walls(self) -> list[float]:
        return [s.wall_s for s in self.samples]

    def median(self) -> float:
        return statistics.median(self.walls())

    def median_cpu(self) -> float:
        return statistics.median(s.cpu_s for s in self.samples)

    def median_rss_kb(self) -> float:
        return statistics.median(s.maxrss_kb for s in self.samples)

    def summary(self) -> dict[str, object]:
        data: dict[str, object] = {"label": self.label, "argv": list(self.argv)}
        if self.error:
            data["error"] = self.error
        if self.warning:
            data["warning"] = self.warning
        if self.samples:
            walls = self.walls()
            data.update(
                n=len(walls),
                median_s=self.median(),
                min_s=min(walls),
                max_s=max(walls),
                median_maxrss_kb=self.median_rss_kb(),
                median_cpu_s=self.median_cpu(),
                cpu_s=[s.cpu_s for s in self.samples],
                wall_s=walls,
                maxrss_kb=[s.maxrss_kb for s in self.samples],
            )
        return data


def run_once(case: Case, out_dir: Path) -> Sample:
    """Spawn, wait, reap: wall time from spawn to reap, rusage of this child alone."""
    if case.before is not None:
        case.before()
    with (
        (out_dir / f"{case.key}.out").open("wb") as out,
        (out_dir / f"{case.key}.err").open("wb") as err,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(
            list(case.argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=case.env,
            cwd=case.cwd,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, code)


def stderr_tail(case: Case, out_dir: Path) -> str:
    """The last line of the case's stderr: the error, for a traceback."""
    path = out_dir / f"{case.key}.err"
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return text.splitlines()[-1] if text else "(no stderr)"


def run_interleaved(cases: Sequence[Case], rounds: int, out_dir: Path) -> None:
    """One untimed warm-up each (fills the page and bytecode caches, checks the exit
    code), then `rounds` rounds of A B C ... A B C, one sample per case per round."""
    for case in cases:
        if case.error:
            continue
        sample = run_once(case, out_dir)
        if sample.exit_code != case.expect:
            case.error = (
                f"exit {sample.exit_code}, expected {case.expect}: {stderr_tail(case, out_dir)}"
            )
        elif case.inspect is not None:
            case.warning = case.inspect((out_dir / f"{case.key}.out").read_text(errors="replace"))
    active = [case for case in cases if not case.error]
    for _ in range(rounds):
        for case in active:
            if case.error:
                continue
            sample = run_once(case, out_dir)
            if sample.exit_code != case.expect:
                case.error = (
                    f"exit {sample.exit_code} in a timed run, expected {case.expect}: "
                    f"{stderr_tail(case, out_dir)}"
                )
                continue
            case.samples.append(sample)
