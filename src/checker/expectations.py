"""What an exception obliges its response to carry, and what it must not give away.

Use :func:`required_headers_for` and :func:`leaks_for` when a view raised a known exception and
you need to know what to look for in the reply: :meth:`Case.expectation
<src.checker.cases.Case.expectation>` and the fuzzer do. The rules follow the contract:

* Werkzeug's HTTP errors keep the headers they carry: ``Allow`` (a ``MethodNotAllowed`` with
  valid methods), ``WWW-Authenticate`` (an ``Unauthorized`` with a challenge), ``Retry-After``
  (a ``TooManyRequests`` or ``ServiceUnavailable`` with ``retry_after``).
* ``RateLimitError`` and an ``AIServiceError`` with ``retry_after`` send ``Retry-After``; so does
  an Anthropic SDK error with status 429, 503 or 529 whose response said how long to wait.
* A 5xx never shows a traceback. The type and text of an exception the client was not meant to
  read (an unexpected exception, an SDK error, an ``AIServiceError``'s ``original_error``, the
  cause of an ``InternalServerError``) never appear either; an ``APIError``'s message and
  payload are meant for the client, so only its type name is checked.

Anthropic exceptions are recognised through ``sys.modules``: nothing here imports ``anthropic``.
"""

from __future__ import annotations

import math
import sys

from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, Unauthorized

from src.api.errors import AIServiceError, APIError
from src.checker.cases import Leak

__all__ = ["MIN_MESSAGE_LEAK", "TRACEBACK", "leaks_for", "required_headers_for"]

#: Every 5xx body is searched for this.
TRACEBACK = Leak("Traceback", "a traceback")
#: An exception's text is searched for only from this many non-blank characters on: shorter
#: text ("x", "error") can appear in any honest generic message.
MIN_MESSAGE_LEAK = 8

_SDK_RETRY_STATUSES = frozenset({429, 503, 529})


def required_headers_for(exc: BaseException) -> tuple[str, ...]:
    """The headers a response to ``exc`` must carry, by the rules in the module docstring.

    Only an exception that keeps a valid error status (an ``int`` from 400 to 599) is held to
    them: one whose code was set to None or 600 is answered with a generic 500 instead.
    """
    if isinstance(exc, HTTPException):
        if not _is_error_status(exc.code):
            return ()
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            return ("Allow",)
        if isinstance(exc, Unauthorized) and exc.www_authenticate:
            return ("WWW-Authenticate",)
        if getattr(exc, "retry_after", None) is not None:
            return ("Retry-After",)
        return ()
    if isinstance(exc, APIError):
        if _is_error_status(exc.status_code) and getattr(exc, "retry_after", None) is not None:
            return ("Retry-After",)
        return ()
    if _sdk_retry_after(exc):
        return ("Retry-After",)
    return ()


def leaks_for(exc: BaseException) -> tuple[Leak, ...]:
    """What a 5xx answering ``exc`` must not contain: a traceback, and the hidden exceptions' text."""
    leaks = [TRACEBACK]
    if isinstance(exc, APIError):
        public = f"{exc.message} {_safe_repr(exc.payload)}"
        name = type(exc).__name__
        if name not in public:
            leaks.append(Leak(name, "the exception's type name", whole_word=True))
        if isinstance(exc, AIServiceError) and exc.original_error is not None:
            leaks.extend(_hidden(exc.original_error, "original_error"))
    elif isinstance(exc, InternalServerError):
        if exc.original_exception is not None:
            leaks.extend(_hidden(exc.original_exception, "original exception"))
    elif not isinstance(exc, HTTPException):
        leaks.extend(_hidden(exc, "exception"))
    return tuple(leaks)


def _hidden(exc: BaseException, role: str) -> list[Leak]:
    """Leak markers for an exception whose type and text only the log may see."""
    leaks = [Leak(type(exc).__name__, f"the {role}'s type name", whole_word=True)]
    try:
        text = str(exc)
    except Exception:
        text = ""
    if len(text.strip()) >= MIN_MESSAGE_LEAK:
        leaks.append(Leak(text.strip(), f"the {role}'s message"))
    return leaks


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return ""


def _is_error_status(code: object) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599


def _sdk_retry_after(exc: BaseException) -> bool:
    """Whether ``exc`` is an SDK status error at 429/503/529 with a readable wait in seconds."""
    anthropic = sys.modules.get("anthropic")
    status_error = getattr(anthropic, "APIStatusError", None) if anthropic is not None else None
    if not isinstance(status_error, type) or not isinstance(exc, status_error):
        return False
    if getattr(exc, "status_code", None) not in _SDK_RETRY_STATUSES:
        return False
    headers = getattr(getattr(exc, "response", None), "headers", None)
    getter = getattr(headers, "get", None)
    if getter is None:
        return False
    return any(_is_delay(getter(name)) for name in ("retry-after-ms", "retry-after"))


def _is_delay(value: object) -> bool:
    """Whether a header value is a plain, finite, non-negative number (dates are not insisted on)."""
    if not isinstance(value, str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and number >= 0
