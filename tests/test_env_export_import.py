"""`conn env` (exports a pymilvus program reads, proved by real shells evaluating them),
and `conn export` / `conn import` (aliases carried to another profile, plain secrets
left behind, conflicts refused unless `--force`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib import parse

import pytest

from .helpers import CORRUPT, snapshot, write_profile

# conn env ------------------------------------------------------------------------------


PASSWORD = "p@ss w'rd:/x-Q7"  # needs URL-quoting and shell-quoting


TOKEN = 't0k\'en "$HOME" back\\slash\\'  # quotes, a variable, backslashes, a trailing one


READABLE_PASSWORD = "p@ss w'rd:x-Q7"  # shell-quoting, and pymilvus still reads it from a URI


VENV_BIN = str(Path(sys.executable).parent)


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


@pytest.fixture
def secret_aliases(cli):
    """`pw` (password by reference), `tk` (token by reference), both with the variables set."""
    cli("add", "pw", "--address", "127.0.0.1:19531", "--user", "alice", "--password-env", "APW")
    cli("add", "tk", "--address", "127.0.0.1:19532", "--token-env", "ATOK")
    return {"APW": PASSWORD, "ATOK": TOKEN}


@pytest.fixture
def other_profile(tmp_path) -> Path:
    return tmp_path / "other" / "profiles.toml"


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
        "Error: alias 'pw': password_env names $APW, which is not set in the environment "
        "(or store the password: conn login pw)\n"
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


# conn export / conn import -------------------------------------------------------------


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


def test_import_of_a_missing_file_exits_2(cli, lite, profile, tmp_path):
    missing = tmp_path / "nothere.toml"
    before = snapshot(profile)
    assert cli("import", str(missing), code=2).stderr == f"Error: {missing}: no such file\n"
    assert snapshot(profile) == before
