"""``check-errors``: prove, case by case, that an app keeps the JSON error contract.

Only click and the standard library are imported here; the checker (Flask, jsonschema, and
``anthropic`` for the SDK cases) is imported when the command runs, so listing commands stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # for annotations only: importing the checker at run time would slow every command's help
    from src.checker.runner import Report

__all__ = ["check_errors"]

_DEFAULT_APP = "app:create_app"
_EXIT_UNREACHABLE = 2


@click.command("check-errors")
@click.option(
    "--app",
    "app_spec",
    metavar="MODULE:FACTORY",
    help=f"App factory to check in-process, called with no arguments once per case.  [default: {_DEFAULT_APP}]",
)
@click.option(
    "--url",
    metavar="URL",
    help="Check a running server over HTTP instead (http:// or https://); only this URL is contacted.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=300),
    callback=lambda ctx, param, value: _finite(value, param),
    metavar="SECONDS",
    help="With --url: seconds each request may take to connect and answer.  [default: 10]",
)
@click.option(
    "--fuzz",
    type=click.IntRange(min=0, max=100_000),
    default=0,
    show_default=True,
    metavar="N",
    help="In-process: also raise N Hypothesis-generated exceptions from a view and check each answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@click.pass_context
def check_errors(
    ctx: click.Context, app_spec: str | None, url: str | None, timeout: float | None, fuzz: int, as_json: bool
) -> None:
    """Prove, case by case, that an app keeps the JSON error contract.

    In-process (the default) builds a fresh app per case with the factory and
    drives it through Flask's test client: every exception class of
    src/api/errors.py, every Werkzeug HTTP error from 400 up, unexpected
    exceptions (one with a secret in its message), Anthropic SDK errors,
    malformed and oversized bodies, unknown routes, wrong methods, HEAD, a
    trailing-slash redirect, and the course API's own errors. Exceptions are
    raised from probe routes the checker adds under /__check__/ to that fresh
    app, never to the app you serve.

    With --url the cases that can be triggered from outside run over HTTP
    against that server (unknown route, HEAD, the course API's errors,
    malformed and oversized bodies, wrong method).

    Each response must validate against the contract's JSON Schema, be strict
    JSON (no NaN or Infinity, valid UTF-8, no lone surrogates, no duplicate
    keys), have code equal to its status, Content-Type application/json, an
    X-Request-ID echoing the request's, Allow on 405, WWW-Authenticate on 401,
    Retry-After where the case provides one, and no secret, exception type
    name or traceback in a 5xx body.

    Prints one row per case, each problem of a failing case below its row,
    and "N passed, M failed". --json prints instead:

    \b
      {"cases": [{"name", "expected_status", "status", "ok", "problems"}],
       "passed", "failed"}

    Exit status 0 when every case conforms, 1 when any violates the
    contract, 2 for bad usage or an unreachable URL.
    """
    if url is not None:
        if app_spec is not None:
            raise click.UsageError("--app and --url exclude each other: check an app in-process or a server over HTTP.")
        if fuzz:
            raise click.UsageError("--fuzz raises exceptions inside the app, so it runs in-process only; drop --url.")
        report = _run_live(url, timeout)
    else:
        if timeout is not None:
            raise click.UsageError("--timeout applies to --url only.")
        if app_spec is not None and not app_spec.strip():
            raise click.BadParameter("give MODULE:FACTORY, e.g. app:create_app", param_hint="'--app'")
        report = _run_in_process(app_spec or _DEFAULT_APP, fuzz)

    from src.checker.report import render_table, report_document, to_json

    if report.not_applicable:
        click.echo(
            f"note: {len(report.not_applicable)} cases left out, the app has no route for them: "
            + ", ".join(dict.fromkeys(report.not_applicable)),
            err=True,
        )
    click.echo(to_json(report_document(report)) if as_json else render_table(report))
    ctx.exit(1 if report.failed else 0)


def _run_in_process(app_spec: str, fuzz: int) -> Report:
    from src.checker.inprocess import AppLoadError, load_factory, run_in_process

    try:
        factory = load_factory(app_spec)
    except AppLoadError as exc:
        raise click.BadParameter(str(exc), param_hint="'--app'") from None
    try:
        return run_in_process(factory, fuzz=fuzz)
    except AppLoadError as exc:
        raise click.UsageError(f"cannot check {app_spec}: {exc}") from None


def _run_live(url: str, timeout: float | None) -> Report:
    from src.checker.live import DEFAULT_TIMEOUT, Unreachable, parse_base_url, run_live

    try:
        base_url = parse_base_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--url'") from None
    try:
        return run_live(base_url, timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
    except Unreachable as exc:
        click.echo(f"Error: {exc}", err=True)
        click.get_current_context().exit(_EXIT_UNREACHABLE)


def _finite(value: float | None, param: click.Parameter) -> float | None:
    # FloatRange lets NaN through: every comparison with NaN is false.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", param=param)
    return value
