"""The last line of defence: a WSGI middleware that turns an escaped exception into a JSON 500.

Flask's error handlers cannot see a failure that happens after them: an exception in a
``teardown_request`` function, an ``after_request`` hook that returns something that is not a
response, a response object that fails when called. Without this guard the WSGI server answers
those with its own HTML page. Wrap ``app.wsgi_app`` with :class:`JSONFallbackMiddleware`
(:func:`~src.utils.error_handlers.register_error_handlers` does) and such a request gets
:data:`FALLBACK_BODY`, a constant, hand-built JSON 500 with the ``X-Request-ID`` header.

If the server has already sent the response headers, the exception is re-raised through
``start_response`` as PEP 3333 requires, and the server closes the connection. An exception
raised while the server iterates over the response body is out of reach: the status has
already gone out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
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


class JSONFallbackMiddleware:
    """Wrap a WSGI app so that an exception escaping it becomes :data:`FALLBACK_BODY` with status 500.

    The exception is logged once with :func:`~src.utils.error_logging.log_server_error`.
    ``propagate`` is asked on each failure; when it returns True the exception is re-raised
    instead (for a debugger or a test that wants it).
    """

    def __init__(self, wsgi_app: WSGIApplication, *, propagate: Callable[[], bool] = lambda: False) -> None:
        self.wsgi_app = wsgi_app
        self.propagate = propagate

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = False

        def tracking_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, tracking_start_response)
        except Exception as exc:
            if self._should_propagate():
                raise
            log_server_error(exc, 500, environ=environ)
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(FALLBACK_BODY))),
                (REQUEST_ID_HEADER, _request_id(environ)),
            ]
            if started:
                # Replacing headers already passed on is only allowed with exc_info (PEP 3333);
                # the server re-raises it if they have been sent.
                start_response(FALLBACK_STATUS, headers, sys.exc_info())
            else:
                start_response(FALLBACK_STATUS, headers)
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else [FALLBACK_BODY]

    def _should_propagate(self) -> bool:
        try:
            return bool(self.propagate())
        except Exception:
            return False


def _request_id(environ: WSGIEnvironment) -> str:
    try:
        return request_id_for(environ)
    except Exception:
        return "unknown"
