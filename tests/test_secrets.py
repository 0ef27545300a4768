"""No password or token reaches any output, error, JSON, repr or the state file."""

from __future__ import annotations

import json
import warnings

import pytest

from milvus_conn import ConnectionConfigException, Connections, MilvusException, PlainSecretWarning

from . import servers
from .helpers import OVERRIDE, PASSWORD, TOKEN, assert_no_secret, state_file


@pytest.fixture
def secret_profile(profile, auth_server, milvus_lite):
    """A profile holding plain secrets (hand-written), aliases for every outcome."""
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(
        "version = 1\n\n"
        f'[connections.lite]\naddress = "{milvus_lite.address}"\nuser = "alice"\n'
        f'password = "{PASSWORD}"\n\n'
        f'[connections.auth]\naddress = "{auth_server.address}"\nuser = "alice"\n'
        f'password = "{PASSWORD}"\n\n'
        f'[connections.tok]\naddress = "{auth_server.address}"\ntoken = "{TOKEN}"\n\n'
        f'[connections.gone]\naddress = "{servers.refused_address()}"\ntoken = "{TOKEN}"\n'
    )
    profile.chmod(0o600)
    return profile


COMMANDS = [
    ("list",),
    ("list", "--json"),
    ("list", "--check", "--json", "--timeout", "2"),
    ("list", "--check", "--timeout", "2"),
    ("addr", "lite"),
    ("addr", "auth", "--json"),
    ("connect", "lite"),
    ("connect", "lite", "--json"),
    ("connect", "auth", "--json"),
    ("connect", "auth"),
    ("connect", "tok", "--json"),
    ("connect", "gone", "--timeout", "1"),
    ("connect", "gone", "--timeout", "1", "--json"),
    ("has", "lite"),
    ("has", "lite", "--json"),
    ("has", "auth", "--json"),
    ("has", "tok"),
    ("has", "gone", "--no-probe", "--json"),
    ("disconnect", "lite"),
    ("add", "lite", "--address", "127.0.0.1:1"),
    ("add", "extra", "--uri", f"http://alice:{PASSWORD}@127.0.0.1:1"),
    ("addr", "extra", "--json"),
    ("remove", "extra"),
    ("remove", "tok"),
]


def test_no_command_prints_a_secret(cli, secret_profile):
    for args in COMMANDS:
        result = cli(*args, code=None)
        assert_no_secret(result.stdout, result.stderr)
    state = state_file(secret_profile)
    assert state.exists()
    assert_no_secret(state.read_text())


def test_uri_password_is_kept_out_of_the_uri(registry):
    with pytest.warns(PlainSecretWarning):
        registry.add_connection(x={"uri": f"https://alice:{PASSWORD}@127.0.0.1:1"})
        registry.get_connection_addr("x")
    text = registry.store.path.read_text()
    assert 'uri = "https://alice@127.0.0.1:1"' in text
    assert f'password = "{PASSWORD}"' in text  # kept like any plain secret, with the warning
    assert_no_secret(registry.get_connection_addr("x"), registry.list_connections())


def test_library_views_and_errors_hold_no_secret(secret_profile, auth_server):
    registry = Connections(profile=secret_profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlainSecretWarning)
        handle = registry.connect("lite")
        assert_no_secret(repr(handle), handle.config, repr(handle.config), handle.result)
        assert_no_secret(registry.get_connection_addr("lite"), registry.list_connections())
        assert_no_secret(registry.describe(check=True, timeout=2))
        for alias, kwargs in [("auth", {"password": TOKEN}), ("gone", {"timeout": 1})]:
            with pytest.raises(MilvusException) as caught:
                registry.connect(alias, **kwargs)
            assert_no_secret(str(caught.value), repr(caught.value), caught.value.result)
        with pytest.raises(MilvusException) as caught:
            registry.connect("bad", address=auth_server.address, user="u", password=PASSWORD)
        assert_no_secret(str(caught.value), repr(caught.value))
    registry.reset()


def test_client_kwargs_is_the_one_place_secrets_come_out(secret_profile):
    registry = Connections(profile=secret_profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlainSecretWarning)
        assert registry.client_kwargs("lite")["password"] == PASSWORD
        assert registry.client_kwargs("tok")["token"] == TOKEN


# every path that rejects a URI quotes it with the password as *** ------------------------


REJECTED_URIS = {
    "bad-port": f"http://alice:{PASSWORD}@127.0.0.1:99999",
    "port-not-a-number": f"http://alice:{PASSWORD}@127.0.0.1:port",
    "bad-host": f"http://alice:{PASSWORD}@bad host:1",
    "bad-ipv6-literal": f"http://alice:{PASSWORD}@[::zz]:1",
    "unclosed-ipv6": f"http://alice:{PASSWORD}@[::1:1",
    "unbracketed-ipv6": f"http://alice:{PASSWORD}@::1:1",
    "zone": f"http://alice:{PASSWORD}@[fe80::1%25eth0]:1",
    "bad-scheme": f"ftp://alice:{PASSWORD}@127.0.0.1:1",
    "extra-path": f"http://alice:{PASSWORD}@127.0.0.1:1/db/more",
    "query": f"http://alice:{PASSWORD}@127.0.0.1:1/db?x=1",
    "raw-slash-in-password": f"http://alice:{PASSWORD}/x@127.0.0.1:1",
    "unparsable": f"http://alice:{PASSWORD}@127.0.0.1:1\n",
    "huge": f"http://alice:{PASSWORD}@{'h' * 5000}:99999",
}


@pytest.mark.parametrize("uri", REJECTED_URIS.values(), ids=REJECTED_URIS.keys())
def test_rejected_uri_never_echoes_its_password(cli, profile, tmp_path, monkeypatch, uri):
    outputs = []
    for args in (["add", "x", "--uri", uri], ["connect", "x", "--uri", uri, "--json"]):
        result = cli(*args, code=2)
        outputs += [result.stdout, result.stderr]
    address = uri.partition("://")[2]  # the same text given as an address
    outputs.append(cli("add", "y", "--address", address, code=2).stderr)
    assert "alice:***@" in outputs[1], outputs[1]  # the user stays, to say which URI it was
    monkeypatch.setenv("MILVUS_URI", uri)
    for args in (["addr"], ["list", "--json"], ["connect"]):
        result = cli(*args, code=None)
        assert result.exit_code != 0, (args, result.output)
        outputs += [result.stdout, result.stderr]
    monkeypatch.delenv("MILVUS_URI")
    shared = tmp_path / "shared.toml"
    shared.write_text(f"version = 1\n[connections.z]\nuri = {json.dumps(uri)}\n")
    outputs.append(cli("import", str(shared), code=2).stderr)
    assert_no_secret(*outputs)


@pytest.mark.parametrize("uri", REJECTED_URIS.values(), ids=REJECTED_URIS.keys())
def test_rejected_uri_in_the_library_never_echoes_its_password(profile, uri):
    registry = Connections(profile=profile)
    attempts = [
        lambda: registry.add_connection(x={"uri": uri}),
        lambda: registry.connect("x", uri=uri),
        lambda: registry.add("x", uri=uri),
        lambda: registry.add_connection(x={"address": uri.partition("://")[2]}),
    ]
    for attempt in attempts:
        with pytest.raises(ConnectionConfigException) as caught:
            attempt()
        assert_no_secret(str(caught.value), repr(caught.value), caught.value.message)
    assert not profile.exists()


# secrets from commands and from the OS credential store -------------------------------------


@pytest.fixture
def secret_sources(cli, profile, tmp_path, milvus_protocol, file_keyring):
    """Aliases whose secrets come from a command and from the credential store (the
    Milvus-protocol server accepts any), and ones whose command or store entry fails
    after printing or holding a secret."""

    def command(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o700)
        return str(path)

    where = ("--address", milvus_protocol.address, "--user", "alice")
    cli("add", "cmd", *where, "--password-command", command("ok", f"echo '{PASSWORD}'"))
    cli("add", "tokcmd", "--address", milvus_protocol.address,
        "--token-command", command("tok", f"echo '{TOKEN}'"))  # fmt: skip
    cli("add", "fails", *where, "--password-command",
        command("fails", f"echo '{PASSWORD}'; echo 'denied' >&2; exit 1"))  # fmt: skip
    cli("add", "garbled", *where, "--password-command",
        command("garbled", f"printf '{PASSWORD}\\033[2J\\n'"))  # fmt: skip
    cli("add", "huge", *where, "--password-command",
        command("huge", f"yes '{PASSWORD}' | head -c 200000"))  # fmt: skip
    cli("add", "stored", "--address", f"localhost:{milvus_protocol.address.split(':')[1]}",
        "--user", "alice")  # fmt: skip
    cli("login", "stored", "--password-stdin", input=f"{OVERRIDE}\n")
    cli("add", "stored-tok", "--address", "127.0.0.2:1", "--user", "bob")
    return file_keyring


SOURCE_COMMANDS = [
    ("connect", "cmd"),
    ("-v", "connect", "cmd", "--json"),
    ("connect", "tokcmd", "--json"),
    ("has", "cmd"),
    ("has", "cmd", "tokcmd", "stored", "--json"),
    ("-v", "has", "stored"),
    ("connect", "stored", "--json"),
    ("addr", "cmd", "--explain"),
    ("addr", "stored", "--explain", "--json"),
    ("list", "--check", "--json", "--timeout", "2"),
    ("-v", "list", "--check", "--timeout", "2"),
    ("connect", "fails"),
    ("connect", "fails", "--json"),
    ("connect", "garbled"),
    ("connect", "huge", "--json"),
    ("doctor", "--network", "--json"),
    ("doctor", "--network"),
    ("export",),
    ("login", "stored-tok", "--token-stdin"),  # refused: unreachable
    ("logout", "stored"),
    ("connect", "stored"),  # logged out: nothing sent
    ("remove", "cmd"),
]


def test_no_path_of_a_command_or_the_store_prints_a_secret(cli, secret_sources, profile):
    for args in SOURCE_COMMANDS:
        result = cli(*args, input=f"{TOKEN}\n", code=None)
        assert_no_secret(result.stdout, result.stderr)
    for path in (profile, state_file(profile)):
        assert_no_secret(path.read_text())
    from milvus_conn.secrets.logins import logins_file

    assert_no_secret(logins_file().read_text())


def test_rejected_secrets_are_never_echoed(cli, secret_sources):
    for given in (f"{PASSWORD}\x1b[2J\n", f"{PASSWORD}\nsecond line\n"):
        for args in (("login", "stored", "--password-stdin"),
                     ("connect", "cmd", "--password-stdin", "--json")):  # fmt: skip
            result = cli(*args, input=given, code=2)
            assert_no_secret(result.stdout, result.stderr)


def test_library_views_of_command_and_stored_secrets_hold_none(secret_sources, profile):
    registry = Connections(profile=profile)
    handle = registry.connect("cmd")
    done = registry.login("stored", TOKEN)
    assert_no_secret(repr(handle), repr(done), registry.get_connection_addr("cmd"),
                     registry.explain("stored"), registry.list_connections())  # fmt: skip
    for alias in ("fails", "garbled", "huge"):
        with pytest.raises(MilvusException) as caught:
            registry.connect(alias)
        assert_no_secret(str(caught.value), repr(caught.value))
    registry.reset()


def test_the_exporter_serves_no_secret(secret_profile):
    from .exporters import exporter

    with exporter(secret_profile) as running:
        answers = [running.probe(alias) for alias in ("lite", "auth", "tok", "gone")]
        answers.append(running.probe("lite", "&collection=c&loaded=1"))
        answers += [running.get(path) for path in ("/sd", "/metrics", "/", "/nope")]
        code, out, err = running.stop()
    assert code == 0, err
    assert [a.status for a in answers[:5]] == [200] * 5
    codes = [a.samples()["conn_probe_exit_code"] for a in answers[:4]]
    assert codes == [0, 5, 5, 3]  # the secrets were sent (and refused by the auth server)
    assert_no_secret(running.stdout_line, out, err, *(a.body for a in answers))
    assert_no_secret(*(a.headers for a in answers))
