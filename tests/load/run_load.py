"""Serve the app with gunicorn, send it a bounded concurrent mix of requests, check the contract held.

Run it from the repository root::

    python -m tests.load.run_load                          # 20,000 requests, 3 workers, at most 120 s
    python -m tests.load.run_load --requests 1000 --json   # what tests/test_load_small.py runs

It starts ``gunicorn "tests.load.run_load:load_app()"`` (sync workers, 127.0.0.1, a free port),
waits for ``/healthz``, warms every worker up, then sends ``--requests`` requests from
``--concurrency`` client threads, cycling through :data:`KINDS`: every error the contract covers
(400 malformed JSON and validation, 401, 403, 404 course and route, 405, 413, 415, 429, 500,
502, 503 with Retry-After, failures in ``after_request`` and ``teardown_request``, HEAD, hostile
``X-Request-ID`` values) and the healthy routes. Each response is checked as it arrives; the
log and the workers are checked at the end. gunicorn runs with the caller's environment minus
``FLASK_DEBUG`` (the load measures the production configuration), is always stopped, also on
failure or Ctrl-C, and the run stops by itself at ``--requests`` or after ``--time-limit``
seconds. Worker crashes count from startup; RSS and log records from after the warm-up.

Must hold (exit status 1 otherwise): every error response passes
:func:`src.api.contract.validate_error_response`; no response that should be JSON is not JSON;
every response has the expected status, headers (``Allow``, ``WWW-Authenticate``,
``Retry-After``) and ``X-Request-ID`` (echoed when sane, replaced when hostile); no response
carries a secret, exception text or traceback; no request fails at the transport level; every
error response is logged exactly once (ERROR with traceback for 5xx, INFO without for 4xx); no
worker crashed or was restarted (same worker PIDs, no new "Booting worker"/"Worker exiting"
lines in gunicorn's log); and the workers' summed RSS grew by at most ``--max-rss-growth``
percent. Exit status 2 is a usage error.

:func:`load_app` is the app under load: ``create_app()`` with an admin token, a summary rate
limit that one client address has already used up, a fake AI generator, fault routes, seeded
courses, ``ProxyFix`` (so ``X-Forwarded-For`` names the client, as behind a proxy) and a log
handler that writes one ``contract-log`` line per record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import click

from src.api.contract import ContractViolation, loads_strict, validate_error_response

__all__ = [
    "KINDS",
    "LOAD_ADMIN_TOKEN",
    "LOG_MARKER",
    "SECRET_MARKERS",
    "Kind",
    "LoadReport",
    "load_app",
    "main",
    "run_load",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The gunicorn app spec of :func:`load_app`.
APP_SPEC = "tests.load.run_load:load_app()"
#: Bearer token the load app accepts for deletes; the load never sends it.
LOAD_ADMIN_TOKEN = "load-admin-token-7f3a"
#: Every ``contract-log`` line starts with this.
LOG_MARKER = "contract-log"
#: Strings that must never appear in a response: secrets the faults carry, and exception text.
SECRET_MARKERS = (
    "hunter2",
    "sk-ant-load-secret",
    LOAD_ADMIN_TOKEN,
    "Traceback",
    "RuntimeError",
    "ValueError",
    'File "',
    ".py",
)

_RATE_LIMITED_CLIENT = "198.51.100.7"
_SUMMARY_LIMIT = 2
_SUMMARY_WINDOW = 86_400.0
_AI_RETRY_AFTER = 7
_UNAVAILABLE_RETRY_AFTER = 30
_STARTUP_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0
_HTTP_TIMEOUT = 10.0
_MAX_EXAMPLES = 10


# --- the app under load -----------------------------------------------------------------------


def load_app() -> Any:
    """The course API as :func:`app.create_app` builds it, plus the faults and fakes the load needs.

    gunicorn calls this once per worker. Nothing here changes how the handlers answer: the
    extra routes only raise, and the extra hooks only raise on their own paths.
    """
    from flask import Flask, request
    from werkzeug.exceptions import ServiceUnavailable
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import create_app

    _configure_contract_log()
    app: Flask = create_app(
        {
            "ADMIN_TOKEN": LOAD_ADMIN_TOKEN,
            "AI_GENERATOR": _FakeGenerator(),
            "SUMMARY_RATE_LIMIT": _SUMMARY_LIMIT,
            "SUMMARY_RATE_WINDOW": _SUMMARY_WINDOW,
        }
    )
    if "courses" not in app.extensions:
        raise RuntimeError("app.py no longer keeps its CourseStore in app.extensions['courses']")
    app.extensions["courses"] = _seeded_store()

    def crash() -> Any:
        raise RuntimeError("database password hunter2 (ANTHROPIC_API_KEY=sk-ant-load-secret)")

    def unavailable() -> Any:
        raise ServiceUnavailable(retry_after=_UNAVAILABLE_RETRY_AFTER)

    def fine() -> dict[str, str]:
        return {"status": "fine"}

    app.add_url_rule("/fault/crash", "fault_crash", crash)
    app.add_url_rule("/fault/unavailable", "fault_unavailable", unavailable)
    app.add_url_rule("/fault/after-request", "fault_after_request", fine)
    app.add_url_rule("/fault/teardown", "fault_teardown", fine)

    @app.after_request
    def fail_after_request(response: Any) -> Any:
        # Only on the view's own response: a hook that also failed on the JSON 500 would be logged
        # twice by Flask (see test_reliability_handlers.py), which is not what this kind measures.
        if request.path == "/fault/after-request" and response.status_code < 400:
            raise RuntimeError("after_request hook failed (hunter2)")
        return response

    @app.teardown_request
    def fail_teardown(exc: BaseException | None) -> None:
        if request.path == "/fault/teardown":
            raise RuntimeError("teardown failed (hunter2)")

    # Behind a proxy the README asks for ProxyFix; here it lets the load pick client addresses.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    # Use up the summary allowance of one client address, so its calls are all 429 from now on.
    client = app.test_client()
    for _ in range(_SUMMARY_LIMIT):
        client.post("/api/courses/crs_load_ok/summary", headers={"X-Forwarded-For": _RATE_LIMITED_CLIENT})
    return app


class _FakeGenerator:
    """An AI generator whose answer depends on the course title in the prompt."""

    def generate(self, prompt: str) -> str:
        from src.api.errors import AIServiceError

        if "Title: AI down" in prompt:
            raise AIServiceError(
                "The AI service is overloaded; try again later",
                original_error=RuntimeError("upstream 529 for key sk-ant-load-secret"),
                retry_after=_AI_RETRY_AFTER,
            )
        if "Title: AI broken" in prompt:
            raise AIServiceError("The AI service call failed", original_error=ValueError("hunter2 in the body"))
        return "A course that loads well."


def _seeded_store() -> Any:
    from app import Course, CourseStore

    class SeededStore(CourseStore):
        """A course store that also holds fixed courses, the same in every worker."""

        def __init__(self, seeded: Sequence[Course]) -> None:
            super().__init__()
            self._seeded = {course.id: course for course in seeded}

        def get(self, course_id: str) -> Course:
            seeded = self._seeded.get(course_id)
            return seeded if seeded is not None else super().get(course_id)

    return SeededStore(
        [
            Course("crs_load_ok", "Healthy", "Answers with a summary."),
            Course("crs_load_ai_down", "AI down", "The AI answers 502 with Retry-After."),
            Course("crs_load_ai_broken", "AI broken", "The AI answers 502."),
        ]
    )


class _ContractLogFormatter(logging.Formatter):
    """One line per record: level, status, request id, logger, and whether a traceback came with it."""

    def format(self, record: logging.LogRecord) -> str:
        has_traceback = record.exc_info is not None and record.exc_info[1] is not None
        return (
            f"{LOG_MARKER} level={record.levelname} status={getattr(record, 'status_code', '-')} "
            f"request_id={getattr(record, 'request_id', '-')} traceback={'yes' if has_traceback else 'no'} "
            f"logger={record.name}"
        )


def _configure_contract_log() -> None:
    # On the root logger, so that a record from anywhere else (Flask's app.logger...) shows up too.
    root = logging.getLogger()
    if any(isinstance(handler.formatter, _ContractLogFormatter) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ContractLogFormatter())
    root.addHandler(handler)
    logging.getLogger("src.utils.error_logging").setLevel(logging.INFO)


# --- what the load sends ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix, and what its response must look like.

    ``client`` sets ``X-Forwarded-For``: ``"unique"`` gives each request its own address.
    ``expect_headers`` maps a header to its required value (``None``: present, any value).
    ``request_id`` replaces the usual well-formed id with a hostile one, which must not be echoed.
    """

    name: str
    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str | bytes], ...] = ()
    body: bytes | None = None
    client: str | None = None
    expect_headers: Mapping[str, str | None] = field(default_factory=dict)
    request_id: bytes | None = None


_JSON = (("Content-Type", "application/json"),)
_OVERSIZED = json.dumps({"title": "x", "description": "y" * 70_000}).encode()

#: The mix, sent round-robin.
KINDS: tuple[Kind, ...] = (
    Kind("200 healthz", "GET", "/healthz", 200),
    Kind("200 course", "GET", "/api/courses/crs_load_ok", 200),
    Kind("200 summary", "POST", "/api/courses/crs_load_ok/summary", 200, client="unique"),
    Kind("400 malformed JSON", "POST", "/api/courses", 400, _JSON, b'{"title": "unterminated'),
    Kind("400 validation", "POST", "/api/courses", 400, _JSON, b'{"title": ""}'),
    Kind(
        "401 no token",
        "DELETE",
        "/api/courses/crs_load_ok",
        401,
        expect_headers={"WWW-Authenticate": "Bearer realm=courses"},
    ),
    Kind("403 wrong token", "DELETE", "/api/courses/crs_load_ok", 403, (("Authorization", "Bearer not-it"),)),
    Kind("404 course", "GET", "/api/courses/crs_missing", 404),
    Kind("404 route", "GET", "/no/such/route", 404),
    Kind("405 method", "DELETE", "/healthz", 405, expect_headers={"Allow": None}),
    Kind("413 oversized", "POST", "/api/courses", 413, _JSON, _OVERSIZED),
    Kind("415 not JSON", "POST", "/api/courses", 415, (("Content-Type", "text/plain"),), b"title=x"),
    Kind(
        "429 rate limited",
        "POST",
        "/api/courses/crs_load_ok/summary",
        429,
        client=_RATE_LIMITED_CLIENT,
        expect_headers={"Retry-After": None},
    ),
    Kind("500 exception", "GET", "/fault/crash", 500),
    Kind("500 after_request", "GET", "/fault/after-request", 500),
    Kind("500 teardown", "GET", "/fault/teardown", 500),
    Kind(
        "502 AI + Retry-After",
        "POST",
        "/api/courses/crs_load_ai_down/summary",
        502,
        client="unique",
        expect_headers={"Retry-After": str(_AI_RETRY_AFTER)},
    ),
    Kind("502 AI", "POST", "/api/courses/crs_load_ai_broken/summary", 502, client="unique"),
    Kind(
        "503 Retry-After",
        "GET",
        "/fault/unavailable",
        503,
        expect_headers={"Retry-After": str(_UNAVAILABLE_RETRY_AFTER)},
    ),
    Kind("HEAD 404", "HEAD", "/api/courses/crs_missing", 404),
    Kind("HEAD 500", "HEAD", "/fault/crash", 500),
    Kind("hostile id: long", "GET", "/no/such/route", 404, request_id=b"x" * 65),
    Kind("hostile id: space+quotes", "GET", "/no/such/route", 404, request_id=b'a "quoted" id'),
    Kind("hostile id: unicode", "GET", "/api/courses/crs_missing", 404, request_id="naïve-ünïcode".encode()),
    Kind("hostile id: two ids", "GET", "/healthz", 200, (("X-Request-ID", "second-id"),), request_id=b"first-id"),
)

#: Malformed requests that gunicorn answers itself, before the app sees them; sent once each
#: after the load and reported apart, because no Flask handler can reach them.
SERVER_PROBES: tuple[tuple[str, bytes], ...] = (
    ("control character in a header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: \x1b[31mred\r\n\r\n"),
    ("request line over 4094 bytes", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header field over 8190 bytes", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"),
    ("invalid Content-Length", b"POST /api/courses HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("garbage request line", b"GARBAGE\r\n\r\n"),
)


# --- the report -------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What one client thread saw; merged into the report at the end."""

    sent: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    error_responses: int = 0
    conformant: int = 0
    non_json: int = 0
    unexpected_status: int = 0
    header_problems: int = 0
    request_id_problems: int = 0
    leaks: int = 0
    transport_errors: int = 0
    log_mismatches: int = 0
    stray_log_records: int = 0
    problems_by_kind: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    logged: list[tuple[str, int, str]] = field(default_factory=list)

    _COUNTS: ClassVar[tuple[str, ...]] = (
        "sent", "error_responses", "conformant", "non_json", "unexpected_status",
        "header_problems", "request_id_problems", "leaks", "transport_errors",
    )  # fmt: skip

    def note(self, kind: Kind, problem: str, detail: str) -> None:
        """Count a problem of ``kind``; keep the first ``detail`` of each (kind, problem) as an example."""
        self.problems_by_kind[kind.name] += 1
        example = f"{kind.name}: {problem}: {detail}"
        if len(self.examples) < _MAX_EXAMPLES and not any(
            seen.startswith(f"{kind.name}: {problem}:") for seen in self.examples
        ):
            self.examples.append(example)

    def merge(self, other: _Tally) -> None:
        """Add ``other``'s counts, examples and logged ids to these."""
        for name in _Tally._COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_kind.update(other.by_kind)
        self.by_status.update(other.by_status)
        self.problems_by_kind.update(other.problems_by_kind)
        for example in other.examples:
            prefix = example.split(": ", 2)[:2]
            if len(self.examples) < _MAX_EXAMPLES and all(seen.split(": ", 2)[:2] != prefix for seen in self.examples):
                self.examples.append(example)
        self.logged.extend(other.logged)


@dataclass
class LoadReport:
    """The figures of one run; :attr:`failures` lists every must-hold figure that failed."""

    requests_planned: int
    requests_sent: int
    stopped_by_time_limit: bool
    duration_s: float
    workers: int
    concurrency: int
    error_responses: int
    conformant_error_responses: int
    non_json_responses: int
    unexpected_statuses: int
    header_problems: int
    request_id_problems: int
    leaks: int
    transport_errors: int
    log_mismatches: int
    stray_log_records: int
    master_pid: int
    worker_pids_before: list[int]
    worker_pids_after: list[int]
    worker_boots_during_load: int
    worker_exits_during_load: int
    rss_before_kb: int
    rss_after_kb: int
    max_rss_growth_pct: float
    by_kind: dict[str, int]
    by_status: dict[int, int]
    problems_by_kind: dict[str, int]
    server_answers: dict[str, str]
    examples: list[str]

    @property
    def conformance_pct(self) -> float:
        """Share of error responses that honour the contract, in percent."""
        if not self.error_responses:
            return 0.0
        return 100.0 * self.conformant_error_responses / self.error_responses

    @property
    def worker_restarts(self) -> int:
        """Workers that died or were replaced during the load."""
        gone = len(set(self.worker_pids_before) - set(self.worker_pids_after))
        return max(gone, self.worker_boots_during_load, self.worker_exits_during_load)

    @property
    def rss_growth_mb(self) -> float:
        """Growth of the workers' summed RSS from after warm-up to the end, in MB."""
        return (self.rss_after_kb - self.rss_before_kb) / 1024

    @property
    def rss_growth_pct(self) -> float:
        """The same growth in percent of the RSS after warm-up."""
        return 100.0 * (self.rss_after_kb - self.rss_before_kb) / self.rss_before_kb if self.rss_before_kb else 0.0

    @property
    def failures(self) -> list[str]:
        """One line per must-hold figure that failed; empty when everything held."""
        checks = [
            (self.error_responses > 0 and self.conformant_error_responses == self.error_responses,
             f"contract conformance {self.conformance_pct:.2f}% (must be 100%)"),
            (self.non_json_responses == 0, f"{self.non_json_responses} non-JSON responses (must be 0)"),
            (self.unexpected_statuses == 0, f"{self.unexpected_statuses} unexpected statuses (must be 0)"),
            (self.header_problems == 0, f"{self.header_problems} missing or wrong headers (must be 0)"),
            (self.request_id_problems == 0, f"{self.request_id_problems} X-Request-ID problems (must be 0)"),
            (self.leaks == 0, f"{self.leaks} responses with a secret or exception text (must be 0)"),
            (self.transport_errors == 0, f"{self.transport_errors} transport errors (must be 0)"),
            (self.log_mismatches == 0, f"{self.log_mismatches} error responses not logged exactly once"),
            (self.stray_log_records == 0, f"{self.stray_log_records} log records for no error response"),
            (self.worker_restarts == 0, f"{self.worker_restarts} worker crashes or restarts (must be 0)"),
            (len(self.worker_pids_after) == self.workers,
             f"{len(self.worker_pids_after)} workers alive at the end (must be {self.workers})"),
            (self.rss_growth_pct <= self.max_rss_growth_pct,
             f"worker RSS grew {self.rss_growth_pct:.1f}% (at most {self.max_rss_growth_pct:g}%)"),
        ]  # fmt: skip
        return [message for held, message in checks if not held]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data, derived figures included."""
        data = dataclasses.asdict(self)
        data["by_status"] = {str(status): count for status, count in sorted(self.by_status.items())}
        data.update(
            contract_conformance_pct=round(self.conformance_pct, 3),
            worker_restarts=self.worker_restarts,
            rss_growth_mb=round(self.rss_growth_mb, 2),
            rss_growth_pct=round(self.rss_growth_pct, 2),
            failures=self.failures,
        )
        return data

    def render(self) -> str:
        """The report as a text table."""
        rate = self.requests_sent / self.duration_s if self.duration_s else 0.0
        limit_note = " (stopped by --time-limit)" if self.stopped_by_time_limit else ""
        rows = [
            ("requests sent", f"{self.requests_sent:,} of {self.requests_planned:,}{limit_note}"),
            ("duration", f"{self.duration_s:.1f} s ({rate:,.0f} requests/s, {self.concurrency} client threads)"),
            ("error responses", f"{self.error_responses:,}"),
            ("contract conformance", f"{self.conformance_pct:.2f}% ({self.conformant_error_responses:,})"),
            ("non-JSON responses", str(self.non_json_responses)),
            ("unexpected statuses", str(self.unexpected_statuses)),
            ("missing/wrong headers", str(self.header_problems)),
            ("X-Request-ID problems", str(self.request_id_problems)),
            ("secrets or exception text", str(self.leaks)),
            ("transport errors", str(self.transport_errors)),
            ("errors not logged exactly once", str(self.log_mismatches)),
            ("log records for no error response", str(self.stray_log_records)),
            ("worker crashes/restarts", f"{self.worker_restarts} ({self.workers} workers)"),
            (
                "worker RSS",
                f"{self.rss_before_kb / 1024:.1f} MB -> {self.rss_after_kb / 1024:.1f} MB "
                f"({self.rss_growth_mb:+.2f} MB, {self.rss_growth_pct:+.2f}%)",
            ),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines.append("per kind: " + ", ".join(f"{name} {count}" for name, count in self.by_kind.items()))
        lines.append(
            "per status: " + ", ".join(f"{status}: {count}" for status, count in sorted(self.by_status.items()))
        )
        if self.problems_by_kind:
            lines.append("kinds with problems: " + ", ".join(f"{k} {n}" for k, n in self.problems_by_kind.items()))
        lines.append("answered by gunicorn itself (outside the app, not counted above):")
        lines.extend(f"  {probe}: {answer}" for probe, answer in self.server_answers.items())
        for example in self.examples:
            lines.append(f"example: {example}")
        failures = self.failures
        lines.append("")
        lines.append("RESULT: " + ("all must-hold figures held" if not failures else "FAILED: " + "; ".join(failures)))
        return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------


def run_load(
    *,
    requests: int = 20_000,
    concurrency: int = 8,
    workers: int = 3,
    time_limit: float = 120.0,
    max_rss_growth: float = 25.0,
    app_spec: str = APP_SPEC,
    log_path: Path | None = None,
    skip: Sequence[str] = (),
) -> LoadReport:
    """Serve ``app_spec`` with gunicorn, put it under load and return the report; always stops gunicorn.

    ``skip`` names kinds of :data:`KINDS` to leave out of the mix. Raises ``ValueError`` for an
    unknown kind, ``RuntimeError`` if gunicorn does not answer within 20 s or exits early.
    """
    unknown = set(skip) - {kind.name for kind in KINDS}
    if unknown:
        raise ValueError(f"unknown kinds: {', '.join(sorted(unknown))}")
    kinds = tuple(kind for kind in KINDS if kind.name not in skip)
    if not kinds:
        raise ValueError("every kind is skipped")
    with contextlib.ExitStack() as stack:
        if log_path is None:
            log_path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-"))) / "gunicorn.log"
        server = stack.enter_context(_gunicorn(app_spec, workers, log_path))
        port, master_pid = server.port, server.process.pid
        _wait_until_workers(server, workers)
        # Crashes and restarts count from here; memory and log records from after the warm-up,
        # which makes every worker import and build what it needs before the baseline is taken.
        pids_before = _worker_pids(master_pid)
        log_at_start = log_path.read_text(encoding="utf-8", errors="replace")
        _drive(port, kinds, range(len(kinds) * workers * 2), concurrency, time.monotonic() + 30.0, prefix="warm")
        rss_before = _rss_kb(_worker_pids(master_pid))
        log_before = log_path.read_text(encoding="utf-8", errors="replace")

        started = time.monotonic()
        tally = _drive(port, kinds, range(requests), concurrency, started + time_limit, prefix="load")
        duration = time.monotonic() - started

        pids_after = _worker_pids(master_pid)
        rss_after = _rss_kb(pids_after)
        log_after = log_path.read_text(encoding="utf-8", errors="replace")
        server_answers = {name: _probe(port, raw) for name, raw in SERVER_PROBES}

    log_during = log_after[len(log_before) :]
    log_since_start = log_after[len(log_at_start) :]
    log_examples = _check_log(log_during, tally)
    return LoadReport(
        requests_planned=requests,
        requests_sent=tally.sent,
        stopped_by_time_limit=tally.sent < requests,
        duration_s=duration,
        workers=workers,
        concurrency=concurrency,
        error_responses=tally.error_responses,
        conformant_error_responses=tally.conformant,
        non_json_responses=tally.non_json,
        unexpected_statuses=tally.unexpected_status,
        header_problems=tally.header_problems,
        request_id_problems=tally.request_id_problems,
        leaks=tally.leaks,
        transport_errors=tally.transport_errors,
        log_mismatches=tally.log_mismatches,
        stray_log_records=tally.stray_log_records,
        master_pid=master_pid,
        worker_pids_before=sorted(pids_before),
        worker_pids_after=sorted(pids_after),
        worker_boots_during_load=len(re.findall(r"Booting worker", log_since_start)),
        worker_exits_during_load=len(re.findall(r"Worker exiting|WORKER TIMEOUT|was sent SIG", log_since_start)),
        rss_before_kb=rss_before,
        rss_after_kb=rss_after,
        max_rss_growth_pct=max_rss_growth,
        by_kind={kind.name: tally.by_kind[kind.name] for kind in kinds},
        by_status=dict(tally.by_status),
        problems_by_kind=dict(tally.problems_by_kind),
        server_answers=server_answers,
        examples=tally.examples + log_examples,
    )


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path


@contextlib.contextmanager
def _gunicorn(app_spec: str, workers: int, log_path: Path) -> Iterator[_Server]:
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", app_spec,
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "info",
        "--graceful-timeout", "5",
        "--no-control-socket",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("FLASK_DEBUG", None)
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield _Server(process, port, log_path)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT)


def _wait_until_workers(server: _Server, workers: int) -> None:
    """Poll until ``/healthz`` answers and every worker has booted; fail if gunicorn dies."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        if _answers(server.port) and len(_worker_pids(server.process.pid)) == workers:
            log = server.log_path.read_text(encoding="utf-8", errors="replace")
            if len(re.findall(r"Booting worker", log)) >= workers:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start within {_STARTUP_TIMEOUT:g} s:\n{_tail(server.log_path)}")
        try:
            # Waiting on the process is the pause between polls, and notices an early exit.
            server.process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{_tail(server.log_path)}")


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _worker_pids(master: int) -> set[int]:
    """PIDs of the processes whose parent is ``master``, from ``/proc/<pid>/stat``."""
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after the last ")" do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == master:
            pids.add(int(entry.name))
    return pids


def _rss_kb(pids: set[int]) -> int:
    """Summed ``VmRSS`` of ``pids`` in kB (a process that is gone counts 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _drive(
    port: int, kinds: Sequence[Kind], indices: range, concurrency: int, deadline: float, *, prefix: str
) -> _Tally:
    """Send the requests numbered ``indices`` (round-robin over ``kinds``) from ``concurrency`` threads.

    Stops early at ``deadline``.
    """
    counter = iter(indices)
    lock = threading.Lock()
    tallies = [_Tally() for _ in range(concurrency)]

    def client(tally: _Tally) -> None:
        while time.monotonic() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            _send_one(port, index, kinds[index % len(kinds)], f"{prefix}-{index}", tally)

    threads = [threading.Thread(target=client, args=(tally,), daemon=True) for tally in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Each request has its own timeout, so a thread ends soon after the deadline.
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 2 * _HTTP_TIMEOUT)
    merged = _Tally()
    for tally in tallies:
        merged.merge(tally)
    return merged


def _send_one(port: int, index: int, kind: Kind, request_id: str, tally: _Tally) -> None:
    tally.sent += 1
    tally.by_kind[kind.name] += 1
    sent_id: bytes = kind.request_id if kind.request_id is not None else request_id.encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_HTTP_TIMEOUT)
    try:
        connection.putrequest(kind.method, kind.path, skip_accept_encoding=True)
        connection.putheader("X-Request-ID", sent_id)
        for name, value in kind.headers:
            connection.putheader(name, value)
        if kind.client == "unique":
            connection.putheader("X-Forwarded-For", f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}")
        elif kind.client is not None:
            connection.putheader("X-Forwarded-For", kind.client)
        if kind.body is not None:
            connection.putheader("Content-Length", str(len(kind.body)))
        connection.endheaders(kind.body)
        response = connection.getresponse()
        body = response.read()
        status = response.status
        headers = response.getheaders()
    except (OSError, http.client.HTTPException) as exc:
        tally.transport_errors += 1
        tally.note(kind, "transport error", f"{type(exc).__name__}: {exc}")
        return
    finally:
        connection.close()
    tally.by_status[status] += 1
    _check_response(kind, sent_id, status, headers, body, tally)


def _check_response(
    kind: Kind, sent_id: bytes, status: int, headers: list[tuple[str, str]], body: bytes, tally: _Tally
) -> None:
    fields = {name.lower(): value for name, value in headers}
    if status != kind.status:
        tally.unexpected_status += 1
        tally.note(kind, "unexpected status", f"{status}, expected {kind.status}: {body[:200]!r}")
    if status >= 400:
        tally.error_responses += 1
        try:
            validate_error_response(status, headers, body, method=kind.method)
        except ContractViolation as violation:
            tally.note(kind, "contract violation", "; ".join(violation.problems)[:300])
        else:
            tally.conformant += 1
    if kind.method != "HEAD" and status != 204:
        try:
            if fields.get("content-type", "").split(";")[0].strip() != "application/json":
                raise ContractViolation([f"Content-Type {fields.get('content-type')!r}"])
            loads_strict(body)
        except ContractViolation as problem:
            tally.non_json += 1
            tally.note(kind, "not JSON", str(problem))
    response_id = fields.get("x-request-id", "")
    if kind.request_id is None:
        id_ok = response_id == sent_id.decode()
    else:
        id_ok = re.fullmatch(r"[0-9a-f]{32}", response_id) is not None
    if not id_ok:
        tally.request_id_problems += 1
        tally.note(kind, "X-Request-ID", f"{response_id!r} for a request that sent {sent_id!r}")
    elif status >= 400:
        tally.logged.append((response_id, status, kind.name))
    for name, expected in kind.expect_headers.items():
        value = fields.get(name.lower())
        if value is None or (expected is not None and value != expected):
            tally.header_problems += 1
            tally.note(kind, "header", f"{name} is {value!r}, expected {expected or 'present'}")
    text = body.decode("utf-8", "replace") + "\n".join(f"{name}: {value}" for name, value in headers)
    leaked = [marker for marker in SECRET_MARKERS if marker in text]
    if leaked:
        tally.leaks += 1
        tally.note(kind, "leak", f"response contains {leaked}")


_LOG_LINE = re.compile(
    LOG_MARKER
    + r" level=(?P<level>\w+) status=(?P<status>\S+) request_id=(?P<rid>\S+) traceback=(?P<tb>\w+) logger=(?P<name>\S+)"
)


def _check_log(log: str, tally: _Tally) -> list[str]:
    """Count, in ``tally``, the error responses not logged exactly once at the right level; return examples."""
    records: dict[str, list[tuple[str, str, str]]] = {}
    for match in _LOG_LINE.finditer(log):
        records.setdefault(match["rid"], []).append((match["level"], match["status"], match["tb"]))
    examples: list[str] = []
    expected_ids = {request_id for request_id, _, _ in tally.logged}
    for request_id, found in records.items():
        if request_id not in expected_ids:
            tally.stray_log_records += len(found)
            if len(examples) < _MAX_EXAMPLES:
                examples.append(f"log record for no error response: request_id={request_id} {found}")
    for match in _LOG_LINE.finditer(log):
        if match["name"] != "src.utils.error_logging":
            tally.stray_log_records += 1
            if len(examples) < _MAX_EXAMPLES:
                examples.append(f"log record from another logger: {match[0]}")
    for request_id, status, kind in tally.logged:
        wanted = ("ERROR", str(status), "yes") if status >= 500 else ("INFO", str(status), "no")
        found = records.get(request_id, [])
        if found != [wanted]:
            tally.log_mismatches += 1
            tally.problems_by_kind[kind] += 1
            if len(examples) < _MAX_EXAMPLES:
                examples.append(f"{kind}: log for {request_id}: {found}, expected [{wanted}]")
    return examples


def _probe(port: int, raw: bytes) -> str:
    """Send ``raw`` as a whole request; return the answer's status line and Content-Type."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=_HTTP_TIMEOUT) as sock:
            sock.sendall(raw)
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = f"{response.status} {response.reason}, Content-Type {response.getheader('Content-Type')}"
            response.close()
            return answer
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer ({type(exc).__name__})"


# --- the command line -------------------------------------------------------------------------


@click.command()
@click.option(
    "--requests",
    "requests",
    type=click.IntRange(1, 1_000_000),
    default=20_000,
    show_default=True,
    help="How many requests to send (the warm-up comes on top).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Client threads sending at the same time.",
)
@click.option("--workers", type=click.IntRange(1, 16), default=3, show_default=True, help="gunicorn worker processes.")
@click.option(
    "--time-limit",
    type=click.FloatRange(1.0, 3600.0),
    default=120.0,
    show_default=True,
    help="Stop sending after this many seconds, whatever --requests says.",
)
@click.option(
    "--max-rss-growth",
    type=click.FloatRange(0.0),
    default=25.0,
    show_default=True,
    help="Largest allowed growth of the workers' summed RSS, in percent.",
)
@click.option(
    "--app",
    "app_spec",
    default=APP_SPEC,
    show_default=True,
    help="The gunicorn app spec to serve (it must answer the routes of load_app).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep gunicorn's log here instead of a temporary file.",
)
@click.option(
    "--skip",
    multiple=True,
    metavar="KIND",
    help="Leave a kind of request out of the mix, by its name in the report (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def main(
    requests: int,
    concurrency: int,
    workers: int,
    time_limit: float,
    max_rss_growth: float,
    app_spec: str,
    log_file: Path | None,
    skip: tuple[str, ...],
    as_json: bool,
) -> None:
    """Load the served app with every error kind and check the JSON error contract held.

    Exit status 0 when every must-hold figure held, 1 when one failed, 2 for a usage error.
    """
    try:
        report = run_load(
            requests=requests,
            concurrency=concurrency,
            workers=workers,
            time_limit=time_limit,
            max_rss_growth=max_rss_growth,
            app_spec=app_spec,
            log_path=log_file,
            skip=skip,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--skip") from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    if report.failures:
        click.get_current_context().exit(1)


if __name__ == "__main__":
    main()
