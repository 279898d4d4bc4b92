"""Which failures are worth retrying, and how long the server asked us to wait.

Use these predicates when you need the same judgement the retry policies make, for
example to decide whether to surface a failure as temporary to your own clients.

Classification never imports a client library. An exception can only be an
``anthropic``, ``httpx``, ``httpx2`` or ``requests`` error if that library is
already imported, so each check looks the module up in ``sys.modules`` and skips
it when it is absent. Importing this module therefore stays cheap.

Transient (retry):
    * ``TimeoutError`` and ``ConnectionError`` (refused, reset, aborted, broken pipe);
    * HTTP 408, 429 and every 5xx, from whichever client raised it;
    * the Anthropic SDK's ``APIConnectionError`` (timeouts included) and, for AI
      calls only, 409 (the API's lock timeout);
    * transport failures of urllib, httpx/httpx2 and requests.

Permanent (fail at once): every other 4xx, ``ValueError`` and other programming
errors, and file errors that waiting cannot cure.
"""

from __future__ import annotations

import email.utils
import math
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "NETWORK_TRANSIENT_STATUSES",
    "http_status_of",
    "is_transient_ai_error",
    "is_transient_file_error",
    "is_transient_network_error",
    "is_transient_status",
    "parse_retry_after",
    "retry_after_of",
]

#: Statuses a plain HTTP call retries: request timeout, too many requests, and 5xx.
NETWORK_TRANSIENT_STATUSES = frozenset({408, 429})
#: The Anthropic API also answers 409 when a request lost a lock race.
_AI_TRANSIENT_STATUSES = frozenset({408, 409, 429})

_PERMANENT_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)

# The names of the httpx/httpx2 exception classes that mean "the bytes did not get
# through", as opposed to a bad URL, a proxy misconfiguration or a decoding bug.
_HTTPX_TRANSIENT = ("TimeoutException", "NetworkError", "RemoteProtocolError")
_REQUESTS_TRANSIENT = ("ConnectionError", "Timeout", "ChunkedEncodingError")


def is_transient_status(status: int, *, ai: bool = False) -> bool:
    """Whether an HTTP status is worth retrying: 408, 429, any 5xx, and 409 for AI calls."""
    if status >= 500:
        return status <= 599
    return status in (_AI_TRANSIENT_STATUSES if ai else NETWORK_TRANSIENT_STATUSES)


def http_status_of(exc: BaseException) -> int | None:
    """The HTTP status carried by an error from any supported client, or None.

    Understands the Anthropic SDK's ``APIStatusError``, urllib's ``HTTPError``,
    httpx/httpx2's ``HTTPStatusError`` and requests' ``HTTPError``.
    """
    anthropic = sys.modules.get("anthropic")
    if anthropic is not None and isinstance(exc, anthropic.APIStatusError):
        return _as_status(exc.status_code)
    urllib_error = sys.modules.get("urllib.error")
    if urllib_error is not None and isinstance(exc, urllib_error.HTTPError):
        return _as_status(exc.code)
    for name in ("httpx", "httpx2"):
        mod = sys.modules.get(name)
        if mod is not None and isinstance(exc, mod.HTTPStatusError):
            return _as_status(exc.response.status_code)
    requests_exc = sys.modules.get("requests.exceptions")
    if requests_exc is not None and isinstance(exc, requests_exc.HTTPError):
        response = getattr(exc, "response", None)
        return _as_status(getattr(response, "status_code", None))
    return None


def is_transient_network_error(exc: BaseException) -> bool:
    """Whether a plain network call that raised ``exc`` may succeed if tried again.

    True for ``ConnectionError``, ``TimeoutError``, an HTTP 408, 429 or 5xx from
    urllib, httpx, httpx2 or requests, and those clients' transport failures.
    False for every other 4xx and for anything else.
    """
    status = http_status_of(exc)
    if status is not None:
        return is_transient_status(status)
    if _is_certificate_failure(exc):
        return False
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return _is_transient_transport(exc)


def _is_certificate_failure(exc: BaseException) -> bool:
    """A TLS certificate that failed verification: trying again gets the same certificate.

    Clients wrap it (requests' ``SSLError`` is a ``ConnectionError``, httpx's ``ConnectError``
    chains it), so the cause chain is searched, a few links deep.
    """
    ssl = sys.modules.get("ssl")  # no TLS error can exist before ssl is imported
    if ssl is None:
        return False
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        requests_exc = sys.modules.get("requests.exceptions")
        if requests_exc is not None and isinstance(current, requests_exc.SSLError):
            return True
        reason = getattr(current, "reason", None)  # urllib's URLError keeps it here
        if isinstance(reason, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_transient_ai_error(exc: BaseException) -> bool:
    """Whether a call to the Anthropic API that raised ``exc`` may succeed if tried again.

    Everything :func:`is_transient_network_error` retries, plus the SDK's
    ``APIConnectionError`` (``APITimeoutError`` included), 409, and every 5xx
    including 529 ("overloaded"). Never 400, 401, 403, 404, 413, 422 or any
    other client error.
    """
    status = http_status_of(exc)
    if status is not None:
        return is_transient_status(status, ai=True)
    anthropic = sys.modules.get("anthropic")
    if anthropic is not None and isinstance(exc, anthropic.APIConnectionError):
        return True
    return is_transient_network_error(exc)


def is_transient_file_error(exc: BaseException) -> bool:
    """Whether a file operation that raised ``exc`` may succeed if tried again.

    Any ``OSError`` (``PermissionError``, a busy device, a full disk being
    cleaned up...) except those no amount of waiting cures: ``FileNotFoundError``,
    ``FileExistsError``, ``IsADirectoryError`` and ``NotADirectoryError``, nor an
    HTTP error response that happens to subclass ``OSError``.
    """
    if not isinstance(exc, OSError) or isinstance(exc, _PERMANENT_FILE_ERRORS):
        return False
    # urllib's HTTPError and requests' errors are OSErrors too, but not file errors.
    requests_exc = sys.modules.get("requests.exceptions")
    if requests_exc is not None and isinstance(exc, requests_exc.RequestException):
        return False
    return http_status_of(exc) is None


def _is_transient_transport(exc: BaseException) -> bool:
    urllib_error = sys.modules.get("urllib.error")
    if urllib_error is not None and isinstance(exc, urllib_error.URLError):
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            # "Temporary failure in name resolution" is worth another try; "no such host" is not.
            return reason.errno == socket.EAI_AGAIN
        return isinstance(reason, ConnectionError | TimeoutError)
    http_client = sys.modules.get("http.client")
    if http_client is not None and isinstance(exc, http_client.IncompleteRead | http_client.BadStatusLine):
        return True
    for name in ("httpx", "httpx2"):
        mod = sys.modules.get(name)
        if mod is not None and isinstance(exc, tuple(getattr(mod, cls) for cls in _HTTPX_TRANSIENT)):
            return True
    requests_exc = sys.modules.get("requests.exceptions")
    return requests_exc is not None and isinstance(
        exc, tuple(getattr(requests_exc, cls) for cls in _REQUESTS_TRANSIENT)
    )


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait before retrying, or None if it did not say.

    Reads ``retry-after-ms`` and ``retry-after`` from the response headers of an
    SDK error, an httpx/requests error or a urllib ``HTTPError``, and the
    ``retry_after`` attribute of this project's own errors.
    """
    headers = _headers_of(exc)
    if headers is not None:
        seconds = parse_retry_after(headers)
        if seconds is not None:
            return seconds
    own = getattr(exc, "retry_after", None)
    if isinstance(own, int | float) and not isinstance(own, bool) and math.isfinite(own) and own >= 0:
        return float(own)
    return None


def parse_retry_after(headers: Mapping[str, Any] | Any, *, now: float | None = None) -> float | None:
    """Parse ``retry-after-ms`` (milliseconds) or ``retry-after`` (seconds or an HTTP date).

    Returns a non-negative number of seconds, or None when neither header is
    present or readable (a date past the year 9999 is not). A date in the past means "now", i.e. 0.
    """
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    millis = _finite_float(getter("retry-after-ms") or getter("Retry-After-Ms"))
    if millis is not None and millis >= 0:
        return millis / 1000.0
    raw = getter("retry-after") or getter("Retry-After")
    if raw is None:
        return None
    seconds = _finite_float(raw)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    parsed = email.utils.parsedate_tz(str(raw))
    if parsed is None:
        return None
    try:
        moment = email.utils.mktime_tz(parsed)
    except (ValueError, OverflowError):  # a year past 9999: no date a server means
        return None
    return max(0.0, float(moment - (time.time() if now is None else now)))


def _headers_of(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        return headers
    return getattr(exc, "headers", None)


def _finite_float(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _as_status(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
