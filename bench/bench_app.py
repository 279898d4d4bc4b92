"""The two apps the HTTP benchmark serves, each with gunicorn on 127.0.0.1.

* ``gunicorn "bench.bench_app:create_bench_app()"``: the course API from ``app.create_app`` with
  the JSON error contract, its summary route limited to one call per client per hour (so every
  later call is a 429 before any AI is involved), plus the bench-only route ``GET /bench/boom``
  that raises, for the 500.
* ``gunicorn "bench.bench_app:create_plain_app()"``: a plain Flask app without our handlers, with
  the same ``/healthz``, so unknown URLs get Flask's own HTML 404.

Nothing else imports this module; it is not part of the application.
"""

from __future__ import annotations

from flask import Flask

from app import create_app

__all__ = ["BOOM_PATH", "RATE_LIMITED_PATH", "create_bench_app", "create_plain_app"]

#: The bench-only route that raises.
BOOM_PATH = "/bench/boom"
#: The summary route of a course that does not exist: the limiter answers first, 429 after one call.
RATE_LIMITED_PATH = "/api/courses/crs_bench/summary"


class BenchFailure(RuntimeError):
    """Raised on purpose by :data:`BOOM_PATH`."""


def _boom() -> str:
    raise BenchFailure("bench: a deliberate failure for the 500 path")


def _healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_bench_app() -> Flask:
    """The course API with the contract, a summary limit of 1 per hour and ``GET /bench/boom``."""
    app = create_app({"SUMMARY_RATE_LIMIT": 1, "SUMMARY_RATE_WINDOW": 3600.0})
    app.add_url_rule(BOOM_PATH, "bench_boom", _boom)
    return app


def create_plain_app() -> Flask:
    """A plain Flask app with only ``GET /healthz``: Flask's default error pages, no handlers of ours."""
    app = Flask(__name__)
    app.add_url_rule("/healthz", "healthz", _healthz)
    return app
