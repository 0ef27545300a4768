"""Which secrets `conn login` put in the OS credential store: this user's own record.

A stored secret belongs to a server and a user (as a git credential does), not to an
alias: every alias of that address and user uses it, whatever it is called and in
whichever profile it lives. The record lives in `$XDG_STATE_HOME/conn/logins`, one line
per secret (`kind<TAB>address<TAB>user`), so that an alias whose server and user never
logged in never loads keyring nor asks the store: resolution reads this small file
instead. Nothing about a login is written to a profile, so read-only and shared ones
work.

A record that another user could have written is ignored (as ssh ignores a config others
can write): it would only make conn ask the store, but it is not ours.
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles string annotations,
# ~0.5 ms per class, and a probe that resolves credentials loads this module.
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from ..storage import files, paths


class Login(NamedTuple):
    """One stored secret: `password` or `token`, for a user of a server."""

    kind: str
    address: str
    user: str

    def line(self) -> str:
        return f"{self.kind}\t{self.address}\t{self.user}"


def logins_file() -> Path:
    return paths.state_dir() / "logins"


class Logins:
    """The record, read again only when the file changed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or logins_file()
        self._read: tuple[tuple[int, ...], frozenset[Login]] = ((), frozenset())

    def __contains__(self, login: object) -> bool:
        return login in self.all()

    def all(self) -> frozenset[Login]:
        try:
            st = self.path.stat()
        except OSError:
            return frozenset()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if self._read[0] != key:
            self._read = (key, _parse(self.path, st))
        return self._read[1]

    def of(self, address: str, user: str) -> list[Login]:
        """The secrets stored for this server and user, password first."""
        return [
            login
            for kind in ("password", "token")
            if (login := Login(kind, address, user)) in self.all()
        ]

    @contextlib.contextmanager
    def changing(self) -> Iterator[Callable[[frozenset[Login]], None]]:
        """Hold the record's lock; the block gets `write(new)` and reads the record fresh."""
        files.make_dirs(self.path.parent)
        lock = self.path.with_name("logins.lock")
        fd = files.open_lock(lock, self.path)
        try:
            files.acquire(fd, self.path, files.lock_timeout())

            def write(logins: frozenset[Login]) -> None:
                text = "".join(f"{login.line()}\n" for login in sorted(logins))
                files.atomic_write(self.path, text.encode("utf-8"))

            yield write
        finally:
            os.close(fd)


def _parse(path: Path, st: os.stat_result) -> frozenset[Login]:
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return frozenset()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return frozenset()
    found = set()
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] in ("password", "token"):
            found.add(Login(*parts))
    return frozenset(found)
