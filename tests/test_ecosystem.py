"""Issue 6, end to end: `conn use`, `conn env`, `conn export`/`import`, the global
`-q`/`-v`, and the embedded Milvus Lite of the library, against real servers on
127.0.0.1 where a server is involved.

Shell output is proved by real shells (bash, and fish when installed) evaluating it;
terminal output by a real pseudo-terminal.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib import parse

import pytest

from milvus_conn import ConnectionConfigException, Connections

from .conftest import run_conn
from .helpers import snapshot, write_profile

ALICE_PASSWORD = "s3cr3t-Pa55"  # what auth_server accepts for user alice
PASSWORD = "p@ss w'rd:/x-Q7"  # needs URL-quoting and shell-quoting
TOKEN = 't0k\'en "$HOME" back\\slash\\'  # quotes, a variable, backslashes, a trailing one
READABLE_PASSWORD = "p@ss w'rd:x-Q7"  # shell-quoting, and pymilvus still reads it from a URI
CORRUPT = "version = 1\n\n[connections.a]\naddress = \n"
VENV_BIN = str(Path(sys.executable).parent)


# helpers ----------------------------------------------------------------------------


def first_column(text: str) -> list[str]:
    """The ALIAS cell of each row of piped `conn list` output (header excluded)."""
    return [re.split(r"\s{2,}", line)[0] for line in text.splitlines()[1:]]


def defaults(cli, *args: str) -> dict[str, bool]:
    return {row["alias"]: row["default"] for row in json.loads(cli(*args, "list", "--json").stdout)}


def shell(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`command` in a real bash, with the venv's `conn` and `python` first on PATH."""
    path = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path, **env},
        timeout=60,
        check=False,
    )


def run_on_terminal(*args: str) -> tuple[int, str]:
    """`conn ARGS` with its stdout on a pseudo-terminal: what a user sees."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "milvus_conn", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            env={**os.environ, "TERM": "xterm"},
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return done.returncode, b"".join(chunks).decode()


# fixtures ---------------------------------------------------------------------------


@pytest.fixture
def lite(cli, milvus_lite):
    """Milvus Lite, stored as alias `lite` (not connected)."""
    cli("add", "lite", "--address", milvus_lite.address)
    return milvus_lite


@pytest.fixture
def used_lite(cli, lite):
    """Milvus Lite stored as `lite`, made the profile's default with `conn use`."""
    cli("add", "other", "--address", "127.0.0.1:19531")
    assert cli("use", "lite").stdout == "lite\n"
    return lite


@pytest.fixture
def secret_aliases(cli):
    """`pw` (password by reference), `tk` (token by reference), both with the variables set."""
    cli("add", "pw", "--address", "127.0.0.1:19531", "--user", "alice", "--password-env", "APW")
    cli("add", "tk", "--address", "127.0.0.1:19532", "--token-env", "ATOK")
    return {"APW": PASSWORD, "ATOK": TOKEN}


@pytest.fixture
def other_profile(tmp_path) -> Path:
    return tmp_path / "other" / "profiles.toml"


# conn use ---------------------------------------------------------------------------


def test_use_writes_default_alias_to_the_profile(cli, used_lite, profile):
    assert profile.read_text() == (
        'version = 1\ndefault_alias = "lite"\n\n'
        f'[connections.lite]\naddress = "{used_lite.address}"\n\n'
        '[connections.other]\naddress = "127.0.0.1:19531"\n'
    )


def test_use_without_alias_prints_the_current_default(cli, used_lite):
    assert cli("use").stdout == "lite\n"


def test_use_without_alias_on_a_fresh_profile_prints_default(cli):
    assert cli("use").stdout == "default\n"


def test_commands_without_alias_use_the_chosen_default(cli, used_lite, registry):
    address = used_lite.address
    assert cli("addr").stdout == f"{address}\n"
    assert cli("connect").stdout.startswith(f"Connected lite ({address}): healthy via milvus")
    assert registry.has_connection("lite") is True
    assert cli("has").stdout.startswith(f"lite ({address}): healthy via milvus")
    assert "export MILVUS_CONN_ALIAS=lite\n" in cli("env").stdout
    assert cli("disconnect").stdout == "Disconnected lite\n"
    assert registry.has_connection("lite") is False


def test_list_marks_the_chosen_default_with_a_star(cli, used_lite):
    assert first_column(cli("list").stdout) == ["default", "lite *", "other"]


def test_list_json_flags_only_the_chosen_default(cli, used_lite):
    assert defaults(cli) == {"default": False, "lite": True, "other": False}


def test_milvus_conn_alias_wins_over_the_profile_default(cli, used_lite, monkeypatch):
    monkeypatch.setenv("MILVUS_CONN_ALIAS", "other")
    assert cli("addr").stdout == "127.0.0.1:19531\n"
    assert cli("use").stdout == "other\n"
    assert defaults(cli) == {"other": True, "lite": False}


def test_use_of_an_unknown_alias_exits_1_and_changes_nothing(cli, used_lite, profile):
    before = snapshot(profile)
    assert cli("use", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"
    assert snapshot(profile) == before


def test_removing_the_default_alias_clears_it(cli, used_lite, profile):
    cli("remove", "lite")
    assert "default_alias" not in profile.read_text()
    assert cli("use").stdout == "default\n"


def test_library_connect_without_alias_uses_the_chosen_default(used_lite, registry):
    handle = registry.connect()
    assert (handle.alias, handle.address) == ("lite", used_lite.address)
    assert registry.has_connection("lite") is True


# conn env ---------------------------------------------------------------------------


def test_env_prints_exact_sh_exports(cli, lite):
    assert cli("env", "lite").stdout == (
        f"export MILVUS_URI=http://{lite.address}\n"
        "export MILVUS_CONN_ALIAS=lite\n"
        "export MILVUS_CONN_TIMEOUT=10\n"
    )


def test_env_fish_syntax(cli, lite):
    assert cli("env", "lite", "--shell", "fish").stdout == (
        f"set -gx MILVUS_URI 'http://{lite.address}';\n"
        "set -gx MILVUS_CONN_ALIAS 'lite';\n"
        "set -gx MILVUS_CONN_TIMEOUT '10';\n"
    )


def test_env_powershell_syntax(cli, lite):
    assert cli("env", "lite", "--shell", "powershell").stdout == (
        f"$Env:MILVUS_URI = 'http://{lite.address}'\n"
        "$Env:MILVUS_CONN_ALIAS = 'lite'\n"
        "$Env:MILVUS_CONN_TIMEOUT = '10'\n"
    )


def test_env_with_secrets_puts_the_password_in_the_uri_as_pymilvus_reads_it(
    cli, secret_aliases, monkeypatch
):
    monkeypatch.setenv("APW", READABLE_PASSWORD)  # pymilvus does not URL-decode: written as is
    assert cli("env", "pw", "--with-secrets").stdout == (
        "export MILVUS_URI='http://alice:p@ss w'\"'\"'rd:x-Q7@127.0.0.1:19531'\n"
        "export MILVUS_CONN_ALIAS=pw\n"
        "export MILVUS_CONN_TIMEOUT=10\n"
    )


def test_env_with_secrets_refuses_a_password_pymilvus_cannot_read_back(
    cli, secret_aliases, monkeypatch, profile
):
    monkeypatch.setenv("APW", PASSWORD)  # its "/" would end the URI's host part
    before = snapshot(profile)
    result = cli("env", "pw", "--with-secrets", code=2)
    assert result.stdout == ""
    assert "pymilvus cannot read back from MILVUS_URI" in result.stderr
    assert PASSWORD not in result.stderr
    assert snapshot(profile) == before


def test_env_with_secrets_puts_a_user_password_token_in_the_uri(cli, secret_aliases, monkeypatch):
    monkeypatch.setenv("ATOK", "root:Milvus")
    assert cli("env", "tk", "--with-secrets").stdout == (
        "export MILVUS_URI=http://root:Milvus@127.0.0.1:19532\n"
        "export MILVUS_CONN_ALIAS=tk\n"
        "export MILVUS_CONN_TIMEOUT=10\n"
    )


def test_env_with_secrets_refuses_an_api_key_token_no_variable_carries(cli, secret_aliases,
                                                                       monkeypatch):  # fmt: skip
    monkeypatch.setenv("ATOK", TOKEN)
    result = cli("env", "tk", "--with-secrets", code=2)
    assert result.stdout == ""
    assert "pymilvus reads no token from the environment (there is no MILVUS_TOKEN)" in (
        result.stderr
    )
    assert "milvus_conn.client('tk')" in result.stderr
    assert TOKEN not in result.stderr


def test_env_help_says_what_pymilvus_reads(cli):
    text = cli("env", "--help").stdout
    words = " ".join(text.split())  # as wrapped for any terminal width
    assert "MilvusClient reads no environment" in words
    assert "pymilvus reads no MILVUS_TOKEN" in words
    assert (
        """python -c 'import os, pymilvus; pymilvus.MilvusClient(uri=os.environ["MILVUS_URI"])'"""
        in text
    )


@pytest.mark.parametrize("syntax", ["sh", "fish", "powershell"])
def test_env_without_secrets_never_prints_a_secret(cli, secret_aliases, monkeypatch, syntax):
    for name, value in secret_aliases.items():
        monkeypatch.setenv(name, value)
    cli("add", "plain", "--uri", "http://bob:Pl41n-S3cret@127.0.0.1:19533")
    for alias in ("pw", "tk", "plain"):
        result = cli("env", alias, "--shell", syntax)
        assert "MILVUS_URI" in result.stdout
        for secret in (PASSWORD, parse.quote(PASSWORD, safe=""), TOKEN, "Pl41n-S3cret"):
            assert secret not in result.stdout + result.stderr
        assert "MILVUS_TOKEN" not in result.stdout


def test_env_without_secrets_does_not_need_the_variable(cli, secret_aliases):
    assert "export MILVUS_URI=http://alice@127.0.0.1:19531\n" in cli("env", "pw").stdout


def test_env_with_secrets_and_the_variable_unset_exits_6(cli, secret_aliases):
    result = cli("env", "pw", "--with-secrets", code=6)
    assert result.stdout == ""
    assert result.stderr == (
        "Error: alias 'pw': password_env names $APW, which is not set in the environment\n"
    )


def test_env_eval_in_bash_lets_pymilvus_reach_milvus_lite(lite, profile):
    client = (
        "from pymilvus import MilvusClient; import os; "
        'print(type(MilvusClient(uri=os.environ["MILVUS_URI"]).list_collections()).__name__)'
    )
    done = shell(f"eval \"$(conn env lite)\" && python -c '{client}'", CONN_PROFILE=str(profile))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "list\n"


def test_env_eval_in_bash_restores_the_password_exactly(profile, secret_aliases):
    done = shell(
        'eval "$(conn env pw --with-secrets)" && printf "%s" "$MILVUS_URI"',
        CONN_PROFILE=str(profile),
        APW=READABLE_PASSWORD,
    )
    assert done.returncode == 0, done.stderr
    assert parse.urlparse(done.stdout).password == READABLE_PASSWORD  # as pymilvus reads it


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_env_sourced_in_fish_restores_the_password_exactly(profile, secret_aliases):
    done = subprocess.run(
        ["fish", "-c", "conn env pw --with-secrets --shell fish | source; printf %s $MILVUS_URI"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
             "CONN_PROFILE": str(profile), "APW": READABLE_PASSWORD},
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert parse.urlparse(done.stdout).password == READABLE_PASSWORD


@pytest.mark.slow
@pytest.mark.parametrize("secret", ["--password-env", "--token-env"])
def test_env_with_secrets_lets_pymilvus_authenticate_to_real_milvus(profile, cli, milvus_auth,
                                                                    secret):  # fmt: skip
    value = "Milvus" if secret == "--password-env" else "root:Milvus"
    cli("add", "real", "--address", milvus_auth.address, "--user", "root", secret, "SECRET")
    python = (
        "import os, pymilvus; pymilvus.connections.connect(); "
        'print(pymilvus.MilvusClient(uri=os.environ["MILVUS_URI"]).list_collections())'
    )
    done = shell(
        f"eval \"$(conn env real --with-secrets)\" && python -W ignore -c '{python}'",
        CONN_PROFILE=str(profile),
        SECRET=value,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


# conn export / conn import ----------------------------------------------------------


SHARED = (
    'version = 1\nowner = "team"\n\n'
    '[connections.a]\naddress = "h:1"\npassword = "Pl41n-PW-x9"\ntoken_env = "TOK"\n'
    'color = "blue"\n\n'
    '[connections.b]\naddress = "h:2"\ntoken = "Pl41n-TOK-x9"\npassword_env = "PW"\n'
)
EXPORTED_A = '[connections.a]\naddress = "h:1"\ntoken_env = "TOK"\ncolor = "blue"\n'
EXPORTED_B = '[connections.b]\naddress = "h:2"\npassword_env = "PW"\n'


def test_export_drops_plain_secrets_keeps_references_and_unknown_keys(cli, profile):
    write_profile(profile, SHARED)
    result = cli("export")
    assert result.stdout == f'version = 1\nowner = "team"\n\n{EXPORTED_A}\n{EXPORTED_B}'
    assert "Pl41n" not in result.stdout


def test_export_of_named_aliases_prints_only_those(cli, profile):
    write_profile(profile, SHARED)
    assert cli("export", "b").stdout == f'version = 1\nowner = "team"\n\n{EXPORTED_B}'


def test_export_of_an_unknown_alias_exits_1(cli, profile):
    write_profile(profile, SHARED)
    result = cli("export", "a", "nope", code=1)
    assert result.stdout == ""
    assert result.stderr.endswith(
        "\nError: unknown alias 'nope'\n"
    )  # after the plain-secret warning


def test_import_into_another_profile_reproduces_the_aliases(cli, lite, other_profile, tmp_path):
    cli("add", "tls", "--uri", "https://milvus.example:443", "--user", "ci", "--db-name", "d")
    shared = tmp_path / "team.toml"
    shared.write_text(cli("export").stdout)
    result = cli("--profile", str(other_profile), "import", str(shared))
    assert result.stdout == "Imported 2 alias(es): lite, tls\n"
    imported = json.loads(cli("--profile", str(other_profile), "list", "--json").stdout)
    original = json.loads(cli("list", "--json").stdout)
    for row in (*imported, *original):  # the file each alias is defined in: the only change
        row.pop("profile")
    assert imported == original


def test_import_of_a_conflicting_alias_exits_1_and_changes_nothing(cli, profile, tmp_path):
    cli("add", "a", "--address", "127.0.0.1:19531")
    shared = tmp_path / "team.toml"
    shared.write_text('version = 1\n[connections.a]\naddress = "127.0.0.1:19532"\n')
    before = snapshot(profile)
    result = cli("import", str(shared), code=1)
    assert result.stderr == (
        "Error: 1 alias(es) already exist with other settings: 'a' (use --force to replace them)\n"
    )
    assert snapshot(profile) == before


def test_import_force_replaces_a_conflicting_alias(cli, profile, tmp_path):
    cli("add", "a", "--address", "127.0.0.1:19531")
    shared = tmp_path / "team.toml"
    shared.write_text('version = 1\n[connections.a]\naddress = "127.0.0.1:19532"\n')
    assert cli("import", str(shared), "--force").stdout == "Imported 1 alias(es): a\n"
    assert cli("addr", "a").stdout == "127.0.0.1:19532\n"


def test_import_force_replaces_unknown_keys_too(cli, profile, tmp_path):
    write_profile(profile, 'version = 1\n[connections.a]\naddress = "h:1"\ncolor = "blue"\n')
    shared = tmp_path / "team.toml"
    shared.write_text('version = 1\n[connections.a]\naddress = "h:1"\ncolor = "red"\n')
    cli("import", str(shared), code=1)
    cli("import", str(shared), "--force")
    assert (
        cli("export", "a").stdout
        == 'version = 1\n\n[connections.a]\naddress = "h:1"\ncolor = "red"\n'
    )


def test_import_of_an_identical_alias_is_not_a_conflict(cli, profile, tmp_path):
    cli("add", "a", "--address", "127.0.0.1:19531", "--timeout", "3")
    shared = tmp_path / "team.toml"
    shared.write_text(cli("export").stdout)
    before = profile.read_text()
    assert cli("import", str(shared)).stdout == "Imported 1 alias(es): a\n"
    assert profile.read_text() == before


def test_import_of_a_corrupt_file_exits_6_with_line_and_column(cli, lite, profile, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CORRUPT)
    before = snapshot(profile)
    result = cli("import", str(bad), code=6)
    assert result.stderr.startswith(f"Error: {bad}: invalid TOML: ")
    assert "line 4, column 11" in result.stderr
    assert snapshot(profile) == before


def test_import_of_a_missing_file_exits_6(cli, lite, profile, tmp_path):
    missing = tmp_path / "nothere.toml"
    before = snapshot(profile)
    assert cli("import", str(missing), code=6).stderr == f"Error: {missing}: no such file\n"
    assert snapshot(profile) == before


# -q / --quiet and -v / --verbose ----------------------------------------------------


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["addr", "lite"]])
def test_quiet_prints_nothing(cli, lite, args):
    result = cli("-q", *args)
    assert (result.stdout, result.stderr) == ("", "")


def test_quiet_connect_prints_nothing_and_still_connects(cli, lite, registry):
    result = cli("-q", "connect", "lite")
    assert (result.stdout, result.stderr) == ("", "")
    assert registry.has_connection("lite") is True


def test_quiet_still_prints_errors(cli, lite):
    result = cli("-q", "addr", "nope", code=1)
    assert (result.stdout, result.stderr) == ("", "Error: unknown alias 'nope'\n")


def test_quiet_list_on_a_terminal_prints_nothing(lite, profile):
    code, shown = run_on_terminal("list")
    assert code == 0
    assert "ALIAS" in shown  # the control: without -q, a table is drawn on the terminal
    code, shown = run_on_terminal("-q", "list")
    assert code == 0
    assert shown == ""


def test_verbose_has_names_the_profile_and_the_probed_address(cli, lite, profile):
    cli("connect", "lite")
    result = cli("-v", "has", "lite")
    assert result.stdout.startswith(f"lite ({lite.address}): healthy")
    assert result.stderr == (
        f"conn: profile {profile}\n"
        f"conn: lite: probed {lite.address} (tls off, probe auto, timeout default): "
        "healthy via milvus\n"
    )


def test_verbose_connect_names_the_profile_and_the_probed_address(cli, auth_server, profile):
    result = cli("-v", "connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    lines = result.stderr.splitlines()
    assert all(line.startswith("conn: ") for line in lines), lines
    assert f"conn: profile {profile}" in lines
    assert any(auth_server.address in line for line in lines), lines


def test_verbose_never_prints_the_password(cli, auth_server):
    result = cli("-v", "connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    encoded = base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()
    for secret in (ALICE_PASSWORD, encoded):
        assert secret not in result.stdout + result.stderr


def test_verbose_list_check_names_every_probed_address(cli, lite):
    cli("add", "other", "--address", "127.0.0.1:19531", "--timeout", "1")
    result = cli("-v", "list", "--check", code=3)
    probed = [line for line in result.stderr.splitlines() if "probed" in line]
    assert [line.startswith("conn: ") for line in probed] == [True] * 3
    for address in ("localhost:19530", lite.address, "127.0.0.1:19531"):
        assert any(address in line for line in probed), result.stderr


# embedded Milvus Lite, through the library ------------------------------------------


@pytest.fixture
def local_db(tmp_path) -> Iterator[Path]:
    """A .db file for an in-process Milvus Lite, released after the test."""
    from milvus_lite.server_manager import server_manager_instance

    db = tmp_path / "x.db"
    yield db
    server_manager_instance.release_server(str(db))


def test_connect_to_a_db_file_gives_a_healthy_handle_not_stored(registry, profile, local_db):
    handle = registry.connect("local", uri=str(local_db))
    assert handle.check().healthy is True
    assert "local" not in registry.store.load().aliases
    assert not profile.exists() or "local" not in profile.read_text()


def test_a_db_file_connection_is_live_in_its_process(registry, local_db):
    handle = registry.connect("local", uri=str(local_db))
    assert registry.has_connection("local") is True
    assert registry.get_connection("local") is handle


def test_a_db_uri_without_milvus_lite_names_the_extra(profile, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.modules["milvus_lite"] = None
        sys.modules["milvus_lite.server_manager"] = None
        from milvus_conn import ConnectionConfigException, Connections
        try:
            Connections(profile=sys.argv[1]).connect("local", uri=sys.argv[2])
        except ConnectionConfigException as exc:
            print(exc.message)
        """
    )
    command = [sys.executable, "-c", script, str(profile), str(tmp_path / "x.db")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "milvus-conn[lite]" in done.stdout
    assert not profile.exists()


def test_a_db_file_in_a_missing_directory_is_a_config_error(registry, profile, tmp_path):
    missing = tmp_path / "absent" / "x.db"
    with pytest.raises(ConnectionConfigException, match="not exists"):
        registry.connect("local", uri=str(missing))
    assert not profile.exists()


# processes: the same answers from a real `conn` -------------------------------------


def test_process_use_then_addr_without_alias(lite, profile):
    done = run_conn("use", "lite")
    assert done.returncode == 0, done.stderr
    done = run_conn("addr")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{lite.address}\n"


def test_fresh_registry_sees_the_default_chosen_by_conn_use(used_lite, profile):
    assert Connections(profile=profile).resolve_alias(None) == "lite"
