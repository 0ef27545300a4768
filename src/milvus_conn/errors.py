"""Every error milvus-conn raises, each carrying the exit code the CLI ends with.

    MilvusException                      (pymilvus's root name; exit 1)
    ├── ConnectionConfigException        bad alias, address, URI or option    → 2
    │                                    (1 where the config is fine but the alias is not:
    │                                    unknown with no address, or live elsewhere)
    ├── ConnectionNotExistException      unknown alias                        → 1
    │   └── NotConnectedException        known, but not connected             → 1
    ├── AliasExistsException             `add` of an alias that exists        → 1
    ├── ProbeException                   the server could not be confirmed healthy
    │   ├── ServerUnreachableException   refused, timed out, TLS failure      → 3
    │   ├── ServerUnhealthyException     answered, but not serving            → 4
    │   └── AuthenticationException      credentials refused                  → 5
    └── ProfileException                 profile or state file unusable       → 6
        ├── ProfileLockException         lock not obtained in time            → 6
        └── FileLimitException           not a regular file, or over conn's   → 6
                                         size or nesting limit (untrusted.py;
                                         `conn import`'s file: 2)

    PlainSecretWarning (a UserWarning)   a plain secret in the profile
    UntrustedFileWarning (a UserWarning) a state or cache file others could have written,
                                         not believed (storage/trust.py; `-v` prints it)

`OUTCOMES` is the one table from a probe's outcome (the health core's status names) to
the exit code and the exception that reports it; `HealthResult.exit_code` reads it too.
This module imports nothing, so the health core may use it and stay a leaf.

The class names of pymilvus (`MilvusException`, `ConnectionConfigException`,
`ConnectionNotExistException`) are kept so that code written against pymilvus's
`connections` reads the same here. Messages never contain a password or token.
"""

from __future__ import annotations

import os
import sys
import warnings
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit status of every `conn` command; README carries the same table.
    An IntEnum: its members are ints for `sys.exit` and JSON, and print as numbers."""

    OK = 0
    FALSE = 1  # unknown alias, alias not connected, alias already exists
    USAGE = 2  # bad option or argument
    UNREACHABLE = 3  # refused, DNS failure, no answer in time, TLS handshake failure
    UNHEALTHY = 4  # answered but not serving, or speaks no health protocol
    AUTH = 5  # authentication or permission refused
    PROFILE = 6  # profile or state file invalid or unreadable, lock not obtained


class MilvusException(Exception):
    """Root of the tree; `message` and `code` mirror pymilvus's attributes."""

    exit_code: int = ExitCode.FALSE

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self._message = message
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return self._message

    @property
    def code(self) -> int:
        return int(self.exit_code)

    def __str__(self) -> str:
        return self._message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._message!r})"


class ConnectionConfigException(MilvusException):
    """An alias, address, URI or option that cannot be used; rejected before any I/O."""

    exit_code = ExitCode.USAGE


class ConnectionNotExistException(MilvusException):
    exit_code = ExitCode.FALSE


class NotConnectedException(ConnectionNotExistException):
    pass


class AliasExistsException(MilvusException):
    exit_code = ExitCode.FALSE


class ProbeException(MilvusException):
    """The health check did not find a healthy server; `result` holds what it saw."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class ServerUnreachableException(ProbeException):
    exit_code = ExitCode.UNREACHABLE


class ServerUnhealthyException(ProbeException):
    exit_code = ExitCode.UNHEALTHY


class AuthenticationException(ProbeException):
    exit_code = ExitCode.AUTH


class ProfileException(MilvusException):
    exit_code = ExitCode.PROFILE


class ProfileLockException(ProfileException):
    pass


class FileLimitException(ProfileException):
    """A path that is not a regular file (a FIFO, a device, a symlink loop ...), or a file
    larger or nested deeper than conn reads; the message names the path."""


class PlainSecretWarning(UserWarning):
    """A password or token kept in plain text, or in a file others can read."""


class UntrustedFileWarning(UserWarning):
    """A state or parse-cache file (or its directory) that someone else could have
    written, and that conn therefore did not believe; the message names the fix."""


_PACKAGE = os.path.dirname(__file__) + os.sep


def warn(message: str, category: type[Warning]) -> None:
    """Warn at the line that called into milvus_conn: the one a library user wrote. A
    fixed stacklevel names conn's own code from every path but the one it was counted on."""
    frame, level, caller = sys._getframe(1), 2, 2
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE):
            caller = level + 1  # the frame that called the outermost of ours
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=caller)


OUTCOMES: dict[str, tuple[ExitCode, type[ProbeException] | None]] = {
    "healthy": (ExitCode.OK, None),
    "unreachable": (ExitCode.UNREACHABLE, ServerUnreachableException),
    "unhealthy": (ExitCode.UNHEALTHY, ServerUnhealthyException),
    "auth_failed": (ExitCode.AUTH, AuthenticationException),
}
"""A probe's outcome (health status) -> (exit code, exception raised for it)."""


def probe_failure(status: str, message: str, result: object) -> ProbeException:
    """The exception for an outcome that is not healthy, carrying what the probe saw."""
    exc_class = OUTCOMES[status][1]
    if exc_class is None:
        raise ValueError(f"{status!r} is not a failure")
    return exc_class(message, result)
