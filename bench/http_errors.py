"""Section ``http``: requests per second of the JSON error responses on a real WSGI server.

Two gunicorn servers (sync workers, 127.0.0.1, free ports) serve the apps of
:mod:`bench.bench_app`: the course API with our handlers, and a plain Flask app without them. The
load generator of :mod:`bench.loadgen` then drives, route by route, bounded bursts of fresh
connections:

* ``GET /healthz`` on our app: the plain 200 JSON route, the baseline;
* our JSON 404 for an unknown URL and for an unknown course (``NotFoundError``), the 405 of
  ``DELETE /healthz`` (with ``Allow``), the 429 of the rate-limited summary route and the 500 of
  ``GET /bench/boom`` (which also writes its traceback to the server's log, as in production);
* Flask's default HTML 404 and its ``/healthz`` on the plain app.

Before measuring, one response of each route is checked: the status, and for our error routes the
whole contract (``validate_error_response``). Then every round gives each route one burst, in an
order rotated each round; a route's figure is its median over the rounds and its ratio the median
of the per-round ratios. Target: every JSON error route at least 0.9 of the plain route.

The servers always stop (SIGTERM, then SIGKILL after a grace period), whatever happens.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import REPO_ROOT
from bench.bench_app import BOOM_PATH, RATE_LIMITED_PATH
from bench.loadgen import LOCALHOST, build_request, hammer
from bench.report import Ratio, Row, Section, Target
from bench.timing import median, paired_ratio, rotated
from src.api.contract import ContractViolation, validate_error_response

__all__ = ["DEFAULT", "QUICK", "ROUTES", "TARGET_RATIO", "Route", "Server", "Sizes", "gunicorn", "run"]

#: The issue's goal: each JSON error route serves at least this share of the plain route's rate.
TARGET_RATIO = 0.9

_APPS = {"contract": "bench.bench_app:create_bench_app()", "plain": "bench.bench_app:create_plain_app()"}
_STARTUP_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Sizes:
    """How hard and how long the section drives the servers."""

    rounds: int
    burst_seconds: float
    """Upper bound on one burst's duration."""
    burst_requests: int
    """Upper bound on one burst's requests."""
    concurrency: int
    """Client threads, each with one connection at a time."""
    workers: int = 1
    """gunicorn sync workers per server."""


DEFAULT = Sizes(rounds=12, burst_seconds=0.25, burst_requests=2000, concurrency=4)
QUICK = Sizes(rounds=1, burst_seconds=0.05, burst_requests=20, concurrency=2)


@dataclass(frozen=True, slots=True)
class Route:
    """One route the load generator drives."""

    key: str
    label: str
    server: str
    """``"contract"`` (our app) or ``"plain"`` (plain Flask)."""
    method: str
    path: str
    status: int


ROUTES: tuple[Route, ...] = (
    Route("healthz", "200 GET /healthz (plain route)", "contract", "GET", "/healthz", 200),
    Route("json_404", "404 JSON, unknown URL", "contract", "GET", "/no/such/page", 404),
    Route("json_404_course", "404 JSON, NotFoundError", "contract", "GET", "/api/courses/crs_missing", 404),
    Route("json_405", "405 JSON, DELETE /healthz", "contract", "DELETE", "/healthz", 405),
    Route("json_429", "429 JSON, rate-limited summary", "contract", "POST", RATE_LIMITED_PATH, 429),
    Route("json_500", "500 JSON, view raised", "contract", "GET", BOOM_PATH, 500),
    Route("flask_404", "404 HTML, plain Flask", "plain", "GET", "/no/such/page", 404),
    Route("flask_200", "200 GET /healthz, plain Flask", "plain", "GET", "/healthz", 200),
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, method: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=5)
    try:
        connection.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every process still running, then SIGKILL to any still there after the grace period."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        try:
            if _get(port, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer within {_STARTUP_TIMEOUT:g} s: {_tail(log_path)}")
        try:
            # Waiting on the process is the pause between polls and notices a crash at once.
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"gunicorn exited with {process.returncode}: {_tail(log_path)}")


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " / ".join(lines[-5:])


@dataclass(frozen=True, slots=True)
class Server:
    """A running gunicorn: its port on 127.0.0.1 and the arbiter's process id."""

    port: int
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the current workers; None without Linux's /proc."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text(encoding="ascii").split()
            total = 0
            for child in children:
                with contextlib.suppress(OSError):  # a worker that just exited
                    fields = Path(f"/proc/{child}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
                    total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15
        except (OSError, ValueError, IndexError):
            return None
        return total / _CLOCK_TICKS


def _spawn(app_spec: str, *, workers: int, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"{LOCALHOST}:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                # gunicorn 27 otherwise shares one control socket in ~/.gunicorn between all servers.
                "--no-control-socket",
                app_spec,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def gunicorn(apps: Mapping[str, str], *, workers: int, log_dir: Path) -> Iterator[dict[str, Server]]:
    """Serve each app spec with gunicorn on a free port of 127.0.0.1; yield them by name once all answer.

    The servers start together; each writes its output to ``<name>.log`` in ``log_dir``. On exit
    every server gets SIGTERM and any that has not stopped within 10 s gets SIGKILL.
    """
    started: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, spec in apps.items():
            port = _free_port()
            started[name] = (_spawn(spec, workers=workers, port=port, log_path=log_dir / f"{name}.log"), port)
        for name, (process, port) in started.items():
            _wait_until_ready(process, port, log_dir / f"{name}.log")
        yield {name: Server(port, process.pid) for name, (process, port) in started.items()}
    finally:
        _stop([process for process, _port in started.values()])


def _check(route: Route, port: int) -> str | None:
    """One request to ``route``; a description of what is wrong with the answer, or None."""
    status, headers, body = _get(port, route.method, route.path)
    if status != route.status:
        return f"{route.key}: expected {route.status}, got {status}"
    if route.server == "contract" and status >= 400:
        try:
            validate_error_response(status, headers.items(), body, method=route.method)
        except ContractViolation as violation:
            return f"{route.key}: {'; '.join(violation.problems)}"
    if route.key == "flask_404" and not headers.get("Content-Type", "").startswith("text/html"):
        return f"{route.key}: expected Flask's HTML page, got {headers.get('Content-Type')}"
    return None


@dataclass
class _Tally:
    """What the rounds measured for one route."""

    rps: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    completed: int = 0
    cpu_seconds: float | None = 0.0
    """Server CPU time the route's bursts used, or None when it cannot be read."""

    @property
    def cpu_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.completed or self.cpu_seconds <= 0:
            return None
        return self.cpu_seconds / self.completed


def _measure(servers: dict[str, Server], sizes: Sizes) -> dict[str, _Tally]:
    """Drive every route in rotated rounds; what each route's bursts measured."""
    requests = {route.key: build_request(route.method, route.path, servers[route.server].port) for route in ROUTES}
    by_key = {route.key: route for route in ROUTES}
    # Warm-up, not recorded: imports on first use, and the limiter's one allowed call per worker.
    for route in ROUTES:
        hammer(
            servers[route.server].port,
            requests[route.key],
            concurrency=sizes.concurrency,
            max_requests=max(4 * sizes.workers, min(50, sizes.burst_requests)),
            max_seconds=max(0.2, sizes.burst_seconds),
        )
    tallies = {route.key: _Tally() for route in ROUTES}
    keys = list(by_key)
    for round_index in range(sizes.rounds):
        for key in rotated(keys, round_index):
            server, tally = servers[by_key[key].server], tallies[key]
            cpu_before = server.cpu_seconds()
            window = hammer(
                server.port,
                requests[key],
                concurrency=sizes.concurrency,
                max_requests=sizes.burst_requests,
                max_seconds=sizes.burst_seconds,
            )
            cpu_after = server.cpu_seconds()
            tally.rps.append(window.rps)
            tally.statuses.update(window.statuses)
            tally.errors += window.errors
            tally.completed += window.completed
            if tally.cpu_seconds is not None and cpu_before is not None and cpu_after is not None:
                tally.cpu_seconds += cpu_after - cpu_before
            else:
                tally.cpu_seconds = None
    return tallies


def run(sizes: Sizes = DEFAULT) -> Section:
    """Serve both apps, check each route once, then measure; see the module docstring."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-http-") as tmp,
        gunicorn(_APPS, workers=sizes.workers, log_dir=Path(tmp)) as servers,
    ):
        for _ in range(sizes.workers):  # spend the limiter's one allowed call (per worker, roughly)
            _get(servers["contract"].port, "POST", RATE_LIMITED_PATH)
        problems = [problem for route in ROUTES if (problem := _check(route, servers[route.server].port)) is not None]
        if problems:
            raise RuntimeError("responses are not what the benchmark expects: " + " | ".join(problems))
        tallies = _measure(servers, sizes)

    baseline_cpu = tallies["healthz"].cpu_per_request
    rows = []
    for route in ROUTES:
        tally = tallies[route.key]
        is_error = route.server == "contract" and route.status >= 400
        ratios = []
        if route.key != "healthz":
            ratios.append(Ratio("healthz", "/healthz", paired_ratio(tally.rps, tallies["healthz"].rps)))
        if is_error:
            ratios.append(Ratio("flask_404", "Flask 404", paired_ratio(tally.rps, tallies["flask_404"].rps)))
        target = Target(f"≥ {TARGET_RATIO:g}× /healthz", ratios[0].value >= TARGET_RATIO) if is_error else None
        cpu = tally.cpu_per_request
        notes = []
        if cpu is not None:
            notes.append(f"server CPU {cpu * 1e6:,.0f} µs/req")
            if baseline_cpu is not None and route.key != "healthz":
                notes[-1] += f" ({baseline_cpu / cpu:.2f}× /healthz's rate)"
        unexpected = sum(count for status, count in tally.statuses.items() if status != route.status)
        if unexpected or tally.errors:
            notes.append(f"{unexpected} unexpected statuses, {tally.errors} socket errors")
        rows.append(
            Row(
                key=route.key,
                label=route.label,
                value=median(tally.rps),
                unit="req/s",
                ratios=tuple(ratios),
                target=target,
                note="; ".join(notes),
                extra={
                    "method": route.method,
                    "path": route.path,
                    "server": route.server,
                    "rps_per_round": tally.rps,
                    "requests": tally.completed,
                    "server_cpu_seconds_per_request": cpu,
                    "cpu_rate_vs_healthz": None if cpu is None or baseline_cpu is None else baseline_cpu / cpu,
                    "statuses": {str(status): count for status, count in sorted(tally.statuses.items())},
                    "socket_errors": tally.errors,
                },
            )
        )
    return Section(
        key="http",
        title=(
            f"Error responses on gunicorn ({sizes.workers} sync worker{'s' if sizes.workers > 1 else ''}, "
            f"{sizes.concurrency} client threads, fresh connections; median of {sizes.rounds} rounds)"
        ),
        rows=tuple(rows),
        notes=(
            "Ratios are medians of per-round ratios; the 500 includes writing its traceback to the server log.",
            "Server CPU per request (the workers' user + system time over all bursts) is less sensitive to other "
            "load than req/s; '(0.80× /healthz's rate)' is the rate that CPU cost allows, relative to /healthz.",
            "Every error route's response was checked against the contract before the load.",
        ),
        params=asdict(sizes),
    )
