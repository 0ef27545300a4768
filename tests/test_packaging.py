"""What a user installing the wheel gets: the sdist and the wheel are built as a release
would build them, the wheel is installed (not editable) into a fresh virtual environment
outside the source tree, and `conn` is run from there against Milvus Lite.

It needs the package registry for the build backend and the dependencies (pip's own
cache spares most downloads); it talks to no other address but 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
# Read at import, before the fixtures point HOME at a temporary directory.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, "PIP_CACHE_DIR": PIP_CACHE, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
             **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """sdist and wheel (the wheel built from the sdist, as `python -m build` does)."""
    out = tmp_path_factory.mktemp("dist")
    done = run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "`project.license` as a TOML table is deprecated" not in done.stdout + done.stderr
    return {
        "sdist": next(out.glob("milvus_conn-*.tar.gz")),
        "wheel": next(out.glob("milvus_conn-*-py3-none-any.whl")),
    }


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed; its bin/."""
    venv = tmp_path_factory.mktemp("venv")
    done = run(sys.executable, "-m", "venv", venv, cwd=venv)
    assert done.returncode == 0, done.stderr
    done = run(venv / "bin" / "python", "-m", "pip", "install", "-q", built["wheel"], cwd=venv)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def test_the_wheel_carries_the_completions_and_py_typed(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    expected = {"py.typed", *(f"completions/{n}" for n in ("conn.bash", "_conn", "conn.fish",
                                                          "conn.ps1"))}  # fmt: skip
    assert {f"milvus_conn/{name}" for name in expected} <= names
    with tarfile.open(built["sdist"]) as sdist:
        members = {m.name.partition("/")[2] for m in sdist.getmembers()}
    assert {f"src/milvus_conn/{name}" for name in expected} <= members


def test_the_installed_conn_works_outside_the_source_tree(installed, milvus_lite, tmp_path):
    env = {"CONN_PROFILE": str(tmp_path / "conf" / "profiles.toml"), "PYTHONPATH": ""}

    def conn(*args: str):
        done = run(installed / "conn", *args, cwd=tmp_path, env=env, timeout=120)
        assert done.returncode == 0, f"conn {' '.join(args)}: {done.stderr}"
        return done.stdout

    version = conn("--version")
    assert version.startswith("conn 0.1.0\npython ")
    assert "pymilvus" not in version  # not a dependency: listed only when installed
    script = tmp_path / "conn.bash"
    script.write_text(conn("completion", "bash"))
    check = run("bash", "-n", script, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert conn("add", "lite", "--address", milvus_lite.address) == (
        f"Added lite ({milvus_lite.address})\n"
    )
    assert conn("connect", "lite").startswith(f"Connected lite ({milvus_lite.address}): healthy")
    assert "connected" in next(line for line in conn("list").splitlines() if "lite" in line)
    assert conn("has", "lite").startswith("lite ")


def test_the_installed_library_is_the_wheel_and_names_the_pymilvus_extra(installed, tmp_path):
    code = (
        "import milvus_conn, pathlib; print(milvus_conn.__file__); "
        "print((pathlib.Path(milvus_conn.__file__).parent / 'py.typed').exists()); "
        "milvus_conn.client('x')"
    )
    done = run(installed / "python", "-c", code, cwd=tmp_path,
               env={"CONN_PROFILE": str(tmp_path / "p.toml")}, timeout=120)  # fmt: skip
    lines = done.stdout.splitlines()
    assert str(installed.parent) in lines[0] and str(ROOT) not in lines[0]
    assert lines[1] == "True"
    assert done.returncode == 1
    assert "ImportError: MilvusClient needs pymilvus, which is not installed: pip install " in (
        done.stderr
    )
    assert "'milvus-conn[pymilvus]'" in done.stderr
