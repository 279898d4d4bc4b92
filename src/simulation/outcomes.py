"""What one simulated attempt does: the outcome names a scenario is written in.

Each name stands for a real exception object of the kind the wrapped call would
raise, so a simulation exercises the same classification (transient or
permanent, Retry-After or not) as production:

* ``ok`` — the attempt succeeds.
* ``timeout``, ``connection``, ``permission``, ``notfound``, ``value`` —
  ``TimeoutError``, ``ConnectionError``, ``PermissionError``,
  ``FileNotFoundError`` and ``ValueError``.
* ``ai-ratelimit`` (429), ``ai-overloaded`` (529), ``ai-server`` (500),
  ``ai-badrequest`` (400), ``ai-auth`` (401) — the Anthropic SDK's
  ``RateLimitError``, ``OverloadedError``, ``InternalServerError``,
  ``BadRequestError`` and ``AuthenticationError``, each with a real ``httpx2``
  response; ``ai-connection`` and ``ai-timeout`` — its ``APIConnectionError``
  and ``APITimeoutError``.
* ``http-429``, ``http-500``, ``http-503``, ``http-404`` — a urllib
  ``HTTPError`` with that status, as a plain HTTP client raises it.

The HTTP outcomes (``ai-*`` with a status and ``http-*``) accept a Retry-After
in seconds, written ``ai-ratelimit@7``: it becomes the response's ``retry-after``
header. Building an ``ai-*`` exception imports ``anthropic`` (over a second), so
it happens only when such an outcome is actually used; nothing touches the network.
"""

from __future__ import annotations

import errno
import functools
import http
import math
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from types import MappingProxyType

__all__ = ["OUTCOMES", "Outcome", "OutcomeKind"]

_API_URL = "https://api.anthropic.com/v1/messages"
_HTTP_URL = "http://upstream.invalid/resource"


@dataclass(frozen=True, slots=True)
class OutcomeKind:
    """One outcome name in the catalogue :data:`OUTCOMES`: what it raises and whether it takes ``@seconds``."""

    name: str
    summary: str
    """What the attempt does, e.g. ``"429 RateLimitError (anthropic)"``."""
    takes_retry_after: bool
    """Whether ``name@seconds`` is allowed: only outcomes with an HTTP response have headers."""
    build: Callable[[float | None], BaseException] | None
    """Makes a fresh exception, given the Retry-After; ``None`` for a success."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt does: an outcome name from :data:`OUTCOMES`, with an optional Retry-After.

    Construct it directly or parse it with :func:`src.simulation.scenario.parse_outcome`.
    Raises ``ValueError`` (one line, naming the valid choices) for an unknown name,
    or for a Retry-After on an outcome without HTTP headers, or one that is
    negative, NaN or infinite.
    """

    name: str
    retry_after: float | None = None

    def __post_init__(self) -> None:
        kind = OUTCOMES.get(self.name)
        if kind is None:
            raise ValueError(f"unknown outcome {self.name!r}; choose from {', '.join(OUTCOMES)}")
        if self.retry_after is None:
            return
        if not kind.takes_retry_after:
            raise ValueError(f"{self.name!r} has no HTTP response to carry a Retry-After ('@')")
        if not math.isfinite(self.retry_after) or self.retry_after < 0:
            raise ValueError(f"Retry-After must be a finite number of seconds >= 0, got {self.retry_after!r}")

    @property
    def kind(self) -> OutcomeKind:
        """This outcome's catalogue entry."""
        return OUTCOMES[self.name]

    @property
    def succeeds(self) -> bool:
        """Whether the attempt returns instead of raising."""
        return self.kind.build is None

    def exception(self) -> BaseException | None:
        """A fresh exception for this attempt to raise, or ``None`` if it succeeds.

        Fresh every time: re-raising one object would grow its traceback on each attempt.
        """
        build = self.kind.build
        return None if build is None else build(self.retry_after)

    def __str__(self) -> str:
        return self.name if self.retry_after is None else f"{self.name}@{self.retry_after:g}"


# --- builders --------------------------------------------------------------------------------


def _plain(name: str, factory: Callable[[], BaseException]) -> OutcomeKind:
    def build(retry_after: float | None) -> BaseException:
        return factory()

    return OutcomeKind(name, type(factory()).__name__, takes_retry_after=False, build=build)


def _ai(name: str, status: int, class_name: str, error_type: str) -> OutcomeKind:
    return OutcomeKind(
        name,
        f"{status} {class_name} (anthropic)",
        takes_retry_after=True,
        build=functools.partial(_ai_status_error, status, error_type),
    )


def _ai_status_error(status: int, error_type: str, retry_after: float | None) -> BaseException:
    import anthropic
    import httpx2

    classes: dict[int, type[anthropic.APIStatusError]] = {
        400: anthropic.BadRequestError,
        401: anthropic.AuthenticationError,
        429: anthropic.RateLimitError,
        500: anthropic.InternalServerError,
        529: anthropic.OverloadedError,
    }
    headers = {"content-type": "application/json", "request-id": "req_simulated"}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    body = {"type": "error", "error": {"type": error_type, "message": f"Simulated {error_type}."}}
    response = httpx2.Response(status, headers=headers, json=body, request=httpx2.Request("POST", _API_URL))
    return classes[status](f"Error code: {status} - {body}", response=response, body=body)


def _ai_connection(name: str, *, timeout: bool) -> OutcomeKind:
    def build(retry_after: float | None) -> BaseException:
        import anthropic
        import httpx2

        request = httpx2.Request("POST", _API_URL)
        return anthropic.APITimeoutError(request=request) if timeout else anthropic.APIConnectionError(request=request)

    summary = "APITimeoutError" if timeout else "APIConnectionError"
    return OutcomeKind(name, f"{summary} (anthropic)", takes_retry_after=False, build=build)


def _http(status: int) -> OutcomeKind:
    def build(retry_after: float | None) -> BaseException:
        headers = Message()
        headers["Content-Type"] = "text/plain"
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return urllib.error.HTTPError(_HTTP_URL, status, http.HTTPStatus(status).phrase, headers, None)

    return OutcomeKind(f"http-{status}", f"{status} HTTPError (urllib)", takes_retry_after=True, build=build)


OUTCOMES: Mapping[str, OutcomeKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            OutcomeKind("ok", "success", takes_retry_after=False, build=None),
            _plain("timeout", lambda: TimeoutError("simulated timeout")),
            _plain("connection", lambda: ConnectionError("simulated connection failure")),
            _plain("permission", lambda: PermissionError(errno.EACCES, "Permission denied", "simulated.dat")),
            _plain("notfound", lambda: FileNotFoundError(errno.ENOENT, "No such file or directory", "simulated.dat")),
            _plain("value", lambda: ValueError("simulated bad value")),
            _ai("ai-ratelimit", 429, "RateLimitError", "rate_limit_error"),
            _ai("ai-overloaded", 529, "OverloadedError", "overloaded_error"),
            _ai("ai-server", 500, "InternalServerError", "api_error"),
            _ai_connection("ai-connection", timeout=False),
            _ai_connection("ai-timeout", timeout=True),
            _ai("ai-badrequest", 400, "BadRequestError", "invalid_request_error"),
            _ai("ai-auth", 401, "AuthenticationError", "authentication_error"),
            *(_http(status) for status in (429, 500, 503, 404)),
        )
    }
)
"""Every outcome name a scenario may use, in the order help lists them."""
