"""Credentials that work: passwords and tokens from the profile, from variables, from a
`uri` and from stdin, accepted or refused (exit 5) by a grpc.health.v1 server with an
auth check and by the real Milvus 2.3.5 with authentication on."""

from __future__ import annotations

import base64
import time

import pytest

from milvus_conn import AuthenticationException, ProfileException

from . import servers
from .conftest import run_conn
from .helpers import ALICE_PASSWORD, ROOT_PASSWORD, WRONG_PASSWORD, state_file, write_profile

# conn connect with credentials ---------------------------------------------------------


def test_connect_with_the_right_password_env_exits_0(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", ALICE_PASSWORD)
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    cli("connect", "alice")


def test_connect_with_wrong_credentials_exits_5(cli, auth_server, monkeypatch):
    monkeypatch.setenv("ALICE_PW", WRONG_PASSWORD)
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "ALICE_PW")  # fmt: skip
    result = cli("connect", "alice", code=5)
    assert "authentication failed" in result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr


def test_a_secret_option_given_to_connect_wins_over_the_aliass_own(cli, auth_server, monkeypatch):
    monkeypatch.setenv("WRONG_PW", WRONG_PASSWORD)
    monkeypatch.setenv("ALICE_PW", ALICE_PASSWORD)
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "WRONG_PW")  # fmt: skip
    cli("connect", "alice", code=5)
    cli("connect", "alice", "--password-env", "ALICE_PW")


def test_an_alias_connected_elsewhere_takes_its_secret_from_the_profile_again(
    cli, auth_server, profile
):
    """The state file keeps no secret: a reconnect, and a live handle opened from the
    state file, take the password from the profile, wherever the alias was connected."""
    write_profile(
        profile,
        f'[connections.alice]\naddress = "{servers.refused_address()}"\nuser = "alice"\n'
        f'password = "{ALICE_PASSWORD}"\n',
    )
    cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    cli("has", "alice")
    cli("connect", "alice")  # at the address it is connected to, with the profile's password


def test_connect_password_stdin_never_shows_the_password(cli, auth_server, profile):
    result = cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", input=f"{ALICE_PASSWORD}\n")  # fmt: skip
    shown = [result, cli("list", "--json"), cli("addr", "alice", "--json")]
    files = b"".join(path.read_bytes() for path in profile.parent.iterdir())
    encoded = base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()
    for secret in (ALICE_PASSWORD, encoded):
        assert all(secret not in r.stdout + r.stderr for r in shown)
        assert secret.encode() not in files


def test_wrong_password_on_stdin_is_not_echoed(cli, auth_server):
    result = cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
                 "--password-stdin", "--json", input=f"{WRONG_PASSWORD}\n", code=5)  # fmt: skip
    assert WRONG_PASSWORD not in result.stdout + result.stderr


def test_process_password_stdin_is_read_and_never_shown(auth_server, profile):
    done = run_conn("connect", "alice", "--address", auth_server.address, "--user", "alice",
                    "--password-stdin", stdin=f"{ALICE_PASSWORD}\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ALICE_PASSWORD not in done.stdout + done.stderr
    assert ALICE_PASSWORD.encode() not in profile.read_bytes() + state_file(profile).read_bytes()


# the library ---------------------------------------------------------------------------


ALICE = "alice:s3cr3t-Pa55"


def authorization(secret: str) -> str:
    return base64.b64encode(secret.encode()).decode()


def test_password_env_is_resolved_at_connect(registry, auth_server, monkeypatch):
    registry.add_connection(
        au={"address": auth_server.address, "user": "alice", "password_env": "AU_PW"}
    )
    monkeypatch.setenv("AU_PW", "s3cr3t-Pa55")
    assert registry.connect("au").result.healthy
    monkeypatch.setenv("AU_PW", "changed")
    registry.disconnect("au")
    with pytest.raises(AuthenticationException):
        registry.connect("au")


def test_missing_password_env_variable_is_a_profile_error(registry, auth_server):
    registry.add_connection(
        au={"address": auth_server.address, "user": "alice", "password_env": "AU_PW_UNSET"}
    )
    with pytest.raises(ProfileException) as info:
        registry.connect("au")
    assert str(info.value) == (
        "alias 'au': password_env names $AU_PW_UNSET, which is not set in the environment "
        "(or store the password: conn login au)"
    )
    assert info.value.exit_code == 6
    assert registry.has_connection("au") is False


def test_per_alias_password_variable(registry, auth_server, monkeypatch):
    registry.add_connection(**{"my-au": {"address": auth_server.address, "user": "alice"}})
    monkeypatch.setenv("CONN_MY_AU_PASSWORD", "s3cr3t-Pa55")
    assert registry.connect("my-au").result.healthy


def test_uri_credentials_authenticate(registry, auth_server, recwarn):
    handle = registry.connect("au", uri=f"http://{ALICE}@{auth_server.address}")
    assert handle.result.healthy
    addr = registry.get_connection_addr("au")
    assert addr["user"] == "alice"
    assert "s3cr3t" not in repr(addr)


def test_token_is_sent_as_the_authorization(registry, milvus_protocol):
    registry.connect("m", address=milvus_protocol.address, token="root:Milvus", db_name="db1")
    metadata = milvus_protocol.seen_metadata[-1]
    assert metadata["authorization"] == authorization("root:Milvus")
    assert metadata["dbname"] == "db1"


def test_token_authenticates_against_the_auth_server(registry, auth_server):
    assert registry.connect("au", address=auth_server.address, token=ALICE).result.healthy


def test_connection_errors_never_show_the_password(registry, auth_server):
    with pytest.raises(AuthenticationException) as info:
        registry.connect("au", address=auth_server.address, user="alice", password="Wr0ngPw")
    assert "Wr0ngPw" not in str(info.value)
    assert "Wr0ngPw" not in repr(info.value.result)


# the real Milvus 2.3.5 with authentication ---------------------------------------------


@pytest.mark.slow
def test_right_password_connects(cli, milvus_auth, monkeypatch):
    monkeypatch.setenv("MILVUS_PW", ROOT_PASSWORD)
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "MILVUS_PW")  # fmt: skip
    cli("connect", "secured")
    cli("has", "secured")


@pytest.mark.slow
def test_wrong_password_is_exit_5_and_says_authentication(cli, milvus_auth):
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root")
    result = cli("connect", "secured", "--password-stdin", input="not-the-password\n", code=5)
    assert result.stderr.startswith("Error: cannot connect 'secured'")
    assert "authentication failed" in result.stderr
    assert "not-the-password" not in result.output


@pytest.mark.slow
def test_missing_credentials_is_exit_5(cli, milvus_auth):
    cli("add", "anon", "--address", milvus_auth.address)
    result = cli("connect", "anon", code=5)
    assert "authentication failed" in result.stderr


@pytest.mark.slow
def test_token_root_milvus_connects(cli, milvus_auth, monkeypatch):
    monkeypatch.setenv("MILVUS_TOKEN", f"root:{ROOT_PASSWORD}")
    cli("add", "tok", "--address", milvus_auth.address, "--token-env", "MILVUS_TOKEN")
    cli("connect", "tok")
    cli("has", "tok")


@pytest.mark.slow
def test_wait_never_retries_refused_credentials(cli, milvus_auth):
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root")
    started = time.monotonic()
    cli("connect", "secured", "--wait", "30", "--password-stdin", input="bad\n", code=5)
    assert time.monotonic() - started < 5  # one attempt, not thirty seconds of them


@pytest.mark.slow
def test_library_raises_authentication_exception(registry, milvus_auth):
    with pytest.raises(AuthenticationException, match="authentication failed") as caught:
        registry.connect("secured", address=milvus_auth.address, user="root", password="nope")
    assert caught.value.exit_code == 5
    assert "nope" not in str(caught.value) and "nope" not in repr(caught.value)
    assert not registry.has_connection("secured")


@pytest.mark.slow
def test_library_connects_with_credentials(registry, milvus_auth):
    handle = registry.connect(
        "secured", address=milvus_auth.address, user="root", password=ROOT_PASSWORD
    )
    assert handle.check().healthy


@pytest.mark.slow
def test_has_probes_with_the_stored_credentials(cli, milvus_auth, monkeypatch, profile):
    monkeypatch.setenv("MILVUS_PW", ROOT_PASSWORD)
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root",
        "--password-env", "MILVUS_PW")  # fmt: skip
    cli("connect", "secured")
    monkeypatch.setenv("MILVUS_PW", "rotated-away")
    result = cli("has", "secured", code=5)
    assert "authentication failed" in result.stderr
