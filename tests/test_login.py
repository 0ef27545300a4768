"""`conn login` / `conn logout`: a secret tested against its server, kept in a real
credential store (a GNOME Keyring on a private D-Bus session, keyrings.alt's file
backend), keyed by server and user, and used by every later probe; nothing stored
anywhere when anything fails."""

from __future__ import annotations

import os
import pty
import sys
import time

import pytest

from milvus_conn import Connections
from milvus_conn.secrets.logins import logins_file

from . import servers
from .conftest import run_conn
from .helpers import (
    ALICE_PASSWORD,
    NOT_SERVING,
    PLAIN,
    ROOT_PASSWORD,
    WRONG_PASSWORD,
    assert_no_secret,
    lock_held,
    one_error_line,
    profile_lock,
    snapshot,
    within,
    write_profile,
)
from .keyrings import FILE_BACKEND


def logins() -> str:
    """This user's record of logins ("" when there is none)."""
    path = logins_file()
    return path.read_text() if path.exists() else ""


@pytest.fixture
def alice(cli, auth_server):
    """An alias for alice on the authenticating server, with no secret of its own."""
    cli("add", "alice", "--address", auth_server.address, "--user", "alice")
    return auth_server.address


# the GNOME Keyring, as conn picks it with no keyring configuration -----------------------


def test_login_stores_the_password_in_the_gnome_keyring_and_probes_use_it(
    cli, alice, gnome_keyring
):
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert result.stdout == (
        f"Logged in alice: its password for alice@{alice} is in the Secret Service "
        "(org.freedesktop.secrets)\n"
    )
    attributes = {"username": "alice", "service": f"milvus-conn:{alice}",
                  "application": "Python keyring library"}  # fmt: skip
    assert gnome_keyring.items() == [(attributes, ALICE_PASSWORD)]
    assert logins() == f"password\t{alice}\talice\n"
    cli("connect", "alice")
    cli("has", "alice")
    assert explain_source(cli, "alice") == "keyring"


def test_an_entry_keyring_itself_stored_is_found_and_one_conn_stored_is_keyrings(
    cli, alice, gnome_keyring, monkeypatch
):
    """conn speaks to the Secret Service itself (a performance device): the items are
    keyring's own, as its SecretService backend reads and writes them."""
    from keyring.backends.SecretService import Keyring

    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert Keyring().get_password(f"milvus-conn:{alice}", "alice") == ALICE_PASSWORD
    Keyring().set_password(f"milvus-conn:{alice}", "alice", WRONG_PASSWORD)
    result = cli("connect", "alice", code=5)
    assert "authentication failed" in result.stderr


def test_a_wrong_password_is_exit_5_and_nothing_is_stored(cli, alice, gnome_keyring, profile):
    before = snapshot(profile)
    result = cli("login", "alice", "--password-stdin", input=f"{WRONG_PASSWORD}\n", code=5)
    assert result.stderr == (
        f"Error: cannot log in 'alice' ({alice}): authentication failed: auth check failure; "
        "nothing stored\n"
    )
    assert gnome_keyring.items() == []
    assert logins() == ""
    assert snapshot(profile) == before


def test_an_unreachable_server_is_exit_3_and_nothing_is_stored(cli, gnome_keyring, profile):
    cli("add", "gone", "--address", servers.refused_address(), "--user", "alice")
    before = snapshot(profile)
    result = cli("login", "gone", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=3)
    one_error_line(result.stderr)
    assert "connection refused" in result.stderr and "nothing stored" in result.stderr
    assert gnome_keyring.items() == [] and logins() == ""
    assert snapshot(profile) == before


def test_a_secret_is_tried_once_and_an_unhealthy_answer_is_final(cli, serving, file_keyring):
    serving.set("", NOT_SERVING)
    cli("add", "s", "--address", serving.address, "--user", "alice")
    before = serving.servicer.checks
    result = cli("login", "s", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=4)
    assert result.stderr == (
        f"Error: cannot log in 's' ({serving.address}): health status NOT_SERVING; nothing stored\n"
    )
    assert serving.servicer.checks - before == 1  # no retry: a login waits for nothing
    assert logins() == ""


def test_logout_removes_exactly_what_login_stored(cli, alice, gnome_keyring, auth_server):
    cli("add", "other", "--address", auth_server.address, "--user", "bob")
    cli("login", "other", "--token-stdin", input="bob-token\n", code=5)  # refused: not stored
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    gnome_keyring_unrelated(gnome_keyring)
    assert cli("logout", "alice").stdout == (
        "Logged out alice: its password removed from the OS credential store\n"
    )
    assert [attrs["service"] for attrs, _ in gnome_keyring.items()] == ["unrelated"]
    assert logins() == ""
    assert cli("logout", "alice").stdout == "alice: nothing stored by conn login\n"
    result = cli("has", "alice", code=1)  # no secret left: the alias is not connected anyway
    assert "not connected" in result.stderr


def gnome_keyring_unrelated(keyring) -> None:
    """An item of another program in the same keyring (logout must leave it)."""
    with keyring.bus() as bus:
        keyring.collection(bus).create_item("other", {"service": "unrelated"}, b"x")


def test_a_locked_keyring_is_one_error_and_exit_6(tmp_path, cli, alice, monkeypatch):
    from .keyrings import GnomeKeyring

    keyring = GnomeKeyring(tmp_path / "locked")
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", keyring.address)
        cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
        cli("connect", "alice")
        keyring.lock()
        result = cli("has", "alice", code=6)
        assert result.stderr.startswith("Error: alias 'alice': ")
        assert "the OS credential store is locked" in one_error_line(result.stderr)
        result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=6)
        assert "locked" in one_error_line(result.stderr)
    finally:
        keyring.stop()


def test_an_entry_deleted_outside_conn_says_how_to_mend_it(cli, alice, gnome_keyring):
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    gnome_keyring.delete_all()
    result = cli("connect", "alice", code=6)
    assert result.stderr == (
        f"Error: alias 'alice': conn login stored its password for alice@{alice} in the OS "
        "credential store, and the entry is gone: conn login alice stores it again (conn "
        "logout alice forgets the login)\n"
    )


def test_two_aliases_of_one_server_and_user_share_it_and_a_rename_keeps_it(
    cli, alice, gnome_keyring, profile
):
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    cli("add", "alice-too", "--address", alice, "--user", "alice")
    cli("connect", "alice-too")
    # renamed: the same server and user under a new name, the old one removed
    cli("add", "renamed", "--address", alice, "--user", "alice")
    removed = cli("remove", "alice").stdout
    assert removed.startswith("Removed alice\nNote: the password conn login stored for ")
    assert f"keyring del milvus-conn:{alice} alice\n" in removed
    assert len(gnome_keyring.items()) == 1  # remove leaves what other aliases share
    cli("connect", "renamed")
    result = cli("logout", "alice", code=1)  # the old name is gone
    assert result.stderr == "Error: unknown alias 'alice'\n"


# keyrings.alt's file backend, named by PYTHON_KEYRING_BACKEND ----------------------------


def test_the_backend_keyring_is_configured_with_is_used(cli, alice, file_keyring):
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert result.stdout.endswith(f"is in {FILE_BACKEND}\n")
    from keyrings.alt.file import PlaintextKeyring

    assert file_keyring.exists()  # the file keyring's users know, in this test's data home
    assert PlaintextKeyring().get_password(f"milvus-conn:{alice}", "alice") == ALICE_PASSWORD
    cli("connect", "alice")
    cli("logout", "alice")
    cli("connect", "alice", code=5)  # no password left to send


def test_keyringrc_cfg_names_the_backend_too(cli, alice, tmp_path, monkeypatch):
    config = tmp_path / "xdg" / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text(f"[backend]\ndefault-keyring = {FILE_BACKEND}\n")
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert result.stdout.endswith(f"is in {FILE_BACKEND}\n")


def test_a_token_is_stored_apart_from_a_password(cli, auth_server, file_keyring):
    cli("add", "tok", "--address", auth_server.address)
    cli("login", "tok", "--token-stdin", input="alice:s3cr3t-Pa55\n")
    assert logins() == f"token\t{auth_server.address}\t\n"
    cli("connect", "tok")
    assert explain_source(cli, "tok", "token") == "keyring"


def test_a_plain_password_is_moved_out_of_a_writable_profile(cli, auth_server, file_keyring,
                                                             profile):  # fmt: skip
    write_profile(profile, f'version = 1\n\n[connections.alice]\naddress = "{auth_server.address}"'
                  f'\nuser = "alice"\npassword = "{PLAIN}"\ncolour = "blue"\n')  # fmt: skip
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert result.stdout.splitlines()[1] == f"Moved the plain password of alice out of {profile}"
    text = profile.read_text()
    assert PLAIN not in text and "password" not in text and 'colour = "blue"' in text
    cli("connect", "alice")


def test_login_works_on_a_profile_another_user_owns(cli, alice, file_keyring, profile):
    """A shared profile this user cannot write: nothing of the login goes into it."""
    os.chown(profile, 65534, 65534)
    profile.chmod(0o644)
    before = profile.read_bytes()
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    cli("connect", "alice")
    assert profile.read_bytes() == before


def test_no_store_is_exit_6_naming_the_remedies_before_a_secret_is_read(cli, alice, profile):
    before = snapshot(profile)
    result = cli("login", "alice", code=6)  # no --password-stdin: it would have prompted
    assert result.stderr == (
        "Error: no usable OS credential store was found: start or unlock a Secret Service "
        "(GNOME Keyring, KWallet, KeePassXC), point PYTHON_KEYRING_BACKEND at a file backend "
        "such as keyrings.cryptfile.cryptfile.CryptFileKeyring, or keep the secret elsewhere: "
        "--password-command / --password-env (--token-command / --token-env)\n"
    )
    assert snapshot(profile) == before and logins() == ""


def test_a_dead_bus_is_no_store_either(cli, alice, monkeypatch, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=6)
    assert "no usable OS credential store" in one_error_line(result.stderr)


def test_an_unusable_configured_backend_is_exit_6(cli, alice, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=6)
    assert one_error_line(result.stderr).startswith(
        "Error: PYTHON_KEYRING_BACKEND=no.such.Backend names a keyring backend that cannot be "
        "used (ModuleNotFoundError: "
    )
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=6)
    assert "keyring is turned off by PYTHON_KEYRING_BACKEND" in result.stderr


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("\n", "--password-stdin given but standard input is empty"),
        ("   \t \n", "--password-stdin: the password read holds only whitespace"),
        ("pass\x1b[31mword\n", "--password-stdin: the password read holds a control or other "
         "non-printing character"),
        ("two\nlines\n", "--password-stdin: the password read holds a control or other "
         "non-printing character"),
    ],
    ids=["empty", "whitespace", "escape", "two-lines"],
)  # fmt: skip
def test_a_secret_that_cannot_be_one_is_exit_2_and_nothing_is_stored(
    cli, alice, file_keyring, given, says
):
    result = cli("login", "alice", "--password-stdin", input=given, code=2)
    assert result.stderr == f"Error: {says}\n"
    assert not file_keyring.exists() and logins() == ""


def test_login_without_a_terminal_or_stdin_flag_does_not_wait(cli, alice, file_keyring):
    result = cli("login", "alice", code=2)
    assert result.stderr == (
        "Error: standard input is not a terminal, so conn cannot ask for the password: give "
        "it with --password-stdin\n"
    )


def test_a_password_needs_a_user(cli, auth_server, file_keyring):
    cli("add", "nouser", "--address", auth_server.address)
    result = cli("login", "nouser", "--password-stdin", input="x\n", code=2)
    assert "has no user, and a password is sent with one" in one_error_line(result.stderr)


def test_login_asks_on_a_terminal_without_echoing(alice, file_keyring, profile):
    """The real prompt: a pseudo-terminal that is the process's controlling terminal."""
    pid, master = pty.fork()
    if pid == 0:  # the child: conn login on the terminal
        os.execve(sys.executable, [sys.executable, "-m", "milvus_conn", "login", "alice"],
                  dict(os.environ))  # fmt: skip
    seen = _read_until(master, b"Password for alice: ")
    os.write(master, f"{ALICE_PASSWORD}\n".encode())
    seen += _read_until(master, b"Logged in alice")
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert ALICE_PASSWORD.encode() not in seen  # the terminal never echoed it


def _read_until(fd: int, wanted: bytes, seconds: float = 30) -> bytes:
    """What the terminal shows until `wanted` (fails instead of hanging)."""
    import select

    seen, deadline = b"", time.monotonic() + seconds
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"waited for {wanted!r}, saw {seen!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


# the library -----------------------------------------------------------------------------


def test_the_library_logs_in_and_connects_with_no_variable(registry, alice, file_keyring):
    done = registry.login("alice", ALICE_PASSWORD)
    assert (done.alias, done.login.kind, done.store) == ("alice", "password", FILE_BACKEND)
    assert_no_secret(repr(done))
    fresh = Connections(profile=registry.store.path)
    assert fresh.connect("alice").result.healthy
    assert fresh.client_kwargs("alice")["password"] == ALICE_PASSWORD
    assert [login.kind for login in fresh.logout("alice")] == ["password"]
    fresh.reset()


def test_a_callable_secret_is_asked_only_once_a_store_works(registry, alice):
    asked = []
    with pytest.raises(Exception, match="no usable OS credential store"):
        registry.login("alice", lambda: asked.append(1) or ALICE_PASSWORD)
    assert asked == []


# helpers ----------------------------------------------------------------------------------


def explain_source(cli, alias: str, kind: str = "password") -> str:
    import json

    return json.loads(cli("addr", alias, "--explain", "--json").stdout)[kind]["source"]


# the real Milvus 2.3.5 with authentication ---------------------------------------------


@pytest.mark.slow
def test_real_milvus_login_then_connect_has_and_the_library_with_no_variable(
    cli, milvus_auth, gnome_keyring, profile
):
    cli("add", "secured", "--address", milvus_auth.address, "--user", "root")
    result = cli("login", "secured", "--password-stdin", input="not-the-password\n", code=5)
    assert "authentication failed" in one_error_line(result.stderr)
    assert "not-the-password" not in result.output
    assert gnome_keyring.items() == [] and logins() == ""
    cli("login", "secured", "--password-stdin", input=f"{ROOT_PASSWORD}\n")
    cli("connect", "secured")
    cli("has", "secured")
    registry = Connections(profile=profile)
    assert registry.connect("secured").result.healthy
    client = registry.client("secured")
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()
    registry.reset()
    cli("logout", "secured")
    assert gnome_keyring.items() == []
    result = cli("has", "secured", code=5)  # nothing left to send
    assert "authentication failed" in result.stderr


def test_login_and_logout_work_on_a_read_only_profile(auth_server, file_keyring, profile):
    from .test_readonly import _CANNOT, conn_read_only

    if _CANNOT:
        pytest.skip(_CANNOT)
    text = f'[connections.alice]\naddress = "{auth_server.address}"\nuser = "alice"\n'
    before = write_profile(profile, f'version = 1\n{text}password = "{PLAIN}"\n')
    done = conn_read_only(profile.parent, "login", "alice", "--password-stdin",
                          stdin=f"{ALICE_PASSWORD}\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == (
        f"{profile} still holds a plain password for alice and is read-only here: remove it "
        "there (the stored one is used first)"
    )
    assert conn_read_only(profile.parent, "connect", "alice").returncode == 0
    assert conn_read_only(profile.parent, "logout", "alice").returncode == 0
    assert profile.read_bytes() == before


def test_a_store_that_never_answers_is_exit_6_within_the_timeout(tmp_path, cli, auth_server):
    """A Secret Service that takes calls and never answers them (run in a subprocess with a
    time limit: were conn to wait, the test fails rather than hangs)."""
    from .keyrings import GnomeKeyring

    cli("add", "alice", "--address", auth_server.address, "--user", "alice", "--timeout", "1")
    silent = GnomeKeyring(tmp_path / "silent", silent=True)
    try:
        started = time.monotonic()
        done = run_conn("login", "alice", "--password-stdin", stdin=f"{ALICE_PASSWORD}\n",
                        env={"DBUS_SESSION_BUS_ADDRESS": silent.address})  # fmt: skip
        assert time.monotonic() - started < within(1) + 1  # and a process's start-up
        assert done.returncode == 6, done.stderr
        assert done.stderr == (
            "Error: the OS credential store did not answer within 1 s (is it locked and waiting "
            "on a prompt?): unlock it, or raise the alias's --timeout\n"
        )
        assert logins() == ""
    finally:
        silent.stop()


def test_a_failure_after_the_store_was_written_puts_everything_back(
    cli, auth_server, file_keyring, profile, monkeypatch
):
    """The plain password cannot be moved out (another writer holds the profile's lock):
    the store and the record of logins are as they were, the profile unchanged."""
    text = f'[connections.alice]\naddress = "{auth_server.address}"\nuser = "alice"\n'
    before = write_profile(profile, f'version = 1\n{text}password = "{PLAIN}"\n')
    monkeypatch.setenv("CONN_LOCK_TIMEOUT", "0.2")
    with lock_held(profile_lock(profile)):
        result = cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n", code=6)
    assert result.stderr.splitlines()[-1].startswith("Error: could not lock ")
    from keyrings.alt.file import PlaintextKeyring

    assert PlaintextKeyring().get_password(f"milvus-conn:{auth_server.address}", "alice") is None
    assert logins() == "" and profile.read_bytes() == before
