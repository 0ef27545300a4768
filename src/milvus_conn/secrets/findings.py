"""`conn doctor`'s secrets findings: each alias's password and token can be found where
its settings say, and a plain one is pointed at `conn login`.

- a variable the alias names that is unset, with nothing below it in the order;
- a command whose program is not found, or whose profile another user could have
  written (it would not run); a command is run only by `--network`'s probes (it may
  prompt), which report its failure as that alias's;
- a secret `conn login` stored whose entry the credential store no longer has (the store
  is asked only for aliases that logged in);
- plain secrets, which `conn login` would move into the store, and a profile holding
  them that others can read.

Findings are (status, message, fix) triples; doctor.py files them under `secrets`.
Nothing here puts a secret's value in a message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from ..address import shown
from ..config import COMMAND_KEYS, AliasConfig, command_words
from ..errors import MilvusException
from .keystore import Keystore
from .sources import SECRET_KINDS, Secrets, override_variable

OK, NOTE, FIX = "ok", "note", "fix"
Finding = tuple[str, str, str]


def findings(
    aliases: Mapping[str, AliasConfig],
    defined_in: Callable[[str], Path | None],
    profile: Path,
) -> list[Finding]:
    """Every secrets finding for the profile's aliases, in alias order."""
    keystore, found = Keystore(), []
    for alias, config in aliases.items():
        secrets = Secrets(
            alias, config, {}, os.environ, user=config.user, address=config.address,
            kept="profile", command_file=defined_in(alias), keystore=lambda: keystore,
        )  # fmt: skip
        found += _unset(alias, config, secrets)
        found += _commands(alias, config, defined_in(alias))
        found += _stored(alias, secrets, keystore)
    found += _plain(aliases, profile)
    if not found:
        count = sum(bool(c.password_env) + bool(c.token_env) for c in aliases.values())
        found.append((OK, f"{count} referenced secret variable(s), all set", ""))
    return found


def _unset(alias: str, config: AliasConfig, secrets: Secrets) -> list[Finding]:
    found = []
    for kind in SECRET_KINDS:
        variable = getattr(config, f"{kind}_env")
        if secrets.source(kind).endswith("(not set)"):
            override = override_variable(alias, kind)
            found.append((FIX, f"alias {alias!r}: {kind}_env names ${variable}, which is not "
                          "set", f"export {variable}=... (or {override}) before connecting "
                          f"{alias!r}, or store it: conn login {alias}"))  # fmt: skip
    return found


def _commands(alias: str, config: AliasConfig, path: Path | None) -> list[Finding]:
    """Each command's program is there, and its file trusted (nothing is run)."""
    from . import commands

    found = []
    for key in COMMAND_KEYS:
        command = getattr(config, key)
        if not command:
            continue
        where = f"alias {alias!r}: {key} `{command}`"
        program = command_words(key, command)[0]
        problem = commands.file_problem(path) if path is not None else ""
        if not _runnable(program):
            found.append((FIX, f"{where}: {program} is not found or not executable",
                          f"install {program}, or set {key} of {alias!r} right"))  # fmt: skip
        elif problem:
            found.append((FIX, f"{where} will not run: {problem}", "a command is code: make "
                          "the profile and its directory writable by you alone"))  # fmt: skip
    return found


def _runnable(program: str) -> bool:
    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def _stored(alias: str, secrets: Secrets, keystore: Keystore) -> list[Finding]:
    """Each secret `conn login` stored for the alias is still in the store."""
    found = []
    for kind in SECRET_KINDS:
        login = secrets.login(kind)
        if not keystore.stored(login) or secrets.source(kind) != "keyring":
            continue
        try:
            present = keystore.get(login, secrets.timeout) is not None
        except MilvusException as exc:
            found.append((FIX, f"alias {alias!r}: its stored {kind} cannot be read: "
                          f"{exc.message}", ""))  # fmt: skip
            continue
        if present:
            found.append((OK, f"alias {alias!r}: its {kind} is in the OS credential store", ""))
        else:
            found.append((FIX, f"alias {alias!r}: conn login stored its {kind}, and the OS "
                          "credential store no longer has it", f"conn login {alias} (or conn "
                          f"logout {alias})"))  # fmt: skip
    return found


def _plain(aliases: Mapping[str, AliasConfig], profile: Path) -> list[Finding]:
    """Plain secrets: each one `conn login` could move; a fix if others can read them."""
    holders = [alias for alias, config in aliases.items() if config.has_plain_secret]
    found = [
        (NOTE, f"alias {alias!r}: plain password or token in the profile", f"conn login "
         f"{alias} moves it into the OS credential store (or keep it in a variable: "
         "--password-env / --token-env; conn export leaves plain ones out)")
        for alias in holders
    ]  # fmt: skip
    try:
        readable = profile.stat().st_mode & 0o077
    except OSError:
        readable = 0
    if holders and readable:
        where, names = shown(str(profile)), ", ".join(map(repr, holders))
        found.append((FIX, f"{where} holds plain secrets ({names}) and other users can "
                      "read it", f"chmod 600 {where}"))  # fmt: skip
    return found
