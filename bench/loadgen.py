"""A small HTTP/1.1 load generator for servers on 127.0.0.1, bounded in requests and in time.

Each request opens a fresh connection, sends a prebuilt ``Connection: close`` request, reads until
the server closes and takes the status from the first line: gunicorn's sync worker closes every
connection after one response anyway, and parsing nothing else keeps the client cheap, so the
server is what gets measured. :func:`hammer` runs ``concurrency`` threads until either
``max_requests`` have been sent or ``max_seconds`` have passed, whichever comes first (a burst
overruns ``max_seconds`` by at most one request per thread).

Use it only against 127.0.0.1: :func:`build_request` refuses other hosts.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["LOCALHOST", "Window", "build_request", "hammer"]

LOCALHOST = "127.0.0.1"
_BUFFER = 65536


@dataclass(frozen=True, slots=True)
class Window:
    """What one bounded burst of requests measured."""

    completed: int
    """Requests that got a whole response, whatever its status."""
    errors: int
    """Requests that failed at the socket level (refused, reset, timed out, garbled)."""
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0


def build_request(method: str, path: str, port: int, host: str = LOCALHOST) -> bytes:
    """The bytes of one ``Connection: close`` request without a body; only for 127.0.0.1."""
    if host != LOCALHOST:
        raise ValueError(f"the load generator only talks to {LOCALHOST}, not {host!r}")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", "Accept: */*"]
    if method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _one(address: tuple[str, int], request: bytes, timeout: float) -> int:
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request)
        head = sock.recv(_BUFFER)
        while sock.recv(_BUFFER):
            pass
    if not head.startswith(b"HTTP/1.") or len(head) < 12:
        raise ValueError("not an HTTP response")
    return int(head[9:12])


def hammer(
    port: int,
    request: bytes,
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    timeout: float = 5.0,
) -> Window:
    """Send ``request`` to 127.0.0.1:``port`` from ``concurrency`` threads until a bound is reached."""
    if concurrency < 1 or max_requests < 1 or max_seconds <= 0:
        raise ValueError("concurrency, max_requests and max_seconds must be positive")
    address = (LOCALHOST, port)
    tickets = itertools.count()
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    errors = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    def worker() -> None:
        nonlocal errors
        mine: Counter[int] = Counter()
        failed = 0
        # The deadline is checked after each request, so every thread completes at least one.
        while next(tickets) < max_requests:
            try:
                mine[_one(address, request, timeout)] += 1
            except (OSError, ValueError):
                failed += 1
            if time.perf_counter() >= deadline:
                break
        with lock:
            statuses.update(mine)
            errors += failed

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + timeout + 5)
    seconds = time.perf_counter() - start
    with lock:
        return Window(sum(statuses.values()), errors, seconds, Counter(statuses))
