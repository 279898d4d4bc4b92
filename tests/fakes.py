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
from collections.abc import Iterator, Sequence
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
    if not script:
        raise ValueError("a script needs at least one reply")
    state = ScriptedServer(url="", requests=[], _script=list(script), _stopping=threading.Event())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
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
