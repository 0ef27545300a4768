"""Where an alias's password and token come from: one order, for the CLI and the library.

1. this run's value: `connect(password=...)`, `--password-stdin`, the one `conn login`
   is testing;
2. the environment: `CONN_<ALIAS>_PASSWORD` / `CONN_<ALIAS>_TOKEN` first (alias
   upper-cased, other characters `_`: a per-run override of this one alias), then the
   variable the alias names (`password_env`, `token_env`);
3. the alias's command (`password_command`, `token_command`: commands.py);
4. the OS credential store, when `conn login` stored a secret for the alias's server
   and user (keystore.py; logins.py records which, so no other alias asks the store);
5. a plain `password` / `token` in the profile.

A variable the alias names that is unset passes to 3-5 (a team profile names one, and a
user logged in instead); only when nothing below it has a secret is it the error (exit
6). A command that fails, or a login whose store entry is gone, is an error of its own
(exit 6), never a pass to the next source: a source that was set up and does not answer
is something to fix.

Nothing is looked up until a secret is needed (`Secrets.value`): by a probe, `client()`,
`client_kwargs()` or `env --with-secrets`. `Secrets.source` names where it would come
from (`--explain`) without running a command or asking the store.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import AliasConfig
from ..errors import ProfileException

if TYPE_CHECKING:
    from .keystore import Keystore
    from .logins import Login

SECRET_KINDS = ("password", "token")
Fetch = Callable[[], str]


def override_variable(alias: str, kind: str) -> str:
    return f"CONN_{re.sub(r'[^A-Z0-9]', '_', alias.upper())}_{kind.upper()}"


class Secrets:
    """An alias's password and token, found when first asked for and then kept.

    `config` holds the alias's secret settings; `explicit` this run's values; `kept` the
    source a plain value is shown as (its profile file, or a URI's); `command_file` the
    file its commands came from (None: given by the caller, who is trusted); `keystore`
    gives the logins and the store (loaded only when the order reaches them)."""

    __slots__ = (
        "_found",
        "_lock",
        "address",
        "alias",
        "command_file",
        "config",
        "env",
        "explicit",
        "kept",
        "keystore",
        "timeout",
        "user",
    )  # fmt: skip

    def __init__(
        self,
        alias: str,
        config: AliasConfig,
        explicit: Mapping[str, str],
        env: Mapping[str, str],
        *,
        user: str,
        address: str,
        kept: str,
        command_file: Path | None = None,
        keystore: Callable[[], Keystore] | None = None,
    ) -> None:
        self.alias, self.config, self.explicit, self.env = alias, config, explicit, env
        self.user, self.address, self.kept = user, address, kept
        self.command_file, self.keystore = command_file, keystore
        self.timeout = config.effective_timeout
        self._found: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def value(self, kind: str) -> str:
        """The secret (`password` or `token`), found once; "" when the alias has none."""
        with self._lock:
            if kind not in self._found:
                source, fetch = self._first(kind)
                if fetch is None and source.endswith("(not set)"):
                    raise ProfileException(self._unset_message(kind))
                self._found[kind] = (fetch() if fetch else "", source)
            return self._found[kind][0]

    def source(self, kind: str) -> str:
        """Where the secret comes from (`explicit`, `env:NAME`, `command`, `keyring`,
        `profile:PATH`, `uri`, `default`, or `env:NAME (not set)`); nothing is run."""
        return self._first(kind)[0]

    def supplied(self, kind: str) -> bool:
        """Whether some source has this secret (asking nothing: a command or the store
        may still fail when it is fetched)."""
        return self._first(kind)[1] is not None

    def _first(self, kind: str) -> tuple[str, Fetch | None]:
        """The first source in the order that has the secret, and how to fetch it."""
        env, config = self.env, self.config
        given = self.explicit.get(kind, "")
        if given:
            return "explicit", lambda: given
        override = override_variable(self.alias, kind)
        if env.get(override):
            return f"env:{override}", lambda: env[override]
        variable = getattr(config, f"{kind}_env")
        if variable and variable in env:
            return f"env:{variable}", lambda: env[variable]
        command = getattr(config, f"{kind}_command")
        if command:
            return "command", lambda: self.from_command(kind, command)
        keystore = self.keystore() if self.keystore is not None else None
        login = self.login(kind)
        if keystore is not None and keystore.stored(login):
            return "keyring", lambda: self._stored(keystore, login)
        plain = getattr(config, kind)
        if plain:
            return self.kept, lambda: plain
        return (f"env:{variable} (not set)" if variable else "default"), None

    def login(self, kind: str) -> Login:
        from .logins import Login

        return Login(kind, self.address, self.user)

    def from_command(self, kind: str, command: str) -> str:
        """What the command prints, once its file is trusted; ProfileException (exit 6)
        naming the alias and the command when it gives nothing."""
        from . import commands

        name = f"{kind}_command"
        where = f"alias {self.alias!r}: {name} `{command}`"
        if self.command_file is not None:
            problem = commands.file_problem(self.command_file)
            if problem:
                raise ProfileException(
                    f"{where} was not run: a command is code, and {problem}, so another "
                    "user could have written it"
                )
        try:
            return commands.run(name, command, self.timeout)
        except commands.CommandFailed as exc:
            raise ProfileException(f"{where} gave no {kind}: it {exc}") from None

    def _stored(self, keystore: Keystore, login: Login) -> str:
        try:
            secret = keystore.get(login, self.timeout)
        except ProfileException as exc:
            raise type(exc)(f"alias {self.alias!r}: {exc.message}") from None
        if secret is None:
            raise ProfileException(
                f"alias {self.alias!r}: conn login stored its {login.kind} for "
                f"{_whom(login)} in the OS credential store, and the entry is gone: "
                f"conn login {self.alias} stores it again (conn logout {self.alias} "
                "forgets the login)"
            )
        return secret

    def _unset_message(self, kind: str) -> str:
        variable = getattr(self.config, f"{kind}_env")
        return (
            f"alias {self.alias!r}: {kind}_env names ${variable}, which is not set in the "
            f"environment (or store the {kind}: conn login {self.alias})"
        )


def _whom(login: Login) -> str:
    return f"{login.user}@{login.address}" if login.user else login.address
