"""One order of secret sources, the same for the CLI and the library: this run's value,
CONN_<ALIAS>_PASSWORD, the alias's variable, its command, the OS credential store, a
plain value. Each layer is seen where it counts, in the `authorization` a server
receives; and offline commands never resolve a secret at all."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from milvus_conn import Connections

from .helpers import ALICE_PASSWORD, assert_no_secret, write_profile

pytestmark = pytest.mark.filterwarnings("ignore::milvus_conn.PlainSecretWarning")

SOURCES = ("explicit", "override", "variable", "command", "keyring", "plain")
VALUES = {source: f"{source}-Sx7q-value" for source in SOURCES}


def authorization(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def counting_script(tmp_path: Path, output: str, name: str = "secret.sh") -> tuple[str, Path]:
    """A command printing `output`, counting its runs in a file beside it."""
    runs = tmp_path / f"{name}.runs"
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\necho run >> '{runs}'\nprintf '%s\\n' '{output}'\n")
    script.chmod(0o700)
    return str(script), runs


@pytest.fixture
def layered(profile, tmp_path, milvus_protocol, file_keyring, monkeypatch):
    """An alias with a secret in every source; returns a function that removes the
    sources above `source`, leaving it the first in the order."""
    command, _ = counting_script(tmp_path, VALUES["command"])
    text = (f'version = 1\n\n[connections.ord]\naddress = "{milvus_protocol.address}"\n'
            f'user = "u"\npassword_env = "ORD_PW"\npassword_command = "{command}"\n')  # fmt: skip
    write_profile(profile, text)
    Connections(profile=profile).login("ord", VALUES["keyring"])  # the server accepts anything
    write_profile(profile, f'{text}password = "{VALUES["plain"]}"\n')
    monkeypatch.setenv("ORD_PW", VALUES["variable"])
    monkeypatch.setenv("CONN_ORD_PASSWORD", VALUES["override"])

    def leave(source: str) -> dict[str, str]:
        """The explicit keywords to pass; the sources above `source` taken away."""
        index = SOURCES.index(source)
        if index > SOURCES.index("override"):
            monkeypatch.delenv("CONN_ORD_PASSWORD")
        if index > SOURCES.index("variable"):
            monkeypatch.delenv("ORD_PW")
        if index > SOURCES.index("command"):
            text = profile.read_text().replace(f'password_command = "{command}"\n', "")
            write_profile(profile, text)
        if index > SOURCES.index("keyring"):
            Connections(profile=profile).logout("ord")
        return {"password": VALUES["explicit"]} if source == "explicit" else {}

    return leave


@pytest.mark.parametrize("source", SOURCES)
def test_the_library_sends_the_first_source_in_the_order(layered, milvus_protocol, profile,
                                                         source):  # fmt: skip
    explicit = layered(source)
    registry = Connections(profile=profile)
    registry.connect("ord", **explicit)
    assert milvus_protocol.seen_metadata[-1]["authorization"] == authorization("u", VALUES[source])
    if not explicit:
        assert registry.client_kwargs("ord")["password"] == VALUES[source]
        assert VALUES[source] in registry.environment("ord", with_secrets=True)["MILVUS_URI"]
    registry.reset()


@pytest.mark.parametrize("source", SOURCES)
def test_the_cli_sends_the_first_source_and_explain_names_it(layered, milvus_protocol, cli,
                                                             profile, source):  # fmt: skip
    explicit = layered(source)
    stdin = ("--password-stdin",) if explicit else ()
    result = cli("connect", "ord", *stdin, input=f"{VALUES['explicit']}\n")
    assert milvus_protocol.seen_metadata[-1]["authorization"] == authorization("u", VALUES[source])
    names = {"explicit": None, "override": "env:CONN_ORD_PASSWORD", "variable": "env:ORD_PW",
             "command": "command", "keyring": "keyring", "plain": f"profile:{profile}"}  # fmt: skip
    if names[source]:
        report = json.loads(cli("addr", "ord", "--explain", "--json").stdout)
        assert report["password"] == {"value": "set", "source": names[source]}
    assert_no_secret(result.stdout, result.stderr)
    assert all(value not in result.output for value in VALUES.values())


def test_an_unset_variable_passes_to_the_next_source(cli, milvus_protocol, tmp_path):
    command, _ = counting_script(tmp_path, "from-the-command")
    cli("add", "team", "--address", milvus_protocol.address, "--user", "u",
        "--password-env", "TEAM_PW_UNSET", "--password-command", command)  # fmt: skip
    cli("connect", "team")
    assert milvus_protocol.seen_metadata[-1]["authorization"] == authorization(
        "u", "from-the-command"
    )


# offline commands never resolve a secret --------------------------------------------------


@pytest.fixture
def connected_then_broken(cli, auth_server, tmp_path, file_keyring, monkeypatch):
    """Three connected aliases whose secrets then stop working: an unset variable, a store
    entry deleted outside conn, a command that fails (and counts its runs)."""
    monkeypatch.setenv("V_PW", ALICE_PASSWORD)
    command, runs = counting_script(tmp_path, ALICE_PASSWORD)
    where = ("--address", auth_server.address, "--user", "alice")
    cli("add", "var", *where, "--password-env", "V_PW")
    cli("add", "cmd", *where, "--password-command", command)
    cli("add", "store", "--address", auth_server.address.replace("127.0.0.1", "localhost"),
        "--user", "alice")  # fmt: skip
    cli("login", "store", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    for alias in ("var", "cmd", "store"):
        cli("connect", alias)
    monkeypatch.delenv("V_PW")
    file_keyring.unlink()  # deleted outside conn
    Path(command).write_text(f"#!/bin/sh\necho run >> '{runs}'\necho broken >&2\nexit 3\n")
    return runs


OFFLINE = [
    ("has", "{alias}", "--no-probe"),
    ("has", "var", "cmd", "store", "--no-probe", "--json"),
    ("list",),
    ("list", "--json"),
    ("addr", "{alias}"),
    ("addr", "{alias}", "--explain"),
    ("export", "{alias}"),
    ("env", "{alias}"),
    ("disconnect", "{alias}"),
]


@pytest.mark.parametrize("alias", ["var", "cmd", "store"])
@pytest.mark.parametrize("args", OFFLINE, ids=" ".join)
def test_offline_commands_answer_from_the_recorded_state(cli, connected_then_broken, alias,
                                                         args):  # fmt: skip
    runs_before = connected_then_broken.read_text()
    result = cli(*(arg.format(alias=alias) for arg in args))
    assert result.stderr == ""
    assert connected_then_broken.read_text() == runs_before  # the command never ran


@pytest.mark.parametrize(
    ("alias", "says"),
    [
        ("var", "password_env names $V_PW, which is not set in the environment"),
        ("cmd", "password_command `"),
        ("store", "and the entry is gone"),
    ],
)
def test_a_probe_of_the_same_aliases_says_what_broke(cli, connected_then_broken, alias, says):
    result = cli("has", alias, code=6)
    assert result.stderr.startswith(f"Error: alias '{alias}': ") and says in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_library_opens_handles_without_resolving(connected_then_broken, profile):
    registry = Connections(profile=profile)
    assert registry.has_connection("cmd") is True
    handles = dict(registry.list_connections())
    assert {"var", "cmd", "store"} <= {a for a, h in handles.items() if h is not None}
    assert registry.get_connection_addr("store")["user"] == "alice"
    assert connected_then_broken.read_text() == "run\n"  # once, at connect
    registry.reset()


def test_a_token_login_without_a_user_names_the_server_alone_when_its_entry_is_gone(
    cli, auth_server, file_keyring
):
    cli("add", "tok", "--address", auth_server.address)
    cli("login", "tok", "--token", "--token-stdin", input=f"alice:{ALICE_PASSWORD}\n")
    file_keyring.unlink()  # deleted outside conn
    assert cli("connect", "tok", code=6).stderr == (
        f"Error: alias 'tok': conn login stored its token for {auth_server.address} in the OS "
        "credential store, and the entry is gone: conn login tok stores it again (conn "
        "logout tok forgets the login)\n"
    )
