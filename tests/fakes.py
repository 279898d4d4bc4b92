"""Local scripted HTTP servers on 127.0.0.1 for tests: a flaky upstream and a fake Messages API.

Each server answers requests from a script, one :class:`Reply` per request (the
last one repeats), records every request it receives, and is stopped by its
context manager. Nothing here sleeps: a "slow" reply blocks until the server is
stopped, so the client's own timeout is what ends the wait.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``kind`` is ``"status"`` (send ``status``, ``headers`` and ``body``), ``"reset"``
    (abort the TCP connection without answering), ``"hang"`` (answer nothing until
    the server stops) or ``"truncate"`` (send headers promising more body than follows,
    then reset).
    """

    kind: str = "status"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def status(code: int, body: Any = None, **headers: str) -> Reply:
    """A reply with ``code``; ``body`` is JSON-encoded unless it is bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    hdrs = {"Content-Type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return Reply("status", code, hdrs, raw)


def anthropic_error(code: int, error_type: str, **headers: str) -> Reply:
    """An error in the Messages API's shape."""
    body = {"type": "error", "error": {"type": error_type, "message": f"{error_type} (fake)"}}
    return status(code, body, **headers)


def anthropic_message(text: str = "Hello from the fake API") -> Reply:
    """A successful Messages API response carrying ``text``."""
    return status(
        200,
        {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-5-5",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 5},
        },
        request_id="req_fake",
    )


RESET = Reply("reset")
HANG = Reply("hang")
TRUNCATE = Reply("truncate")


@dataclass
class ScriptedServer:
    """A running scripted server: its ``url``, and the ``requests`` it has seen as (method, path)."""

    url: str
    requests: list[tuple[str, str]]
    _script: list[Reply]
    _stopping: threading.Event

    @property
    def count(self) -> int:
        """How many requests arrived."""
        return len(self.requests)

    def next_reply(self, method: str, path: str) -> Reply:
        index = len(self.requests)
        self.requests.append((method, path))
        return self._script[min(index, len(self._script) - 1)]


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            reply = server.next_reply(self.command, self.path)
            if reply.kind == "reset":
                self._reset()
            elif reply.kind == "hang":
                server._stopping.wait(30)
                self.close_connection = True
            elif reply.kind == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"id": "msg_')
                self.wfile.flush()
                self._reset()
            else:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

        def _reset(self) -> None:
            # SO_LINGER 0 makes close() send RST: the client sees a reset connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


@contextmanager
def scripted_server(script: Sequence[Reply]) -> Iterator[ScriptedServer]:
    """Serve ``script`` on a free port of 127.0.0.1 until the block ends."""
    with _serve(script, _handler) as state:
        yield state


@contextmanager
def _serve(
    script: Sequence[Reply], handler: Callable[[ScriptedServer], type[BaseHTTPRequestHandler]]
) -> Iterator[ScriptedServer]:
    """Run a server whose requests ``handler(state)`` answers from ``script``; stop it afterwards."""
    if not script:
        raise ValueError("a script needs at least one reply")
    state = ScriptedServer(url="", requests=[], _script=list(script), _stopping=threading.Event())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- paced faults: replies whose timing is the fault ---------------------------------------------


@dataclass(frozen=True)
class Paced(Reply):
    """A ``"status"`` reply sent on a schedule: late, in a trickle, or stalled part-way.

    ``delay`` seconds pass before the first byte; then the raw response (status line, headers
    with ``Content-Length`` and ``Connection: close``, body) goes out ``chunk`` bytes at a time,
    ``interval`` seconds apart. With ``stall_after``, only that many bytes are sent and the
    connection then stays silent until the server stops. Every wait ends early when the server
    stops, so no reply outlives its :func:`fault_server` block. Serve these with
    :func:`fault_server`; :func:`scripted_server` would send them at once.
    """

    delay: float = 0.0
    interval: float = 0.0
    chunk: int = 0
    stall_after: int | None = None


def delayed(reply: Reply, seconds: float) -> Paced:
    """``reply`` (a status reply) sent whole, ``seconds`` after the request arrived."""
    return Paced("status", reply.status, reply.headers, reply.body, delay=seconds)


def trickled(reply: Reply, interval: float, chunk: int = 1) -> Paced:
    """``reply`` sent ``chunk`` bytes every ``interval`` seconds: each read is quick, the whole is slow."""
    return Paced("status", reply.status, reply.headers, reply.body, interval=interval, chunk=chunk)


def stalled(reply: Reply, after: int) -> Paced:
    """The first ``after`` bytes of ``reply`` (status line and headers included), then silence."""
    return Paced("status", reply.status, reply.headers, reply.body, stall_after=after)


def raw_response(reply: Reply) -> bytes:
    """``reply`` as the bytes of an HTTP/1.1 response that closes its connection."""
    lines = [f"HTTP/1.1 {reply.status} Fake"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    lines += [f"Content-Length: {len(reply.body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + reply.body


def _paced_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    base = _handler(server)

    class PacedHandler(base):  # type: ignore[valid-type,misc]
        def _serve(self) -> None:
            upcoming = server._script[min(server.count, len(server._script) - 1)]
            if upcoming.kind != "status":
                super()._serve()
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            scripted = server.next_reply(self.command, self.path)
            if isinstance(scripted, Paced):
                reply = scripted
            else:
                reply = Paced("status", scripted.status, scripted.headers, scripted.body)
            self.close_connection = True
            data = raw_response(reply)
            if self.command == "HEAD":
                data = data[: data.index(b"\r\n\r\n") + 4]
            stopping = server._stopping
            try:
                if reply.delay and stopping.wait(reply.delay):
                    return
                if reply.stall_after is not None:
                    self.wfile.write(data[: reply.stall_after])
                    stopping.wait(30)
                    return
                step = reply.chunk or len(data)
                for start in range(0, len(data), step):
                    if start and reply.interval and stopping.wait(reply.interval):
                        return
                    self.wfile.write(data[start : start + step])
            except OSError:
                # The client gave up (its timeout) and closed the connection: that is the point.
                return

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return PacedHandler


@contextmanager
def fault_server(script: Sequence[Reply]) -> Iterator[ScriptedServer]:
    """:func:`scripted_server` that also honours :class:`Paced` replies; one request at a time.

    Every status reply goes out in one write and closes its connection, which also spares the
    client the ~40 ms that Nagle's algorithm adds to a reply written in two parts.
    """
    with _serve(script, _paced_handler) as state:
        yield state
