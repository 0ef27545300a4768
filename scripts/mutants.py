"""`make mutants`: mutation testing (mutmut) of the modules where a silent mistake costs
users most, one module at a time, each against the tests that touch it.

    .venv/bin/python scripts/mutants.py [MODULE ...] [--max-children N] [--root DIR --out DIR]

(`--root`: another checkout to mutate, e.g. an older commit's, to compare scores.)

For each module this copies the project into build/mutants/MODULE/ (so a run never
touches the work tree, and runs can be repeated or compared), adds a `[tool.mutmut]`
section naming the module's files and its tests, runs `mutmut run` there, and prints
the module's score: killed / (killed + survived + without tests), timeouts counted as
killed, and the run's minutes (kept in build/mutants/summary.json). mutmut first runs
the chosen tests once to learn which test reaches which function, then runs, for each
mutant, only the tests that reach it: minutes per module. tests/conftest.py has the
processes a test starts (`conn` as a shell runs it) run the mutant too, and report what
they reach in that first pass (tests/mutmut_hits/).

A survivor is either a missing test (write it) or a mutant that cannot change what a
user sees (list it in tests/MUTANTS.md with why). `mutmut show NAME` in the module's
folder shows one. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "mutants"
SRC = "src/milvus_conn/"

# module -> (the files mutated, the tests that exercise them): the one list to edit when a
# module moves. mutmut runs, for each mutant, only the chosen tests that reach the mutated
# function, so a test file is left out only when it is slow and adds nothing for the module
# (test_guards.py's fresh processes, a fault's timeouts where the module is not reached
# through them). Tests that start a server process (Milvus Lite, the real Milvus, a GNOME
# Keyring) are left out by tests/conftest.py: one per mutant would take hours; the
# in-process gRPC servers reach the same lines.
MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "wire": (
        ("probe/wire.py",),
        (
            "test_wire_reference.py",  # every reply against protobuf's own classes
            "test_malformed_replies.py",
            "test_health.py",
            "test_ready.py",
            "test_gates.py",
        ),
    ),
    "resolve": (
        ("resolve.py", "secrets/sources.py"),
        (
            "test_addr_explain.py",
            "test_secret_order.py",
            "test_credentials.py",
            "test_secrets.py",
            "test_secret_commands.py",
            "test_login.py",
            "test_broken_alias.py",
            "test_default_alias.py",
            "test_connect.py",
            "test_library.py",
            "test_layers.py",
            "test_tls_files.py",
            "test_env_export_import.py",
            "test_handoff.py",
        ),
    ),
    "catalog": (
        ("catalog.py",),
        (
            "test_library.py",
            "test_channels.py",
            "test_concurrency.py",
            "test_pymilvus_parity.py",
            "test_default_alias.py",
            "test_broken_alias.py",
            "test_layers.py",
            "test_connect.py",
            "test_credentials.py",
            "test_secret_order.py",
            "test_secret_commands.py",
            "test_addr_explain.py",
            "test_profile_files.py",
            "test_untrusted_text.py",
            "test_list.py",
            "test_add_remove.py",
            "test_readonly.py",
        ),
    ),
    "connection": (
        ("connection.py",),
        (
            "test_channels.py",
            "test_library.py",
            "test_connect.py",
            "test_has.py",
            "test_list.py",
            "test_login.py",
            "test_gates.py",
            "test_malformed_replies.py",  # readiness asked through a handle
            "test_broken_alias.py",
            "test_secret_order.py",
            "test_tls.py",
            "test_tls_files.py",
        ),
    ),
    "parsecache": (
        ("storage/parsecache.py",),
        (
            "test_profile_files.py",
            "test_trust.py",
            "test_hostile_files.py",
            "test_profile_errors.py",
            "test_layers.py",
            "test_readonly.py",
        ),
    ),
    "files": (
        ("storage/files.py",),
        (
            "test_profile_files.py",
            "test_crash.py",  # writer processes killed mid-write (mutated too: conftest.py)
            "test_concurrency.py",
            "test_add_remove.py",
            "test_layers.py",
            "test_trust.py",
            "test_hostile_files.py",
            "test_readonly.py",  # a real read-only mount (unshare)
            "test_watch.py",  # the Prometheus textfile
        ),
    ),
    "outcomes": (
        ("probe/outcomes.py",),
        (
            "test_outcomes.py",
            "test_faults.py",
            "test_tls.py",
            "test_health.py",
            "test_errors.py",
            "test_untrusted_text.py",
        ),
    ),
}
STATUSES = ("killed", "timeout", "survived", "no tests", "suspicious", "skipped", "segfault")
COPIED = ("src", "tests", "README.md", "ARCHITECTURE.md")


def config(files: tuple[str, ...], tests: tuple[str, ...], root: Path) -> str:
    """The `[tool.mutmut]` section of one module's run."""
    present = [f"tests/{t}" for t in tests if (root / "tests" / t).exists()]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f"only_mutate = {json.dumps([SRC + f for f in files])}\n"
        'also_copy = ["README.md", "ARCHITECTURE.md"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(present)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not slow", "-q"]\n'
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 10.0\n"
    )


def prepare(name: str, root: Path, out: Path) -> Path:
    """A fresh copy of the project for one module's run."""
    files, tests = MODULES[name]
    folder = out / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for part in COPIED:
        source = root / part
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(source, folder / part, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, folder / part)
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    (folder / "pyproject.toml").write_text(pyproject + config(files, tests, root))
    return folder


def statuses(folder: Path, mutmut: str) -> Counter[str]:
    """How many mutants ended in each status (`mutmut results --all`)."""
    done = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=folder, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:  # older spellings of the flag
        done = subprocess.run(
            [mutmut, "results", "--all"], cwd=folder, capture_output=True, text=True, check=False
        )
    counts: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        found = re.match(r"\s+\S+: (.+)$", line)
        if found:
            counts[found.group(1).strip()] += 1
    return counts


def score(counts: Counter[str]) -> float | None:
    caught = counts["killed"] + counts["timeout"]
    judged = caught + counts["survived"] + counts["no tests"] + counts["suspicious"]
    return caught / judged if judged else None


def survivors(folder: Path, mutmut: str) -> list[str]:
    done = subprocess.run(
        [mutmut, "results"], cwd=folder, capture_output=True, text=True, check=False
    )
    return [line.strip() for line in done.stdout.splitlines() if line.startswith("    ")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT, help="the project to copy")
    parser.add_argument("--out", type=Path, default=OUT, help="where the runs are kept")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    if not Path(mutmut).exists():
        print("mutmut is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    out = args.out.resolve()
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    failed = []
    for name in args.modules or list(MODULES):
        folder = prepare(name, args.root.resolve(), out)
        print(f"== {name}: {', '.join(MODULES[name][0])} (in {folder})", flush=True)
        # tests/conftest.py leaves out the tests that start a server process, and has the
        # processes a test starts import the mutated copy
        env = {**os.environ, "MILVUS_CONN_MUTANTS": "1"}
        started = time.monotonic()
        with (folder / "mutmut.log").open("wb") as log:
            done = subprocess.run(
                [mutmut, "run", "--max-children", str(args.max_children)], cwd=folder, env=env,
                check=False, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        minutes = (time.monotonic() - started) / 60
        if done.returncode != 0:  # e.g. a selected test fails on the unmutated code
            print(f"   {name}: mutmut failed (exit {done.returncode}): see {log.name}")
            failed.append(name)
            continue
        counts = statuses(folder, mutmut)
        summary[name] = {
            "score": score(counts),
            "counts": dict(counts),
            "minutes": round(minutes, 1),
            "survived": survivors(folder, mutmut),
        }
        print(f"   {name}: {format_score(summary[name]['score'])} {dict(counts)}", flush=True)
        summary_file.write_text(json.dumps(summary, indent=2) + "\n")
    print("\nmodule      score   killed/judged  minutes")
    for name, row in summary.items():
        counts = Counter(row["counts"])
        caught = counts["killed"] + counts["timeout"]
        judged = caught + counts["survived"] + counts["no tests"] + counts["suspicious"]
        ratio = f"{caught}/{judged}"
        print(f"{name:<11} {format_score(row['score']):>6}  {ratio:>13}  {row['minutes']:>7}")
    return 1 if failed else 0


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


if __name__ == "__main__":
    sys.exit(main())
