"""The CLI's shape: the pieces the reshape moved into the library, and a run of `conn`
that leaves the process as it found it (warnings machinery, environment)."""

from __future__ import annotations

import os
import warnings

import pytest

from milvus_conn.cli.compat import click_exception_base
from milvus_conn.config import check_given
from milvus_conn.errors import ConnectionConfigException
from milvus_conn.fanout import combined_exit_code
from milvus_conn.probe.certinfo import decode_certificate_file

from .certs import make_certs


@pytest.mark.parametrize(
    ("codes", "any_", "expected"),
    [
        ([0], False, 0),
        ([0, 3], False, 3),
        ([4, 3], False, 4),
        ([0, 3], True, 0),
        ([4, 3], True, 3),
        ([5], True, 5),
    ],
)
def test_several_answers_make_one_exit_code(codes, any_, expected):
    assert combined_exit_code(codes, any_=any_) == expected


def test_given_options_drop_the_unset_ones_and_make_tls_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checked = check_given({"address": "h:1", "user": None, "ca_pem_path": "ca.pem"})
    assert checked == {"address": "h:1", "ca_pem_path": str(tmp_path / "ca.pem")}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"uri": "http://h:1", "address": "h:1"}, "give only one of --uri, --address"),
        ({"port": 1}, "--port needs --host"),
        ({"uri": "./milvus.db"}, "a .db uri runs Milvus Lite"),
    ],
)
def test_given_options_that_conflict_are_refused(given, message):
    with pytest.raises(ConnectionConfigException, match=message):
        check_given(given)


def test_a_run_prints_the_library_warning_and_leaves_the_warnings_machinery_alone(cli):
    before = warnings.showwarning
    result = cli("add", "x", "--uri", "http://alice:Pl41n-S3cret@127.0.0.1:19531")
    assert result.stderr.startswith("Warning: "), result.stderr
    assert warnings.showwarning is before


def test_a_warning_comes_before_the_error_that_ends_the_run(cli, profile):
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text('[connections.p]\naddress = "127.0.0.1:1"\npassword = "Pl41n"\n')
    result = cli("disconnect", "nope", code=1)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Warning: ") and lines[-1].startswith("Error: "), result.stderr


def test_the_library_leaves_grpc_logging_to_the_program(monkeypatch):
    from milvus_conn.probe import channel

    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    channel.load_grpc()
    assert "GRPC_VERBOSITY" not in os.environ


def test_the_compat_shims_reach_what_they_name(tmp_path):
    import typer

    assert issubclass(typer.BadParameter, click_exception_base())
    make_certs(tmp_path)
    fields = decode_certificate_file(str(tmp_path / "server.pem"))
    assert dict(pair for rdn in fields["issuer"] for pair in rdn)["commonName"] == "test-ca"
    assert fields["notAfter"]
