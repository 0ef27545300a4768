"""Completion scripts: up to date, and completing in the real shells."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_conn.completion import SHELLS

from .helpers import require_program

ROOT = Path(__file__).parent.parent
COMPLETIONS = ROOT / "completions"
PACKAGED = ROOT / "src" / "milvus_conn" / "completions"


def _generator():
    spec = importlib.util.spec_from_file_location("completions", ROOT / "scripts/completions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shell(name: str, script: str, profile: Path) -> list[str]:
    """Run `script` in the real shell `name` with `conn` on PATH; its output lines."""
    require_program(name, name)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CONN_PROFILE": str(profile),
    }
    done = subprocess.run(
        [name, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def aliases(cli, profile):
    cli("add", "prod-eu", "--address", "127.0.0.1:1")
    cli("add", "prod-us", "--address", "127.0.0.1:2")
    cli("add", "staging", "--address", "127.0.0.1:3")
    return profile


def test_committed_scripts_match_freshly_generated_ones():
    for name, text in _generator().scripts().items():
        assert (PACKAGED / name).read_text() == text, f"run make completions ({name})"
        assert (COMPLETIONS / name).read_text() == text, f"run make completions ({name})"


@pytest.mark.parametrize(("shell_name", "file"), sorted(SHELLS.items()))
def test_completion_prints_the_packaged_script(cli, shell_name, file):
    result = cli("completion", shell_name)
    assert result.stdout == (PACKAGED / file).read_text()


def test_completion_of_an_unknown_shell_exits_2(cli):
    result = cli("completion", "tcsh", code=2)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: Invalid value for SHELL: 'tcsh' is not one of bash,")


def test_completion_bash_output_is_valid_bash_that_completes(aliases, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "milvus_conn", "completion", "bash"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = tmp_path / "conn.bash"
    script.write_text(done.stdout)
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert bash('conn has "prod"', 2, aliases, script) == ["prod-eu", "prod-us"]


def bash(words: str, cword: int, profile: Path, source: Path = COMPLETIONS / "conn.bash"):
    script = (
        f"source {source}; COMP_WORDS=({words}); COMP_CWORD={cword}; "
        '_conn_completion conn; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    return shell("bash", script, profile)


def test_bash_completes_aliases_from_the_profile(aliases):
    assert bash('conn has "prod"', 2, aliases) == ["prod-eu", "prod-us"]
    assert bash('conn connect ""', 2, aliases) == ["default", "prod-eu", "prod-us", "staging"]


def test_bash_completes_commands_and_options(aliases):
    assert bash("conn dis", 1, aliases) == ["disconnect"]
    assert bash('conn completion ""', 2, aliases) == ["bash", "zsh", "fish", "powershell"]
    assert bash("conn do", 1, aliases) == ["doctor"]
    assert bash("conn add x --ca", 3, aliases) == ["--ca-pem-path"]


def test_bash_respects_the_profile_option(aliases, tmp_path, cli):
    other = tmp_path / "other.toml"
    cli("--profile", str(other), "add", "elsewhere", "--address", "127.0.0.1:4")
    words = f'conn --profile {other} has "e"'
    assert bash(words, 4, aliases) == ["elsewhere"]


def fish(line: str, profile: Path) -> list[str]:
    return shell("fish", f"source {COMPLETIONS / 'conn.fish'}; complete -C '{line}'", profile)


def test_fish_completes_aliases_and_commands(aliases, tmp_path, cli):
    assert fish("conn remove prod", aliases) == ["prod-eu", "prod-us"]
    assert fish("conn imp", aliases)[0] == "import"
    other = tmp_path / "other.toml"
    cli("--profile", str(other), "add", "elsewhere", "--address", "127.0.0.1:4")
    assert fish(f"conn --profile {other} addr ", aliases) == ["default", "elsewhere"]


def test_zsh_loads_the_script_and_completes_aliases(aliases):
    script = (
        f"autoload -U compinit; compinit -u; source {COMPLETIONS / '_conn'}; "
        "print ${_comps[conn]}; "
        'words=(conn has ""); CURRENT=3; '
        'env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _CONN_COMPLETE=complete_zsh conn'
    )
    output = shell("zsh", script, aliases)
    assert output[0] == "_conn_completion"
    assert all(f'"{alias}"' in " ".join(output) for alias in ("prod-eu", "prod-us", "staging"))
