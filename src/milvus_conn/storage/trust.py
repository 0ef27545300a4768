"""Whether a file conn wrote for itself can still be believed when it reads it back.

The state file (which aliases are connected, with the address, TLS settings and user each
was connected with) and the parse cache (the profile as parsed and validated: aliases
from it are not validated again) are read back on every start. As ssh ignores a config
file that others can write, conn believes them only while the file, and the directory it
lies in, belong to this user (or root) and neither group nor others can write them: a
directory others can write lets them replace the file in it.

Otherwise the cache is ignored, and rebuilt only where its directory is safe (in an
unsafe one a fresh file could be replaced again: the profile is then parsed every time);
the state is not believed (no alias counts as connected, so nothing in it can change an
address, a TLS setting or a credential), and conn writes no state or lock file in an
unsafe directory. Each case raises an `UntrustedFileWarning` (`-v` prints it) and
`conn doctor` reports it with the fix.

A leaf, loaded on every start (store.py): stat results in, sentences out; a plain class
rather than a NamedTuple, which would cost a fraction of a millisecond to define.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Doubt:
    """Why a file (or its directory) may have been written by someone else, and the fix."""

    __slots__ = ("fix", "path", "problem")

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem  # "belongs to uid 65534, not to you (uid 1000)"
        self.fix = fix  # a shell command

    def sentence(self, what: str) -> str:
        """`state file /x/a.state.json belongs to uid 65534, ...; fix: rm /x/a.state.json`."""
        return f"{what} {self.path} {self.problem}; fix: {self.fix}"


def problem(st: os.stat_result, *, sticky_protects: bool = False) -> str:
    """What is unsafe in a file's or directory's stat: not ours (nor root's), or writable
    by group or others; "" when it is safe. With `sticky_protects`, a directory with the
    sticky bit (like /tmp) counts as safe for the files in it: no one else can replace
    them (true of a profile someone keeps there, not of conn's own state directory)."""
    me = os.getuid()
    if st.st_uid not in (me, 0):
        return f"belongs to uid {st.st_uid}, not to you (uid {me})"
    if not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return ""
    if sticky_protects and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
        return ""
    bits = (("group", stat.S_IWGRP), ("others", stat.S_IWOTH))
    writers = " and ".join(who for who, bit in bits if st.st_mode & bit)
    return f"can be written by {writers} (mode {stat.S_IMODE(st.st_mode):04o})"


def directory_doubt(directory: Path) -> Doubt | None:
    """Why files in `directory` cannot be believed, None when they can (or it is absent)."""
    try:
        st = directory.stat()
    except OSError:
        return None
    found = problem(st)
    if not found:
        return None
    mine = st.st_uid in (os.getuid(), 0)
    return Doubt(directory, found, f"chmod go-w {directory}" if mine else f"rm -r {directory}")


def file_doubt(path: Path, st: os.stat_result | None = None) -> Doubt | None:
    """Why `path` (whose stat the caller may have already) or its directory cannot be
    believed; None when both are safe, or the file is absent. The fix for a file is to
    remove it: what someone else may have written is not made safe by a chmod."""
    doubt = directory_doubt(path.parent)
    if doubt is not None:
        return doubt
    if st is None:
        try:
            st = path.stat()
        except OSError:
            return None
    found = problem(st)
    return Doubt(path, found, f"rm {path}") if found else None
