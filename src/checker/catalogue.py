"""The catalogue: every case ``check-errors`` drives through an app, in the order it reports them.

Use :func:`catalogue` for all of them, or :func:`cases_for` for those one mode can run. Three
groups, each a function below:

* :func:`probe_cases` (in-process only) raise exceptions from probe routes the checker adds
  under ``/__check__/`` to a fresh app: every class of :mod:`src.api.errors`, every Werkzeug
  HTTP error from 400 up, unexpected exceptions (one with a secret in its message), Anthropic
  SDK errors, and the request-level failures a route can meet: malformed JSON, a body of the
  wrong type or above the size limit, a wrong method, HEAD, a trailing-slash redirect.
* :func:`request_cases` (in-process and live) need no route of their own: an unknown route,
  and HEAD on it.
* :func:`course_api_cases` (in-process and live) drive the course API of ``app.py`` to each of
  its errors. In-process they run only if the app has the routes; the ones that need the
  server's configuration (an admin token, a fake AI generator) run in-process only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from src.checker.cases import Case, CaseSetupError, Leak, Mode, Reply, Request, Send

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "ADMIN_TOKEN",
    "COURSE_BODY_LIMIT",
    "PROBE_PREFIX",
    "RATE_LIMIT_ATTEMPTS",
    "SECRET",
    "CheckerProbeError",
    "cases_for",
    "catalogue",
    "course_api_cases",
    "probe_cases",
    "request_cases",
]

#: Where the probe routes live; an app under check must not use this prefix itself.
PROBE_PREFIX = "/__check__"
#: A secret planted in exception messages; a response that shows it has leaked.
SECRET = "sk-check-errors-SECRET-7f3a9c"
#: The bearer token the in-process app is configured with; the checker never sends it live.
ADMIN_TOKEN = "check-errors-admin-token"
#: app.py's default MAX_CONTENT_LENGTH; the oversized course body is one byte more.
COURSE_BODY_LIMIT = 64 * 1024
#: How many summary requests the rate-limit case sends at most before giving up on a 429.
RATE_LIMIT_ATTEMPTS = 100

_JSON = (("Content-Type", "application/json"),)
_MISSING_COURSE = "crs_check_missing"
_IN_PROCESS: frozenset[Mode] = frozenset({"in-process"})
_LIVE: frozenset[Mode] = frozenset({"live"})
_RAISE = Request("GET", f"{PROBE_PREFIX}/raise")
_UNKNOWN_ROUTE = f"{PROBE_PREFIX}/no-such-route"


class CheckerProbeError(Exception):
    """The unexpected exception the checker raises; its name is easy to spot if it leaks."""


class _UnprintableError(Exception):
    """An unexpected exception whose ``str()`` itself raises."""

    def __str__(self) -> str:
        raise RuntimeError(f"__str__ exploded ({SECRET})")


def catalogue() -> tuple[Case, ...]:
    """Every case, probes first, then requests from outside, then the course API."""
    return (*probe_cases(), *request_cases(), *course_api_cases())


def cases_for(mode: Mode) -> tuple[Case, ...]:
    """The cases that can run in ``mode``."""
    return tuple(case for case in catalogue() if mode in case.modes)


# --- probe routes (in-process) ----------------------------------------------------------------


def probe_cases() -> tuple[Case, ...]:
    """Exceptions raised from a probe view, and request failures on probe routes."""
    return (
        *_custom_exception_cases(),
        *_werkzeug_cases(),
        *_unexpected_exception_cases(),
        *_anthropic_cases(),
        *_request_failure_cases(),
    )


def _probe(name: str, status: int, raises: Callable[[], BaseException]) -> Case:
    return Case(name, status, _RAISE, raises=raises, leaks=(Leak(SECRET, "the secret"),), modes=_IN_PROCESS)


def _custom_exception_cases() -> tuple[Case, ...]:
    from src.api.errors import (
        AIServiceError,
        APIError,
        AuthorizationError,
        NotFoundError,
        RateLimitError,
        ValidationError,
    )

    hostile_payload: dict[str, object] = {
        "nan": float("nan"),
        "infinity": float("inf"),
        "huge": 2**64,
        "lone_surrogate": "a\ud800b",
        "error": "a payload may not replace the message",
    }
    return (
        _probe("raise APIError (default 500)", 500, lambda: APIError("The checker's APIError with no status.")),
        _probe("raise APIError 409", 409, lambda: APIError("The course changed meanwhile.", 409)),
        _probe(
            "raise APIError 422, payload with NaN, 2**64, a lone surrogate",
            422,
            lambda: APIError("Hostile payload.", 422, payload=hostile_payload),
        ),
        _probe("raise ValidationError", 400, lambda: ValidationError("title must be a string.", field="title")),
        _probe("raise AuthorizationError", 403, lambda: AuthorizationError("Only admins may do this.")),
        _probe("raise NotFoundError", 404, lambda: NotFoundError("Course", "crs_check")),
        _probe("raise RateLimitError", 429, lambda: RateLimitError("Slow down.", retry_after=7.2)),
        _probe(
            "raise AIServiceError with a secret in original_error",
            502,
            lambda: AIServiceError(
                "The AI service is unavailable.", original_error=RuntimeError(f"upstream rejected {SECRET}")
            ),
        ),
        _probe(
            "raise AIServiceError 503 with retry_after",
            503,
            lambda: AIServiceError("The AI service is paused.", retry_after=30, status_code=503),
        ),
    )


def _werkzeug_cases() -> tuple[Case, ...]:
    from werkzeug.datastructures import WWWAuthenticate
    from werkzeug.exceptions import (
        HTTPException,
        MethodNotAllowed,
        ServiceUnavailable,
        TooManyRequests,
        Unauthorized,
        default_exceptions,
    )

    # The headers the contract must keep only exist if the exception carries them.
    special: dict[int, Callable[[], HTTPException]] = {
        401: lambda: Unauthorized(www_authenticate=WWWAuthenticate("bearer", {"realm": "check-errors"})),
        405: lambda: MethodNotAllowed(valid_methods=["GET", "POST"]),
        429: lambda: TooManyRequests(retry_after=30),
        503: lambda: ServiceUnavailable(retry_after=120),
    }
    cases = []
    for code, cls in sorted(default_exceptions.items()):
        if code >= 400:
            raises = special.get(code, cls)
            cases.append(_probe(f"raise werkzeug {code} {cls.__name__}", code, raises))
    return tuple(cases)


def _unexpected_exception_cases() -> tuple[Case, ...]:
    from werkzeug.exceptions import HTTPException

    return (
        _probe(
            "unexpected exception with a secret in its message",
            500,
            lambda: CheckerProbeError(f"database password is {SECRET}"),
        ),
        _probe("unexpected exception whose str() raises", 500, _UnprintableError),
        _probe("HTTPException without a code", 500, lambda: HTTPException(f"proxy failed: {SECRET}")),
    )


def _anthropic_cases() -> tuple[Case, ...]:
    return (
        _probe("anthropic RateLimitError (429, retry-after 7) escapes a view", 502, _anthropic_rate_limit),
        _probe("anthropic InternalServerError (500) escapes a view", 502, _anthropic_server_error),
        _probe("anthropic APIConnectionError escapes a view", 502, _anthropic_connection_error),
    )


def _anthropic_rate_limit() -> BaseException:
    import anthropic

    response = _anthropic_response(429, {"retry-after": "7"})
    return anthropic.RateLimitError(f"rate limited for key {SECRET}", response=response, body=None)


def _anthropic_server_error() -> BaseException:
    import anthropic

    response = _anthropic_response(500, {})
    return anthropic.InternalServerError(f"upstream crashed for key {SECRET}", response=response, body=None)


def _anthropic_connection_error() -> BaseException:
    import anthropic
    import httpx2

    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    return anthropic.APIConnectionError(message=f"could not connect with key {SECRET}", request=request)


def _anthropic_response(status: int, headers: dict[str, str]) -> httpx2.Response:
    """An offline ``httpx2.Response`` such as the SDK's errors carry (no network involved)."""
    import httpx2

    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    return httpx2.Response(status, headers=headers, request=request)


def _request_failure_cases() -> tuple[Case, ...]:
    from src.api.errors import RateLimitError

    return (
        Case(
            "malformed JSON body",
            400,
            Request("POST", f"{PROBE_PREFIX}/json", _JSON, b'{"title": '),
            modes=_IN_PROCESS,
        ),
        Case(
            "body that is not JSON",
            415,
            Request("POST", f"{PROBE_PREFIX}/json", (("Content-Type", "text/plain"),), b"title=x"),
            modes=_IN_PROCESS,
        ),
        Case(
            "body above the size limit",
            413,
            Request("POST", f"{PROBE_PREFIX}/upload", (("Content-Type", "application/octet-stream"),), b"x" * 4096),
            modes=_IN_PROCESS,
        ),
        Case(
            "wrong method",
            405,
            Request("DELETE", f"{PROBE_PREFIX}/ok"),
            required_headers=("Allow",),
            modes=_IN_PROCESS,
        ),
        Case(
            "HEAD on a view raising RateLimitError",
            429,
            Request("HEAD", _RAISE.path),
            raises=lambda: RateLimitError("Slow down.", retry_after=3),
            modes=_IN_PROCESS,
        ),
        Case(
            "trailing-slash redirect stays a redirect",
            308,
            Request("GET", f"{PROBE_PREFIX}/folder"),
            kind="redirect",
            required_headers=("Location",),
            modes=_IN_PROCESS,
        ),
        Case("successful response", 200, Request("GET", f"{PROBE_PREFIX}/ok"), kind="success", modes=_IN_PROCESS),
    )


# --- requests from outside (in-process and live) ----------------------------------------------


def request_cases() -> tuple[Case, ...]:
    """Cases any app answers without help: an unknown route, with GET and with HEAD."""
    return (
        Case("unknown route", 404, Request("GET", _UNKNOWN_ROUTE)),
        Case("HEAD on an unknown route", 404, Request("HEAD", _UNKNOWN_ROUTE)),
    )


# --- the course API of app.py -----------------------------------------------------------------


def course_api_cases() -> tuple[Case, ...]:
    """The course API's own error routes, reached through ordinary requests."""
    missing = f"/api/courses/{_MISSING_COURSE}"
    summary = f"{missing}/summary"
    wrong_token = (("Authorization", "Bearer not-the-admin-token"),)
    admin = {"ADMIN_TOKEN": ADMIN_TOKEN}
    return (
        Case("health check", 200, Request("GET", "/healthz"), kind="success", needs=("healthz",)),
        Case("GET a missing course", 404, Request("GET", missing), needs=("api.get_course",)),
        Case("HEAD a missing course", 404, Request("HEAD", missing), needs=("api.get_course",)),
        Case(
            "POST a course without a title",
            400,
            Request("POST", "/api/courses", _JSON, b'{"description": "no title"}'),
            needs=("api.create_course",),
        ),
        Case(
            "POST a course with malformed JSON",
            400,
            Request("POST", "/api/courses", _JSON, b'{"title": "unterminated'),
            needs=("api.create_course",),
        ),
        Case(
            "POST a course that is not JSON",
            415,
            Request("POST", "/api/courses", (("Content-Type", "text/plain"),), b"title=x"),
            needs=("api.create_course",),
        ),
        Case(
            "POST a course above the size limit",
            413,
            Request("POST", "/api/courses", _JSON, b'{"title": "' + b"x" * COURSE_BODY_LIMIT + b'"}'),
            needs=("api.create_course",),
        ),
        Case(
            "PUT /api/courses (wrong method)",
            405,
            Request("PUT", "/api/courses", _JSON, b"{}"),
            required_headers=("Allow",),
            needs=("api.create_course",),
        ),
        Case(
            "DELETE a course without a token",
            401,
            Request("DELETE", missing),
            required_headers=("WWW-Authenticate",),
            config=admin,
            needs=("api.delete_course",),
            modes=_IN_PROCESS,
        ),
        Case(
            # A server without ADMIN_TOKEN refuses every delete with 403 before asking for a token.
            "DELETE a course without a token",
            401,
            Request("DELETE", missing),
            also_accepted=(403,),
            required_headers=("WWW-Authenticate",),
            modes=_LIVE,
        ),
        Case(
            "DELETE a course with a wrong token",
            403,
            Request("DELETE", missing, wrong_token),
            config=admin,
            needs=("api.delete_course",),
        ),
        Case(
            "DELETE a missing course as admin",
            404,
            Request("DELETE", missing, (("Authorization", f"Bearer {ADMIN_TOKEN}"),)),
            config=admin,
            needs=("api.delete_course",),
            modes=_IN_PROCESS,
        ),
        Case(
            "summary of a missing course",
            404,
            Request("POST", summary),
            needs=("api.summarise_course",),
            modes=_IN_PROCESS,
        ),
        Case(
            # An earlier run within the rate window may have used up this client's allowance.
            "summary of a missing course",
            404,
            Request("POST", summary),
            also_accepted=(429,),
            modes=_LIVE,
        ),
        Case(
            "summary past the rate limit",
            429,
            Request("POST", summary),
            required_headers=("Retry-After",),
            prepare=_exhaust_rate_limit,
            needs=("api.summarise_course",),
        ),
        Case(
            "summary when the AI service fails",
            502,
            Request("POST", summary),
            leaks=(Leak(SECRET, "the secret"), Leak("RuntimeError", "original_error's type name", whole_word=True)),
            prepare=_summary_of_new_course,
            config={"AI_GENERATOR": _FailingGenerator()},
            needs=("api.create_course", "api.summarise_course"),
            modes=_IN_PROCESS,
        ),
        Case(
            "summary when the AI answers nothing",
            502,
            Request("POST", summary),
            prepare=_summary_of_new_course,
            config={"AI_GENERATOR": _SilentGenerator()},
            needs=("api.create_course", "api.summarise_course"),
            modes=_IN_PROCESS,
        ),
    )


class _FailingGenerator:
    """A fake AI generator whose every call fails, with a secret in the upstream error."""

    def generate(self, prompt: str) -> str:
        from src.api.errors import AIServiceError

        raise AIServiceError(
            "The AI service is unavailable.", original_error=RuntimeError(f"API key {SECRET} was rejected")
        )


class _SilentGenerator:
    """A fake AI generator that answers with nothing but whitespace."""

    def generate(self, prompt: str) -> str:
        return "  \n"


def _exhaust_rate_limit(send: Send) -> Request:
    """Send summary requests until one is refused with 429; that request is the one to check."""
    request = Request("POST", f"/api/courses/{_MISSING_COURSE}/summary")
    reply: Reply | None = None
    for _ in range(RATE_LIMIT_ATTEMPTS):
        reply = send(request)
        if reply.status == 429:
            return request
    last = "none" if reply is None else str(reply.status)
    raise CaseSetupError(f"no 429 after {RATE_LIMIT_ATTEMPTS} summary requests (the last answered {last})")


def _summary_of_new_course(send: Send) -> Request:
    """Create a course and return the request for its summary."""
    body = json.dumps({"title": "Error contracts", "description": "How a checker proves them."}).encode()
    reply = send(Request("POST", "/api/courses", _JSON, body))
    location = reply.header("Location")
    if reply.status != HTTPStatus.CREATED or not location:
        raise CaseSetupError(f"creating a course to summarise answered {reply.status} without a Location")
    return Request("POST", f"{urlsplit(location).path}/summary")
