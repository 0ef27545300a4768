"""A secret manager's command (`password_command`, `token_command`): run on demand, as
AWS's `credential_process`, kubectl's exec plugins and git's credential helpers are.

The command is split as a POSIX shell splits words and run without a shell, with no
standard input (it cannot wait on ours; a manager that prompts uses the terminal
itself), in a session of its own so that a time-out stops everything it started. Its
standard output, one trailing newline dropped, is the secret; it is read up to
MAX_OUTPUT bytes, and the command must end within the alias's timeout. Its standard
error is kept (a little) to say why it failed.

A command is code: one that a profile file holds is run only if no other user could
have written that file (`file_problem`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from ..config import command_words, secret_problem
from ..untrusted import escape

MAX_OUTPUT = 64 * 1024  # bytes of standard output: far more than any password or token
MAX_STDERR_SHOWN = 200  # characters of the command's standard error in a message
_STDERR_KEPT = 4096


class CommandFailed(Exception):
    """Why the command gave no secret: a sentence, its standard error appended."""


def file_problem(path: Path) -> str:
    """Why a command from `path` must not run ("" if it may): the file or its directory
    belongs to another user (root aside), or group or others may write it: the rule conn
    holds its own state to (storage/trust.py), a sticky directory like /tmp aside."""
    from ..storage.trust import problem

    for each in (path, path.parent):
        try:
            st = each.stat()
        except OSError as exc:
            return f"{each} cannot be checked: {exc.strerror}"
        found = problem(st, sticky_protects=True)
        if found:
            return f"{each} {found}"
    return ""


def run(name: str, command: str, timeout: float) -> str:
    """The secret the command prints, or CommandFailed saying why there is none."""
    words = command_words(name, command)
    try:
        process = subprocess.Popen(
            words, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise CommandFailed(f"could not start: {words[0]} was not found") from None
    except OSError as exc:
        raise CommandFailed(f"could not start: {words[0]}: {exc.strerror}") from None
    try:
        output, errors, code = _collect(process, timeout)
    finally:
        _stop(process)
    if code != 0:
        raise CommandFailed(f"exited with status {code}{_said(errors)}")
    return _secret(output, errors)


def _collect(process: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes, int]:
    """Standard output and error as the process ends, read as they come: never more
    than MAX_OUTPUT bytes, never past the deadline."""
    import selectors

    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + timeout
    output, errors = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, output)
        selector.register(process.stderr, selectors.EVENT_READ, errors)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandFailed(f"did not finish within {timeout:g} s{_said(errors)}")
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is output:
                    output += chunk
                    if len(output) > MAX_OUTPUT:
                        raise CommandFailed(f"printed more than {MAX_OUTPUT // 1024} KiB")
                elif len(errors) < _STDERR_KEPT:
                    errors += chunk[: _STDERR_KEPT - len(errors)]
    try:
        code = process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"did not finish within {timeout:g} s{_said(errors)}") from None
    return bytes(output), bytes(errors), code


def _secret(output: bytes, errors: bytes) -> str:
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandFailed("printed something that is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    problem = secret_problem(text)
    if problem:
        raise CommandFailed(f"printed {problem}{_said(errors)}")
    return text


def _said(errors: bytes) -> str:
    """The command's standard error, as one escaped line cut short ("" when silent)."""
    text = " ".join(errors.decode("utf-8", "replace").split())
    if not text:
        return ""
    cut = text[:MAX_STDERR_SHOWN] + ("..." if len(text) > MAX_STDERR_SHOWN else "")
    return f"; it said: {escape(cut)}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill whatever the command started and is still running; reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
