"""The OS credential store, through keyring: where `conn login` keeps a secret.

Entries are keyed by what they belong to, as git credentials are: the service
`milvus-conn:ADDRESS` (`milvus-conn-token:ADDRESS` for a token) and the user name (for a
token without one, `token`). keyring's own command line (`keyring get milvus-conn:H:P
USER`), Seahorse and Keychain Access show them under those names.

Which backend: the one keyring's configuration names (`PYTHON_KEYRING_BACKEND`,
keyringrc.cfg), loaded by keyring. When it names none, keyring would import and ask
every backend installed (~0.35 s, more than a whole probe); instead conn goes straight
to the platform's store, a performance device for the `conn has` keyring row of `make
bench`: on Linux (outside KDE) the Secret Service, spoken to through secretstorage,
keyring's own dependency for it, with the attributes keyring's SecretService backend
uses, so both read and write the very same items; on macOS and Windows keyring's
backend for it, by name. Only when that store does not answer does keyring's discovery
run, and then among the backends it recommends (priority >= 1): never a plain-text file
that nobody chose.

Every call is bounded by a timeout: a store waiting on a prompt, or a daemon that does not
answer, is an error (exit 6), never a hang. Nothing here imports keyring or secretstorage
until a secret is really read or written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ProfileException
from .logins import Login, Logins

KEYRING_APPLICATION = "Python keyring library"  # the `application` keyring's items carry
REMEDIES = (
    "start or unlock a Secret Service (GNOME Keyring, KWallet, KeePassXC), point "
    "PYTHON_KEYRING_BACKEND at a file backend such as "
    "keyrings.cryptfile.cryptfile.CryptFileKeyring, or keep the secret elsewhere: "
    "--password-command / --password-env (--token-command / --token-env)"
)
T = TypeVar("T")


class StoreUnavailable(ProfileException):
    """No usable credential store (exit 6); the message names the remedies."""


def service(login: Login) -> str:
    prefix = "milvus-conn-token" if login.kind == "token" else "milvus-conn"
    return f"{prefix}:{login.address}"


def username(login: Login) -> str:
    return login.user or login.kind


class Keystore:
    """The record of logins (logins.py) and, opened when first needed, the store."""

    def __init__(self, logins: Logins | None = None) -> None:
        self.logins = logins or Logins()
        self._store: Any = None
        self._lock = threading.Lock()  # one call at a time: a D-Bus connection is not shared

    def stored(self, login: Login) -> bool:
        """Whether `conn login` stored this secret (no store is asked)."""
        return login in self.logins

    def get(self, login: Login, timeout: float) -> str | None:
        return self._call(lambda store: store.get(service(login), username(login)), timeout)

    def put(self, login: Login, secret: str, timeout: float) -> None:
        self._call(lambda store: store.put(service(login), username(login), secret), timeout)

    def delete(self, login: Login, timeout: float) -> None:
        self._call(lambda store: store.delete(service(login), username(login)), timeout)

    def name(self, timeout: float) -> str:
        """The backend, as a person would look for it."""
        return str(self._call(lambda store: store.name, timeout))

    def _call(self, action: Callable[[Any], T], timeout: float) -> T:
        def work() -> T:
            with self._lock:
                if self._store is None:
                    self._store = _open()
                return action(self._store)

        return _bounded(work, timeout)


def _bounded(work: Callable[[], T], timeout: float) -> T:
    """`work()` in a worker thread, given up after `timeout` s (the thread is left to end
    on its own: a blocked D-Bus read cannot be interrupted)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="conn-keystore", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ProfileException(
            f"the OS credential store did not answer within {timeout:g} s (is it locked and "
            "waiting on a prompt?): unlock it, or raise the alias's --timeout"
        )
    if "error" in outcome:
        raise _translated(outcome["error"]) from None
    return outcome["value"]  # type: ignore[no-any-return]


def _translated(exc: BaseException) -> BaseException:
    """keyring's and secretstorage's errors as one `Error:` line (exit 6)."""
    if isinstance(exc, ProfileException) or not isinstance(exc, Exception):
        return exc
    kind = type(exc).__name__
    if kind in ("KeyringLocked", "LockedException", "PromptDismissedException"):
        return ProfileException(
            "the OS credential store is locked and was not unlocked: unlock it (for GNOME "
            "Keyring: log in to a desktop session, or gnome-keyring-daemon --unlock)"
        )
    if kind in ("NoKeyringError", "InitError", "SecretServiceNotAvailableException"):
        return StoreUnavailable(f"no usable OS credential store ({exc}): {REMEDIES}")
    return ProfileException(f"the OS credential store failed: {kind}: {exc}")


# the backends -------------------------------------------------------------------------


def _open() -> Any:
    """The store: keyring's configured backend, else the platform's, else a recommended
    one keyring finds; StoreUnavailable (with the remedies) when there is none."""
    configured = _configured()
    if configured is not None:
        return configured
    if sys.platform.startswith("linux") and "KDE" not in os.environ.get("XDG_CURRENT_DESKTOP", ""):
        found = _SecretService.available()
        if found is not None:
            return found
    elif sys.platform in ("darwin", "win32"):
        name = {"darwin": "macOS.Keyring", "win32": "Windows.WinVaultKeyring"}[sys.platform]
        found = _by_name(f"keyring.backends.{name}")
        if found is not None:
            return found
    return _discovered()


def keyring_config_file() -> Path:
    """keyring's keyringrc.cfg, where keyring.util.platform_ puts it (not imported: it
    would load keyring whole)."""
    if sys.platform == "win32":  # pragma: no cover
        root = os.environ.get("LOCALAPPDATA") or os.environ.get("PROGRAMDATA") or "."
        return Path(root, "Python Keyring", "keyringrc.cfg")
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root, "python_keyring", "keyringrc.cfg")


def _configured() -> Any:
    """The backend keyring's own configuration names, or None when it names none."""
    name = os.environ.get("PYTHON_KEYRING_BACKEND", "")
    if not name and not keyring_config_file().is_file():
        return None
    import keyring.core

    where = f"PYTHON_KEYRING_BACKEND={name}" if name else str(keyring_config_file())
    try:
        backend = keyring.core.load_env() or keyring.core.load_config()
    except Exception as exc:
        raise StoreUnavailable(
            f"{where} names a keyring backend that cannot be used ({type(exc).__name__}: "
            f"{exc}): {REMEDIES}"
        ) from None
    if backend is None:
        return None
    if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
        raise StoreUnavailable(f"keyring is turned off by {where}: {REMEDIES}")
    return _Keyring(backend)


def _by_name(name: str) -> Any:
    import keyring.core

    try:
        return _Keyring(keyring.core.load_keyring(name))
    except Exception:
        return None


def _discovered() -> Any:
    """keyring's discovery, among the backends it recommends; never its chainer, which
    would also write to the ones it does not."""
    import keyring.backend
    from keyring.backends.chainer import ChainerBackend

    viable = [
        backend
        for backend in keyring.backend.get_all_keyring()
        if not isinstance(backend, ChainerBackend) and backend.priority >= 1
    ]
    if not viable:
        raise StoreUnavailable(f"no usable OS credential store was found: {REMEDIES}")
    return _Keyring(max(viable, key=keyring.backend.by_priority))


class _Keyring:
    """A keyring backend."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = f"{type(backend).__module__}.{type(backend).__qualname__}"

    def get(self, service: str, user: str) -> str | None:
        return self.backend.get_password(service, user)  # type: ignore[no-any-return]

    def put(self, service: str, user: str, secret: str) -> None:
        self.backend.set_password(service, user, secret)

    def delete(self, service: str, user: str) -> None:
        from keyring.errors import PasswordDeleteError

        with contextlib.suppress(PasswordDeleteError):  # nothing there: what delete wants
            self.backend.delete_password(service, user)


class _SecretService:
    """The Secret Service (GNOME Keyring, KeePassXC, KWallet 5.97+), as keyring's
    SecretService backend uses it: the default collection, items with the attributes
    `service`, `username` and `application`, the same label."""

    name = "the Secret Service (org.freedesktop.secrets)"

    @classmethod
    def available(cls) -> _SecretService | None:
        try:
            import secretstorage
            from secretstorage.exceptions import SecretStorageException
        except ImportError:
            return None
        try:
            connection = secretstorage.dbus_init()
        except (SecretStorageException, OSError):  # no bus, or a dead one
            return None
        try:
            return cls() if secretstorage.check_service_availability(connection) else None
        except (SecretStorageException, OSError):
            return None
        finally:
            connection.close()

    def _run(self, action: Callable[[Any], T]) -> T:
        import secretstorage

        connection = secretstorage.dbus_init()
        try:
            collection = secretstorage.get_default_collection(connection)
            if collection.is_locked():
                collection.unlock()  # a prompt, where the desktop has one
                if collection.is_locked():
                    raise secretstorage.LockedException("locked")
            return action(collection)
        finally:
            connection.close()

    def get(self, service: str, user: str) -> str | None:
        def find(collection: Any) -> str | None:
            for item in collection.search_items({"username": user, "service": service}):
                if item.is_locked():
                    item.unlock()
                return item.get_secret().decode("utf-8")  # type: ignore[no-any-return]
            return None

        return self._run(find)

    def put(self, service: str, user: str, secret: str) -> None:
        attributes = {"username": user, "service": service, "application": KEYRING_APPLICATION}
        label = f"Password for '{user}' on '{service}'"
        self._run(lambda c: c.create_item(label, attributes, secret.encode(), replace=True))

    def delete(self, service: str, user: str) -> None:
        def remove(collection: Any) -> None:
            for item in collection.search_items({"username": user, "service": service}):
                item.delete()

        self._run(remove)
