"""What `conn` did not write itself: text made safe to show, files read with bounds.

Text. Profile values, imported files, environment variables and whatever a server sends
(health reasons, versions, certificate fields) are data. Shown raw, an ESC, BEL or
CSI in them would drive the terminal: set its title, recolour it, clear the screen.
The printer (cli/output.py) passes every line through `escape`, so such characters
appear as `\\u001b` and the like, never as control. Entry points refuse them instead
(config.py); this is the net for what was already stored or came from a server.

Files. Any path a user names can be something else: a FIFO (a plain read blocks
forever), a character device such as /dev/zero (read forever, memory growing all the
while), a socket, a directory, a symlink loop, a path through a file. `read_bounded`
refuses each at once with a sentence of its own, before reading a byte, and reads at
most `limit` bytes. Every caller turns `UnreadableFile` into its own error and exit code
(6 for a profile or layer, 2 for a TLS file or an import). A parsed document is bounded
too: `too_deep` says whether it nests deeper than `MAX_DEPTH` (the parsers recurse, and
so do the writers and marshal: a file nested thousands deep would exhaust them).

A leaf: it imports nothing of ours, so the probe core may use it (TLS files, server
text) and stay a leaf.
"""

from __future__ import annotations

import errno
import os
import stat

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str) -> str:
    """`text` with every non-printing character (C0, DEL, C1, bidi overrides, line
    separators, ...) written as an escape: one inert line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def escape_lines(text: str) -> str:
    """`escape` for each line of `text`, its line breaks kept."""
    if text.isprintable():
        return text
    return "\n".join(line if line.isprintable() else escape(line) for line in text.split("\n"))


def escape_json(text: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` with the characters it leaves
    raw (DEL, C1 such as the one-byte CSI, bidi overrides) as `\\uXXXX`: still the same
    JSON value, and inert on a terminal."""
    lines = text.split("\n")  # indented JSON: its line breaks are structure, not values
    if all(map(str.isprintable, lines)):
        return text
    import json

    return "\n".join(
        line
        if line.isprintable()
        else "".join(char if char.isprintable() else json.dumps(char)[1:-1] for char in line)
        for line in lines
    )


MAX_SERVER_TEXT = 500  # characters kept of a reason or version a server sends


def server_text(text: str) -> str:
    """A string a server sent, as one line of at most MAX_SERVER_TEXT characters: a
    lying server cannot flood the terminal (its control characters are escaped where
    it is shown, by `escape`)."""
    text = " ".join(text.split())
    if len(text) <= MAX_SERVER_TEXT:
        return text
    return f"{text[:MAX_SERVER_TEXT]}... ({len(text) - MAX_SERVER_TEXT} more characters)"


def width(text: str) -> int:
    """Columns `text` takes in a terminal: wide (CJK) characters take two, combining marks
    none, so plain-text tables line up. ASCII, the common case, never loads unicodedata."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


# files ---------------------------------------------------------------------------------

MIB = 1024 * 1024
# The limits, generous: a 10,000-alias profile is about 1 MiB, and a CA bundle of every
# public root (Mozilla's) about 0.2 MiB. README's "Where files live" documents them.
PROFILE_LIMIT = 16 * MIB  # a profile, a layer, a file to import, the state file
TLS_FILE_LIMIT = 4 * MIB  # a certificate, a CA bundle, a private key
# Levels of tables and arrays in a parsed profile or state file, the document itself
# being the first: a profile uses 3 or 4 (document, connections, alias, a value).
MAX_DEPTH = 64
TOO_DEEP = f"nested deeper than conn reads (the limit is {MAX_DEPTH} levels)"
# int() refuses more digits than sys.get_int_max_str_digits() (4300): a ValueError.
TOO_LONG = "holds a number longer than conn reads (Python's limit on integer digits)"

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_ERRORS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.ENAMETOOLONG: "the path is too long for this system (ENAMETOOLONG)",
    errno.EISDIR: "is a directory, not a file",
    errno.ENXIO: "is a socket or a device without a reader, not a file",
}


class UnreadableFile(Exception):
    """A path that is not a regular file conn can read within its limit; the message
    names the path and the reason, in words."""

    def __init__(self, path: str | os.PathLike[str], reason: str, *, missing: bool = False) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path, self.reason, self.missing = os.fspath(path), reason, missing


def kind_of(mode: int) -> str:
    """What a file that is not regular is, in words ("a FIFO (named pipe)"); "" for a
    regular file."""
    if stat.S_ISREG(mode):
        return ""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    The file is opened without blocking (a FIFO opens at once) and without becoming a
    controlling terminal, then checked on its descriptor, so that what is checked is
    what is read. UnreadableFile for anything else, and for a file over `limit` bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        st = os.fstat(fd)
        kind = kind_of(st.st_mode)
        if kind:
            raise UnreadableFile(path, f"is {kind}, not a regular file")
        if st.st_size > limit:
            raise UnreadableFile(path, _too_big(st.st_size, limit))
        chunks, size = [], 0
        while size <= limit:  # the file may grow after fstat: never read past the limit
            chunk = os.read(fd, min(limit + 1 - size, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnreadableFile(path, _too_big(size, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(fd)


def refuse_special(path: str | os.PathLike[str], mode: int) -> None:
    """UnreadableFile if `mode` (a stat's st_mode) is not a regular file's: for a caller
    that stats a path before it reads it."""
    kind = kind_of(mode)
    if kind:
        raise UnreadableFile(path, f"is {kind}, not a regular file")


def unreadable(path: str | os.PathLike[str], exc: OSError) -> UnreadableFile:
    """The sentence for an OSError met at `path` (a symlink loop, a path through a file,
    ENAMETOOLONG ...), for a caller that stats the path itself."""
    return _unreadable(path, exc)


def too_deep(document: object, limit: int = MAX_DEPTH) -> bool:
    """Whether tables and arrays in `document` nest deeper than `limit` levels (walked
    without recursion, so any depth is measured safely)."""
    stack = [(document, 1)] if isinstance(document, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        items = value.values() if isinstance(value, dict) else value
        stack += [(item, depth + 1) for item in items if isinstance(item, (dict, list))]
    return False


def _too_big(size: int, limit: int) -> str:
    return f"is larger than conn reads ({_size(size)}; the limit is {_size(limit)})"


def _size(count: int) -> str:
    return f"{count / MIB:.0f} MiB" if count >= MIB else f"{count} bytes"


def _unreadable(path: str | os.PathLike[str], exc: OSError) -> UnreadableFile:
    if exc.errno == errno.ENXIO:  # open() of a socket: say what it is
        try:
            kind = kind_of(os.stat(path).st_mode)
        except OSError:
            kind = ""
        if kind:
            return UnreadableFile(path, f"is {kind}, not a regular file")
    reason = _ERRORS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    return UnreadableFile(path, reason, missing=exc.errno == errno.ENOENT)
