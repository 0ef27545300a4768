"""Guards for promises that are easy to break without noticing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from milvus_conn.cli import app
from milvus_conn.storage import paths as paths_module


def test_import_does_not_load_grpc():
    code = "import milvus_conn, sys; print('grpc' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_offline_calls_do_not_load_grpc(tmp_path):
    code = (
        "import sys; from milvus_conn import Connections\n"
        f"c = Connections(profile={str(tmp_path / 'p.toml')!r})\n"
        "c.add_connection(a={'address': 'h:1'}); c.list_connections()\n"
        "c.get_connection_addr('a'); c.has_connection('a'); c.disconnect('a')\n"
        "print('grpc' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


README = Path(__file__).parent.parent / "README.md"


COMMANDS = sorted(info.name or info.callback.__name__ for info in app.registered_commands)


_IMPORTS_SEEN = """
import json, sys
from milvus_conn.cli import app
watched, args = json.loads(sys.argv[1]), sys.argv[2:]
try:
    code = app(args, prog_name="conn", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
seen = [w for w in watched if any(m == w or m.startswith(w + ".") for m in sys.modules)]
sys.stderr.write("\\nSEEN " + json.dumps([code or 0, sorted(seen)]) + "\\n")
"""


def imports_seen(watched: set[str], *args: str) -> tuple[int, list[str]]:
    """The exit status of `conn ARGS` in a fresh process, and which of the `watched`
    packages or modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_SEEN, json.dumps(sorted(watched)), *args],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    line = next((x for x in done.stderr.splitlines() if x.startswith("SEEN ")), None)
    assert line, f"conn {' '.join(args)}:\n{done.stdout}{done.stderr}"
    code, seen = json.loads(line.removeprefix("SEEN "))
    return code, seen


def loaded_modules(*args: str, code: int = 0) -> list[str]:
    """The heavy modules `conn ARGS` loaded, in a fresh process; it must exit with `code`
    (the command ran its path to the end, not an early error)."""
    done, seen = imports_seen({"grpc", "rich", "pydantic", "milvus_conn.probe.health"}, *args)
    assert done == code, f"conn {' '.join(args)} exited {done}"
    return seen


def test_commands_are_the_specs_seven_plus_the_later_ones():
    spec = ["add", "addr", "connect", "disconnect", "has", "list", "remove"]
    later = ["env", "export", "import", "use", "watch", "completion", "doctor", "schema", "version"]
    later += ["login", "logout", "exporter"]
    assert sorted([*spec, *later]) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_a_readme_entry(command, cli):
    result = cli(command, "--help")
    assert result.stdout.startswith(f"Usage: conn {command}")
    info = next(i for i in app.registered_commands if (i.name or i.callback.__name__) == command)
    assert (info.callback.__doc__ or "").strip(), f"{command} has no help text"
    assert re.search(rf"`conn {command}\b", README.read_text()), f"README lacks conn {command}"


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--json"],
        ["addr", "default"],
        ["addr", "x", "--json"],
        ["add", "y", "--address", "127.0.0.1:1"],
        ["has", "x", "--no-probe"],
        ["disconnect", "x"],
        ["remove", "x"],
        ["use", "x"],
        ["env", "x"],
        ["export"],
        ["--version"],
        ["version", "--json"],
        ["completion", "bash"],
        ["doctor"],
        ["doctor", "--json"],
        ["schema"],
    ],
)
def test_offline_commands_import_neither_grpc_nor_rich_nor_the_health_core(
    args, profile, cli, serving
):
    """Each runs its success path (exit 0): alias x is stored and connected first, by
    this test process (a probe: grpc here, never in the process measured)."""
    cli("connect", "x", "--address", serving.address)
    assert loaded_modules(*args) == []


def test_an_offline_command_failing_imports_no_more(profile):
    assert loaded_modules("has", "nope", "--no-probe", code=1) == []
    assert loaded_modules("remove", "nope", code=1) == []


def test_a_probe_imports_grpc_but_not_rich_when_piped(profile, cli, serving):
    cli("add", "default", "--address", serving.address)  # else localhost:19530, exit 3
    assert loaded_modules("list", "--check", "--timeout", "5") == [
        "grpc",
        "milvus_conn.probe.health",
    ]


def test_doctor_checks_tls_files_and_secrets_without_grpc(cli, certs):
    cli("add", "mtls", "--address", "127.0.0.1:1", "--secure", "--user", "u",
        "--password-env", "UNSET_PW", "--ca-pem-path", str(certs / "ca.pem"),
        "--client-pem-path", str(certs / "client.pem"),
        "--client-key-path", str(certs / "client.key"))  # fmt: skip
    assert loaded_modules("doctor", code=1) == []  # UNSET_PW: one thing to fix


def test_doctor_network_probes_as_list_check_does(cli, serving):
    cli("add", "x", "--address", serving.address)
    assert loaded_modules("doctor", "--network", "--timeout", "5") == [
        "grpc",
        "milvus_conn.probe.health",
    ]


def test_app_dir_matches_typer(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert paths_module.app_dir() == Path(typer.get_app_dir("conn"))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert paths_module.app_dir() == Path(typer.get_app_dir("conn"))


def test_default_profile_lives_in_the_app_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    expected = Path(typer.get_app_dir("conn")) / "profiles.toml"
    assert paths_module.default_profile_path() == expected


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run(
        [sys.executable, "-m", "milvus_conn", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: conn ")


def test_typer_is_pinned_below_the_pydantic_release():
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"typer>=0.12,<0.29"' in text
    assert tuple(int(x) for x in typer.__version__.split(".")[:2]) < (0, 29)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_lean_app_main_runs_is_the_full_app_for_its_command(command, cli):
    from typer.testing import CliRunner

    from milvus_conn.cli.lean import lean_app

    lean = CliRunner().invoke(lean_app(command), [command, "--help"], catch_exceptions=False)
    assert lean.exit_code == 0
    assert lean.stdout == cli(command, "--help").stdout


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["list"], "list"),
        (["--profile", "p.toml", "-q", "has", "x"], "has"),
        (["--profile=p.toml", "-v", "addr"], "addr"),
        (["--help"], None),
        (["-qv", "list"], None),
        ([], None),
        (["--profile"], None),
    ],
)
def test_main_finds_the_command_word_past_the_global_options(argv, command):
    from milvus_conn.cli.lean import command_named

    assert command_named(argv) == command


# the OS credential store loads only where a stored secret is read -------------------------


def store_modules(*args: str) -> tuple[int, list[str]]:
    """The exit status of `conn ARGS` in a fresh process, and the store modules it loaded."""
    return imports_seen({"keyring", "keyrings", "secretstorage", "jeepney"}, *args)


@pytest.fixture
def logged_in(cli, file_keyring, serving, tmp_path):
    """`in`: logged in (its password in keyrings.alt's file), connected; `cmd`: a password
    command; `plain`: no secret at all. All three on a live health server."""
    command = tmp_path / "secret.sh"
    command.write_text("#!/bin/sh\necho pw\n")
    command.chmod(0o700)
    cli("add", "in", "--address", serving.address, "--user", "u")
    cli("login", "in", "--password-stdin", input="pw\n")
    cli("add", "cmd", "--address", serving.address, "--user", "u",
        "--password-command", str(command))  # fmt: skip
    cli("add", "plain", "--address", serving.address)
    for alias in ("in", "cmd", "plain"):
        cli("connect", alias)


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--json"],
        ["addr", "in"],
        ["addr", "in", "--explain"],
        ["has", "in", "--no-probe"],
        ["has", "in", "cmd", "--no-probe", "--json"],
        ["add", "x", "--address", "127.0.0.1:1"],
        ["export"],
        ["env", "in"],
        ["disconnect", "in"],
        ["remove", "in"],
        ["has", "plain"],  # a probe of an alias that never logged in
        ["has", "cmd"],
    ],
    ids=" ".join,
)
def test_offline_commands_and_aliases_that_never_logged_in_never_load_keyring(logged_in, args):
    assert store_modules(*args) == (0, [])


def test_a_probe_of_a_logged_in_alias_loads_the_store(logged_in):
    code, loaded = store_modules("has", "in")
    assert code == 0 and "keyring" in loaded and "keyrings" in loaded


def test_doctor_asks_the_store_only_for_aliases_that_logged_in(cli, serving):
    cli("add", "plain", "--address", serving.address)
    assert store_modules("doctor") == (0, [])


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (["--help"], []),  # the whole app is built: every command's module is imported
        (["exporter", "--help"], []),
        (["list"], []),
        (["has", "x", "--no-probe"], []),
        (["list", "--check"], ["asyncio"]),  # grpc's own import of it
    ],
)
def test_the_exporters_dependencies_load_only_when_it_runs(args, loaded, cli, serving):
    """Each command runs its success path: alias x is stored and connected first."""
    cli("add", "x", "--address", serving.address)
    cli("connect", "x")
    watched = {"prometheus_client", "asyncio", "milvus_conn.exporter"}
    assert imports_seen(watched, *args) == (0, loaded)
