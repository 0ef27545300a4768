"""Where a command's time goes, for the targets that fail: its imports (`-X importtime`,
compared with its floor's) and what its entry point does once imported (cProfile).
Each is one extra run, after the timed rounds; neither figure is used for a target."""

from __future__ import annotations

import pstats
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness import Case

HERE = Path(__file__).resolve().parent
OURS = "milvus_conn"


@dataclass(frozen=True)
class ImportLine:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    owner: str = ""  # the nearest milvus_conn module above it (itself if ours), else its root


def _python_argv(case: Case, python: Path, *flags: str) -> list[str]:
    """The case's command run by `python FLAGS ...` (a console script is a Python script)."""
    argv = list(case.argv)
    if Path(argv[0]).name.startswith("python"):
        argv = argv[1:]
    return [str(python), *flags, *argv]


def _run(case: Case, argv: list[str]) -> subprocess.CompletedProcess[str]:
    if case.before is not None:
        case.before()
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=case.env,
        cwd=case.cwd,
        check=False,
    )


def import_lines(case: Case, python: Path) -> list[ImportLine]:
    """The modules a command imports, in import order, each with the module it counts
    against. `-X importtime` prints children before their parent, one indent deeper."""
    done = _run(case, _python_argv(case, python, "-X", "importtime"))
    raw = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        stripped = name.lstrip(" ")
        depth = (len(name) - len(stripped) - 1) // 2
        raw.append((stripped, int(self_us), int(cumulative_us), depth))
    lines: list[ImportLine] = []
    above: list[str] = []  # the chain of importers of the current line, outermost first
    for name, self_us, cumulative_us, depth in reversed(raw):  # parents first
        del above[depth:]
        above.append(name)
        owner = next((n for n in reversed(above) if n.split(".")[0] == OURS), above[0])
        lines.append(ImportLine(name, self_us, cumulative_us, depth, owner))
    return lines[::-1]


def imported(lines: list[ImportLine], package: str) -> bool:
    return any(line.name == package or line.name.startswith(package + ".") for line in lines)


def beyond(lines: list[ImportLine], floor: list[ImportLine]) -> list[ImportLine]:
    """What the command imports that its floor does not."""
    known = {line.name for line in floor}
    return [line for line in lines if line.name not in known]


def by_owner(lines: list[ImportLine]) -> list[tuple[str, float, int]]:
    """(owner, self ms of all it pulled in, module count), heaviest first."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.owner] += line.self_us / 1000
        counts[line.owner] += 1
    return sorted(((o, ms, counts[o]) for o, ms in totals.items()), key=lambda row: -row[1])


def heaviest(lines: list[ImportLine], top: int = 12) -> list[ImportLine]:
    return sorted(lines, key=lambda line: -line.self_us)[:top]


def run_profile(case: Case, python: Path, work: Path, top: int = 8) -> tuple[float, list[str]]:
    """cProfile of the entry point only, imports done: (total ms, heaviest functions by own
    time). Main thread only; profiling inflates the figures."""
    out = work / f"{case.key}.pstats"
    out.unlink(missing_ok=True)
    _run(case, [str(python), str(HERE / "profile_main.py"), str(out), *case.argv])
    if not out.exists():
        return 0.0, ["(no profile written)"]
    stats = pstats.Stats(str(out))
    rows = []
    for (filename, lineno, function), entry in stats.stats.items():  # type: ignore[attr-defined]
        calls, tottime, cumtime = entry[1], entry[2], entry[3]
        rows.append((tottime, cumtime, calls, f"{_short(filename)}:{lineno}({function})"))
    rows.sort(reverse=True)
    lines = [
        f"{tottime * 1000:7.1f} ms own {cumtime * 1000:7.1f} ms cum {calls:>7} calls  {where}"
        for tottime, cumtime, calls, where in rows[:top]
    ]
    return stats.total_tt * 1000, lines  # type: ignore[attr-defined]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
