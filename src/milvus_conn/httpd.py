"""A small HTTP/1.1 server whose work is bounded: the one place conn serves HTTP.

The standard library's ThreadingHTTPServer starts a thread per request, without limit;
a burst of scrapes (or of anything else) would start as many. Here one asyncio loop
holds every connection (at most `Limits.connections` open, each given
`Limits.head_timeout` to send its request head of at most `Limits.head_bytes`), and the
blocking work, a probe, runs on a fixed pool of `Limits.workers` threads. Work waiting
for a thread is bounded too: past `Limits.pending` the handler answers 503 at once.

GET only, one request per connection (`Connection: close`), no request body: enough for
Prometheus, curl and a browser, and nothing to hold open. The pool's threads are daemon
threads, so SIGTERM or Ctrl-C ends the process at once even while a probe waits on a
silent server.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip
_MAX_HEADERS = 100
_WRITE_TIMEOUT = 10.0  # seconds for a client to take its answer
_STOP_GRACE = 1.0  # seconds the listener gets to close on stop


class Limits(NamedTuple):
    """What one server takes on at most; beyond it, a fast refusal."""

    workers: int = 128  # probes running at once (threads, started as needed)
    pending: int = 512  # probes running or waiting for a thread; beyond: 503 at once
    connections: int = 1024  # open connections; beyond: closed at once
    head_bytes: int = 65536  # request line and headers
    head_timeout: float = 10.0  # seconds to send them


DEFAULT_LIMITS = Limits()


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


Handler = Callable[[Request], Awaitable[Response]]


class WorkerPool:
    """At most `size` daemon threads, started as work arrives, running blocking calls
    for the loop; `pending` counts the calls queued or running."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pending = 0
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads = 0
        self._lock = threading.Lock()

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` on a pool thread; its result, or the exception it raised."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[bool, Any]] = loop.create_future()

        def deliver(outcome: tuple[bool, Any]) -> None:
            if not waiter.done():  # not cancelled by a stop meanwhile
                waiter.set_result(outcome)

        def job() -> None:
            try:
                outcome: tuple[bool, Any] = (True, call())
            except Exception as exc:
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed: the process is ending
                loop.call_soon_threadsafe(deliver, outcome)

        with self._lock:
            self.pending += 1
            if self._threads < min(self.pending, self.size):
                self._threads += 1
                threading.Thread(target=self._work, name="conn-probe", daemon=True).start()
        self._jobs.put(job)
        ok, value = await waiter
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            finally:
                with self._lock:
                    self.pending -= 1


class Server:
    """The listener and its connections; `run` serves until `stop()` (or SIGTERM/SIGINT
    when it runs in the main thread)."""

    def __init__(self, handler: Handler, limits: Limits = DEFAULT_LIMITS) -> None:
        self.handler = handler
        self.limits = limits
        self.open = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(
        self, host: str, port: int, on_listening: Callable[[str, int], None] = lambda h, p: None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, host, port, limit=self.limits.head_bytes, reuse_address=True
        )
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stopped.set)
        bound = server.sockets[0].getsockname()
        on_listening(bound[0], bound[1])
        try:
            await self._stopped.wait()
        finally:
            server.close()
            waiting = list(self._tasks)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), _STOP_GRACE)

    def stop(self) -> None:
        """Stop serving (from any thread)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self.open >= self.limits.connections or task is None:
            writer.close()
            return
        self.open += 1
        self._tasks.add(task)
        try:
            response = await self._answer(reader)
            if response is not None:
                writer.write(_encoded(response))
                if writer.transport.get_write_buffer_size():  # the kernel took it all: done
                    await _within(writer.drain(), _WRITE_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            pass  # the client went away or would not read: nothing to tell it
        except asyncio.CancelledError:
            pass  # stopping: the connection ends here, its task quietly (not "cancelled")
        finally:
            self.open -= 1
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> Response | None:
        """The response to the request on `reader`; None when there is no one to answer."""
        try:
            head = await _within(reader.readuntil(b"\r\n\r\n"), self.limits.head_timeout)
        except asyncio.LimitOverrunError:
            return text_response(431, "request head too large")
        except (asyncio.IncompleteReadError, asyncio.TimeoutError):
            return None
        request = parse_head(head)
        if request is None:
            return text_response(400, "malformed request")
        if request.method != "GET":
            return Response(405, b"only GET\n", headers=(("Allow", "GET"),))
        try:
            return await self.handler(request)
        except Exception as exc:  # a bug: one 500, never a traceback on the exporter's stderr
            return text_response(500, f"internal error: {type(exc).__name__}")


async def _within(step: Awaitable[T], seconds: float) -> T:
    """`await step`, or asyncio.TimeoutError after `seconds`. Python 3.11's
    asyncio.timeout costs a timer; wait_for (3.10's only way) also a task per call, which
    is a tenth of a millisecond on every scrape (bench row 8a)."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(step, seconds)
    async with timeout(seconds):
        return await step


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
    if len(fields) > _MAX_HEADERS:
        return None
    for field in fields:
        name, colon, value = field.partition(":")
        if not colon or not name or name != name.strip():
            return None
        headers.setdefault(name.lower(), value.strip())
    path, _, query = target.partition("?")
    return Request(method, path, query, headers)


def _encoded(response: Response) -> bytes:
    reason = _REASONS.get(response.status, "")
    head = [f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in response.headers)]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body
