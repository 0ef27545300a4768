"""README.md cannot show what conn does not do.

- Every transcript (a ```console block: `$ conn ...` lines, each followed by what it
  prints) is run, in the README's order, against real servers: a Milvus Lite of its own
  with a loaded and a released collection, and a real GNOME Keyring for `conn login`.
  The output is compared after normalising what differs from run to run: the servers'
  ports, latencies, Milvus Lite's version, the home directory, and the width of table
  columns.
- Every other `conn ...` command in a shell block is parsed by the CLI as typed, so that
  no example names an option or a value conn would refuse.

As sqlite-utils keeps its CLI docs from drifting.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from milvus_conn.cli import app
from milvus_conn.cli.compat import click_exception_base

from . import servers

README = Path(__file__).parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# What the README's transcripts name, and what stands for it in this run.
LITE_ADDRESS = "127.0.0.1:19530"
HOME = "/home/ann"
SECRETS = {"PW": "s3cret-pw"}  # the variables a transcript's `echo "$PW" |` reads


def blocks(*languages: str) -> list[str]:
    return [body for language, body in BLOCK.findall(README.read_text()) if language in languages]


def transcripts() -> list[list[tuple[str, str]]]:
    """Each ```console block as (command, expected output) pairs."""
    found = []
    for body in blocks("console"):
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, f"output before any command in a transcript: {line!r}"
                steps[-1][1].append(line)
        found.append([(command, "\n".join(out)) for command, out in steps])
    return found


def normalised(text: str, home: str) -> str:
    text = text.replace(home, HOME)
    text = re.sub(r"\b\d+(\.\d+)? ms\b", "N ms", text)
    text = re.sub(r"milvus_lite-[\w.]+", "milvus_lite-VERSION", text)
    return "\n".join(re.sub(r" {2,}", "  ", line).rstrip() for line in text.splitlines())


class Shell:
    """Runs one transcript line as a shell would, in-process: `[VAR=value ...] conn ARGS`,
    `echo "$VAR" | conn ARGS`, or `echo $?`."""

    def __init__(self, lite: servers.MilvusLite, home: str) -> None:
        self.runner = CliRunner()
        self.lite, self.home = lite, home
        self.status = 0

    def __call__(self, line: str) -> str:
        words = shlex.split(line, comments=True)
        if words == ["echo", "$?"]:
            return str(self.status)
        given = None
        if words[0] == "echo" and "|" in words:
            bar = words.index("|")
            given = " ".join(SECRETS.get(w.lstrip("$"), w) for w in words[1:bar]) + "\n"
            words = words[bar + 1 :]
        env = {}
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "conn", f"a transcript runs conn, not {words[0]!r}"
        args = [word.replace(LITE_ADDRESS, self.lite.address) for word in words[1:]]
        result = self.runner.invoke(app, args, input=given, env=env, catch_exceptions=False)
        self.status = result.exit_code
        shown = (result.stdout + result.stderr).replace(self.lite.address, LITE_ADDRESS)
        assert "Traceback" not in shown
        return normalised(shown, self.home)


@pytest.fixture(scope="module")
def readme_lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MilvusLite]:
    """The README's Milvus Lite: `books` loaded, `films` released."""
    from pymilvus import MilvusClient

    server = servers.MilvusLite(tmp_path_factory.mktemp("readme-lite") / "data")
    client = MilvusClient(uri=f"http://{server.address}")
    client.create_collection("books", dimension=4)
    client.create_collection("films", dimension=4)
    client.release_collection("films")
    client.close()
    yield server
    server.stop()


def test_every_transcript_prints_what_the_readme_shows(
    readme_lite, tmp_path, monkeypatch, gnome_keyring_session
):
    home = tmp_path / "home"
    for name in ("CONN_PROFILE", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))  # the default profile: ~/.config/conn/profiles.toml
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", gnome_keyring_session.address)
    shell = Shell(readme_lite, str(home))
    steps = [step for transcript in transcripts() for step in transcript]
    assert len(steps) >= 15, "the README lost its transcripts"
    try:
        for command, expected in steps:
            assert shell(command) == normalised(expected, HOME), f"$ {command}"
    finally:
        gnome_keyring_session.delete_all()


def test_a_transcript_that_drifts_is_caught(readme_lite, tmp_path, monkeypatch):
    """The comparison can fail: a README line conn no longer prints is a difference."""
    monkeypatch.setenv("HOME", str(tmp_path))
    shell = Shell(readme_lite, str(tmp_path))
    printed = shell("conn add lite --address 127.0.0.1:19530")
    assert printed == normalised("Added lite (127.0.0.1:19530)", HOME)
    assert printed != normalised("Added lite at 127.0.0.1:19530", HOME)


# commands that are shown without their output ------------------------------------------


def commands_shown() -> list[str]:
    """Every `conn ...` command line in the README's shell and console blocks, each cut
    where the shell would end it (`|`, `&&`, `;`, `>`, `)`), `$(conn ...)` included."""
    found = []
    for body in blocks("sh", "console"):
        text = re.sub(r"\\\n\s*", " ", body)  # continued lines
        for each in text.splitlines():
            line = each.removeprefix("$ ")
            if not re.search(r"\bconn\b", line) or line.startswith(("#", "conn: ")):
                continue
            found += _conn_calls(line)
    return found


def _conn_calls(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    calls = []
    for index, token in enumerate(tokens):
        inner = re.search(r"\$\((conn [^)]*)\)", token)
        if inner:
            calls += _conn_calls(inner.group(1))
        if token != "conn":
            continue
        args = []
        for word in tokens[index + 1 :]:
            if re.fullmatch(r"[|&;<>()]+", word):
                break
            args.append(word)
        calls.append(shlex.join(["conn", *args]))
    return calls


@pytest.fixture(scope="module")
def parser():
    group = get_command(app)

    def parse(args: list[str]) -> None:
        """Parse `conn ARGS` as conn would, running nothing: click raises for an unknown
        option, a bad value or a missing argument."""
        with group.make_context("conn", list(args)) as ctx:
            rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
            if not rest:  # global options only (`conn --version`)
                return
            name, command, rest = group.resolve_command(ctx, rest)
            assert command is not None, f"no command {name!r}"
            with command.make_context(name, rest, parent=ctx):
                pass

    return parse


def test_the_readme_shows_many_commands():
    assert len(commands_shown()) >= 60


@pytest.mark.parametrize("shown", sorted(set(commands_shown())))
def test_every_command_the_readme_shows_is_one_conn_takes(parser, shown):
    parser(shlex.split(shown)[1:])


@pytest.mark.parametrize(
    "shown", ["conn has prod --no-such-option", "conn list --timeout soon", "conn nosuch x"]
)
def test_the_parse_refuses_what_conn_would(parser, shown):
    with pytest.raises(click_exception_base()):
        parser(shlex.split(shown)[1:])
