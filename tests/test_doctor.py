"""`conn doctor`: each finding it promises, on real files (modes, TLS files made with
`cryptography`), real state, and with `--network` real servers on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .helpers import snapshot, state_file, write_profile

SECRET = "Sup3r-Secr3t-Value"  # must never appear in any output


def self_signed(base: Path, days: float, *, encrypted: bool = False) -> tuple[Path, Path]:
    """A certificate valid for `days` more days (negative: expired) and its key, 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, base.name)])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    crypt = (
        serialization.BestAvailableEncryption(b"pass") if encrypted
        else serialization.NoEncryption()
    )  # fmt: skip
    pem, private = base.with_suffix(".pem"), base.with_suffix(".key")
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt)
    )
    private.chmod(0o600)
    return pem, private


def doctor(cli, *args: str, code: int = 0) -> dict:
    """`conn doctor --json`; the text form is checked to exit the same way."""
    assert cli("doctor", *args, code=code).stdout.startswith("conn doctor: ")
    report = json.loads(cli("doctor", "--json", *args, code=code).stdout)
    assert report["exit_code"] == code
    return report


def fixes(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["status"] == "fix"]


def messages(report: dict, status: str = "fix") -> str:
    return "\n".join(f"{f['message']} | {f['fix']}" for f in report["findings"]
                     if f["status"] == status)  # fmt: skip


# the profile and its directory --------------------------------------------------------


def test_a_clean_profile_exits_0_and_names_the_files(cli, profile, monkeypatch):
    monkeypatch.setenv("PW", SECRET)
    cli("add", "prod", "--address", "127.0.0.1:19530", "--user", "u", "--password-env", "PW")
    report = doctor(cli)
    assert report["profile"] == str(profile)
    assert report["state"] == str(state_file(profile))
    assert fixes(report) == []
    text = cli("doctor").stdout
    assert f"{profile}: mode 0600" in text
    assert f"directory {profile.parent}: mode 0700" in text
    assert "parses: 1 alias(es)" in text
    assert SECRET not in text


def test_no_profile_yet_is_a_note_not_a_fix(cli, profile):
    report = doctor(cli)
    assert "no profile at" in messages(report, "note")
    assert not profile.exists()


def test_a_profile_others_can_change_is_a_fix(cli, profile):
    cli("add", "a", "--address", "h:1")
    profile.chmod(0o664)
    profile.parent.chmod(0o777)
    report = doctor(cli, code=1)
    assert f"chmod 600 {profile}" in messages(report)
    assert f"chmod 700 {profile.parent}" in messages(report)


def test_a_profile_that_does_not_parse_exits_6_and_changes_nothing(cli, profile):
    write_profile(profile, "version = 1\n\n[connections.a]\naddress = \n")
    before = snapshot(profile)
    report = doctor(cli, code=6)
    assert "invalid TOML" in messages(report) and "line 4" in messages(report)
    assert snapshot(profile) == before


def test_a_profile_that_cannot_be_read_exits_6(cli, profile):
    profile.mkdir(parents=True)  # a directory where the file should be: unreadable even to root
    report = doctor(cli, code=6)
    assert "cannot read" in messages(report)


# the state file -------------------------------------------------------------------------


def test_a_corrupt_state_file_is_a_fix_naming_the_file(cli, profile):
    cli("add", "a", "--address", "h:1")
    state_file(profile).write_text("{not json")
    report = doctor(cli, code=1)
    assert f"delete {state_file(profile)}" in messages(report)


def test_a_connected_alias_no_longer_in_the_profile_is_a_fix(cli, profile, serving):
    cli("connect", "gone", "--address", serving.address)
    cli("add", "kept", "--address", "h:1")
    write_profile(profile, 'version = 1\n\n[connections.kept]\naddress = "h:1"\n')
    report = doctor(cli, code=1)
    assert "'gone' is recorded as connected but is not in the profile" in messages(report)


# secrets --------------------------------------------------------------------------------


def test_an_unset_secret_variable_is_a_fix_until_it_is_set(cli, monkeypatch):
    cli("add", "prod", "--address", "h:1", "--user", "u", "--password-env", "PROD_PW")
    cli("add", "cloud", "--address", "h:2", "--token-env", "CLOUD_TOKEN")
    report = doctor(cli, code=1)
    assert "$PROD_PW, which is not set" in messages(report)
    assert "$CLOUD_TOKEN, which is not set" in messages(report)
    monkeypatch.setenv("PROD_PW", SECRET)
    monkeypatch.setenv("CONN_CLOUD_TOKEN", SECRET)  # the per-alias override counts too
    assert fixes(doctor(cli)) == []


def test_plain_secrets_others_can_read_are_a_fix_and_never_shown(cli, profile):
    write_profile(
        profile, f'version = 1\n\n[connections.a]\naddress = "h:1"\npassword = "{SECRET}"\n'
    )
    assert "plain password or token" in messages(doctor(cli), "note")
    profile.chmod(0o644)
    report = doctor(cli, code=1)
    assert f"holds plain secrets ('a') and other users can read it | chmod 600 {profile}" in (
        messages(report)
    )
    for args in ((), ("--json",)):
        result = cli("doctor", *args, code=1)
        assert SECRET not in result.stdout + result.stderr
        assert "Warning" not in result.stderr  # the finding says it, once, with its fix


def test_control_characters_in_an_alias_name_are_escaped(cli, profile):
    write_profile(profile, 'version = 1\n\n[connections."evil\\u001b[31m"]\naddress = "h:1"\n'
                  'password_env = "UNSET_X"\n')  # fmt: skip
    result = cli("doctor", code=1)
    assert "\x1b" not in result.stdout
    assert "'evil\\x1b[31m'" in result.stdout


# TLS files ------------------------------------------------------------------------------


def add_tls(cli, alias: str, **files: Path) -> None:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in files.items()]
    cli("add", alias, "--address", "h:1", "--secure", *options)


def test_good_tls_files_are_ok(cli, tmp_path):
    pem, key = self_signed(tmp_path / "client", days=300)
    ca, _ = self_signed(tmp_path / "ca", days=300)
    add_tls(cli, "mtls", ca_pem_path=ca, client_pem_path=pem, client_key_path=key)
    report = doctor(cli)
    assert "client_key_path matches its certificate" in messages(report, "ok")
    assert "ca_pem_path" in messages(report, "ok") and "more days" in messages(report, "ok")


def test_missing_unreadable_and_non_pem_tls_files_are_fixes(cli, tmp_path):
    (tmp_path / "notpem.pem").write_text("hello\n")
    (tmp_path / "adir.pem").mkdir()
    add_tls(cli, "a", ca_pem_path=tmp_path / "missing.pem")
    add_tls(cli, "b", ca_pem_path=tmp_path / "adir.pem")
    add_tls(cli, "c", server_pem_path=tmp_path / "notpem.pem")
    found = messages(doctor(cli, code=1))
    assert (
        f"alias 'a': --ca-pem-path {tmp_path / 'missing.pem'}: no such file | put the file "
        "there, or set ca_pem_path of this alias in the profile to the right one"
    ) in found
    assert (
        f"alias 'b': --ca-pem-path {tmp_path / 'adir.pem'}: is a directory, not a regular file"
        " | point ca_pem_path at a regular file conn can read"
    ) in found
    assert (
        f"alias 'c': --server-pem-path {tmp_path / 'notpem.pem'} is not a PEM certificate | "
        "point server_pem_path at a PEM file"
    ) in found


def test_an_expired_certificate_is_a_fix_and_a_near_one_a_note(cli, tmp_path):
    old, _ = self_signed(tmp_path / "old", days=-3)
    near, _ = self_signed(tmp_path / "near", days=5.5)
    add_tls(cli, "old", ca_pem_path=old)
    add_tls(cli, "near", ca_pem_path=near)
    report = doctor(cli, code=1)
    assert "alias 'old': ca_pem_path" in messages(report) and "expired on" in messages(report)
    assert "alias 'near': ca_pem_path" in messages(report, "note")
    assert "expires in 5 day(s)" in messages(report, "note")


def test_a_key_of_another_certificate_is_a_fix(cli, tmp_path):
    pem, _ = self_signed(tmp_path / "one", days=300)
    _, other_key = self_signed(tmp_path / "two", days=300)
    add_tls(cli, "mtls", client_pem_path=pem, client_key_path=other_key)
    report = doctor(cli, code=1)
    assert "client_key_path does not match the certificate in client_pem_path" in messages(report)


def test_an_encrypted_or_world_readable_key_is_a_fix(cli, tmp_path):
    pem, key = self_signed(tmp_path / "enc", days=300, encrypted=True)
    add_tls(cli, "enc", client_pem_path=pem, client_key_path=key)
    assert (
        f"alias 'enc': --client-key-path {key} is encrypted; conn cannot prompt for its pass "
        f"phrase | decrypt it: openssl pkey -in {key} -out KEY.plain (then chmod 600)"
    ) in messages(doctor(cli, code=1))
    pem, key = self_signed(tmp_path / "open", days=300)
    key.chmod(0o644)
    cli("remove", "enc")
    add_tls(cli, "open", client_pem_path=pem, client_key_path=key)
    assert f"other users can read | chmod 600 {key}" in messages(doctor(cli, code=1))


# pymilvus -------------------------------------------------------------------------------


def test_a_pymilvus_that_deprecates_connections_is_a_note_naming_the_replacement(cli):
    from importlib.metadata import version

    report = doctor(cli)  # a note: the setup works, code using pymilvus's connections ages
    if int(version("pymilvus").split(".")[0]) < 3:
        pytest.skip("the installed pymilvus does not deprecate connections")
    found = messages(report, "note")
    assert f"pymilvus {version('pymilvus')} deprecates its connections" in found
    assert "from milvus_conn import connections" in found
    assert 'milvus_conn.client("alias")' in found


# --network ------------------------------------------------------------------------------


def test_network_probes_every_alias(cli, serving, silent_server, tmp_path):
    cli("add", "badtls", "--address", "127.0.0.1:1", "--secure",
        "--ca-pem-path", str(tmp_path / "missing.pem"))  # fmt: skip
    cli("add", "up", "--address", serving.address)
    cli("add", "down", "--address", silent_server.address, "--timeout", "0.5")
    cli("add", "nopw", "--address", serving.address, "--user", "u", "--password-env", "NOPE")
    assert "network" not in {f["check"] for f in doctor(cli, code=1)["findings"]}
    report = doctor(cli, "--network", code=1)
    network = [f for f in report["findings"] if f["check"] == "network"]
    by_alias = {f["message"].split(" ")[0]: f for f in network}
    assert by_alias["'up'"]["status"] == "ok"
    assert by_alias["'down'"]["status"] == "fix"
    assert "unreachable" in by_alias["'down'"]["message"]
    assert by_alias["'nopw'"]["message"].startswith("'nopw' not probed: ")
    assert (
        by_alias["'badtls'"]["message"]
        == "'badtls' not probed: a TLS file cannot be used (see tls above)"
    )


def test_network_all_healthy_exits_0(cli, serving):
    cli("add", "up", "--address", serving.address)
    report = doctor(cli, "--network")
    assert "'up' (" in messages(report, "ok")
