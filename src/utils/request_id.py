"""One id per request, taken from ``X-Request-ID`` when the client sent a sane one.

Use :func:`get_request_id` wherever a request needs to be named (logs, error bodies) and
:func:`register_request_id` once per app so that every response echoes the id in its
``X-Request-ID`` header. An incoming id is used only if it is 1 to 64 characters from
``[A-Za-z0-9._-]``; a missing, longer or otherwise hostile value is ignored and a fresh
``uuid4().hex`` is used instead, so the id is always safe to log and to send back.

The id is stored in the WSGI environ, so code outside the request context (a WSGI middleware)
sees the same id through :func:`request_id_for`.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import MutableMapping
from typing import Any, cast

from flask import Flask, Response, request

__all__ = [
    "MAX_REQUEST_ID_LENGTH",
    "REQUEST_ID_HEADER",
    "get_request_id",
    "is_valid_request_id",
    "new_request_id",
    "register_request_id",
    "request_id_for",
]

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 64

_VALID_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_REQUEST_ID_LENGTH}}}")
_ENVIRON_KEY = "error_contract.request_id"
_ENVIRON_HEADER = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def is_valid_request_id(value: object) -> bool:
    """Whether ``value`` is an id we accept from a client: 1-64 characters of ``[A-Za-z0-9._-]``."""
    return isinstance(value, str) and _VALID_ID.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh random id (32 hex digits)."""
    return uuid.uuid4().hex


def request_id_for(environ: MutableMapping[str, Any]) -> str:
    """The id of the request described by a WSGI ``environ``, chosen on first use and then fixed."""
    current = environ.get(_ENVIRON_KEY)
    if type(current) is str and _VALID_ID.fullmatch(current) is not None:
        return current
    incoming = environ.get(_ENVIRON_HEADER)
    chosen = incoming if isinstance(incoming, str) and is_valid_request_id(incoming) else new_request_id()
    environ[_ENVIRON_KEY] = chosen
    return chosen


def get_request_id() -> str:
    """The id of the current request; needs a request context."""
    # The request behind the proxy, found once: ``request.environ`` costs several lookups.
    return request_id_for(cast(Any, request)._get_current_object().environ)


def register_request_id(app: Flask) -> None:
    """Make every response of ``app`` carry the request id in its ``X-Request-ID`` header."""
    app.after_request(_echo_request_id)


def _echo_request_id(response: Response) -> Response:
    # Failing here would turn a good response into an error; the header is a courtesy.
    with contextlib.suppress(Exception):
        response.headers[REQUEST_ID_HEADER] = get_request_id()
    return response
