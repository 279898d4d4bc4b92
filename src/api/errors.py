"""The API's exceptions: raise one from a view and the client gets the JSON error contract.

Raise these from Flask views, or from code the views call, when a request cannot be served. The
handlers in :mod:`src.utils.error_handlers` turn each one into a response whose status is the
exception's ``status_code`` and whose body is :meth:`APIError.to_dict` plus the request id:
``{"error": "<message>", "code": <status>, ...}``. Catch :class:`APIError` to handle them all.

Class tree, with the status each class answers::

    * APIError — any 4xx/5xx, given per instance (500 by default)
      + ValidationError — 400
      + AuthorizationError — 403
      + NotFoundError — 404
      + RateLimitError — 429
      + AIServiceError — 502 (another 5xx by keyword)

:data:`ERROR_CLASSES_BY_STATUS` maps each fixed status to its class; :func:`error_class_for_status`
answers :class:`APIError` for every other status.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from src.utils.strict_json import MAX_SAFE_INTEGER, JSONValue, to_ijson

__all__ = [
    "ERROR_CLASSES_BY_STATUS",
    "RESERVED_KEYS",
    "AIServiceError",
    "APIError",
    "AuthorizationError",
    "NotFoundError",
    "RateLimitError",
    "ValidationError",
    "error_class_for_status",
]

#: Body keys that only the error itself sets; a ``payload`` key with one of these names is dropped.
RESERVED_KEYS = frozenset({"error", "code", "field", "resource_type", "resource_id", "retry_after", "request_id"})


class APIError(Exception):
    """An error the client sees as a JSON body ``{"error": message, "code": status_code}``.

    Catch it to handle every error of this module. Raise it directly for a status without a class
    of its own (409, 422, 503...). ``payload`` adds its keys to the body; it can never replace
    ``error``, ``code`` or another key of :data:`RESERVED_KEYS`, and its values are converted to
    strict JSON when the body is built (see :mod:`src.utils.strict_json`).

    Raises ``ValueError`` if ``status_code`` is not an ``int`` from 400 to 599.
    """

    status_code: int = 500

    def __init__(self, message: str, status_code: int = 500, payload: Mapping[str, object] | None = None) -> None:
        _check_status(status_code, 400, type(self).__name__)
        super().__init__(message)
        self.message: str = message if isinstance(message, str) else _safe_str(message)
        self.status_code = status_code
        self.payload: Mapping[str, object] = dict(payload) if payload is not None else {}

    def to_dict(self) -> dict[str, JSONValue]:
        """The JSON body: ``error`` and ``code``, this error's own fields, then the payload's keys.

        Always strict JSON data. A message with nothing printable in it is replaced by the
        status's reason phrase, so ``error`` is never blank.
        """
        body: dict[str, JSONValue] = {"error": _readable(self.message, self.status_code), "code": self.status_code}
        for key, value in self._fields().items():
            if value is not None:
                body[key] = to_ijson(value)
        extra = to_ijson(self.payload)
        if isinstance(extra, dict):
            body.update((key, value) for key, value in extra.items() if key not in RESERVED_KEYS)
        return body

    def __str__(self) -> str:
        """``"<status> <class>: <message>"`` and this error's fields, for logs; never raises."""
        try:
            details = ", ".join(f"{key}={_safe_repr(value)}" for key, value in self._details().items())
            text = f"{self.status_code} {type(self).__name__}: {self.message}"
            return f"{text} ({details})" if details else text
        except Exception:
            return f"<{type(self).__name__}: unprintable>"

    def _fields(self) -> Mapping[str, object]:
        """The reserved body fields this class adds (a ``None`` value is left out)."""
        return {}

    def _details(self) -> Mapping[str, object]:
        """What :meth:`__str__` shows after the message: the body fields unless overridden."""
        return {key: value for key, value in self._fields().items() if value is not None}


class ValidationError(APIError):
    """The request's data is invalid; ``field`` names the offending input when there is one."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None, *, payload: Mapping[str, object] | None = None) -> None:
        super().__init__(message, self.status_code, payload)
        self.field = field

    def _fields(self) -> Mapping[str, object]:
        return {"field": None if self.field is None else _text(self.field)}


class AuthorizationError(APIError):
    """The caller is known (or anonymous) but not allowed to do this."""

    status_code = 403

    def __init__(self, message: str, *, payload: Mapping[str, object] | None = None) -> None:
        super().__init__(message, self.status_code, payload)


class NotFoundError(APIError):
    """The resource named by the request does not exist: ``"Course crs_123 not found"``."""

    status_code = 404

    def __init__(
        self, resource_type: str, resource_id: str | int, *, payload: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(f"{resource_type} {resource_id} not found", self.status_code, payload)
        self.resource_type = resource_type
        self.resource_id = resource_id

    def _fields(self) -> Mapping[str, object]:
        resource_id = self.resource_id
        if isinstance(resource_id, bool) or not isinstance(resource_id, int | str):
            resource_id = _text(resource_id)
        return {"resource_type": _text(self.resource_type), "resource_id": resource_id}


class RateLimitError(APIError):
    """The caller sent too many requests; it may try again after ``retry_after`` seconds.

    ``retry_after`` is stored as whole seconds, rounded up, negative values clamped to 0 and
    values above 2**53 - 1 (I-JSON's largest exact integer) to that, and goes to the
    ``Retry-After`` header and the body. Raises ``ValueError`` if it is not a finite
    real number.
    """

    status_code = 429

    def __init__(self, message: str, retry_after: float = 60, *, payload: Mapping[str, object] | None = None) -> None:
        super().__init__(message, self.status_code, payload)
        self.retry_after: int = _delay_seconds(retry_after)

    def _fields(self) -> Mapping[str, object]:
        return {"retry_after": self.retry_after}


class AIServiceError(APIError):
    """The AI service failed or could not be reached; the client sees 502 unless told otherwise.

    ``original_error`` is the upstream failure, kept for logs and never sent to the client.
    ``retry_after`` (seconds, normalised as in :class:`RateLimitError`) passes an upstream's
    Retry-After on to the client. ``status_code`` picks another 5xx, e.g. 503 when a circuit
    breaker refuses the call; a status outside 500-599 raises ``ValueError``.
    """

    status_code = 502

    def __init__(
        self,
        message: str,
        original_error: BaseException | None = None,
        *,
        retry_after: float | None = None,
        status_code: int = 502,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        _check_status(status_code, 500, type(self).__name__)
        super().__init__(message, status_code, payload)
        self.original_error = original_error
        self.retry_after: int | None = None if retry_after is None else _delay_seconds(retry_after)

    def _fields(self) -> Mapping[str, object]:
        return {"retry_after": self.retry_after}

    def _details(self) -> Mapping[str, object]:
        details: dict[str, object] = dict(super()._details())
        if self.original_error is not None:
            details["original_error"] = self.original_error
        return details


#: The one mapping from a fixed status to the class that answers it.
ERROR_CLASSES_BY_STATUS: Mapping[int, type[APIError]] = MappingProxyType(
    {
        cls.status_code: cls
        for cls in (ValidationError, AuthorizationError, NotFoundError, RateLimitError, AIServiceError)
    }
)


def error_class_for_status(status_code: int) -> type[APIError]:
    """The class that answers ``status_code``: its own class if it has one, else :class:`APIError`."""
    return ERROR_CLASSES_BY_STATUS.get(status_code, APIError)


def _check_status(status_code: object, lowest: int, owner: str) -> None:
    if isinstance(status_code, bool) or not isinstance(status_code, int) or not lowest <= status_code <= 599:
        raise ValueError(f"{owner} status_code must be an int from {lowest} to 599, got {_safe_repr(status_code)}")


def _delay_seconds(seconds: object) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError(f"retry_after must be a finite number of seconds, got {_safe_repr(seconds)}")
    # Capped where JSON integers stop being exact (I-JSON): a larger one would reach the body as a string.
    return min(max(0, math.ceil(seconds)), MAX_SAFE_INTEGER)


def _readable(message: str, status_code: int) -> str:
    text = to_ijson(message)
    if isinstance(text, str) and any(ch.isprintable() and not ch.isspace() for ch in text):
        return text
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Client Error" if status_code < 500 else "Server Error"


def _text(value: object) -> str:
    return value if isinstance(value, str) else _safe_str(value)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
