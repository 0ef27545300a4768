"""Bad input, property-tested. No traceback, only documented exits, and a
rejected command changes nothing.

CLI: CLI_EXAMPLES random argument vectors (the real commands and options, mixed with
random text: unicode, empty, very long, negative and huge ports, malformed URIs) run
through the in-process CliRunner. Library: LIBRARY_EXAMPLES random `add_connection`
calls (odd aliases, configs of wrong types), plus random aliases of every type for the
other methods. Nothing here touches the network: no `connect`, no `list --check`, and
`has` always with `--no-probe`; every address is on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from milvus_conn import AliasConfig, ConnectionConfigException, Connections, MilvusException

from . import servers
from .helpers import snapshot, state_file

CLI_EXAMPLES = 120
LIBRARY_EXAMPLES = 200
OTHER_METHOD_EXAMPLES = 100
EXIT_CODES = range(7)

# Derandomized: the same examples on every run, so that the counts of accepted and
# refused inputs the tests assert (proof that not every input is refused) cannot flake.
# For a random hunt, set "derandomize" to False locally.
SETTINGS = {
    "derandomize": True,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

# What the profile and state file hold before every CLI example: `a` connected (to a
# refused port, so that even an accidental probe would end at once), `b`, a unicode alias.
REFUSED = servers.refused_address()
BASELINE_PROFILE = f"""version = 1
owner = "team-x"

[connections.a]
address = "{REFUSED}"
timeout = 1.0

[connections.b]
address = "127.0.0.1:19531"
user = "bob"

[connections."ünï code"]
address = "127.0.0.1:19532"
""".encode()
BASELINE_STATE = (
    json.dumps(
        {"version": 1, "connected": {"a": {"address": REFUSED, "user": "", "timeout": 1.0}}},
        indent=2,
        sort_keys=True,
    )
    + "\n"
).encode()

# vocabulary -------------------------------------------------------------------------

CONFIG_OPTIONS = (
    "--uri",
    "--address",
    "--host",
    "--port",
    "--user",
    "--password-env",
    "--token-env",
    "--db-name",
    "--server-pem-path",
    "--server-name",
    "--client-pem-path",
    "--client-key-path",
    "--ca-pem-path",
    "--timeout",
    "--probe",
    "--health-service",
)
# The offline commands (`connect`, `list --check` and `import FILE` are left out) and
# their options; `has` always gets `--no-probe`.
VALUE_OPTIONS = {
    "add": CONFIG_OPTIONS,
    "remove": (),
    "disconnect": (),
    "has": ("--wait", "--timeout", "--min-version", "--max-latency", "--min-cert-days"),
    "list": ("--timeout",),
    "addr": (),
    "use": (),
    "env": ("--shell",),
    "export": (),
}
FLAGS = {
    "add": ("--secure", "--no-secure", "--force"),
    "remove": (),
    "disconnect": (),
    "has": ("-q", "--quiet", "--json", "--all", "--any"),
    "list": ("--json",),
    "addr": ("--json",),
    "use": (),
    "env": ("--with-secrets",),
    "export": (),
}
GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")
NO_POSITIONAL = ("list",)
NEEDS_ALIAS = ("add", "remove", "use")
ALL_VALUE_OPTIONS = sorted({o for opts in VALUE_OPTIONS.values() for o in opts} | {"--bogus"})
ALL_FLAGS = sorted({f for flags in FLAGS.values() for f in flags} | {"-h", "--help", "--"})

MALFORMED = (
    "http://",
    "http://[::1",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:-1",
    "http://127.0.0.1:port",
    "ftp://127.0.0.1:1",
    "://127.0.0.1",
    "http:///db",
    "https://user:pw@",
    "unix:",
    "tcp://127.0.0.1:0",
    "grpc://:1",
    "127.0.0.1:1:2",
    "[::1]:19530",
    "127.0.0.1:",
    ":19530",
    "http://127.0.0.1\n:1",
    "127.0.0.1\n:1",
    "127.0.0.1:1\r",
    "bad\thost",
    "http://127.0.0.1:1/a/b?c=d#e",
    "https://ü:ß@127.0.0.1:443/日本",
)
PLAUSIBLE = (
    "127.0.0.1:19530",
    "127.0.0.1",
    "http://127.0.0.1:19530",
    "https://u:p@127.0.0.1/db",
    "unix:/tmp/conn-test.sock",
    "a",
    "b",
    "ünï code",
    "default",
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e-9",
    "65535",
    "65536",
    "auto",
    "grpc-health",
    "milvus",
)
NO_NUL = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
TEXT = st.text(NO_NUL, max_size=24)
LONG = st.builds(lambda c, n: c * n, st.characters(exclude_characters="\x00", codec="utf-8"),
                 st.integers(1_000, 20_000))  # fmt: skip
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([-(2**64), -1, 0, 1, 65535, 65536, 10**30])
).map(str)
VALUE = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(MALFORMED),
    TEXT,
    st.just(""),
    NUMBERS,
    LONG,
    st.floats().map(repr),
)


PORT = st.one_of(st.integers(1, 65535), NUMBERS.map(int)).map(str)
OPTION_VALUE = {
    "--address": st.one_of(st.builds("127.0.0.1:{}".format, PORT), VALUE),
    "--uri": st.one_of(st.builds("http://127.0.0.1:{}/db".format, PORT), VALUE),
    "--host": st.one_of(st.just("127.0.0.1"), VALUE),
    "--port": st.one_of(PORT, VALUE),
    "--timeout": st.one_of(st.floats().map(str), VALUE),
    "--wait": st.one_of(st.floats().map(str), VALUE),
    "--probe": st.one_of(st.sampled_from(["auto", "grpc-health", "milvus"]), VALUE),
}
ALIAS_VALUE = st.one_of(st.sampled_from(["a", "b", "ünï code", "default", "new", "n.e.w"]), VALUE)


PLAIN_OPTIONS = ("--user", "--password-env", "--token-env", "--db-name", "--health-service")


@st.composite
def well_formed_add(draw: st.DrawFn) -> list[str]:
    """`add ALIAS` with one target and options that do not conflict; the values still odd."""
    target = draw(st.sampled_from(("--address", "--uri", "--host")))
    args = ["add", draw(ALIAS_VALUE), target, draw(OPTION_VALUE[target])]
    if target == "--host" and draw(st.booleans()):
        args += ["--port", draw(OPTION_VALUE["--port"])]
    for option in draw(st.lists(st.sampled_from(PLAIN_OPTIONS), max_size=3, unique=True)):
        args += [option, draw(VALUE)]
    for option in ("--timeout", "--probe"):
        if draw(st.booleans()):
            args += [option, draw(OPTION_VALUE[option])]
    if draw(st.booleans()):
        args.append("--force")
    return args


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    """Mostly well-formed commands with odd values; sometimes a stray token anywhere
    after `has --no-probe`, and sometimes a global flag before the command."""
    prefix = [draw(st.sampled_from(GLOBAL_FLAGS))] if draw(st.integers(0, 4)) == 0 else []
    command = draw(st.sampled_from(sorted(VALUE_OPTIONS)))
    if command == "add" and draw(st.booleans()):
        return prefix + draw(well_formed_add())
    args = [*prefix, command, "--no-probe"] if command == "has" else [*prefix, command]
    fixed = len(args)
    if command not in NO_POSITIONAL:
        for _ in range(draw(st.integers(1 if command in NEEDS_ALIAS else 0, 2))):
            args.append(draw(ALIAS_VALUE))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()) and VALUE_OPTIONS[command]:
            option = draw(st.sampled_from(VALUE_OPTIONS[command]))
            args += [option, draw(OPTION_VALUE.get(option, VALUE))]
        elif FLAGS[command]:
            args.append(draw(st.sampled_from(FLAGS[command])))
    if draw(st.integers(0, 5)) == 0:  # a stray option, value or flag of any command
        option = draw(st.sampled_from(ALL_VALUE_OPTIONS + ALL_FLAGS))
        stray = [option, draw(VALUE)] if option in ALL_VALUE_OPTIONS else [option]
        stray = draw(st.sampled_from([stray, [draw(VALUE)]]))
        at = draw(st.integers(fixed, len(args)))
        args[at:at] = stray
    return args


# helpers ------------------------------------------------------------------------------


def reset(profile: Path) -> None:
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_bytes(BASELINE_PROFILE)
    state_file(profile).write_bytes(BASELINE_STATE)


def is_usage_error(stderr: str) -> bool:
    """click's usage error: `Usage: conn ...`, a hint, a blank line, one `Error:` line."""
    lines = stderr.rstrip("\n").split("\n")
    return (
        len(lines) >= 2
        and lines[0].startswith("Usage: conn")
        and lines[-1].startswith("Error: ")
        and all(not line.startswith("Error:") for line in lines[:-1])
    )


def is_one_error_line(stderr: str) -> bool:
    return stderr.startswith("Error: ") and stderr.endswith("\n") and stderr.count("\n") == 1


# the CLI ---------------------------------------------------------------------------------


def test_baseline_is_what_the_cli_reads(cli, profile):
    reset(profile)
    listed = json.loads(cli("list", "--json").stdout)
    assert [(row["alias"], row["connected"]) for row in listed] == [
        ("default", False),
        ("a", True),
        ("b", False),
        ("ünï code", False),
    ]


def test_random_cli_arguments_exit_with_a_documented_code_and_change_nothing(cli, profile):
    codes: Counter[int] = Counter()

    @settings(max_examples=CLI_EXAMPLES, **SETTINGS)
    @given(args=argv())
    def example(args: list[str]) -> None:
        reset(profile)
        before = snapshot(profile)
        result = cli(*args, code=None)  # the fixture asserts that no traceback is printed
        code = result.exit_code
        codes[code] += 1
        event(f"{args[0]} exit {code}")  # pytest --hypothesis-show-statistics shows the mix
        assert code in EXIT_CODES, (args, code, result.output)
        assert "Error: unexpected" not in result.stderr, (args, code, result.stderr)
        if code == 0:
            if profile.exists():
                tomllib.loads(profile.read_text(encoding="utf-8"))
            return
        assert snapshot(profile) == before, (args, code, result.stderr)
        command = next(a for a in args if a not in GLOBAL_FLAGS)
        lines = result.stderr.split("\n")[:-1] if result.stderr else []  # \n only, as a terminal
        if {"-v", "--verbose"} & set(args[: args.index(command)]):
            lines = [line for line in lines if not line.startswith("conn: ")]  # diagnostics
        stderr = "".join(f"{line}\n" for line in lines)
        if command == "has" and {"-q", "--quiet"} & set(args) and code != 2 and not lines:
            return  # `has -q` prints nothing for the answers themselves
        if code == 2 and is_usage_error(stderr):
            return
        if command == "has" and len(lines) > 1:  # several aliases: one line for each
            assert all(is_one_error_line(f"{line}\n") for line in lines), (args, code, stderr)
            return
        assert is_one_error_line(stderr), (args, code, result.stderr)

    example()
    # Some of them must be accepted, or this tests nothing but the refusals.
    assert codes[0] >= CLI_EXAMPLES // 10, codes
    assert sum(codes[c] for c in (1, 2, 6)) >= CLI_EXAMPLES // 10, codes


@pytest.mark.parametrize(
    "args",
    [
        ["add", "x", "--bogus"],
        ["add", "x", "--address"],
        ["add", "x", "y"],
        ["bogus"],
        ["addr", "a", "b"],
        ["list", "--check", "--timeout"],
    ],
    ids=["unknown-option", "option-without-value", "extra-argument", "unknown-command",
         "addr-extra-argument", "list-option-without-value"],
)  # fmt: skip
def test_a_usage_error_exits_2(cli, profile, args):
    reset(profile)
    before = snapshot(profile)
    result = cli(*args, code=2)
    assert is_usage_error(result.stderr) or is_one_error_line(result.stderr), result.stderr
    assert not result.stderr.startswith("Error: unexpected ")  # the catch-all's words
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    "option",
    ["--address", "--uri", "--host", "--probe", "--user"],
)
def test_an_error_about_a_value_with_a_newline_is_still_one_line(cli, profile, option):
    reset(profile)
    args = ["add", "x", option, "127.0.0.1\n:1"]
    if option == "--user":
        args += ["--ca-pem-path", "ca\n.pem"]  # TLS file without --secure, a path with \n
    result = cli(*args, code=2)
    assert is_one_error_line(result.stderr), result.stderr


# the library ---------------------------------------------------------------------------

KNOWN_KEYS = (
    "address",
    "uri",
    "host",
    "port",
    "user",
    "db_name",
    "secure",
    "server_pem_path",
    "server_name",
    "client_pem_path",
    "client_key_path",
    "ca_pem_path",
    "timeout",
    "probe",
    "health_service",
    "password_env",
    "token_env",
    "password",
    "token",
)
ODD_ALIASES = (
    "default",
    "a.b",
    "a b",
    " a",
    "a ",
    "",
    "a\nb",
    "a\x00b",
    "\x00",
    "[x]",
    '"q"',
    "'q'",
    "#",
    "=",
    "a=b",
    "\\",
    "\u00a0",
    "\u2028",
    "\ufeffbom",
    "🚀",
    "日本語",
    "x" * 5000,
    "version",
    "connections",
)
ANY_TEXT = st.text(max_size=16)  # NUL and control characters included
ALIAS = st.one_of(st.sampled_from(ODD_ALIASES), ANY_TEXT, st.text(NO_NUL, min_size=1))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    ANY_TEXT,
    st.binary(max_size=6),
    st.sampled_from(PLAUSIBLE + MALFORMED),
    st.sampled_from([19530, "19530", "127.0.0.1", "127.0.0.1:19530", "x.pem", 2.5, True]),
)
ANY_VALUE = st.one_of(
    SCALAR,
    st.lists(SCALAR, max_size=2),
    st.dictionaries(ANY_TEXT, SCALAR, max_size=2),
    st.tuples(SCALAR),
    st.just(object()),
)
CONFIG = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), ANY_TEXT), ANY_VALUE, max_size=5),
    st.fixed_dictionaries(  # mostly valid, to reach the writer often
        {"address": st.sampled_from(["127.0.0.1:19530", "127.0.0.1:1", "unix:/tmp/s"])},
        optional={k: ANY_VALUE for k in ("user", "db_name", "timeout", "probe", "secure")},
    ),
    ANY_VALUE,
)


# Valid aliases and configs, mixed in so that a good share of the examples is accepted
# (and so round-trips): odd ones alone are nearly always refused.
GOOD_ALIAS = st.text("abcxyz0189_-", min_size=1, max_size=10)
GOOD_CONFIG = st.fixed_dictionaries(
    {"address": st.sampled_from(["127.0.0.1:19530", "127.0.0.1:1", "unix:/tmp/s", "h:2"])},
    optional={
        "user": st.text("abcdefgh-_. @", max_size=8),
        "db_name": st.sampled_from(["default", "db1", ""]),
        "timeout": st.floats(0.001, 1e6),
        "probe": st.sampled_from(["auto", "grpc-health", "milvus"]),
        "secure": st.booleans(),
    },
)


def stored(profile: Path) -> dict[str, Any]:
    return tomllib.loads(profile.read_text(encoding="utf-8"))["connections"]


@pytest.mark.filterwarnings("ignore::milvus_conn.PlainSecretWarning")
def test_add_connection_raises_only_milvus_exceptions_and_round_trips(registry, profile):
    outcomes: Counter[str] = Counter()

    @settings(max_examples=LIBRARY_EXAMPLES, **SETTINGS)
    @given(
        aliases=st.one_of(
            st.dictionaries(ALIAS, CONFIG, min_size=1, max_size=3),
            st.dictionaries(GOOD_ALIAS, GOOD_CONFIG, min_size=1, max_size=3),
        )
    )
    def example(aliases: dict[str, Any]) -> None:
        before = snapshot(profile)
        try:
            registry.add_connection(**aliases)
        except MilvusException:
            assert snapshot(profile) == before  # all or none
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        # Accepted: every alias comes back unchanged from the TOML file, in a fresh instance.
        fresh = Connections(profile=profile)
        listed = {alias for alias, _ in fresh.list_connections()}
        on_disk = stored(profile)
        for alias, config in aliases.items():
            assert alias in listed
            assert alias in on_disk
            expected = AliasConfig.from_options(dict(config))
            assert fresh.store.load().aliases[alias] == expected
            assert fresh.get_connection_addr(alias)["address"] == expected.address

    example()
    assert outcomes["accepted"] >= LIBRARY_EXAMPLES // 20, outcomes  # not only refusals
    assert outcomes["refused"] >= LIBRARY_EXAMPLES // 20, outcomes


NOT_A_STRING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.tuples(ANY_TEXT),
)
METHODS = (
    "has_connection",
    "get_connection_addr",
    "remove_connection",
    "disconnect",
    "get_connection",
    "client_kwargs",
    "remove",
    "require_known",
)
OPTIONAL_ALIAS = ("get_connection", "client_kwargs")


@pytest.mark.filterwarnings("ignore::milvus_conn.PlainSecretWarning")
def test_every_method_takes_any_alias_with_only_milvus_exceptions(registry, profile):
    outcomes: Counter[str] = Counter()

    @settings(max_examples=OTHER_METHOD_EXAMPLES, **SETTINGS)
    @given(
        method=st.sampled_from(METHODS),
        alias=st.one_of(ALIAS, NOT_A_STRING),
    )
    def example(method: str, alias: Any) -> None:
        reset(profile)
        before = snapshot(profile)
        try:
            getattr(registry, method)(alias)
        except MilvusException as exc:
            if not isinstance(alias, str) and alias is not None:
                assert isinstance(exc, ConnectionConfigException)
            assert snapshot(profile) == before
            outcomes["refused"] += 1
        else:
            outcomes["accepted"] += 1  # only get_connection and client_kwargs take None
            assert isinstance(alias, str) or (alias is None and method in OPTIONAL_ALIAS)

    example()
    assert outcomes["accepted"] >= OTHER_METHOD_EXAMPLES // 10, outcomes
    assert outcomes["refused"] >= OTHER_METHOD_EXAMPLES // 10, outcomes


@pytest.mark.filterwarnings("ignore::milvus_conn.PlainSecretWarning")
def test_add_method_raises_only_milvus_exceptions(registry, profile):
    outcomes: Counter[str] = Counter()

    @settings(max_examples=OTHER_METHOD_EXAMPLES, **SETTINGS)
    @given(
        alias=st.one_of(ALIAS, NOT_A_STRING, GOOD_ALIAS),
        options=st.one_of(
            st.dictionaries(st.sampled_from(KNOWN_KEYS), ANY_VALUE, max_size=4), GOOD_CONFIG
        ),
        force=st.booleans(),
    )
    def example(alias: Any, options: dict[str, Any], force: bool) -> None:
        """`Connections.add`, what `conn add` calls, with random keyword values."""
        reset(profile)
        before = snapshot(profile)
        try:
            config = registry.add(alias, force=force, **options)
        except MilvusException:
            assert snapshot(profile) == before
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        assert Connections(profile=profile).store.load().aliases[alias] == config

    example()
    assert outcomes["accepted"] >= OTHER_METHOD_EXAMPLES // 20, outcomes
    assert outcomes["refused"] >= OTHER_METHOD_EXAMPLES // 20, outcomes


@settings(max_examples=50, **SETTINGS)
@given(
    config=st.dictionaries(
        st.one_of(st.integers(), st.none(), st.tuples(st.integers()), st.booleans()),
        ANY_VALUE.filter(lambda v: v is not None),  # None means "not given", as in pymilvus
        min_size=1,
        max_size=3,
    ).map(lambda d: {"address": "127.0.0.1:19530", **d})
)
def test_a_config_with_non_string_keys_is_a_config_error(registry, profile, config):
    before = snapshot(profile)
    with pytest.raises(ConnectionConfigException):
        registry.add_connection(a=config)
    assert snapshot(profile) == before


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"address": "127.0.0.1\x00:1"}, "Illegal address"),
        ({"uri": "http://127.0.0.1\x00:1"}, "host|uri"),
        ({"host": "127.0.0.1\x00", "port": 1}, "host"),
        ({"address": "127.0.0.1:1", "user": "a\x00b"}, "user must not contain a NUL"),
        ({"address": "127.0.0.1:1", "db_name": "\x00"}, "db_name must not contain a NUL"),
        ({"address": "127.0.0.1:1", "password_env": "P\x00W"}, "password_env"),
    ],
    ids=["address", "uri", "host", "user", "db_name", "password_env"],
)
def test_nul_bytes_are_config_errors(registry, profile, config, message):
    """NUL cannot travel in argv; the library must refuse it before writing."""
    with pytest.raises(ConnectionConfigException, match=message):
        registry.add_connection(a=config)
    assert not profile.exists()


@pytest.mark.parametrize("alias", ["a\x00b", "\x00", "\x00a"])
def test_nul_in_an_alias_is_a_config_error(registry, profile, alias):
    with pytest.raises(ConnectionConfigException, match="Illegal alias"):
        registry.add_connection(**{alias: {"address": "127.0.0.1:1"}})
    with pytest.raises(ConnectionConfigException, match="Illegal alias"):
        registry.add(alias, address="127.0.0.1:1")
    assert not profile.exists()
    assert registry.has_connection(alias) is False
    assert registry.get_connection_addr(alias) == {}


def test_timeouts_round_trip_or_are_refused(registry, profile):
    outcomes: Counter[str] = Counter()

    @given(timeout=st.floats())
    @settings(max_examples=50, **SETTINGS)
    def example(timeout: float) -> None:
        try:
            registry.add_connection(t={"address": "127.0.0.1:1", "timeout": timeout})
        except ConnectionConfigException:
            assert not (math.isfinite(timeout) and timeout > 0)
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        assert math.isfinite(timeout) and timeout > 0
        assert Connections(profile=profile).store.load().aliases["t"].timeout == timeout

    example()
    assert outcomes["accepted"] >= 5 and outcomes["refused"] >= 5, outcomes


def test_plain_secret_warnings_do_not_leak_into_errors(registry, profile):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with pytest.raises(ConnectionConfigException) as info:
            registry.add_connection(a={"address": "h:1", "password": "pw-Zq9", "probe": 5})
    assert "pw-Zq9" not in str(info.value)
