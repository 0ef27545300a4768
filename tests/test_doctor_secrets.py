"""`conn doctor`'s secrets findings: a command whose program is missing or whose profile is
not trusted, a stored secret the credential store lost, a plain secret `conn login`
could move; commands run only with `--network` (a command may prompt)."""

from __future__ import annotations

import json

from .helpers import ALICE_PASSWORD, write_profile


def doctor(cli, *args: str, code: int) -> list[dict]:
    report = json.loads(cli("doctor", "--json", *args, code=code).stdout)
    return [f for f in report["findings"] if f["check"] == "secrets"]


def finding(status: str, message: str, fix: str = "") -> dict:
    return {"check": "secrets", "status": status, "message": message, "fix": fix}


def script(tmp_path, body: str) -> str:
    path = tmp_path / "secret.sh"
    path.write_text(f"#!/bin/sh\necho ran >> '{tmp_path / 'runs'}'\n{body}\n")
    path.chmod(0o700)
    return str(path)


def test_a_missing_program_is_a_fix(cli):
    cli("add", "a", "--address", "h:1", "--user", "u", "--password-command", "no-such-tool get")
    assert doctor(cli, code=1) == [
        finding("fix", "alias 'a': password_command `no-such-tool get`: no-such-tool is not "
                "found or not executable", "install no-such-tool, or set password_command of "
                "'a' right")
    ]  # fmt: skip


def test_a_command_in_a_profile_others_can_write_is_a_fix(cli, profile, tmp_path):
    command = script(tmp_path, "echo pw")
    cli("add", "a", "--address", "h:1", "--user", "u", "--password-command", command)
    profile.chmod(0o620)
    (finding,) = doctor(cli, code=1)
    assert finding["message"] == (
        f"alias 'a': password_command `{command}` will not run: {profile} can be written by "
        "group (mode 0620)"
    )


def test_commands_run_only_with_network_and_a_failure_is_that_aliass(cli, tmp_path):
    command = script(tmp_path, "echo 'vault sealed' >&2; exit 2")
    cli("add", "a", "--address", "h:1", "--user", "u", "--password-command", command)
    assert doctor(cli, code=0)[0]["message"] == "0 referenced secret variable(s), all set"
    assert not (tmp_path / "runs").exists()
    report = json.loads(cli("doctor", "--json", "--network", code=1).stdout)
    assert (tmp_path / "runs").read_text() == "ran\n"  # once: the probe's
    assert [f["message"] for f in report["findings"] if f["check"] == "network"] == [
        f"'a' not probed: alias 'a': password_command `{command}` gave no password: it exited "
        "with status 2; it said: vault sealed"
    ]


def test_a_stored_secret_the_store_lost_is_a_fix(cli, auth_server, file_keyring):
    cli("add", "alice", "--address", auth_server.address, "--user", "alice")
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert doctor(cli, code=0) == [
        finding("ok", "alias 'alice': its password is in the OS credential store")
    ]
    file_keyring.unlink()
    assert doctor(cli, code=1) == [
        finding("fix", "alias 'alice': conn login stored its password, and the OS credential "
                "store no longer has it", "conn login alice (or conn logout alice)")
    ]  # fmt: skip


def test_an_unset_variable_is_no_fix_once_the_alias_logged_in(cli, auth_server, file_keyring):
    cli("add", "alice", "--address", auth_server.address, "--user", "alice",
        "--password-env", "TEAM_PW")  # fmt: skip
    (finding,) = doctor(cli, code=1)
    assert finding["fix"] == (
        "export TEAM_PW=... (or CONN_ALICE_PASSWORD) before connecting 'alice', or store it: "
        "conn login alice"
    )
    cli("login", "alice", "--password-stdin", input=f"{ALICE_PASSWORD}\n")
    assert [f["status"] for f in doctor(cli, code=0)] == ["ok"]


def test_each_plain_secret_is_pointed_at_conn_login(cli, profile):
    write_profile(profile, 'version = 1\n[connections.a]\naddress = "h:1"\nuser = "u"\n'
                  'password = "x"\n[connections.b]\naddress = "h:2"\ntoken = "y"\n')  # fmt: skip
    found = doctor(cli, code=0)
    assert [(f["status"], f["message"]) for f in found] == [
        ("note", "alias 'a': plain password or token in the profile"),
        ("note", "alias 'b': plain password or token in the profile"),
    ]
    assert found[1]["fix"].startswith("conn login b moves it into the OS credential store")
