"""`conn addr` (what pymilvus's `get_connection_addr` returns) and `--explain`, which
names where each setting came from: a flag, the profile, `$MILVUS_URI`, a variable or
the default. `--explain` connects nothing and never prints a secret."""

from __future__ import annotations

import json

import pytest

from milvus_conn import ConnectionConfigException

from .helpers import OVERRIDE, PASSWORD, PLAIN, TOKEN, assert_no_secret, snapshot, state_file

# conn addr -----------------------------------------------------------------------------


def test_addr_prints_the_address_alone(cli, lite):
    result = cli("addr", "lite")
    assert (result.stdout, result.stderr) == (f"{lite.address}\n", "")


def test_addr_json_is_get_connection_addr(cli, lite, registry):
    data = json.loads(cli("addr", "lite", "--json").stdout)
    assert data == registry.get_connection_addr("lite") == {"address": lite.address, "user": ""}


def test_addr_json_after_connect_is_get_connection_addr(cli, connected_lite, registry):
    data = json.loads(cli("addr", "lite", "--json").stdout)
    assert data == registry.get_connection_addr("lite")
    assert data == {"address": connected_lite.address, "user": "", "db_name": "default"}


def test_addr_of_the_builtin_default(cli):
    assert cli("addr").stdout == "localhost:19530\n"


def test_addr_of_an_unknown_alias_exits_1(cli):
    assert cli("addr", "nope", code=1).stderr == "Error: unknown alias 'nope'\n"


# --explain -----------------------------------------------------------------------------


def explain(cli, alias: str) -> dict:
    return json.loads(cli("addr", alias, "--explain", "--json").stdout)


def test_explain_json_gives_value_and_source_for_every_setting(cli, profile):
    cli("add", "svc", "--address", "127.0.0.1:19530", "--timeout", "5")
    report = explain(cli, "svc")
    assert {"address", "secure", "user", "db_name", "timeout", "password", "token"} <= set(report)
    assert all(set(item) == {"value", "source"} for item in report.values())
    stored = f"profile:{profile}"  # the file the alias is stored in
    assert report["address"] == {"value": "127.0.0.1:19530", "source": stored}
    assert report["timeout"] == {"value": 5.0, "source": stored}


def test_explain_reads_address_secure_user_and_db_from_an_https_uri(cli):
    cli("add", "prod", "--uri", "https://ci@milvus.test:19531/analytics")
    report = explain(cli, "prod")
    assert report["address"] == {"value": "milvus.test:19531", "source": "uri"}
    assert report["secure"] == {"value": True, "source": "uri"}
    assert report["user"] == {"value": "ci", "source": "uri"}
    assert report["db_name"] == {"value": "analytics", "source": "uri"}


def test_explain_credits_tls_to_the_profile_where_an_http_uri_did_not_ask_for_it(cli, profile):
    cli("add", "prod", "--uri", "http://milvus.test:19531", "--secure")
    report = explain(cli, "prod")
    assert report["address"] == {"value": "milvus.test:19531", "source": "uri"}
    assert report["secure"] == {"value": True, "source": f"profile:{profile}"}


def test_explain_credits_a_secret_given_to_the_call_to_the_caller(registry):
    registry.add_connection(prod={"address": "milvus.test:19531"})
    report = registry.explain("prod", password="hunter2")
    assert report["password"] == {"value": "set", "source": "explicit"}
    assert report["token"] == {"value": "unset", "source": "default"}
    assert "hunter2" not in repr(report)


def test_explain_settings_nobody_set_come_from_default(cli):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    report = explain(cli, "svc")
    assert report["timeout"] == {"value": 10.0, "source": "default"}
    assert report["secure"] == {"value": False, "source": "default"}
    assert report["db_name"] == {"value": "default", "source": "default"}
    assert report["probe"] == {"value": "auto", "source": "default"}


def test_explain_milvus_uri_outranks_the_stored_alias(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_URI", "http://127.0.0.1:29999")
    report = explain(cli, "svc")
    assert report["address"] == {"value": "127.0.0.1:29999", "source": "env:MILVUS_URI"}
    assert report["uri"] == {"value": "http://127.0.0.1:29999", "source": "env:MILVUS_URI"}


def test_explain_credits_pymilvus_host_and_port_to_the_caller(registry):
    registry.add_connection(prod={"address": "milvus.test:19531"})
    report = registry.explain("prod", host="other.test", port="19532", timeout=3)
    assert report["address"] == {"value": "other.test:19532", "source": "flag"}
    assert report["timeout"] == {"value": 3.0, "source": "flag"}


def test_explain_timeout_from_milvus_conn_timeout(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_CONN_TIMEOUT", "7")
    assert explain(cli, "svc")["timeout"] == {"value": 7.0, "source": "env:MILVUS_CONN_TIMEOUT"}


def test_explain_password_inside_milvus_uri_comes_from_env(cli, monkeypatch):
    cli("add", "svc", "--address", "127.0.0.1:19530")
    monkeypatch.setenv("MILVUS_URI", f"http://ci:{PLAIN}@127.0.0.1:29999")
    result = cli("addr", "svc", "--explain", "--json")
    assert_no_secret(result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["user"] == {"value": "ci", "source": "env:MILVUS_URI"}
    assert report["password"] == {"value": "set", "source": "env:MILVUS_URI"}


def test_explain_table_shows_setting_value_and_source(cli, profile):
    cli("add", "prod", "--uri", "https://ci@milvus.test:19531/analytics", "--timeout", "5")
    rows = [line.split() for line in cli("addr", "prod", "--explain").stdout.splitlines()]
    assert rows[0] == ["SETTING", "VALUE", "SOURCE"]
    assert ["address", "milvus.test:19531", "uri"] in rows
    assert ["secure", "true", "uri"] in rows
    assert ["timeout", "5.0", f"profile:{profile}"] in rows
    assert ["probe", "auto", "default"] in rows


def test_explain_password_env_is_set_from_its_variable(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    cli("add", "svc", "--address", "127.0.0.1:19530", "--user", "ci", "--password-env", "SVC_PW")
    assert explain(cli, "svc")["password"] == {"value": "set", "source": "env:SVC_PW"}


def test_explain_token_env_is_set_from_its_variable(cli, monkeypatch):
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    cli("add", "svc", "--address", "127.0.0.1:19530", "--token-env", "SVC_TOKEN")
    assert explain(cli, "svc")["token"] == {"value": "set", "source": "env:SVC_TOKEN"}


def test_explain_conn_alias_password_overrides_password_env(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("CONN_MY_SVC_PASSWORD", OVERRIDE)
    cli("add", "my-svc", "--address", "127.0.0.1:19530", "--user", "ci",
        "--password-env", "SVC_PW")  # fmt: skip
    report = explain(cli, "my-svc")
    assert report["password"] == {"value": "set", "source": "env:CONN_MY_SVC_PASSWORD"}


def test_explain_plain_password_comes_from_the_profile(cli, profile):
    cli("add", "svc", "--uri", f"http://ci:{PLAIN}@127.0.0.1:19530")
    assert explain(cli, "svc")["password"] == {"value": "set", "source": f"profile:{profile}"}


def test_explain_password_env_not_set_says_so(cli):
    cli("add", "svc", "--address", "127.0.0.1:19530", "--user", "ci", "--password-env", "NO_PW")
    report = explain(cli, "svc")
    assert report["password"] == {"value": "unset", "source": "env:NO_PW (not set)"}


def test_explain_never_prints_a_secret(cli, monkeypatch):
    monkeypatch.setenv("SVC_PW", PASSWORD)
    monkeypatch.setenv("SVC_TOKEN", TOKEN)
    monkeypatch.setenv("CONN_OVR_PASSWORD", OVERRIDE)
    cli("add", "pw", "--address", "127.0.0.1:1", "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "tok", "--address", "127.0.0.1:1", "--token-env", "SVC_TOKEN")
    cli("add", "ovr", "--address", "127.0.0.1:1", "--user", "ci", "--password-env", "SVC_PW")
    cli("add", "plain", "--uri", f"http://ci:{PLAIN}@127.0.0.1:1")
    for alias in ("pw", "tok", "ovr", "plain"):
        for extra in ((), ("--json",)):
            result = cli("-v", "addr", alias, "--explain", *extra)
            assert_no_secret(result.stdout, result.stderr)


def test_connect_explain_marks_options_as_flags_and_connects_nothing(cli, profile):
    cli("add", "prod", "--uri", "https://bob@milvus.example:19530/sales", "--timeout", "3")
    before = snapshot(profile)
    result = cli("connect", "prod", "--explain", "--json", "--timeout", "7", "--user", "alice")
    report = json.loads(result.stdout)
    assert report["timeout"] == {"value": 7.0, "source": "flag"}
    assert report["user"] == {"value": "alice", "source": "flag"}
    assert report["db_name"] == {"value": "sales", "source": "uri"}
    assert report["address"] == {"value": "milvus.example:19530", "source": "uri"}
    assert snapshot(profile) == before  # nothing connected, nothing written
    assert not state_file(profile).exists()


def test_connect_explain_with_an_address_flag_ignores_the_stored_alias(cli, profile):
    cli("add", "prod", "--address", "stored.example:1", "--user", "bob", "--timeout", "3")
    report = json.loads(
        cli("connect", "prod", "--address", "other:2", "--explain", "--json").stdout
    )
    assert report["address"] == {"value": "other:2", "source": "flag"}
    assert report["user"] == {"value": "", "source": "default"}
    assert report["timeout"]["source"] == "default"


def test_explain_of_the_built_in_default_names_no_profile(cli):
    data = json.loads(cli("addr", "--explain", "--json").stdout)
    assert data["address"] == {"value": "localhost:19530", "source": "default"}
    assert {setting["source"] for setting in data.values()} == {"default"}


def test_explain_refuses_what_connect_refuses_naming_it(registry):
    registry.add_connection(prod={"address": "milvus.test:19531"})
    with pytest.raises(ConnectionConfigException) as caught:
        registry.explain("prod", bogus=1, also=2)
    assert caught.value.message == "unknown connection option(s): also, bogus"
    for name in ("user", "db_name"):
        with pytest.raises(ConnectionConfigException) as caught:
            registry.explain("prod", **{name: "a\x1b[2Jb"})
        assert caught.value.message == (
            f"{name} must not contain control or other non-printing characters, got 'a\\x1b[2Jb'"
        )
    assert registry.list_connections() == [("default", None), ("prod", None)]


def test_explain_credits_a_user_and_database_to_the_caller_and_an_empty_option_to_nobody(
    registry,
):
    registry.add_connection(prod={"address": "milvus.test:19531"})
    report = registry.explain("prod", user="bob", db_name="analytics", server_name="")
    assert report["user"] == {"value": "bob", "source": "flag"}
    assert report["db_name"] == {"value": "analytics", "source": "flag"}
    assert report["server_name"] == {"value": "", "source": "default"}
    stored = f"profile:{registry.store.paths[0]}"
    assert registry.explain("prod", address="")["address"] == {
        "value": "milvus.test:19531",
        "source": stored,
    }
