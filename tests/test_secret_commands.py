"""Secret-manager commands (`--password-command`, `--token-command`): test scripts and the
real `pass` with a throwaway GnuPG key. Run without a shell, within the alias's timeout,
their output bounded; every failure is one `Error:` line, exit 6, naming the alias and
the command. A command is code: one from a file another user could write never runs,
and `conn import` refuses a file that defines commands unless told otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from milvus_conn import Connections, ProfileException

from .helpers import (
    ALICE_PASSWORD,
    assert_no_secret,
    one_error_line,
    require_program,
    snapshot,
    within,
    write_profile,
)


def script(tmp_path, body: str, name: str = "secret.sh") -> str:
    """A shell script the test writes (0700), as a user's secret helper would be."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o700)
    return str(path)


@pytest.fixture
def with_command(cli, auth_server, tmp_path):
    """An alias of the authenticating server whose password comes from `body`."""

    def make(body: str, *extra: str) -> str:
        command = script(tmp_path, body)
        cli("add", "alice", "--address", auth_server.address, "--user", "alice",
            "--password-command", command, *extra, "--force")  # fmt: skip
        return command

    return make


def test_the_command_output_is_the_password(cli, with_command):
    with_command(f"printf '%s\\n' '{ALICE_PASSWORD}'")
    result = cli("connect", "alice")
    assert_no_secret(result.output)
    assert ALICE_PASSWORD not in result.output


def test_output_without_a_newline_is_the_password_too(cli, with_command):
    with_command(f"printf '%s' '{ALICE_PASSWORD}'")
    cli("connect", "alice")


def test_the_command_is_split_as_a_shell_splits_but_run_without_one(cli, auth_server, tmp_path):
    helper = script(tmp_path, 'printf "%s" "$2"', name="two args.sh")
    command = f"'{helper}' 'first arg' '{ALICE_PASSWORD}' '$HOME;rm -rf x'"
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-command", command)  # fmt: skip
    cli("connect", "alice")


def test_a_token_command(cli, auth_server, tmp_path):
    command = script(tmp_path, f"echo 'alice:{ALICE_PASSWORD}'")
    cli("add", "tok", "--address", auth_server.address, "--token-command", command)
    cli("connect", "tok")
    report = json.loads(cli("addr", "tok", "--explain", "--json").stdout)
    assert report["token"] == {"value": "set", "source": "command"}
    assert json.loads(cli("addr", "tok", "--json").stdout)["token_command"] == command


def test_connect_takes_a_command_for_this_run(cli, auth_server, tmp_path):
    command = script(tmp_path, f"echo '{ALICE_PASSWORD}'")
    cli("connect", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-command", command)  # fmt: skip
    cli("has", "alice")  # kept with the alias: later probes run it too


def test_the_library_takes_a_command_as_a_keyword(registry, auth_server, tmp_path):
    command = script(tmp_path, f"echo '{ALICE_PASSWORD}'")
    handle = registry.connect("alice", address=auth_server.address, user="alice",
                              password_command=command)  # fmt: skip
    assert handle.result.healthy


FAILURES = {
    "exit-status": ("echo 'no such entry: milvus/prod' >&2; exit 1",
                    "it exited with status 1; it said: no such entry: milvus/prod"),
    "prints-nothing": ("exit 0", "it printed nothing"),
    "only-whitespace": ("printf '   \\n'", "it printed only whitespace"),
    "two-lines": ("printf 'one\\ntwo\\n'",
                  "it printed a control or other non-printing character"),
    "escape": ("printf 'pw\\033[2J\\n'", "it printed a control or other non-printing character"),
    "not-utf8": ("printf '\\377\\376\\n'", "it printed something that is not UTF-8 text"),
    "megabytes": ("head -c 3000000 /dev/zero | tr '\\0' x", "it printed more than 64 KiB"),
    "stderr-escaped": ("printf 'bad \\033]0;title\\007 %0300d' 0 >&2; exit 2",
                       "it exited with status 2; it said: bad \\u001b]0;title\\u0007 "
                       + "0" * (200 - len("bad \x1b]0;title\x07 ")) + "..."),
}  # fmt: skip


@pytest.mark.parametrize(("body", "says"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failing_command_is_one_error_line_and_exit_6(cli, with_command, profile, body, says):
    command = with_command(body)
    before = snapshot(profile)
    result = cli("connect", "alice", code=6)
    assert result.stderr == (
        f"Error: alias 'alice': password_command `{command}` gave no password: {says}\n"
    )
    assert snapshot(profile) == before  # nothing written: not even the state


def test_a_command_that_never_ends_is_stopped_at_the_timeout_with_its_children(
    cli, with_command, tmp_path
):
    pid_file = tmp_path / "child.pid"
    with_command(f"sleep 60 & echo $! > '{pid_file}'; wait", "--timeout", "1")
    started = time.monotonic()
    result = cli("connect", "alice", code=6)
    assert time.monotonic() - started < within(1)
    assert result.stderr.endswith("gave no password: it did not finish within 1 s\n")
    child = int(pid_file.read_text())
    time.sleep(0.2)
    assert not _alive(child), "the command's own child outlived it"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_missing_or_unusable_program_is_exit_6(cli, auth_server, tmp_path):
    cli("add", "a", "--address", auth_server.address, "--user", "alice",
        "--password-command", "no-such-secret-tool get x")  # fmt: skip
    result = cli("connect", "a", code=6)
    assert result.stderr == (
        "Error: alias 'a': password_command `no-such-secret-tool get x` gave no password: it "
        "could not start: no-such-secret-tool was not found\n"
    )
    plain_file = tmp_path / "not-executable"
    plain_file.write_text("echo x\n")
    cli("add", "b", "--address", auth_server.address, "--user", "alice",
        "--password-command", str(plain_file))  # fmt: skip
    result = cli("connect", "b", code=6)
    assert f"it could not start: {plain_file}: Permission denied" in one_error_line(result.stderr)


def test_a_command_that_cannot_be_split_is_refused_where_it_enters(cli, profile):
    result = cli("add", "a", "--address", "h:1", "--password-command", "pass show 'open", code=2)
    assert result.stderr == (
        'Error: password_command "pass show \'open" cannot be split: No closing quotation\n'
    )
    assert not profile.exists()
    result = cli("add", "a", "--address", "h:1", "--token-command", "pass\x1b[2J", code=2)
    assert "token_command must not contain control" in one_error_line(result.stderr)


# a command is code --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["owned-by-another-user", "group-writable", "open-directory"])
def test_a_command_from_a_file_others_could_write_never_runs(cli, auth_server, tmp_path,
                                                             profile, how):  # fmt: skip
    ran = tmp_path / "ran"
    command = script(tmp_path, f"touch '{ran}'; echo '{ALICE_PASSWORD}'")
    write_profile(profile, f'version = 1\n[connections.a]\naddress = "{auth_server.address}"\n'
                  f'user = "alice"\npassword_command = "{command}"\n')  # fmt: skip
    if how == "owned-by-another-user":
        os.chown(profile, 65534, 65534)
        why = f"{profile} belongs to uid 65534, not to you (uid 0)"
    elif how == "group-writable":
        profile.chmod(0o664)
        why = f"{profile} can be written by group (mode 0664)"
    else:
        profile.parent.chmod(0o777)
        why = f"{profile.parent} can be written by group and others (mode 0777)"
    refused = (
        f"alias 'a': password_command `{command}` was not run: a command is code, and "
        f"{why}, so another user could have written it"
    )
    assert cli("connect", "a", code=6).stderr == f"Error: {refused}\n"
    assert not ran.exists()
    # the same command given on the command line is the user's own
    cli("connect", "a", "--password-command", command)
    assert ran.exists()
    ran.unlink()
    # a later command takes the secret from the file again: not run there either
    assert cli("has", "a", code=6).stderr == f"Error: {refused}\n"
    rows = json.loads(cli("list", "--check", "--json", code=6).stdout)
    assert [row["health"]["reason"] for row in rows if row["alias"] == "a"] == [refused]
    assert not ran.exists()


def test_a_profile_in_a_sticky_shared_directory_is_trusted(cli, auth_server, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)  # like /tmp: others cannot replace my file in it
    command = script(tmp_path, f"echo '{ALICE_PASSWORD}'")
    mine = shared / "p.toml"
    write_profile(mine, f'version = 1\n[connections.a]\naddress = "{auth_server.address}"\n'
                  f'user = "alice"\npassword_command = "{command}"\n')  # fmt: skip
    cli("--profile", str(mine), "connect", "a")


def commands_file(tmp_path, command: str):
    shared = tmp_path / "team.toml"
    shared.write_text(
        'version = 1\n[connections.prod]\naddress = "h:1"\nuser = "u"\n'
        f'password_command = "{command}"\n[connections.cloud]\naddress = "h:2"\n'
        f'token_command = "op read op://ops/milvus/token"\n[connections.plain]\naddress = "h:3"\n'
    )
    return shared


def test_import_refuses_a_file_that_defines_commands(cli, profile, tmp_path):
    ran = tmp_path / "ran"
    command = script(tmp_path, f"touch '{ran}'")
    cli("add", "mine", "--address", "h:9")
    before = snapshot(profile)
    shared = commands_file(tmp_path, command)
    result = cli("import", str(shared), code=2)
    assert result.stderr == (
        f"Error: {shared} defines commands that conn would run to get secrets: 'prod' "
        f"password_command `{command}`; 'cloud' token_command `op read op://ops/milvus/token`. "
        "A command is code: read them, then import with --allow-commands (nothing imported)\n"
    )
    assert snapshot(profile) == before
    cli("import", str(shared), "--allow-commands")
    assert not ran.exists()  # importing never runs them
    exported = cli("export", "prod", "cloud").stdout
    assert f'password_command = "{command}"' in exported
    assert 'token_command = "op read op://ops/milvus/token"' in exported


def test_the_library_refuses_commands_on_import_too(registry, tmp_path):
    with pytest.raises(Exception, match="defines commands") as caught:
        registry.import_profile(commands_file(tmp_path, "pass show x"))
    assert caught.value.exit_code == 2
    assert registry.import_profile(commands_file(tmp_path, "pass show x"),
                                   allow_commands=True) == ["prod", "cloud", "plain"]  # fmt: skip


# the real pass, with a throwaway GnuPG key ---------------------------------------------------


@pytest.fixture
def password_store(tmp_path, monkeypatch):
    """`pass` with a store and a GnuPG home of this test's own (a key without passphrase)."""
    require_program("pass", "pass")
    gpg = require_program("gpg", "gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    monkeypatch.setenv("PASSWORD_STORE_DIR", str(tmp_path / "store"))

    def run(*command: str, stdin: bytes = b"") -> None:
        subprocess.run(command, input=stdin, check=True, capture_output=True, timeout=60)

    run(gpg, "--batch", "--passphrase", "", "--quick-gen-key",
        "conn test <conn-test@example.invalid>", "future-default", "default", "never")  # fmt: skip
    run("pass", "init", "conn-test@example.invalid")
    run("pass", "insert", "--multiline", "milvus/alice", stdin=f"{ALICE_PASSWORD}\n".encode())
    yield
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False, timeout=30)


def test_pass_show_is_a_password_command(cli, auth_server, password_store):
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-command", "pass show milvus/alice")  # fmt: skip
    result = cli("connect", "alice")
    assert ALICE_PASSWORD not in result.output
    result = cli("connect", "alice", "--password-command", "pass show milvus/nobody", code=6)
    assert "it exited with status 1; it said: Error: milvus/nobody is not in the password " in (
        result.stderr
    )


def test_library_errors_name_the_alias_and_command(registry, auth_server, tmp_path):
    command = script(tmp_path, "exit 4")
    registry.add_connection(a={"address": auth_server.address, "user": "alice",
                               "password_command": command})  # fmt: skip
    with pytest.raises(ProfileException) as caught:
        registry.connect("a")
    assert caught.value.message == (
        f"alias 'a': password_command `{command}` gave no password: it exited with status 4"
    )
    assert Connections(profile=registry.store.path).has_connection("a") is False
