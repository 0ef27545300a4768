"""`conn login` and `conn logout`: a secret tested against its server, then kept in the
OS credential store (secrets/keystore.py) for the alias's server and user; and taken out again.

Login stores nothing unless the server accepted the secret, and then writes only the
store and this user's record of logins (secrets/logins.py): never the profile, except to move
a plain secret of the alias out of a profile it may write. Any failure after the store
was written puts the store and the record back as they were.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class. Forward references are quoted instead.
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .config import secret_problem
from .connection import probe_request, run
from .errors import ConnectionConfigException, MilvusException, ProfileException, probe_failure
from .probe.endpoint import Credentials
from .secrets.logins import Login
from .storage.profile import with_aliases

if TYPE_CHECKING:
    from .catalog import Catalog
    from .resolve import Resolved
    from .secrets.keystore import Keystore
    from .storage.profile import Profile

KINDS = ("password", "token")


class LoggedIn(NamedTuple):
    """What `login` did: which secret it stored where, and what became of a plain one."""

    alias: str
    login: Login
    store: str  # the backend, as keystore names it
    moved_from: str = ""  # the profile a plain secret was moved out of
    left_in: str = ""  # a profile that still holds one (read-only to this user)


def whom(login: Login) -> str:
    return f"{login.user}@{login.address}" if login.user else login.address


def login(
    catalog: "Catalog", alias: str, secret: "str | Callable[[], str]", kind: str = "password"
) -> LoggedIn:
    """Test `secret` (or what `secret()` gives, asked once the store is known to work)
    against the alias's server; store it only if the server accepted it."""
    if kind not in KINDS:
        raise ConnectionConfigException(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    resolved = catalog.stored(alias)
    if kind == "password" and not resolved.user:
        raise ConnectionConfigException(
            f"alias {alias!r} has no user, and a password is sent with one: add it (conn add "
            f"{alias} --force ... --user NAME), or log in with a token (--token)"
        )
    entry, timeout = Login(kind, resolved.config.address, resolved.user), _timeout(resolved)
    keystore = catalog.get_keystore()
    store = keystore.name(timeout)  # no usable store: said before a secret is asked for
    value = secret() if callable(secret) else secret
    problem = secret_problem(value)
    if problem:
        raise ConnectionConfigException(f"the {kind} given is {problem}; nothing stored")
    _accepted(resolved, kind, value, timeout)
    previous = keystore.get(entry, timeout)
    keystore.put(entry, value, timeout)
    marked = entry in keystore.logins
    try:
        if not marked:
            with keystore.logins.changing() as write:
                write(keystore.logins.all() | {entry})
        moved_from, left_in = _move_plain(catalog, alias, kind)
    except MilvusException:
        _undo(keystore, entry, previous, marked, timeout)
        raise
    return LoggedIn(alias, entry, store, moved_from, left_in)


def logout(catalog: "Catalog", alias: str) -> list[Login]:
    """Remove what `login` stored for the alias's server and user; [] if nothing was."""
    resolved = catalog.stored(alias)
    keystore = catalog.get_keystore()
    found = keystore.logins.of(resolved.config.address, resolved.user)
    for entry in found:
        keystore.delete(entry, _timeout(resolved))
    if found:
        with keystore.logins.changing() as write:
            write(keystore.logins.all() - set(found))
    return found


def stored(catalog: "Catalog", alias: str) -> list[Login]:
    """What `login` stored for the alias's server and user; [] for an alias that is
    unknown or unusable (the store is not asked)."""
    try:
        config = catalog.config(alias)
    except ProfileException:
        return []
    return catalog.get_keystore().logins.of(config.address, config.user) if config else []


def _timeout(resolved: "Resolved") -> float:
    return resolved.config.effective_timeout


def _accepted(resolved: "Resolved", kind: str, secret: str, timeout: float) -> None:
    """Probe the server with this secret alone; its outcome's exception unless healthy."""
    password, token = (secret, "") if kind == "password" else ("", secret)
    credentials = Credentials(resolved.user, password, token, resolved.db_name)
    probe = probe_request(
        resolved.config, credentials, resolved.target, timeout=timeout, want_version=False
    )
    result = run(probe)
    if not result.healthy:
        message = f"cannot log in {resolved.alias!r} ({resolved.config.address}): {result.reason}"
        raise probe_failure(result.status, f"{message}; nothing stored", result)


def _move_plain(catalog: "Catalog", alias: str, kind: str) -> tuple[str, str]:
    """Take a plain secret of this kind out of the profile that defines the alias, if
    this user may write it: (the file it left, the read-only file still holding it)."""
    store = catalog.store
    config = store.load().aliases.get(alias)
    path = store.source_of(alias)
    if config is None or path is None or not getattr(config, kind):
        return "", ""
    try:
        store.check_writable(alias)
    except ProfileException:
        return "", str(path)

    def without_plain(profile: "Profile") -> "Profile":
        current = profile.aliases.get(alias)
        if current is None or not getattr(current, kind):
            return profile
        return with_aliases(profile, {alias: current.with_changes(**{kind: ""})})

    store.update(without_plain)
    return str(path), ""


def _undo(
    keystore: "Keystore", entry: Login, previous: "str | None", marked: bool, timeout: float
) -> None:
    """Put the store and the record of logins back as they were before this login."""
    try:
        if previous is None:
            keystore.delete(entry, timeout)
        else:
            keystore.put(entry, previous, timeout)
        if not marked:
            with keystore.logins.changing() as write:
                write(keystore.logins.all() - {entry})
    except MilvusException:
        pass  # the first failure is the one to report
