"""A small HTTP/1.1 server whose work is bounded: the one place conn serves HTTP.

The standard library's ThreadingHTTPServer starts a thread per request, without limit.
Here the thread that calls `Server.run` holds every connection with a selector: it
accepts them (at most `Limits.connections` open), reads each request head (at most
`Limits.head_bytes`, within `Limits.client_timeout`) and answers what is quick itself.
Work that blocks, a probe, goes with its socket to a fixed pool of `Limits.workers`
threads, and the thread that ran it sends the answer and closes: no hop back (bench row
8a). A slow client costs a selector entry, never a worker: the selector reads the heads,
and sends the rest of any answer the kernel could not take at once. Work waiting for a
thread is bounded too: past `Limits.pending` the handler answers 503 at once.

GET only, one request per connection (`Connection: close`), no request body: enough for
Prometheus, curl and a browser. The pool's threads are daemon threads, so SIGTERM or
Ctrl-C ends the process at once even while a probe waits on a silent server.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import NamedTuple

from .messages import Request, Response, encoded, parse_head, text_response

_CHUNK = 65536  # bytes read at once
_DISCARD_BYTES = 1 << 20  # at most, read away after a head too large
_ACCEPT_PAUSE = 1.0  # seconds without accepting when the process has no descriptor left
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Limits(NamedTuple):
    """What one server takes on at most; beyond it, a fast refusal."""

    workers: int = 128  # probes running at once (threads, started as needed)
    pending: int = 512  # probes running or waiting for a thread; beyond: 503 at once
    connections: int = 1024  # open connections; beyond: closed at once
    head_bytes: int = 65536  # request line and headers
    client_timeout: float = 10.0  # seconds to send the head, and again to take the answer


DEFAULT_LIMITS = Limits()


Job = Callable[[], Response]  # blocking work: runs on a pool thread
Handler = Callable[[Request], Response | Job]  # called on the selector thread: quick


class WorkerPool:
    """At most `size` daemon threads, started as work arrives; `pending` counts the jobs
    queued or running."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pending = 0
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._threads = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self.pending += 1
            if self._threads < min(self.pending, self.size):
                self._threads += 1
                threading.Thread(target=self._work, name="conn-probe", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            finally:
                with self._lock:
                    self.pending -= 1


class _Connection:
    """A client's socket: its head as read so far, or the part of its answer not yet sent,
    and when it must be done."""

    __slots__ = ("deadline", "head", "sock", "unsent")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.head = bytearray()
        self.unsent = memoryview(b"")
        self.deadline = deadline


class Server:
    """The listener and its connections; `run` serves until `stop()` (or SIGTERM/SIGINT
    when it runs in the main thread)."""

    def __init__(self, handler: Handler, limits: Limits = DEFAULT_LIMITS) -> None:
        self.handler = handler
        self.limits = limits
        self.pool = WorkerPool(limits.workers)
        self.open = 0
        self._open_lock = threading.Lock()  # pool threads close connections too
        self._selector = selectors.DefaultSelector()
        self._waiting: OrderedDict[_Connection, None] = OrderedDict()  # selected, by deadline
        self._handed_back: queue.SimpleQueue[tuple[_Connection, memoryview]] = queue.SimpleQueue()
        self._waker, self._wake_me = socket.socketpair()  # the selector's alarm clock
        self._waker.setblocking(False)
        self._wake_me.setblocking(False)
        self._stopping = False
        self._paused_until = 0.0  # accepting paused (no descriptor left) until then

    def run(
        self, host: str, port: int, on_listening: Callable[[str, int], None] = lambda h, p: None
    ) -> None:
        limit = self.limits.connections
        with self._selector, self._waker, self._wake_me, _listen(host, port, limit) as listener:
            self._selector.register(listener, selectors.EVENT_READ)
            self._selector.register(self._waker, selectors.EVENT_READ)
            try:
                with self._stopped_by_signals():
                    on_listening(*listener.getsockname()[:2])
                    while not self._stopping:
                        for key, events in self._selector.select(self._timeout(listener)):
                            if key.fileobj is listener:
                                self._accept(listener)
                            elif key.fileobj is self._waker:
                                self._woken()
                            elif events & selectors.EVENT_READ:
                                self._read(key.data)
                            else:
                                self._write(key.data)
            finally:
                for conn in list(self._waiting):
                    self._drop(conn)

    def stop(self) -> None:
        """Stop serving (from any thread, or a signal handler)."""
        self._stopping = True
        self._wake()

    @contextlib.contextmanager
    def _stopped_by_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT stop the server while it runs in the main thread. A signal
        also writes to the waker, so the selector wakes whichever thread the kernel chose."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, lambda *_: self.stop()) for sig in _STOP_SIGNALS}
        previous_fd = signal.set_wakeup_fd(self._wake_me.fileno())
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (it wakes anyway) or closed (stopped)
            self._wake_me.send(b"\0")

    def _woken(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._waker.recv(4096)
        while not self._handed_back.empty():
            self._send(*self._handed_back.get())

    def _timeout(self, listener: socket.socket) -> float | None:
        """Drop the connections past their deadline, accept again when due; seconds until
        the next such moment (None: there is none)."""
        now = time.monotonic()
        while self._waiting and (first := next(iter(self._waiting))).deadline <= now:
            self._drop(first)
        if self._paused_until and self._paused_until <= now:
            self._paused_until = 0.0
            self._selector.register(listener, selectors.EVENT_READ)
        due = [next(iter(self._waiting)).deadline] if self._waiting else []
        due += [self._paused_until] if self._paused_until else []
        return min(due) - now if due else None

    def _accept(self, listener: socket.socket) -> None:
        """One connection (while more wait, the selector calls again)."""
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # no descriptor or memory left: connections wait in the backlog
            self._selector.unregister(listener)
            self._paused_until = time.monotonic() + _ACCEPT_PAUSE
            return
        with self._open_lock:
            full = self.open >= self.limits.connections
            self.open += not full
        if full:
            sock.close()
            return
        sock.setblocking(False)
        self._read(_Connection(sock, time.monotonic() + self.limits.client_timeout))

    def _read(self, conn: _Connection) -> None:
        """Read what the client sent; once the head is whole, answer it or hand it to the
        pool. Tried at once on accept: the head is usually there already."""
        try:
            chunk = conn.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            self._hold(conn, selectors.EVENT_READ)
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client left before its head was whole: no one to answer
            self._drop(conn)
            return
        searched = max(0, len(conn.head) - 3)
        conn.head += chunk
        end = conn.head.find(b"\r\n\r\n", searched) + 4
        if end < 4 and len(conn.head) < self.limits.head_bytes:
            self._hold(conn, selectors.EVENT_READ)
            return
        self._release(conn)
        if 4 <= end <= self.limits.head_bytes:
            answer = self._answer(bytes(conn.head[:end]))
        else:
            answer = text_response(431, "request head too large")
            with contextlib.suppress(OSError):  # read away what is left: closing a socket
                conn.sock.recv(_DISCARD_BYTES)  # with unread data resets it, 431 and all
        conn.head = bytearray()
        if isinstance(answer, Response):
            self._send(conn, _sent(conn, memoryview(encoded(answer))))
        else:
            job = answer
            self.pool.submit(lambda: self._finish(conn, job))

    def _answer(self, head: bytes) -> Response | Job:
        request = parse_head(head)
        if request is None:
            return text_response(400, "malformed request")
        if request.method != "GET":
            return Response(405, b"only GET\n", headers=(("Allow", "GET"),))
        try:
            return self.handler(request)
        except Exception as exc:  # a bug: one 500, never a traceback on the exporter's stderr
            return _internal_error(exc)

    def _finish(self, conn: _Connection, job: Job) -> None:
        """On a pool thread: run the job and send its answer; what the kernel cannot take
        at once goes back to the selector thread, so a slow reader holds no worker."""
        try:
            response = job()
        except Exception as exc:
            response = _internal_error(exc)
        unsent = _sent(conn, memoryview(encoded(response)))
        if unsent:
            self._handed_back.put((conn, unsent))
            self._wake()
        else:
            self._close(conn)

    def _send(self, conn: _Connection, unsent: memoryview) -> None:
        """Close `conn` if its answer is sent; else have the selector send the rest."""
        if not unsent:
            self._close(conn)
            return
        conn.unsent = unsent
        conn.deadline = time.monotonic() + self.limits.client_timeout
        self._hold(conn, selectors.EVENT_WRITE)

    def _write(self, conn: _Connection) -> None:
        conn.unsent = _sent(conn, conn.unsent)
        if not conn.unsent:
            self._drop(conn)

    def _hold(self, conn: _Connection, events: int) -> None:
        """Have the selector watch `conn` for `events` until its deadline (the latest yet)."""
        if conn not in self._waiting:
            self._selector.register(conn.sock, events, conn)
            self._waiting[conn] = None

    def _release(self, conn: _Connection) -> None:
        if conn in self._waiting:
            del self._waiting[conn]
            self._selector.unregister(conn.sock)

    def _drop(self, conn: _Connection) -> None:
        self._release(conn)
        self._close(conn)

    def _close(self, conn: _Connection) -> None:
        conn.sock.close()
        with self._open_lock:
            self.open -= 1


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.create_server(address, family=family, backlog=backlog)
    listener.setblocking(False)
    return listener


def _sent(conn: _Connection, data: memoryview) -> memoryview:
    """What is left of `data` once the socket took what it could take now (nothing left
    either when all is sent or when the client went away)."""
    try:
        return data[conn.sock.send(data) :]
    except (BlockingIOError, InterruptedError):
        return data
    except OSError:  # the client went away: nothing to tell it
        return data[:0]


def _internal_error(exc: Exception) -> Response:
    return text_response(500, f"internal error: {type(exc).__name__}")
