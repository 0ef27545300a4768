"""Every failure is one `Error:` line on stderr with a documented exit code (2 for usage,
before any I/O), and a rejected command leaves the profile and the state file
byte-identical."""

from __future__ import annotations

import pytest

from . import servers
from .conftest import run_conn
from .helpers import CORRUPT, WRONG_PASSWORD, snapshot, write_profile

# usage errors (exit 2), all rejected before the profile is touched ---------------------


TLS_OFF = "given but TLS is off: add --secure (secure = true) or use an https:// uri"


BAD_PROBE = "probe must be one of auto, grpc-health, milvus, got 'ping'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "a", "--host", "h", "--port", "0"], "port 0 out of range (1-65535)"),
        (["add", "a", "--host", "h", "--port", "70000"], "port 70000 out of range (1-65535)"),
        (["add", "a", "--address", "h:1", "--ca-pem-path", "ca.pem"], f"ca_pem_path {TLS_OFF}"),
        (["add", "a", "--address", "h:1", "--probe", "ping"], BAD_PROBE),
        (["add", "a", "--address", "h:1", "--timeout", "0"],
         "timeout must be greater than 0, got 0.0"),
        (["add", "a", "--address", "h"], "Illegal address: h, should be in form 'localhost:19530'"),
        (["connect", "a", "--address", "h:1", "--probe", "ping"], BAD_PROBE),
        (["connect", "a", "--address", "h:1", "--server-pem-path", "s.pem"],
         f"server_pem_path {TLS_OFF}"),
    ],
    ids=["port-0", "port-70000", "tls-file-without-secure", "bad-probe", "zero-timeout",
         "address-without-port", "connect-bad-probe", "connect-tls-file-without-secure"],
)  # fmt: skip
def test_invalid_option_exits_2_before_any_io(cli, profile, args, message):
    result = cli(*args, code=2)
    assert result.stderr == f"Error: {message}\n"
    assert not profile.parent.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "a", "--uri", "http://h:1", "--host", "h"], "give only one of --uri, --host"),
        (["connect", "a", "--address", "h:1", "--uri", "http://h:1"],
         "give only one of --uri, --address"),
        (["add", "a", "--port", "1"], "--port needs --host"),
        (["add", "a", "--host", "h", "--port", "abc"], "'abc' is not a valid int"),
        (["has", "--timeout", "fast"], "'fast' is not a valid float"),
    ],
    ids=["uri-and-host", "address-and-uri", "port-without-host", "port-not-a-number",
         "timeout-not-a-number"],
)  # fmt: skip
def test_conflicting_or_malformed_option_exits_2(cli, profile, args, message):
    result = cli(*args, code=2)
    assert message in result.stderr
    assert not profile.parent.exists()


# a rejected command changes nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["add", "lite", "--address", "127.0.0.1:19531"], 1),
        (["remove", "nope"], 1),
        (["disconnect", "nope"], 1),
        (["connect", "nope"], 1),
        (["add", "x", "--uri", "http://h:1", "--host", "h"], 2),
        (["add", "x", "--host", "h", "--port", "70000"], 2),
        (["add", "x", "--address", "h:1", "--ca-pem-path", "ca.pem"], 2),
        (["connect", "lite", "--probe", "ping"], 2),
        (["has", "down"], 1),
        (["connect", "down", "--timeout", "1"], 3),
        (["list", "--check", "--timeout", "1"], 3),
        (["connect", "new", "--address", "{refused}", "--timeout", "1"], 3),
        (["connect", "new", "--address", "{auth}", "--user", "alice", "--password-env", "BAD"], 5),
    ],
    ids=["exists", "remove-unknown", "disconnect-unknown", "connect-unknown", "conflict",
         "bad-port", "tls-without-secure", "bad-probe", "has-not-connected", "refused",
         "list-check-refused", "refused-new-alias",
         "auth-refused"],
)  # fmt: skip
def test_rejected_command_leaves_profile_and_state_byte_identical(
    cli, connected_lite, profile, auth_server, monkeypatch, args, code
):
    monkeypatch.setenv("BAD", WRONG_PASSWORD)
    refused = servers.refused_address()
    cli("add", "down", "--address", refused)
    before = snapshot(profile)
    assert None not in before.values()
    cli(*(a.format(refused=refused, auth=auth_server.address) for a in args), code=code)
    assert snapshot(profile) == before


# errors are one line on stderr ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["has", "nope"], 1),
        (["add", "a", "--host", "h", "--port", "0"], 2),
        (["connect", "x", "--address", "{refused}", "--timeout", "1"], 3),
        (["connect", "x", "--address", "{http1}", "--timeout", "1"], 4),
    ],
    ids=["unknown-alias", "bad-port", "refused", "http1"],
)
def test_an_error_is_one_line_on_stderr(cli, http1_server, args, code):
    values = {"refused": servers.refused_address(), "http1": http1_server.address}
    result = cli(*(a.format(**values) for a in args), code=code)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")


def test_a_profile_error_is_one_line_on_stderr(cli, profile):
    write_profile(profile, CORRUPT)
    result = cli("list", code=6)
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1


def test_a_conflicting_option_error_is_one_line_on_stderr(cli):
    result = cli("add", "a", "--uri", "http://h:1", "--host", "h", code=2)
    assert result.stderr == "Error: give only one of --uri, --host\n"


# real processes ------------------------------------------------------------------------


def test_process_error_is_one_line_on_real_stderr(profile):
    done = run_conn("has", "nope")
    assert done.returncode == 1, done.stderr
    assert (done.stdout, done.stderr) == ("", "Error: unknown alias 'nope'\n")
