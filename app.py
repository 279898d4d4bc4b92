"""A small course API that hosts the JSON error contract.

Serve it with ``flask --app app run`` or ``gunicorn "app:create_app()"``; build it in code and in
tests with :func:`create_app`. Each route reaches its errors through ordinary use:

* ``GET /healthz``: 200 ``{"status": "ok"}``.
* ``GET /api/courses``: 200, every course.
* ``POST /api/courses`` with ``{"title": ..., "description": ...}``: 201 and a ``Location``;
  400 ``ValidationError`` naming the ``field``, 400 for malformed JSON, 415 when the body is not
  JSON, 413 above ``MAX_CONTENT_LENGTH``.
* ``GET /api/courses/<id>``: 200, or 404 ``NotFoundError``.
* ``DELETE /api/courses/<id>`` with ``Authorization: Bearer <ADMIN_TOKEN>``: 204; 401 with
  ``WWW-Authenticate`` without a bearer token, 403 ``AuthorizationError`` for a wrong token or
  when no ``ADMIN_TOKEN`` is configured, 404 for an unknown course.
* ``POST /api/courses/<id>/summary``: 200 with a summary written by the AI generator; 429
  ``RateLimitError`` with ``Retry-After`` past ``SUMMARY_RATE_LIMIT`` calls per client in
  ``SUMMARY_RATE_WINDOW`` seconds, 404, 502 ``AIServiceError`` when the AI call fails.

Configuration, from defaults, then ``FLASK_``-prefixed environment variables, then the mapping
given to :func:`create_app`:

* ``ADMIN_TOKEN`` (default None: deleting is refused): the bearer token that may delete.
* ``AI_GENERATOR`` (default None): any object with ``generate(prompt: str) -> str`` that raises
  ``AIServiceError`` on failure; without one, a ``BaseGenerator`` is built on first use.
* ``SUMMARY_RATE_LIMIT`` (10) and ``SUMMARY_RATE_WINDOW`` (60 s); ``RATE_LIMIT_CLOCK``
  (``time.monotonic``) is the limiter's clock.
* ``MAX_CONTENT_LENGTH`` (64 KiB) and ``PROPAGATE_EXCEPTIONS`` (False, so that testing and debug
  mode answer failures with the contract too; set it to True to let exceptions propagate).

Courses live in memory, per process. Importing this module does not import ``anthropic``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, cast

from flask import Blueprint, Flask, current_app, g, request, url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from src.api.errors import AIServiceError, AuthorizationError, NotFoundError, RateLimitError, ValidationError
from src.utils.error_handlers import ContractFlask, register_error_handlers
from src.utils.rate_limit import SlidingWindowLimiter

__all__ = ["DEFAULT_CONFIG", "Course", "CourseStore", "TextGenerator", "create_app"]

#: Configuration every app starts from.
DEFAULT_CONFIG: Mapping[str, Any] = MappingProxyType(
    {
        "ADMIN_TOKEN": None,
        "AI_GENERATOR": None,
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "PROPAGATE_EXCEPTIONS": False,
        "RATE_LIMIT_CLOCK": time.monotonic,
        "SUMMARY_RATE_LIMIT": 10,
        "SUMMARY_RATE_WINDOW": 60.0,
    }
)

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000

_COURSES = "courses"
_LIMITER = "summary_limiter"
_GENERATOR = "ai_generator"


class TextGenerator(Protocol):
    """What the summary route needs from an AI generator (``BaseGenerator`` is one)."""

    def generate(self, prompt: str) -> str:
        """Return the model's answer to ``prompt``; raise ``AIServiceError`` on failure."""
        ...


@dataclass(frozen=True)
class Course:
    """One course of the catalogue."""

    id: str
    title: str
    description: str

    def to_json(self) -> dict[str, str]:
        """The course as a JSON object."""
        return {"id": self.id, "title": self.title, "description": self.description}


class CourseStore:
    """The courses of one app, kept in memory; thread-safe."""

    def __init__(self) -> None:
        self._courses: dict[str, Course] = {}
        self._lock = threading.Lock()

    def all(self) -> list[Course]:
        """Every course, oldest first."""
        with self._lock:
            return list(self._courses.values())

    def add(self, title: str, description: str) -> Course:
        """Store a new course under a fresh ``crs_...`` id and return it."""
        course = Course(id=f"crs_{secrets.token_hex(6)}", title=title, description=description)
        with self._lock:
            self._courses[course.id] = course
        return course

    def get(self, course_id: str) -> Course:
        """The course ``course_id``; raises ``NotFoundError`` if there is none."""
        with self._lock:
            course = self._courses.get(course_id)
        if course is None:
            raise NotFoundError("Course", course_id)
        return course

    def delete(self, course_id: str) -> None:
        """Remove the course ``course_id``; raises ``NotFoundError`` if there is none."""
        with self._lock:
            if self._courses.pop(course_id, None) is None:
                raise NotFoundError("Course", course_id)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the course API with the JSON error contract; ``config`` overrides everything else.

    Raises ``ValueError`` if the summary rate limit settings are not positive numbers.
    """
    app = ContractFlask(__name__)
    app.config.update(DEFAULT_CONFIG)
    app.config.from_prefixed_env()
    if config is not None:
        app.config.from_mapping(config)
    register_error_handlers(app)

    app.extensions[_COURSES] = CourseStore()
    app.extensions[_LIMITER] = SlidingWindowLimiter(
        app.config["SUMMARY_RATE_LIMIT"], app.config["SUMMARY_RATE_WINDOW"], clock=app.config["RATE_LIMIT_CLOCK"]
    )
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.register_blueprint(api, url_prefix="/api")
    return app


api = Blueprint("api", __name__)


def _healthz() -> dict[str, str]:
    return {"status": "ok"}


@api.get("/courses")
def list_courses() -> dict[str, Any]:
    """Every course."""
    return {"courses": [course.to_json() for course in _store().all()]}


@api.post("/courses")
def create_course() -> tuple[dict[str, str], int, dict[str, str]]:
    """Create a course from a JSON object with ``title`` and an optional ``description``."""
    title, description = _course_fields(request.get_json())
    course = _store().add(title, description)
    return course.to_json(), 201, {"Location": url_for("api.get_course", course_id=course.id)}


@api.get("/courses/<course_id>")
def get_course(course_id: str) -> dict[str, str]:
    """One course."""
    return _store().get(course_id).to_json()


@api.delete("/courses/<course_id>")
def delete_course(course_id: str) -> tuple[str, int]:
    """Delete a course; only the bearer of ``ADMIN_TOKEN`` may."""
    _require_admin()
    _store().delete(course_id)
    return "", 204


@api.post("/courses/<course_id>/summary")
def summarise_course(course_id: str) -> dict[str, str]:
    """Ask the AI generator for a two-sentence summary of a course; rate limited per client."""
    wait = cast(SlidingWindowLimiter, current_app.extensions[_LIMITER]).hit(request.remote_addr or "unknown")
    if wait is not None:
        raise RateLimitError("Too many summary requests; try again later.", retry_after=wait)
    course = _store().get(course_id)
    summary = _generator().generate(
        "Summarise this course for a catalogue in at most two sentences.\n\n"
        f"Title: {course.title}\nDescription: {course.description or '(none)'}"
    )
    if not isinstance(summary, str) or not summary.strip():
        raise AIServiceError("The AI service returned no summary.")
    return {"course_id": course.id, "summary": summary.strip()}


def _store() -> CourseStore:
    return cast(CourseStore, current_app.extensions[_COURSES])


def _generator() -> TextGenerator:
    configured = current_app.config.get("AI_GENERATOR")
    if configured is not None:
        return cast(TextGenerator, configured)
    built = current_app.extensions.get(_GENERATOR)
    if built is None:
        # Imported here: the generator module brings in the retry machinery and, on first use,
        # the anthropic SDK, which routes that never call the AI should not pay for.
        from src.generators.base_generator import BaseGenerator

        built = current_app.extensions.setdefault(_GENERATOR, BaseGenerator())
    return cast(TextGenerator, built)


def _course_fields(body: object) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    for name in body:
        if name not in ("title", "description"):
            raise ValidationError(f"Unknown field: {name}.", field=name)
    title = body.get("title")
    if title is None:
        raise ValidationError("title is required.", field="title")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("title must be a non-empty string.", field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(f"title must be at most {TITLE_MAX_LENGTH} characters.", field="title")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ValidationError("description must be a string.", field="description")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(f"description must be at most {DESCRIPTION_MAX_LENGTH} characters.", field="description")
    return title.strip(), description.strip()


def _require_admin() -> None:
    expected = current_app.config.get("ADMIN_TOKEN")
    if not expected:
        raise AuthorizationError("Deleting courses is disabled on this server.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Deleting a course needs an admin bearer token.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "courses"}),
        )
    if not hmac.compare_digest(
        token.strip().encode("utf-8", "surrogatepass"), str(expected).encode("utf-8", "surrogatepass")
    ):
        raise AuthorizationError("This token may not delete courses.")
    g.user_id = "admin"
