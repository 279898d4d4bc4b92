"""Flask error handlers that answer every failure with the JSON error contract.

Call :func:`register_error_handlers` once on each app, right after creating it, and create the
app as a :class:`ContractFlask` (``create_app`` does both). Then every response with a status
of 400 or more is ``application/json`` with a body ``{"error": <text>, "code": <status>,
"request_id": <id>, ...}`` and an ``X-Request-ID`` header:

* :class:`~src.api.errors.APIError` and its subclasses: their status and :meth:`to_dict` body,
  plus ``Retry-After`` (whole seconds) when they carry ``retry_after``;
* Werkzeug's ``HTTPException`` with a 4xx/5xx code: what ``e.get_response()`` gives with only the
  body and content type replaced, so ``Allow``, ``WWW-Authenticate`` and ``Retry-After`` survive
  (its headers come from ``e.get_headers()``, without rendering the HTML page, unless the class
  overrides ``get_response``); the message is the exception's description;
* an ``HTTPException`` carrying a ready-made response (``abort(response)``): that response,
  unchanged; one with a 3xx code (a redirect): unchanged;
* an ``HTTPException`` whose code is None (on a plain ``Flask`` it stays Werkzeug's 200 page) or
  no 3xx/4xx/5xx ``int`` (0, 1xx, 2xx, 600...): a 500;
* a 405 that names no methods gets an ``Allow`` listing what the URL accepts besides the
  request's method (RFC 9110 requires the header on every 405);
* an Anthropic SDK exception (detected without importing ``anthropic``): an
  :class:`~src.api.errors.AIServiceError` 502 with a generic message, and the upstream's
  Retry-After when it answered 429, 503 or 529;
* any other exception: a 500 with a generic message; its text, type and traceback only go to
  the log, as does an ``AIServiceError``'s ``original_error``.

The handlers never raise. If building an answer fails (a broken ``to_dict``, an encoder error),
the client gets the constant :data:`~src.utils.wsgi_guard.FALLBACK_BODY` 500, and
:class:`~src.utils.wsgi_guard.JSONFallbackMiddleware` does the same for what happens after the
handlers (teardown functions, broken responses).

Logging (see :mod:`src.utils.error_logging`): each 5xx once at ERROR with its traceback and the
request's context; each 4xx as one INFO line without traceback.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeGuard, cast

from flask import Flask, Response, current_app, got_request_exception, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response as WerkzeugResponse

from src.api.contract import ERROR_MEDIA_TYPE
from src.api.errors import AIServiceError, APIError
from src.utils.error_logging import has_logged_server_error, log_client_error, log_server_error
from src.utils.request_id import REQUEST_ID_HEADER, get_request_id, register_request_id
from src.utils.strict_json import MAX_SAFE_INTEGER, dumps_ijson, to_ijson
from src.utils.transient import http_status_of, retry_after_of
from src.utils.wsgi_guard import FALLBACK_BODY, JSONFallbackMiddleware

__all__ = [
    "AI_SERVICE_ERROR_MESSAGE",
    "INTERNAL_ERROR_MESSAGE",
    "ContractFlask",
    "register_error_handlers",
]

#: What the client reads when the server failed unexpectedly.
INTERNAL_ERROR_MESSAGE = "An unexpected error occurred on the server."
#: What the client reads when an Anthropic SDK exception escaped a view.
AI_SERVICE_ERROR_MESSAGE = "The AI service could not complete the request."

# Upstream statuses whose Retry-After means "the same call may work later".
_RETRY_AFTER_STATUSES = frozenset({429, 503, 529})
_EXTENSION_KEY = "error_contract"
_UNHANDLED_KEY = "error_contract.unhandled_exception"
# Body keys _error_response sets itself; a converted field with one of these names is not copied.
_BUILT_KEYS = frozenset({"error", "code", "request_id"})
# Headers that describe the body, which the contract's body replaces.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


class ContractFlask(Flask):
    """A ``Flask`` whose error paths outside the registered handlers also keep the contract.

    Use it instead of ``Flask`` together with :func:`register_error_handlers`. It changes three
    extension points, nothing else:

    * :meth:`log_exception`: Flask calls it for a failure no handler saw first (an
      ``after_request`` hook that raised, a view that returned an invalid value). It writes the
      contract's context line, with client-controlled values escaped, instead of Flask's
      ``Exception on <path>`` line, which would copy a CR/LF from the path into the log.
    * :meth:`trap_http_exception`: an ``HTTPException`` with neither a code nor a response goes
      to the handlers (which answer a JSON 500) instead of becoming Werkzeug's 200 HTML page.
    * :meth:`finalize_request`: when the ``after_request`` hooks fail again on the 500 that
      answers a failure, Flask logs a second record of its own ("Request finalizing failed...").
      Here that failure is logged in the contract's format only if the request has not logged a
      5xx yet, and the 500 is sent as the handler built it, without the failed hooks' changes.
    """

    def log_exception(self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]) -> None:
        """Log a failure that reached ``Flask.handle_exception``: ERROR, traceback, context."""
        if exc_info[1] is not None:
            log_server_error(exc_info[1], 500)

    def finalize_request(self, rv: ResponseReturnValue | HTTPException, from_error_handler: bool = False) -> Response:
        """Flask's ``finalize_request``; a failure while finalizing an error response is logged once."""
        if not from_error_handler:
            return super().finalize_request(rv)
        response = self.make_response(rv)
        status, headers, body = response.status, response.headers.copy(), response.response
        try:
            return super().finalize_request(response)
        except Exception as failure:
            if not has_logged_server_error(request.environ):
                log_server_error(failure, 500)
        # A hook may have changed the response before failing; send it as the handler built it.
        response.status, response.headers, response.response = status, headers, body
        if REQUEST_ID_HEADER not in response.headers:
            with contextlib.suppress(Exception):
                response.headers[REQUEST_ID_HEADER] = get_request_id()
        return response

    def trap_http_exception(self, e: Exception) -> bool:
        """Send a codeless ``HTTPException`` to the handlers; otherwise Flask's own rule."""
        if isinstance(e, HTTPException) and e.code is None and e.response is None:
            return True
        return super().trap_http_exception(e)


def register_error_handlers(app: Flask) -> None:
    """Make ``app`` answer every error with the JSON contract; calling it again does nothing.

    Registers handlers for :class:`~src.api.errors.APIError`, ``HTTPException`` and
    ``Exception`` with ``app.register_error_handler``, echoes the request id on every response,
    and wraps ``app.wsgi_app`` in :class:`~src.utils.wsgi_guard.JSONFallbackMiddleware`, which
    re-raises instead only when ``PROPAGATE_EXCEPTIONS`` is explicitly True.
    """
    if app.extensions.get(_EXTENSION_KEY):
        return
    app.extensions[_EXTENSION_KEY] = True
    app.register_error_handler(APIError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_exception)
    register_request_id(app)
    got_request_exception.connect(_remember_unhandled_exception, app)
    # Flask's documented way to add WSGI middleware; mypy objects to assigning a method.
    app.wsgi_app = JSONFallbackMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, propagate=lambda: app.config.get("PROPAGATE_EXCEPTIONS") is True
    )


def _handle_api_error(e: APIError) -> WerkzeugResponse:
    try:
        status = e.status_code
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"{type(e).__name__} has status_code {status!r}, not a 4xx/5xx int")
        retry_after = _delay_seconds(getattr(e, "retry_after", None))
        response = _error_response(status, e.to_dict(), retry_after=retry_after)
        message = e.message
    except Exception as failure:
        return _fallback_response(failure)
    if status >= 500:
        log_server_error(e, status)
    else:
        log_client_error(message, status, type(e).__qualname__)
    return response


def _handle_http_exception(e: HTTPException) -> ResponseReturnValue:
    cause: BaseException | None = None
    try:
        if e.response is not None:
            response = e.response
            message: object = e.description
        elif _is_status(e.code, 300, 399):
            return e.get_response(request.environ)
        elif _is_status(e.code, 400, 599):
            if isinstance(e, InternalServerError) and e.original_exception is not None:
                cause = e.original_exception
                message = INTERNAL_ERROR_MESSAGE
            else:
                message = e.description or e.name
            response = _error_response(e.code, {"error": message}, base=_exception_headers(e))
        else:
            # None, 1xx, 2xx, a number outside HTTP's range or not an int: no error status to keep.
            message = INTERNAL_ERROR_MESSAGE
            response = _error_response(500, {"error": message})
        status = response.status_code
    except Exception as failure:
        return _fallback_response(failure)
    if status >= 500:
        # Flask.handle_exception has already logged the failure it wraps (see ContractFlask).
        if cause is None or request.environ.get(_UNHANDLED_KEY) is not cause:
            log_server_error(cause or e, status)
    elif status >= 400:
        log_client_error(message, status, type(e).__qualname__)
    return response


def _handle_exception(e: Exception) -> WerkzeugResponse:
    try:
        ai_error = _as_ai_service_error(e)
        if ai_error is None:
            status, error_type = 500, None
            response = _error_response(status, {"error": INTERNAL_ERROR_MESSAGE})
        else:
            status, error_type = ai_error.status_code, type(ai_error).__name__
            response = _error_response(status, ai_error.to_dict(), retry_after=ai_error.retry_after)
    except Exception as failure:
        return _fallback_response(failure)
    log_server_error(e, status, error_type=error_type)
    return response


def _error_response(
    status: int,
    fields: Mapping[str, object],
    *,
    base: WerkzeugResponse | list[tuple[str, str]] | None = None,
    retry_after: int | None = None,
) -> WerkzeugResponse:
    """The contract's response, with status, body and headers set.

    ``base`` is what it starts from: a response whose other headers are kept, or headers to
    keep (an ``HTTPException``'s, from :func:`_exception_headers`), or None for a new response.
    """
    converted = to_ijson(fields)
    extra = converted if isinstance(converted, dict) else {}
    error = extra.get("error")
    if not isinstance(error, str) or not _is_readable(error):
        error = HTTP_STATUS_CODES.get(status, "Error")
    request_id = get_request_id()
    body: dict[str, Any] = {"error": error, "code": status}
    others = [(key, value) for key, value in extra.items() if key not in _BUILT_KEYS]
    if others:
        body.update(others)
        _drop_mistyped_reserved_fields(body)
    headers = [(REQUEST_ID_HEADER, request_id)]
    if retry_after is not None:
        body["retry_after"] = retry_after
        headers.append(("Retry-After", str(retry_after)))
    body["request_id"] = request_id
    data = dumps_ijson(body)

    if isinstance(base, WerkzeugResponse):
        response = base
        response.status_code = status
        response.set_data(data)
        response.headers["Content-Type"] = ERROR_MEDIA_TYPE
        for name, value in headers:
            response.headers[name] = value
        if status == 405 and "Allow" not in response.headers:
            response.headers["Allow"] = _allowed_methods()
        return response
    # Built in one constructor call, with every header given (Content-Length too, as the body is
    # one chunk), instead of changing a response header by header: the error path's main cost.
    replaced = {name.lower() for name, _ in headers} | _BODY_HEADERS
    kept = [(name, value) for name, value in base or () if name.lower() not in replaced]
    if status == 405 and not any(name.lower() == "allow" for name, _ in kept):
        kept.append(("Allow", _allowed_methods()))
    kept += headers
    kept += (("Content-Type", ERROR_MEDIA_TYPE), ("Content-Length", str(len(data))))
    response_class: type[WerkzeugResponse] = cast(Any, current_app)._get_current_object().response_class
    return response_class([data], status, kept)


def _is_readable(text: str) -> bool:
    """Whether ``text`` has a printable character other than whitespace."""
    if text.isascii() and text.isprintable():
        # Printable ASCII is space or visible, so stripping the spaces tells.
        return bool(text.strip(" "))
    return any(ch.isprintable() and not ch.isspace() for ch in text)


def _exception_headers(e: HTTPException) -> WerkzeugResponse | list[tuple[str, str]]:
    """What ``e.get_response()`` would start the answer from, without rendering its HTML body.

    Werkzeug's own ``get_response`` renders an HTML page that the contract's body replaces, so
    when a class keeps it, its headers come from ``get_headers`` alone (which the classes with
    ``Allow``, ``WWW-Authenticate`` or ``Retry-After`` override). A class that overrides
    ``get_response`` itself gets it called, and its response is the base.
    """
    # The request behind the proxy, found once (reading through the proxy repeats the lookup).
    environ: dict[str, Any] = cast(Any, request)._get_current_object().environ
    if type(e).get_response is not HTTPException.get_response:
        return e.get_response(environ)
    return e.get_headers(environ)


def _allowed_methods() -> str:
    """The ``Allow`` value of a 405 that named no methods: what the URL accepts besides this method.

    RFC 9110 requires ``Allow`` on every 405; an empty value means "no method".
    """
    refused = {"GET", "HEAD"} if request.method in ("GET", "HEAD") else {request.method}
    try:
        methods = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
    except Exception:
        methods = []
    return ", ".join(sorted(set(methods) - refused))


def _drop_mistyped_reserved_fields(body: dict[str, Any]) -> None:
    """Remove reserved fields of the wrong type, which only a faulty ``to_dict`` override produces."""
    if not isinstance(body.get("field", ""), str):
        del body["field"]
    retry_after = body.get("retry_after", 0)
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
        del body["retry_after"]
    resource_id = body.get("resource_id", "")
    if (
        ("resource_type" in body) != ("resource_id" in body)
        or not isinstance(body.get("resource_type", ""), str)
        or isinstance(resource_id, bool)
        or not isinstance(resource_id, int | str)
    ):
        body.pop("resource_type", None)
        body.pop("resource_id", None)


def _fallback_response(failure: Exception) -> WerkzeugResponse:
    """The constant JSON 500, for when building the real answer failed. Never raises."""
    # ``failure.__context__`` is the exception being handled, so the traceback shows both.
    log_server_error(failure, 500, error_type="error handler failure")
    response = Response(FALLBACK_BODY, status=500, content_type=ERROR_MEDIA_TYPE)
    with contextlib.suppress(Exception):
        response.headers[REQUEST_ID_HEADER] = get_request_id()
    return response


def _as_ai_service_error(exc: BaseException) -> AIServiceError | None:
    """``exc`` as an AIServiceError if it comes from the Anthropic SDK, else None.

    An exception can only be an ``anthropic`` one if ``anthropic`` is already imported, so this
    looks the module up instead of importing it (the import takes over a second).
    """
    anthropic = sys.modules.get("anthropic")
    base = getattr(anthropic, "AnthropicError", None) if anthropic is not None else None
    if not isinstance(base, type) or not isinstance(exc, base):
        return None
    retry_after = _upstream_retry_after(exc) if http_status_of(exc) in _RETRY_AFTER_STATUSES else None
    return AIServiceError(AI_SERVICE_ERROR_MESSAGE, original_error=exc, retry_after=retry_after)


def _upstream_retry_after(exc: BaseException) -> float | None:
    """The upstream's Retry-After in seconds, or None if it sent none or one that cannot be read."""
    try:
        return retry_after_of(exc)
    except Exception:  # e.g. an HTTP date beyond year 9999, which the date parser refuses
        return None


def _delay_seconds(value: object) -> int | None:
    """``value`` as Retry-After delay-seconds (rounded up, 0 to 2**53 - 1), or None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return min(max(0, math.ceil(value)), MAX_SAFE_INTEGER)
    except (OverflowError, ValueError):
        return None


def _is_status(code: object, lowest: int, highest: int) -> TypeGuard[int]:
    return isinstance(code, int) and not isinstance(code, bool) and lowest <= code <= highest


def _remember_unhandled_exception(sender: Flask, exception: Exception, **extra: object) -> None:
    """Note which exception ``Flask.handle_exception`` has logged, so it is not logged twice."""
    with contextlib.suppress(Exception):
        request.environ[_UNHANDLED_KEY] = exception
