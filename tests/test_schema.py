"""`conn schema`: a draft-04 JSON Schema that accepts the profiles conn writes and
rejects the ones conn refuses to read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from milvus_conn.config import AliasConfig

from .helpers import write_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DATA = Path(__file__).parent / "data"


@pytest.fixture
def validator(cli) -> Draft4Validator:
    schema = json.loads(cli("schema").stdout)
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def errors(validator: Draft4Validator, profile) -> list[str]:
    document = tomllib.loads(profile.read_text())
    return [error.message for error in validator.iter_errors(document)]


def test_schema_is_draft_04_and_describes_every_alias_field(cli):
    schema = json.loads(cli("schema").stdout)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    alias = schema["properties"]["connections"]["additionalProperties"]
    assert set(alias["properties"]) == set(AliasConfig._fields) - {"extra"}
    assert all(field["description"] for field in alias["properties"].values())


def test_profiles_conn_writes_are_valid(cli, profile, validator, tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    cli("add", "plain", "--address", "127.0.0.1:19530")
    cli("add", "uri", "--uri", "https://bob@milvus.example:443/sales", "--password-env", "PW")
    cli("add", "tls", "--host", "h", "--port", "1", "--secure", "--ca-pem-path",
        str(tmp_path / "ca.pem"), "--server-name", "m.example", "--client-pem-path", "c.pem",
        "--client-key-path", "c.key", "--timeout", "2.5", "--probe", "milvus",
        "--health-service", "svc", "--token-env", "TOK", "--db-name", "d")  # fmt: skip
    cli("use", "tls")
    assert errors(validator, profile) == []
    exported = tmp_path / "exported.toml"
    exported.write_text(cli("export").stdout)
    assert errors(validator, exported) == []


@pytest.mark.parametrize("name", ["prod.toml", "prod_profile.toml"])
def test_the_suites_reference_profiles_are_valid(validator, name):
    assert errors(validator, DATA / name) == []


def test_hand_written_profile_with_unknown_keys_and_plain_secrets_is_valid(cli, profile, validator):
    write_profile(
        profile,
        '"$schema" = "file:///etc/conn.schema.json"\nowner = "team"\nversion = 1\n\n'
        '[connections.a]\nuri = "http://h:1"\npassword = "x"\ncolour = "blue"\ntimeout = 3\n',
    )
    cli("list")  # conn reads it
    assert errors(validator, profile) == []


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ('user = "u"', "is not valid under any of the given schemas"),
        ('address = "h:1"\nprobe = "http"', "is not one of"),
        ('address = "h:1"\ntimeout = 0', "less than or equal to the minimum"),
        ('address = "h:1"\ntimeout = "5"', "is not of type 'number'"),
        ('address = "h:1"\nca_pem_path = "ca.pem"', "'secure' is a required property"),
        ('address = "h:1"\nsecure = false\nserver_name = "x"', "False is not one of [True]"),
        ('address = "h:1"\nsecure = true\nclient_pem_path = "c"', "'client_key_path' is a requ"),
        ('address = "h:1"\nsecure = "yes"', "is not of type 'boolean'"),
    ],
)
def test_profiles_conn_refuses_are_invalid_too(cli, profile, validator, table, complaint):
    write_profile(profile, f"version = 1\n\n[connections.a]\n{table}\n")
    cli("list", code=6)
    found = errors(validator, profile)
    assert any(complaint in message for message in found), found


def test_a_newer_version_is_invalid(cli, profile, validator):
    write_profile(profile, 'version = 2\n\n[connections.a]\naddress = "h:1"\n')
    cli("list", code=6)
    assert errors(validator, profile) == ["2 is not one of [1]"]


def test_the_schema_directive_survives_add_and_the_schema_key_a_rewrite(cli, profile):
    write_profile(profile, '#:schema ./profiles.schema.json\n"$schema" = "file:///s.json"\n'
                  'version = 1\n')  # fmt: skip
    cli("add", "a", "--address", "h:1")
    assert profile.read_text().startswith("#:schema ./profiles.schema.json\n")
    cli("use", "a")  # a rewrite: comments go, unknown top-level keys stay
    assert tomllib.loads(profile.read_text())["$schema"] == "file:///s.json"
