"""`conn add` and `conn remove` (and the library's `add_connection`/`remove_connection`
where they are the same promise): what is stored, the file it lands in, and what is refused."""

from __future__ import annotations

import json
import stat

from .helpers import DATA, write_profile

# add -----------------------------------------------------------------------------------


def test_add_stores_the_alias_and_prints_its_address(cli, profile):
    result = cli("add", "a", "--host", "127.0.0.1", "--port", "19531")
    assert result.stdout == "Added a (127.0.0.1:19531)\n"
    assert result.stderr == ""
    assert "[connections.a]" in profile.read_text()


def test_add_writes_the_reference_profile_byte_for_byte(cli, profile, monkeypatch):
    monkeypatch.setenv("PROD_MILVUS_PW", "never-stored-9Kq")
    cli(
        "add", "prod", "--uri", "https://milvus.prod.example:19530", "--user", "ci",
        "--password-env", "PROD_MILVUS_PW", "--db-name", "analytics", "--timeout", "5",
        "--probe", "milvus",
    )  # fmt: skip
    assert profile.read_text() == (DATA / "prod.toml").read_text()


def test_add_of_an_existing_alias_exits_1(cli):
    cli("add", "a", "--address", "127.0.0.1:19531")
    result = cli("add", "a", "--address", "127.0.0.1:19532", code=1)
    assert result.stderr == "Error: alias 'a' already exists (use --force to replace it)\n"


def test_add_force_replaces_an_existing_alias(cli):
    cli("add", "a", "--address", "127.0.0.1:19531")
    cli("add", "a", "--address", "127.0.0.1:19532", "--force")
    assert cli("addr", "a").stdout == "127.0.0.1:19532\n"


def test_add_uri_with_password_keeps_it_out_of_the_uri_and_of_every_output(cli, profile):
    result = cli("add", "x", "--uri", "http://alice:Pl41n-S3cret@127.0.0.1:19531/mydb")
    assert result.stdout == "Added x (127.0.0.1:19531)\n"
    assert 'uri = "http://alice@127.0.0.1:19531/mydb"' in profile.read_text()
    shown = [result, cli("list"), cli("list", "--json"), cli("addr", "x", "--json")]
    assert all("Pl41n-S3cret" not in r.stdout + r.stderr for r in shown)


def test_add_uri_with_password_warns_about_the_plain_secret(cli):
    result = cli("add", "x", "--uri", "http://alice:Pl41n-S3cret@127.0.0.1:19531")
    assert result.stderr.startswith("Warning: ")
    assert "plain password" in result.stderr


def test_add_keeps_unknown_keys_of_the_profile(cli, profile):
    write_profile(
        profile, 'version = 1\nowner = "team"\n\n[connections.a]\naddress = "h:1"\ncolor = "blue"\n'
    )
    cli("add", "b", "--address", "127.0.0.1:19531")
    assert profile.read_text() == (
        'version = 1\nowner = "team"\n\n[connections.a]\naddress = "h:1"\ncolor = "blue"\n\n'
        '[connections.b]\naddress = "127.0.0.1:19531"\n'
    )


def test_add_creates_the_profile_0600_in_a_0700_directory(cli, profile):
    cli("add", "a", "--address", "127.0.0.1:19531")
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(profile.parent.stat().st_mode) == 0o700


def test_add_without_a_profile_option_uses_the_app_directory(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("CONN_PROFILE")
    cli("add", "a", "--address", "127.0.0.1:19531")
    default = tmp_path / "xdg" / "conn" / "profiles.toml"
    assert "[connections.a]" in default.read_text()
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700


# remove --------------------------------------------------------------------------------


def test_remove_deletes_a_connected_alias_and_its_state(cli, connected_lite, registry):
    assert cli("remove", "lite").stdout == "Removed lite\n"
    assert registry.has_connection("lite") is False
    assert registry.get_connection_addr("lite") == {}
    cli("addr", "lite", code=1)


def test_remove_of_an_unknown_alias_exits_1(cli):
    result = cli("remove", "nope", code=1)
    assert result.stderr == "Error: alias 'nope' is unknown; nothing to remove\n"


# odd values ----------------------------------------------------------------------------


def test_a_huge_value_and_unicode_round_trip_and_list(cli, profile):
    user = "ü日本" * 20_000
    cli("add", "big", "--address", "127.0.0.1:1", "--user", user)
    cli("add", "日本", "--uri", "http://ü@127.0.0.1:2/ß")
    rows = {row["alias"]: row for row in json.loads(cli("list", "--json").stdout)}
    assert rows["big"]["user"] == user
    assert (rows["日本"]["user"], rows["日本"]["db_name"]) == ("ü", "ß")
