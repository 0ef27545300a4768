"""Text that `conn` did not write itself, made safe to show.

Profile values, imported files, environment variables and whatever a server sends
(health reasons, versions, certificate fields) are data. Shown raw, an ESC, BEL or
CSI in them would drive the terminal: set its title, recolour it, clear the screen.
The printer (cli/output.py) passes every line through `escape`, so such characters
appear as `\\u001b` and the like, never as control. Entry points refuse them instead
(config.py); this is the net for what was already stored or came from a server.
"""

from __future__ import annotations

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
