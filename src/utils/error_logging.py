"""Log lines for failed requests that carry their context and cannot be forged by a client.

Use :func:`log_server_error` for every response of status 500 or more (once per failure: ERROR,
with the traceback) and :func:`log_client_error` for a 4xx (one INFO line, no traceback). Both
put the request's context in the message and in ``extra`` fields (``http_method``,
``http_path``, ``endpoint``, ``request_id``, ``user_id``, ``status_code``, ``error_type``), and
both escape every value a client controls: control characters (CR and LF included), Unicode
line and paragraph separators, bidirectional overrides and backslashes become ``\\xNN`` /
``\\uNNNN`` escapes, and values are cut to :data:`MAX_LOGGED_VALUE` characters.

The traceback itself is rendered by whatever ``logging.Formatter`` the application configures;
an exception's own text inside it is not escaped here, so production setups should prefer a
structured (JSON) formatter. Neither function ever raises: a failure while logging is reported
on stderr and otherwise ignored. This module never configures logging.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

from flask import g, has_request_context, request

from src.utils.log_escape import MAX_LOGGED_VALUE, escape_log_value
from src.utils.request_id import request_id_for

__all__ = [
    "MAX_LOGGED_VALUE",
    "escape_log_value",
    "has_logged_server_error",
    "log_client_error",
    "log_server_error",
    "request_log_context",
]

logger = logging.getLogger(__name__)

_LOGGED_KEY = "error_contract.server_error_logged"


def request_log_context(environ: MutableMapping[str, Any] | None = None) -> dict[str, str | None]:
    """The escaped context of the current request, or of ``environ`` outside a request context.

    Keys: ``http_method``, ``http_path``, ``endpoint``, ``request_id`` and ``user_id`` (from
    ``g.user_id`` when the request set one); a value that is unknown is ``None``.
    """
    if environ is None and has_request_context():
        # The request behind the proxy, looked up once instead of once per attribute.
        current = cast(Any, request)._get_current_object()
        endpoint = current.endpoint
        user_id = cast(Any, g)._get_current_object().get("user_id")
        return {
            "http_method": escape_log_value(current.method),
            "http_path": escape_log_value(current.path),
            "endpoint": None if endpoint is None else escape_log_value(endpoint),
            "request_id": request_id_for(current.environ),
            "user_id": None if user_id is None else escape_log_value(user_id),
        }
    environ = environ if environ is not None else {}
    return {
        "http_method": escape_log_value(environ.get("REQUEST_METHOD", "")),
        "http_path": escape_log_value(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
        "endpoint": None,
        "request_id": request_id_for(environ),
        "user_id": None,
    }


def log_server_error(
    exc: BaseException,
    status_code: int,
    *,
    error_type: str | None = None,
    environ: MutableMapping[str, Any] | None = None,
) -> None:
    """Log a 5xx answer to the current request at ERROR with ``exc``'s traceback; never raises.

    ``error_type`` names what the client was told (e.g. ``AIServiceError`` for a wrapped SDK
    error) when that differs from ``exc``'s own class; pass ``environ`` outside a request context.
    The request is marked as logged (see :func:`has_logged_server_error`).
    """
    try:
        _mark_logged(environ)
        context = request_log_context(environ)
        kind = type(exc).__qualname__ if error_type is None else f"{error_type} from {type(exc).__qualname__}"
        logger.error(
            "%d %s on %s %s (endpoint=%s, request_id=%s, user_id=%s): %s",
            status_code,
            kind,
            context["http_method"],
            context["http_path"],
            context["endpoint"],
            context["request_id"],
            context["user_id"],
            escape_log_value(exc),
            exc_info=(type(exc), exc, exc.__traceback__),
            extra=_extra(context, status_code, kind),
        )
    except Exception:
        _report_logging_failure()


def has_logged_server_error(environ: Mapping[str, Any]) -> bool:
    """Whether :func:`log_server_error` has been called for the request of this WSGI ``environ``.

    Use it to keep a second failure of the same request (a hook that fails again on the error
    response) from logging a second ERROR record for one 5xx.
    """
    return environ.get(_LOGGED_KEY) is True


def log_client_error(message: object, status_code: int, error_type: str) -> None:
    """Log a 4xx answer to the current request as one INFO line without traceback; never raises."""
    try:
        if not logger.isEnabledFor(logging.INFO):
            return
        context = request_log_context()
        logger.info(
            "%d %s on %s %s (endpoint=%s, request_id=%s, user_id=%s): %s",
            status_code,
            error_type,
            context["http_method"],
            context["http_path"],
            context["endpoint"],
            context["request_id"],
            context["user_id"],
            escape_log_value(message),
            extra=_extra(context, status_code, error_type),
        )
    except Exception:
        _report_logging_failure()


def _mark_logged(environ: MutableMapping[str, Any] | None) -> None:
    if environ is None and has_request_context():
        environ = cast(Any, request)._get_current_object().environ
    if environ is not None:
        environ[_LOGGED_KEY] = True


def _extra(context: Mapping[str, str | None], status_code: int, error_type: str) -> dict[str, object]:
    return {**context, "status_code": status_code, "error_type": escape_log_value(error_type)}


def _report_logging_failure() -> None:
    # Mirrors logging.Handler.handleError: logging must never break the response it describes.
    with contextlib.suppress(Exception):
        sys.stderr.write("src.utils.error_logging: failed to log a request error\n")
