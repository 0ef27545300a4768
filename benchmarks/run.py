"""milvus-conn's benchmark: `make bench`, or `.venv/bin/python benchmarks/run.py`.

Every figure is a whole process in a fresh interpreter, timed from spawn to reap;
the commands being compared run interleaved (A B A B ...) and each target is a
ratio of medians from the same run. The servers are started here, on 127.0.0.1 only.
It is a report: it exits 0 even when a target fails, unless `--check` is given.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import bench_servers as servers
import exporter_bench
import profiles
import sinks
from harness import Case, child_env, run_interleaved, use_pycache

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
CONN = BIN / "conn"
FLOORS = HERE / "floors"
MILVUS_CHECK_HEALTH = "/milvus.proto.milvus.MilvusService/CheckHealth"
GROUPS = ("offline", "probe", "fanout", "scale", "lite", "secrets", "exporter")
# conn ends with gc.freeze() (cli main()): the exit then skips collecting what was imported.
# The floors as the issue defines them do not; these ones do, for the rows that show
# conn's own cost beside the targets.
FROZEN_TYPER = "import gc, typer; gc.freeze()"
# The commands that must not import grpc (target 2).
OFFLINE_CASES = ("conn.list", "conn.addr", "conn.has_no_probe")
BENCH_COLLECTION = "bench_books"  # the readiness rows' collection, loaded in Milvus Lite


class SetupError(RuntimeError):
    """A command that prepares a case (not a timed one) failed."""


@dataclass
class Target:
    number: str
    what: str
    measured: float | None  # None: a case it needs failed
    limit: float | None  # None: reported for information only
    unit: str = "x"
    at_least: bool = False  # the measured figure must be >= the limit (else <=)
    detail: str = ""
    cases: tuple[str, ...] = ()  # conn cases behind the figure, for the time sinks

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "ERROR" if self.limit is not None else "n/a"
        if self.limit is None:
            return "info"
        ok = self.measured >= self.limit if self.at_least else self.measured <= self.limit
        return "PASS" if ok else "FAIL"

    def shown(self, value: float | None, op: bool = False) -> str:
        if value is None:
            return "-"
        if self.unit == "grpc":  # a yes/no: is grpc imported?
            return "no" if value == 0 else "yes"
        if op:
            return f"{'>=' if self.at_least else '<='}{value:g}{self.unit}"
        return f"{value:.2f}{self.unit}"

    @property
    def failed(self) -> bool:
        return self.verdict in ("FAIL", "ERROR")


class Bench:
    """The cases of one run, the temp directory they live in, and the servers' addresses."""

    def __init__(self, work: Path, rounds: int) -> None:
        self.work = work
        self.rounds = rounds
        self.out_dir = work / "out"
        self.out_dir.mkdir()
        self.cases: dict[str, Case] = {}
        self.exporter_rows: list[exporter_bench.Row] = []  # rows 8a-8c, measured apart

    # building cases -----------------------------------------------------------------

    def case(
        self,
        key: str,
        label: str,
        argv: list[str | Path],
        profile: Path | None = None,
        expect: int = 0,
        before: Callable[[], None] | None = None,
    ) -> Case:
        env = child_env(CONN_PROFILE=str(profile)) if profile else child_env()
        case = Case(key, label, [str(a) for a in argv], env, self.work, expect, before)
        self.cases[key] = case
        return case

    def floor(self, key: str, label: str, *args: str | Path) -> Case:
        return self.case(key, label, [PYTHON, *args])

    def conn(self, key: str, label: str, profile: Path, *args: str, expect: int = 0) -> Case:
        return self.case(key, label, [CONN, *args], profile, expect)

    def setup(self, profile: Path, *args: str, env: dict[str, str] | None = None) -> None:
        """Run conn once, untimed (e.g. `connect` so that an alias is connected)."""
        done = subprocess.run(
            [str(CONN), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={**(env or {}), **child_env(CONN_PROFILE=str(profile))},
            cwd=self.work,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
            raise SetupError(
                f"setup 'conn {' '.join(args)}' exited {done.returncode}: {output[-1]}"
            )

    def measure(self, cases: list[Case], setup: Callable[[], None]) -> None:
        """Prepare (a failure there fails only the conn cases), then the interleaved rounds."""
        try:
            setup()
        except SetupError as exc:
            for case in cases:
                if case.argv[0] == str(CONN):
                    case.error = str(exc)
        run_interleaved(cases, self.rounds, self.out_dir)

    # the groups -----------------------------------------------------------------------

    def offline(self, health: str) -> None:
        """Target 2: commands that need no network, on a 100-alias profile."""
        profile = profiles.write_profile(
            self.work / "p100" / "profiles.toml", profiles.varied(100, lambda _: health)
        )
        alias = "alias-00050"
        rich = "from rich.console import Console; from rich.table import Table"
        cases = [
            self.floor("floor.typer", "floor: import typer", "-c", "import typer"),
            self.floor(
                "floor.typer_frozen", "floor: import typer + gc.freeze()", "-c", FROZEN_TYPER
            ),
            self.floor(
                "floor.typer_rich", "floor: import typer + rich", "-c", f"import typer; {rich}"
            ),
            self.conn("conn.list", "conn list (100 aliases)", profile, "list"),
            self.conn("conn.addr", f"conn addr {alias}", profile, "addr", alias),
            self.conn(
                "conn.has_no_probe", "conn has --no-probe", profile, "has", alias, "--no-probe"
            ),
        ]
        self.measure(cases, lambda: self.setup(profile, "connect", alias))

    def probe(self, health: str) -> None:
        """Targets 1 and 6: one probe of a live grpc.health.v1 server."""
        profile = profiles.write_profile(self.work / "p1" / "profiles.toml", [])
        cases = [
            self.floor(
                "floor.probe", "floor: typer+grpc, 1 Health/Check", FLOORS / "grpc_check.py", health
            ),
            self.floor(
                "floor.probe_frozen",
                "floor: typer+grpc, 1 Check + gc.freeze()",
                FLOORS / "grpc_check.py",
                "--gc-freeze",
                health,
            ),
            self.conn("conn.has", "conn has (grpc.health.v1)", profile, "has", "bench"),
        ]
        self.measure(cases, lambda: self.setup(profile, "connect", "bench", "--address", health))

    def fanout(self, health: str, silent: str) -> None:
        """Target 3: `list --check` over 100 live and 100 silent aliases, timeout 1 s."""
        live = [(f"live-{i:03d}", {"address": health, "timeout": 1.0}) for i in range(100)]
        mute = [(f"silent-{i:03d}", {"address": silent, "timeout": 1.0}) for i in range(100)]
        profile = profiles.write_profile(self.work / "p200" / "profiles.toml", live + mute)
        # Exit 3: the silent aliases are unreachable, which is the point.
        label = "conn list --check (100 live, 100 silent)"
        case = self.conn("conn.list_check", label, profile, "list", "--check", expect=3)
        case.inspect = _healthy_rows
        self.measure([case], lambda: None)

    def scale(self) -> None:
        """Target 4: `add` and `list --json` on an empty and a 10,000-alias profile."""
        templates = self.work / "templates"
        empty = profiles.write_profile(templates / "empty.toml", [])
        big = profiles.write_profile(
            templates / "10k.toml", profiles.varied(10_000, profiles.spread)
        )
        add = ["add", "bench-new", "--address", "127.0.0.1:19530"]
        cases = [
            self._add_case("conn.add_empty", "conn add (empty profile)", empty, add),
            self._add_case("conn.add_10k", "conn add (10,000 aliases)", big, add),
            self.conn(
                "conn.list_json_empty",
                "conn list --json (empty)",
                self._copy(empty, "le"),
                "list",
                "--json",
            ),
            self.conn(
                "conn.list_json_10k",
                "conn list --json (10,000)",
                self._copy(big, "l10k"),
                "list",
                "--json",
            ),
        ]
        self.measure(cases, lambda: None)

    def _copy(self, template: Path, name: str) -> Path:
        target = self.work / name / "profiles.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        os.chmod(target, 0o600)
        return target

    def _add_case(self, key: str, label: str, template: Path, args: list[str]) -> Case:
        """Every run adds to a fresh copy of the template, so every run does the same work.

        The copy is then read once, untimed, as any earlier conn command would have read
        it: the profile's parse cache is warm, which is the steady state being measured.
        """
        from milvus_conn.storage.store import ProfileStore

        name = key.rsplit(".", 1)[-1]
        profile = self._copy(template, name)
        case = self.conn(key, label, profile, *args)

        def fresh() -> None:
            ProfileStore(self._copy(template, name)).load()

        case.before = fresh
        return case

    def secrets(self, health: str, bus: str, unavailable: str = "") -> None:
        """Target 9: `conn has` with the password in a GNOME Keyring (conn login) against
        the same with it in a variable; 9i with a trivial --password-command."""
        same = {"address": health, "user": "bench"}
        profile = profiles.write_profile(self.work / "psec" / "profiles.toml", [
            ("in-variable", {**same, "password_env": "BENCH_PW"}),
            ("in-keyring", same),
            ("by-command", {**same, "password_command": "echo bench-password"}),
        ])  # fmt: skip
        cases = [
            self.conn("conn.has_env_password", "conn has (password in a variable)", profile,
                      "has", "in-variable"),
            self.conn("conn.has_keyring", "conn has (password in GNOME Keyring)", profile,
                      "has", "in-keyring"),
            self.conn("conn.has_command", "conn has (--password-command echo)", profile,
                      "has", "by-command"),
        ]  # fmt: skip
        for case in cases:  # no keyring configuration: conn's own choice of store
            case.env.update(BENCH_PW="bench-password", DBUS_SESSION_BUS_ADDRESS=bus,
                            XDG_CONFIG_HOME=str(self.work / "psec" / "config"))  # fmt: skip
            case.env.pop("PYTHON_KEYRING_BACKEND", None)

        def setup() -> None:
            if unavailable:
                raise SetupError(unavailable)
            env = cases[0].env
            login = [str(CONN), "login", "in-keyring", "--password-stdin"]
            done = subprocess.run(login, input="bench-password\n", capture_output=True,
                                  text=True, env=env, cwd=self.work, check=False)  # fmt: skip
            if done.returncode != 0:
                raise SetupError(f"setup 'conn login' exited {done.returncode}: {done.stderr}")
            for alias in ("in-variable", "in-keyring", "by-command"):
                self.setup(profile, "connect", alias, env=env)

        self.measure(cases, setup)

    def lite(self, lite: str) -> None:
        """Target 5 (and info for 1): Milvus Lite, conn against pymilvus's connections."""
        profile = profiles.write_profile(self.work / "plite" / "profiles.toml", [])
        cases = [
            self.floor(
                "floor.probe_lite",
                "floor: typer+grpc, 1 CheckHealth (Lite)",
                FLOORS / "grpc_check.py",
                lite,
                MILVUS_CHECK_HEALTH,
            ),
            self.conn("conn.has_lite", "conn has (Milvus Lite)", profile, "has", "lite"),
            self.conn(
                "conn.has_lite_ready", "conn has --ready (Lite)", profile, "has", "lite", "--ready"
            ),
            self.conn(
                "conn.has_lite_loaded",
                f"conn has --collection {BENCH_COLLECTION} --loaded",
                profile,
                *("has", "lite", "--collection", BENCH_COLLECTION, "--loaded"),
            ),
            self.floor(
                "pymilvus.has",
                "pymilvus connect + has_connection",
                FLOORS / "pymilvus_has.py",
                "lite",
                f"http://{lite}",
            ),
        ]

        def prepare() -> None:
            self.setup(profile, "connect", "lite", "--address", lite, "--wait", "60")
            _loaded_collection(lite, BENCH_COLLECTION)

        self.measure(cases, prepare)

    # figures --------------------------------------------------------------------------

    def ratio(self, key: str, floor: str, rss: bool = False) -> tuple[float | None, str]:
        a, b = self.cases.get(key), self.cases.get(floor)
        if a is None or b is None or not a.ok or not b.ok:
            failed = [c.label for c in (a, b) if c is not None and not c.ok]
            return None, f"not measured: {' and '.join(failed)} failed (see above)"
        if rss:
            x, y = a.median_rss_kb(), b.median_rss_kb()
            return x / y, f"{x / 1024:.1f} MB / {y / 1024:.1f} MB"
        x, y = a.median(), b.median()
        cpu = a.median_cpu() / b.median_cpu()
        return x / y, f"{x * 1000:.0f} ms / {y * 1000:.0f} ms (CPU time ratio {cpu:.2f}x)"


def _loaded_collection(address: str, name: str) -> None:
    """A loaded collection in Lite's default database, for the readiness rows (untimed)."""
    try:
        from pymilvus import MilvusClient

        MilvusClient(uri=f"http://{address}").create_collection(name, dimension=4)
    except Exception as exc:  # any failure here only fails the cases that need it
        raise SetupError(f"cannot create collection {name!r} in Milvus Lite: {exc}") from None


def _healthy_rows(stdout: str) -> str:
    """The fan-out measures what it should only if the live aliases answer in time."""
    healthy = len(re.findall(r"(?<!un)healthy", stdout))
    if healthy == 100:
        return ""
    return f"{healthy} of the 100 live aliases reported healthy in the warm-up run"


class Ratio(NamedTuple):
    number: str
    what: str
    case: str
    floor: str
    limit: float | None  # None: information only
    at_least: bool = False
    rss: bool = False


# Every target that is a ratio of medians: `case` over `floor`, from the same run.
RATIOS = (
    Ratio("1", "conn has / floor (typer+grpc, 1 Check)", "conn.has", "floor.probe", 1.10),
    Ratio("1f", "conn has / floor + gc.freeze()", "conn.has", "floor.probe_frozen", None),
    Ratio("1i", "Lite: conn has / floor (CheckHealth)", "conn.has_lite", "floor.probe_lite", None),
    Ratio("2a", "conn list / import typer (piped)", "conn.list", "floor.typer", 1.15),
    Ratio("2i", "conn list / import typer + rich", "conn.list", "floor.typer_rich", None),
    Ratio("2b", "conn addr / import typer", "conn.addr", "floor.typer", 1.15),
    Ratio("2c", "conn has --no-probe / import typer", "conn.has_no_probe", "floor.typer", 1.15),
    Ratio("2af", "conn list / typer + gc.freeze()", "conn.list", "floor.typer_frozen", None),
    Ratio("2bf", "conn addr / typer + gc.freeze()", "conn.addr", "floor.typer_frozen", None),
    Ratio("2cf", "has --no-probe / typer + gc.freeze()", "conn.has_no_probe", "floor.typer_frozen",
          None),
    Ratio("4a", "add: 10,000 aliases / empty", "conn.add_10k", "conn.add_empty", 3.0),
    Ratio("4b", "list --json: 10,000 / empty", "conn.list_json_10k", "conn.list_json_empty", 3.0),
    Ratio("5", "Lite: pymilvus connect+has / conn has", "pymilvus.has", "conn.has_lite", 5.0, True),
    Ratio("6", "max RSS: conn has / floor", "conn.has", "floor.probe", 1.2, rss=True),
    Ratio("7a", "Lite: has --ready / conn has", "conn.has_lite_ready", "conn.has_lite", 1.10),
    Ratio("7b", "Lite: has --collection --loaded / has", "conn.has_lite_loaded", "conn.has_lite",
          1.15),
    Ratio("9", "has: password in GNOME Keyring / variable", "conn.has_keyring",
          "conn.has_env_password", 2.0),
    Ratio("9i", "has: --password-command / variable", "conn.has_command", "conn.has_env_password",
          None),
)  # fmt: skip
FANOUT_LIMIT_S = 1.5


def targets(bench: Bench) -> list[Target]:
    """The targets whose cases were part of this run, in the order of the issue."""
    found = []
    for spec in RATIOS:
        if spec.case in bench.cases and spec.floor in bench.cases:
            measured, detail = bench.ratio(spec.case, spec.floor, rss=spec.rss)
            conn_case = spec.floor if spec.at_least else spec.case
            args = (measured, spec.limit, "x", spec.at_least, detail, (conn_case,))
            found.append(Target(spec.number, spec.what, *args))
    case = bench.cases.get("conn.list_check")
    if case is not None:
        walls = case.walls()
        detail = f"min-max {min(walls):.2f}-{max(walls):.2f} s" if case.ok else "failed (see above)"
        measured = case.median() if case.ok else None
        what = "conn list --check, 200 aliases: wall"
        target = Target("3", what, measured, FANOUT_LIMIT_S, "s", False, detail, (case.key,))
        found.insert(next((i for i, t in enumerate(found) if t.number > "3"), len(found)), target)
    found += [Target(r.number, r.what, r.measured, r.limit, r.unit, False, r.detail)
              for r in bench.exporter_rows]  # fmt: skip
    return found


def grpc_imports(bench: Bench) -> tuple[list[Target], dict[str, list[sinks.ImportLine]]]:
    """Target 2 also says: no offline command imports grpc. One `-X importtime` run each."""
    found, lines = [], {}
    for key in OFFLINE_CASES:
        case = bench.cases.get(key)
        if case is None:
            continue
        what = f"{case.label}: grpc imported?"
        if case.error:
            found.append(Target("2g", what, None, 0, "grpc", False, "failed (see above)"))
            continue
        lines[key] = sinks.import_lines(case, PYTHON)
        grpc = sinks.imported(lines[key], "grpc")
        detail = "imports rich" if sinks.imported(lines[key], "rich") else ""
        found.append(Target("2g", what, float(grpc), 0, "grpc", False, detail, (key,)))
    return found, lines


# reporting ------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """Versions as the venv that runs conn sees them, and the commit measured."""
    code = (
        "import importlib.metadata as m, json, platform, sys\n"
        "names = ('typer', 'click', 'rich', 'grpcio', 'pymilvus', 'milvus-lite', 'milvus-conn')\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return 'absent'\n"
        "print(json.dumps({'python': platform.python_version(), **{n: v(n) for n in names}}))"
    )
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    found["platform"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    head, dirty = _git("rev-parse", "--short", "HEAD"), _git("status", "--porcelain", "--", "src")
    found["commit"] = (head or "?") + (" + uncommitted src/ changes" if dirty else "")
    return found


def _git(*args: str) -> str:
    command = ["git", "-C", str(ROOT), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def print_header(meta: dict[str, str], rounds: int) -> None:
    print("milvus-conn benchmark")
    click = "vendored by typer" if meta["click"] == "absent" else meta["click"]
    print(
        f"  Python {meta['python']} | typer {meta['typer']} (click {click}) | "
        f"rich {meta['rich']} | grpcio {meta['grpcio']} | pymilvus {meta['pymilvus']} | "
        f"milvus-lite {meta['milvus-lite']}"
    )
    print(f"  {meta['platform']} | commit {meta['commit']}")
    print(
        f"  {rounds} interleaved rounds per group, one fresh process per sample; stdout is a "
        "file (not a terminal, as when piped)\n",
        flush=True,
    )


def print_load(text: str, worst: float) -> None:
    cpus = os.cpu_count() or 1
    print(f"load average (1 min): {text}")
    if worst > cpus / 2:
        print(
            f"warning: other work kept this {cpus}-CPU machine busy; the figures are noisy "
            "(interleaving shares the noise between the sides of each ratio, but rerun on an "
            "idle machine to be sure)"
        )
    print()


def print_cases(bench: Bench) -> None:
    print(f"{'case (wall time: median, min-max)':<42} {'median':>9} {'min-max':>16}  ", end="")
    print(f"{'CPU':>6}  {'max RSS':>8}")
    for case in bench.cases.values():
        if not case.ok:
            print(f"{case.label:<42} ERROR: {case.error}")
            continue
        walls = case.walls()
        spread = f"{min(walls) * 1000:.0f}-{max(walls) * 1000:.0f} ms"
        print(
            f"{case.label:<42} {case.median() * 1000:6.0f} ms {spread:>16}  "
            f"{case.median_cpu() * 1000:3.0f} ms  {case.median_rss_kb() / 1024:5.1f} MB"
        )
        if case.warning:
            print(f"  warning: {case.warning}")
    print()


def print_targets(found: list[Target]) -> None:
    print(f"{'#':<3} {'target':<42} {'measured':>9} {'limit':>8}  {'result':<6} detail")
    for t in found:
        print(
            f"{t.number:<3} {t.what:<42} {t.shown(t.measured):>9} {t.shown(t.limit, op=True):>8}  "
            f"{t.verdict:<6} {t.detail}"
        )
    print()


# The floor whose imports a conn command's are compared with, in the time-sink report.
IMPORT_FLOORS = {
    "conn.has": "floor.probe",
    "conn.list_check": "floor.probe",
    "conn.has_lite": "floor.probe_lite",
    "conn.has_lite_ready": "conn.has_lite",
    "conn.has_lite_loaded": "conn.has_lite",
}


def print_sinks(
    bench: Bench, found: list[Target], lines: dict[str, list[sinks.ImportLine]]
) -> dict[str, object]:
    """For every failing target, where its conn command spends its time: the imports it
    has beyond its floor, and what its entry point does after the imports."""
    report: dict[str, object] = {}

    def imports_of(key: str) -> list[sinks.ImportLine]:
        if key not in lines:
            lines[key] = sinks.import_lines(bench.cases[key], PYTHON)
        return lines[key]

    keys = dict.fromkeys(k for t in found if t.failed for k in t.cases if bench.cases[k].ok)
    for key in keys:
        case = bench.cases[key]
        floor = bench.cases.get(IMPORT_FLOORS.get(key, "floor.typer"))
        if floor is None or not floor.ok:
            floor = bench.cases.get("floor.typer")
        extra = imports_of(key)
        if floor is not None and floor.ok:
            extra = sinks.beyond(extra, imports_of(floor.key))
        owners = sinks.by_owner(extra)[:8]
        heavy = sinks.heaviest(extra)
        run_ms, calls = sinks.run_profile(case, PYTHON, bench.work)
        total = sum(line.self_us for line in extra) / 1000
        command = " ".join([Path(case.argv[0]).name, *case.argv[1:]])
        versus = f"beyond '{floor.label}'" if floor is not None and floor.ok else "in all"
        print(f"time sinks of {case.label}  [{command}]")
        print(f"  imports {versus}: {len(extra)} modules, {total:.0f} ms (-X importtime, self)")
        print("    counted against: " + ", ".join(f"{o} {ms:.1f} ms ({n})" for o, ms, n in owners))
        print("    heaviest: " + ", ".join(f"{i.name} {i.self_us / 1000:.1f}" for i in heavy))
        print(f"  after the imports: {run_ms:.0f} ms in the entry point (cProfile, main thread)")
        for row in calls:
            print("    " + row)
        print()
        report[key] = {
            "import_floor": floor.key if floor is not None else None,
            "extra_import_ms": total,
            "extra_imports_by_owner": owners,
            "heaviest_extra_imports": [(i.name, i.self_us / 1000, i.owner) for i in heavy],
            "entry_point_ms": run_ms,
            "entry_point_profile": calls,
        }
    return report


# main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target fails")
    parser.add_argument(
        "--only", metavar="GROUPS", help=f"comma-separated subset of: {', '.join(GROUPS)}"
    )
    parser.add_argument(
        "--no-sinks", action="store_true", help="skip the time-sink profile of failing targets"
    )
    args = parser.parse_args(argv)
    args.groups = args.only.split(",") if args.only else list(GROUPS)
    unknown = set(args.groups) - set(GROUPS)
    if unknown or args.rounds < 1:
        parser.error(
            f"unknown group(s): {', '.join(sorted(unknown))}" if unknown else "--rounds >= 1"
        )
    return args


def measure_groups(bench: Bench, groups: list[str], stack: contextlib.ExitStack) -> None:
    """Start each server when a group first needs it; `stack` stops them all at the end
    (after the time-sink runs, which need them too)."""
    started: dict[str, str] = {}

    def server(kind: str) -> str:
        if kind not in started:
            manager = (
                servers.milvus_lite(PYTHON, bench.work)
                if kind == "lite"
                else servers.helper_server(PYTHON, kind)
            )
            started[kind] = stack.enter_context(manager)
        return started[kind]

    for group in groups:
        print(f"measuring {group} ...", file=sys.stderr, flush=True)
        if group == "offline":
            bench.offline(server("health"))
        elif group == "probe":
            bench.probe(server("health"))
        elif group == "fanout":
            bench.fanout(server("health"), server("silent"))
        elif group == "scale":
            bench.scale()
        elif group == "lite":
            bench.lite(server("lite"))
        elif group == "secrets":
            try:
                bus = stack.enter_context(servers.gnome_keyring(PYTHON, bench.work))
            except servers.ServerError as exc:
                bench.secrets(server("health"), "", str(exc))
            else:
                bench.secrets(server("health"), bus)
        elif group == "exporter":
            env = child_env(XDG_STATE_HOME=str(bench.work / "state"))
            bench.exporter_rows = exporter_bench.measure(
                CONN, env, bench.work, server("health"), server("silent"), bench.rounds
            )


def run(args: argparse.Namespace, work: Path) -> int:
    started = time.monotonic()
    meta = versions()
    print_header(meta, args.rounds)
    use_pycache(work / "pycache")
    # conn's state and parse cache (kept per user, apart from the profile) go to the
    # work directory too: children inherit these, as does the untimed warm-up here.
    os.environ["XDG_STATE_HOME"] = str(work / "state")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    load_before = os.getloadavg()[0]
    bench = Bench(work, args.rounds)
    with contextlib.ExitStack() as stack:
        measure_groups(bench, args.groups, stack)
        load_after = os.getloadavg()[0]
        meta["load_average_1min"] = f"{load_before:.2f} before, {load_after:.2f} after"
        found = targets(bench)
        imports, lines = grpc_imports(bench)
        at = next((i + 1 for i, t in enumerate(found) if t.number == "2c"), len(found))
        found[at:at] = imports
        print_cases(bench)
        print_load(meta["load_average_1min"], max(load_before, load_after))
        print_targets(found)
        sink_report = {} if args.no_sinks else print_sinks(bench, found, lines)
    failed = list(dict.fromkeys(t.number for t in found if t.failed))
    elapsed = time.monotonic() - started
    counted = len({t.number for t in found if t.limit is not None})
    which = f": {', '.join(failed)}" if failed else ""
    print(f"{len(failed)} of {counted} targets failed{which}", end="")
    print(f"  (typer {meta['typer']}, Python {meta['python']}, {elapsed:.0f} s)")
    if args.json:
        data = {
            "meta": meta,
            "rounds": args.rounds,
            "elapsed_s": elapsed,
            "cases": {key: case.summary() for key, case in bench.cases.items()},
            "targets": [{**asdict(t), "verdict": t.verdict} for t in found],
            "sinks": sink_report,
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    return 1 if args.check and failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CONN.exists():
        print(f"bench: {CONN} not found; run 'make setup' first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="conn-bench-") as work:
        try:
            return run(args, Path(work))
        except servers.ServerError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
