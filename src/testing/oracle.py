"""What the error contract requires of the answer to an exception raised in a view of ``create_app()``.

Use it next to :mod:`src.testing.strategies`: raise a generated exception in a view, then compare
the response with :func:`expected_status`, :func:`required_headers` and :func:`leak_texts`, and
check its body and headers with :func:`src.api.contract.validate_error_response`. The rules
follow the README's contract and the handlers' dispatch (``src/utils/error_handlers.py``), which
picks the handler by the exception's MRO as Flask does:

* the first of ``APIError`` / ``HTTPException`` in ``type(exc).__mro__`` decides; with neither,
  an Anthropic SDK exception (recognised only when ``anthropic`` is imported) becomes a 502, and
  anything else a 500;
* an ``APIError`` answers its ``status_code`` if that is an ``int`` from 400 to 599, else 500;
* a Werkzeug ``HTTPException`` answers its ``code`` if that is an ``int`` from 400 to 599; a 3xx
  code is a redirect and passes through untouched (not an error response); any other code,
  None included, becomes 500.

Nothing here raises for any exception, even one whose ``__str__`` or ``__repr__`` raises.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Literal, TypeGuard

from werkzeug.exceptions import HTTPException, MethodNotAllowed, Unauthorized
from werkzeug.http import HTTP_STATUS_CODES

from src.api.errors import RESERVED_KEYS, APIError
from src.utils.error_handlers import AI_SERVICE_ERROR_MESSAGE, INTERNAL_ERROR_MESSAGE
from src.utils.strict_json import MAX_SAFE_INTEGER, clean_text, to_ijson
from src.utils.transient import http_status_of, retry_after_of
from src.utils.wsgi_guard import FALLBACK_BODY

__all__ = [
    "LEAK_MIN_LENGTH",
    "TRACEBACK_MARKER",
    "Handling",
    "expected_status",
    "handling",
    "leak_texts",
    "public_texts",
    "required_headers",
]

#: Which handler answers an exception.
Handling = Literal["api", "http", "anthropic", "unexpected"]

#: What every Python traceback starts with; it must never reach a client.
TRACEBACK_MARKER = "Traceback (most recent call last)"
#: Shorter texts are not reported by :func:`leak_texts`: they occur in any body by chance.
LEAK_MIN_LENGTH = 4

# Upstream statuses whose Retry-After the handlers pass on (as src.utils.error_handlers does).
_RETRY_AFTER_STATUSES = frozenset({429, 503, 529})


def handling(exc: BaseException) -> Handling:
    """Which handler answers ``exc``: ``api`` (APIError), ``http`` (HTTPException), ``anthropic`` or ``unexpected``."""
    for cls in type(exc).__mro__:
        if cls is APIError:
            return "api"
        if cls is HTTPException:
            return "http"
    anthropic = sys.modules.get("anthropic")
    base = getattr(anthropic, "AnthropicError", None) if anthropic is not None else None
    if isinstance(base, type) and isinstance(exc, base):
        return "anthropic"
    return "unexpected"


def expected_status(exc: BaseException) -> int:
    """The status the contract requires when ``exc`` is raised in a view of ``create_app()``.

    ``APIError`` family: its ``status_code`` when that is a valid 4xx/5xx, else 500. Werkzeug
    ``HTTPException``: its ``code`` when a valid 4xx/5xx (a 3xx redirect passes through as it
    is), else 500 (code None included). Anthropic SDK exceptions: 502. Anything else: 500.
    """
    kind = handling(exc)
    if kind == "api":
        status = getattr(exc, "status_code", None)
        return status if _is_error_status(status) else 500
    if kind == "http":
        code = getattr(exc, "code", None)
        return code if _is_error_status(code) or (_is_int(code) and 300 <= code <= 399) else 500
    return 502 if kind == "anthropic" else 500


def required_headers(exc: BaseException) -> dict[str, str | None]:
    """The headers the answer to ``exc`` must carry: name -> exact value, or None for "any value".

    Always ``X-Request-ID``. ``Allow`` on a 405 (exactly the exception's ``valid_methods`` when
    it lists some). ``WWW-Authenticate`` on a 401 when the exception supplies a challenge.
    ``Retry-After`` (whole seconds, rounded up, at least 0, at most 2**53 - 1) when an
    ``APIError`` carries ``retry_after``, when a Werkzeug 429/503 carries a non-zero one, and
    when an Anthropic 429, 503 or 529 response asked for one that can be read.
    """
    headers: dict[str, str | None] = {"X-Request-ID": None}
    status = expected_status(exc)
    kind = handling(exc)
    if status == 405:
        methods = getattr(exc, "valid_methods", None) if isinstance(exc, MethodNotAllowed) else None
        headers["Allow"] = ", ".join(methods) if kind == "http" and methods else None
    if status == 401 and kind == "http" and isinstance(exc, Unauthorized) and exc.www_authenticate:
        headers["WWW-Authenticate"] = None
    if kind == "api" and status == getattr(exc, "status_code", None):
        delay = _delay_seconds(getattr(exc, "retry_after", None))
        if delay is not None:
            headers["Retry-After"] = str(delay)
    elif kind == "http" and status == getattr(exc, "code", None) and status >= 400:
        asked = getattr(exc, "retry_after", None)
        if asked:  # Werkzeug sends none for 0
            headers["Retry-After"] = str(asked) if _is_int(asked) else None
    elif kind == "anthropic" and http_status_of(exc) in _RETRY_AFTER_STATUSES:
        delay = _delay_seconds(_safely(lambda: retry_after_of(exc)))  # unreadable: no header
        if delay is not None:
            headers["Retry-After"] = str(delay)
    return headers


def public_texts(exc: BaseException) -> tuple[str, ...]:
    """Every text the answer to ``exc`` may legitimately show: its message where the contract
    shows it (4xx/5xx ``APIError`` and ``HTTPException``), payload keys and values, the body's
    own member names, fixed messages and reason phrases."""
    status = expected_status(exc)
    texts: list[str] = [INTERNAL_ERROR_MESSAGE, AI_SERVICE_ERROR_MESSAGE, FALLBACK_BODY.decode(), *RESERVED_KEYS]
    texts.append(HTTP_STATUS_CODES.get(status, "Unknown Error"))
    texts.extend(_phrase(status))
    kind = handling(exc)
    if kind == "api" and isinstance(exc, APIError) and status == getattr(exc, "status_code", None):
        texts.extend(_strings(_safely(exc.to_dict)))
    elif kind == "http" and isinstance(exc, HTTPException) and status >= 400 and status == exc.code:
        texts.extend(_strings(to_ijson(exc.description)))
        texts.extend(_strings(to_ijson(_safely(lambda: exc.name))))
    return tuple(texts)


def leak_texts(exc: BaseException) -> tuple[str, ...]:
    """Texts that must never appear in a 5xx answer to ``exc``: its ``str``/``repr``, arguments,
    type names, upstream or chained exceptions' texts, and :data:`TRACEBACK_MARKER`.

    Each is given as the body would spell it (:func:`~src.utils.strict_json.clean_text`), and a
    text is left out when it is shorter than :data:`LEAK_MIN_LENGTH` characters (stripped) or
    occurs within one of :func:`public_texts`, since a body may contain those by design.
    """
    public = public_texts(exc)
    leaks: list[str] = []
    for text in _candidate_texts(exc):
        cleaned = clean_text(text).strip()
        if len(cleaned) >= LEAK_MIN_LENGTH and cleaned not in leaks and not any(cleaned in ok for ok in public):
            leaks.append(cleaned)
    return (TRACEBACK_MARKER, *leaks)


def _candidate_texts(exc: BaseException) -> Iterator[str]:
    """What a careless handler might copy into a body: the exception's own texts and its relatives'."""
    related: list[BaseException] = [exc]
    for name in ("original_error", "original_exception", "__cause__", "__context__"):
        other = getattr(exc, name, None)
        if isinstance(other, BaseException) and other is not exc:
            related.append(other)
    for item in related:
        cls = type(item)
        yield from (cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}")
        yield _safe(str, item)
        yield _safe(repr, item)
        yield from _strings(to_ijson(_safely(_arguments_of(item))))
        for name in ("message", "description", "body"):
            yield from _strings(to_ijson(getattr(item, name, None)))


def _arguments_of(exc: BaseException) -> Callable[[], object]:
    return lambda: list(exc.args)


def _strings(value: object) -> Iterator[str]:
    """Every string inside JSON-like data (keys included); a non-string scalar as its JSON text."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        yield json.dumps(value)


def _phrase(status: int) -> Iterable[str]:
    try:
        return (HTTPStatus(status).phrase,)
    except ValueError:
        return ("Client Error", "Server Error")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_error_status(value: object) -> TypeGuard[int]:
    return _is_int(value) and 400 <= value <= 599


def _delay_seconds(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(max(0, math.ceil(value)), MAX_SAFE_INTEGER)


def _safe(render: Callable[[object], str], value: object) -> str:
    try:
        return str(render(value))
    except Exception:
        return ""


def _safely(compute: Callable[[], object]) -> object:
    try:
        return compute()
    except Exception:
        return None
