"""The last line of defence: a WSGI middleware that turns an escaped exception into a JSON 500.

Flask's error handlers cannot see a failure that happens after them: an exception in a
``teardown_request`` function, an ``after_request`` hook that returns something that is not a
response, a response object that fails when called or while its body is produced. Without this
guard the WSGI server answers those with its own HTML page. Wrap ``app.wsgi_app`` with
:class:`JSONFallbackMiddleware` (:func:`~src.utils.error_handlers.register_error_handlers` does)
and such a request gets :data:`FALLBACK_BODY`, a constant, hand-built JSON 500 with the
``X-Request-ID`` header.

The guard holds back the server's ``start_response``: it records the status and headers the app
gives and passes them on once, just before the first non-empty body chunk (or the app's first
``write()``, or the end of an empty body). Until then a failure can still be answered with the
fallback, and the server's ``start_response`` is called exactly once, with whichever of the two
won. That matters because servers differ on a second call: Werkzeug's test client raises,
gunicorn appends the new headers to the old ones (two ``Content-Length`` headers, a body cut
short). A body is passed on chunk by chunk, never buffered, and its ``close()`` is always called.

A failure after the first chunk went out cannot be replaced: it is logged once and re-raised, so
that the server aborts the connection instead of ending a truncated body as if it were complete.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from src.utils.error_logging import log_server_error
from src.utils.request_id import REQUEST_ID_HEADER, request_id_for

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["FALLBACK_BODY", "FALLBACK_STATUS", "JSONFallbackMiddleware"]

#: The status line of the last-resort response.
FALLBACK_STATUS = "500 INTERNAL SERVER ERROR"
#: The body of the last-resort response: the smallest body the error contract allows.
FALLBACK_BODY = b'{"error":"Internal Server Error","code":500}'

_Write = Callable[[bytes], object]


class JSONFallbackMiddleware:
    """Wrap a WSGI app so that an exception escaping it becomes :data:`FALLBACK_BODY` with status 500.

    The exception is logged once with :func:`~src.utils.error_logging.log_server_error`.
    ``propagate`` is asked on each failure; when it returns True the exception is re-raised
    instead (for a debugger or a test that wants it). A failure after the response has started
    (see the module docstring) is logged and re-raised.
    """

    def __init__(self, wsgi_app: WSGIApplication, *, propagate: Callable[[], bool] = lambda: False) -> None:
        self.wsgi_app = wsgi_app
        self.propagate = propagate

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        guarded = _GuardedResponse(environ, start_response, self._should_propagate)
        try:
            app_iter = self.wsgi_app(environ, guarded.start_response)
        except Exception:
            return guarded.fail()
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(app_iter, file_wrapper):
            # The server sends a file wrapper its own way (sendfile); it must get it unwrapped.
            try:
                guarded.start()
            except Exception:
                _close(app_iter, guarded)
                return guarded.fail()
            return app_iter
        guarded.app_iter = app_iter
        return guarded

    def _should_propagate(self) -> bool:
        try:
            return bool(self.propagate())
        except Exception:
            return False


_END: Any = object()


class _GuardedResponse:
    """One request: the app's ``start_response`` held back, and its body passed on chunk by chunk.

    The recorded status and headers go to the server at the body's first non-empty chunk (empty
    chunks wait with them: PEP 3333 sends nothing before one), at the app's first ``write()``, or
    at the end of an empty body.
    """

    __slots__ = (
        "_chunks",
        "_fallback",
        "_server_start",
        "_server_write",
        "app_iter",
        "environ",
        "headers",
        "server_called",
        "should_propagate",
        "started",
        "status",
    )

    def __init__(
        self, environ: WSGIEnvironment, server_start: StartResponse, should_propagate: Callable[[], bool]
    ) -> None:
        self.environ = environ
        self.should_propagate = should_propagate
        self.app_iter: Iterable[bytes] = ()
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.started = False
        """Whether the server has been given the status and headers (and so may have sent them)."""
        self.server_called = False
        self._server_start = server_start
        self._server_write: _Write | None = None
        self._chunks: Iterator[bytes] | None = None
        self._fallback: Iterator[bytes] | None = None

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> _Write:
        """The app's ``start_response``: records the status and headers, sends nothing."""
        if exc_info is not None:
            try:
                if self.started:
                    # PEP 3333: headers that may have gone out cannot be replaced; re-raise.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was called a second time without exc_info")
        self.status, self.headers = status, headers
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: starts the response, then writes ``data`` through the server."""
        self.start()
        if self._server_write is None:
            raise RuntimeError("the server's start_response returned no write callable")
        self._server_write(data)

    def start(self) -> None:
        """Give the recorded status and headers to the server, once."""
        if self.started:
            return
        if self.status is None:
            raise RuntimeError("the application produced its body without calling start_response")
        self.server_called = True
        self._server_write = self._server_start(self.status, self.headers)
        self.started = True

    def fail(self) -> list[bytes]:
        """Answer the exception being handled with the fallback, or re-raise it; call only in ``except``.

        Re-raises when ``propagate`` says so, and after logging when the response has started.
        """
        exc = sys.exc_info()[1]
        if exc is None:
            raise RuntimeError("JSONFallbackMiddleware: fail() called with no exception being handled")
        if self.should_propagate():
            raise  # noqa: PLE0704 - re-raises the caller's exception, fail() runs in its except block
        if self.started:
            log_server_error(exc, 500, error_type="failure after the response started", environ=self.environ)
            raise  # noqa: PLE0704
        log_server_error(exc, 500, environ=self.environ)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(FALLBACK_BODY))),
            (REQUEST_ID_HEADER, _request_id(self.environ)),
        ]
        if self.server_called:
            # The server refused the app's headers; replacing them is only allowed with exc_info.
            self._server_write = self._server_start(FALLBACK_STATUS, headers, sys.exc_info())
        else:
            self.server_called = True
            self._server_write = self._server_start(FALLBACK_STATUS, headers)
        self.started = True
        return [] if self.environ.get("REQUEST_METHOD") == "HEAD" else [FALLBACK_BODY]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._fallback is not None:
            return next(self._fallback)
        try:
            chunk = next(self._chunks, _END) if self._chunks is not None and self.started else self._first_chunk()
        except Exception:
            self._fallback = iter(self.fail())
            return next(self._fallback)
        if chunk is _END:
            raise StopIteration
        return chunk

    def _first_chunk(self) -> bytes:
        """The body's first non-empty chunk (or :data:`_END`), with the response started."""
        if self._chunks is None:
            self._chunks = iter(self.app_iter)
        for chunk in self._chunks:
            if chunk:
                self.start()
                return chunk
        self.start()
        return _END  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the app's body (always; PEP 3333). A failure here is logged, the response is done."""
        _close(self.app_iter, self)


def _close(app_iter: Iterable[bytes], guarded: _GuardedResponse) -> None:
    close = getattr(app_iter, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:
        if guarded.should_propagate():
            raise
        log_server_error(exc, 500, error_type="failure while closing the response", environ=guarded.environ)


def _request_id(environ: WSGIEnvironment) -> str:
    try:
        return request_id_for(environ)
    except Exception:
        return "unknown"
