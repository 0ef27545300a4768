"""HTTP/1.1 messages as the exporter's server reads and writes them: a request head
parsed (GET-sized: no body, at most MAX_HEADERS fields) and a response encoded, always
`Connection: close`. No I/O here: httpd.py owns the sockets."""

from __future__ import annotations

from typing import NamedTuple

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}  # fmt: skip
MAX_HEADERS = 100


class Request(NamedTuple):
    method: str
    path: str
    query: str  # as sent, still percent-encoded
    headers: dict[str, str]  # names lower-cased; the first of repeated ones


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def text_response(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode("utf-8"))


def parse_head(head: bytes) -> Request | None:
    """The request line and headers of an HTTP/1.x request; None if malformed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        return None
    method, target, _ = parts
    if not target.startswith("/"):  # absolute-form is for proxies: conn is none
        return None
    headers: dict[str, str] = {}
    fields = [line for line in lines[1:] if line]
    if len(fields) > MAX_HEADERS:
        return None
    for field in fields:
        name, colon, value = field.partition(":")
        if not colon or not name or name != name.strip():
            return None
        headers.setdefault(name.lower(), value.strip())
    path, _, query = target.partition("?")
    return Request(method, path, query, headers)


def encoded(response: Response) -> bytes:
    reason = REASONS.get(response.status, "")
    head = [f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in response.headers)]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body
