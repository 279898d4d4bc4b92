"""The in-process driver: build a fresh app per case and drive it through Flask's test client.

Use :func:`load_factory` to turn ``"module:factory"`` into an app factory and
:func:`run_in_process` to check the app it builds. The factory is called with no arguments for
every case (exactly as ``gunicorn "app:create_app()"`` calls it), so cases never share state such
as a rate limiter. Before the app's first request the checker adds probe routes under
:data:`~src.checker.catalogue.PROBE_PREFIX` (never to an app you serve: the factory builds a new
one) and sets the case's ``config`` keys, e.g. a fake ``AI_GENERATOR``.

The app's log output is muted while the cases run, because a 5xx case logs a traceback by design.
Both functions raise :class:`AppLoadError`, with a one-line reason, when the app cannot be loaded
or built.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from flask import Blueprint, Flask, current_app, request

from src.checker.cases import Case, NoResponse, Reply, Request, Send
from src.checker.catalogue import PROBE_PREFIX, cases_for
from src.checker.runner import CaseResult, Report, run_case

__all__ = ["UPLOAD_LIMIT", "AppFactory", "AppLoadError", "build_app", "load_factory", "run_in_process"]

#: Builds the app to check; called once per case.
AppFactory = Callable[[], Flask]
#: The body limit the upload probe sets on its request, so any app has one to exceed.
UPLOAD_LIMIT = 1024

_PROBES = "check_errors_probes"
_RAISE_KEY = "check_errors.raise"


class AppLoadError(Exception):
    """The app to check cannot be imported or built; ``str()`` says why in one line."""


def load_factory(spec: str) -> AppFactory:
    """The factory named by ``"module:attribute"``, imported as ``flask --app`` would.

    The current directory is put on ``sys.path`` first, so ``app:create_app`` works from the
    project's root. Raises :class:`AppLoadError` if the spec is malformed, the module cannot be
    imported, the attribute is missing or not callable, or it is an app rather than a factory.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute.isidentifier():
        raise AppLoadError(f"{spec!r} is not MODULE:FACTORY (for example app:create_app)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # a module that calls sys.exit() must not pass as "0 failed"
        raise AppLoadError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, attribute, None)
    if factory is None:
        raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}")
    if isinstance(factory, Flask):
        raise AppLoadError(
            f"{spec} is an app, not a factory: give the function that builds it, "
            "so that probe routes go on a fresh app and never on the one you serve"
        )
    if not callable(factory):
        raise AppLoadError(f"{spec} is a {type(factory).__name__}, not a function that builds an app")
    return factory  # type: ignore[no-any-return]


def build_app(factory: AppFactory) -> Flask:
    """A fresh app from ``factory`` with the probe routes added; raises :class:`AppLoadError`."""
    try:
        app = factory()
    except (Exception, SystemExit) as exc:  # sys.exit() on missing config is a failure to build, not a pass
        raise AppLoadError(f"the app factory raised {type(exc).__name__}: {exc}") from None
    if not isinstance(app, Flask):
        raise AppLoadError(f"the app factory returned a {type(app).__name__}, not a Flask app")
    if _PROBES in app.blueprints:
        raise AppLoadError("the app factory returned an app it had built before; it must build a new one per call")
    try:
        app.register_blueprint(_probe_routes())
    except AssertionError as exc:
        raise AppLoadError(f"cannot add probe routes to the app: {exc}") from None
    return app


def run_in_process(factory: AppFactory, *, cases: Sequence[Case] | None = None, fuzz: int = 0) -> Report:
    """Check every in-process case (or ``cases``) against a fresh app from ``factory`` each.

    A case that ``needs`` an endpoint the app lacks is left out and named in
    ``Report.not_applicable``. With ``fuzz``, that many generated exceptions follow (see
    :mod:`src.checker.fuzz`). Raises :class:`AppLoadError` if an app cannot be built.
    """
    results: list[CaseResult] = []
    left_out: list[str] = []
    with muted_logs():
        for index, case in enumerate(cases_for("in-process") if cases is None else cases, start=1):
            app = build_app(factory)
            if any(endpoint not in app.view_functions for endpoint in case.needs):
                left_out.append(case.name)
                continue
            app.config.update(case.config)
            raised = case.raises() if case.raises is not None else None
            set_probe_exception(app, raised)
            results.append(run_case(case, client_send(app), tag=f"check-errors.{index:03d}", raised=raised))
        if fuzz:
            from src.checker.fuzz import fuzz_results

            results.extend(fuzz_results(factory, fuzz))
    return Report(tuple(results), tuple(left_out))


def set_probe_exception(app: Flask, exc: BaseException | None) -> None:
    """Make ``GET``/``POST`` ``/__check__/raise`` on ``app`` raise ``exc`` (204 when None)."""
    app.extensions[_RAISE_KEY] = exc


def client_send(app: Flask) -> Send:
    """A :data:`Send` through ``app``'s test client.

    An exception escaping the app becomes :class:`NoResponse`: any ``Exception``, and a
    ``BaseException`` only if it is the one the probe route raised (a real ``KeyboardInterrupt``
    still stops the run).
    """
    client = app.test_client()

    def send(req: Request) -> Reply:
        try:
            response = client.open(req.path, method=req.method, headers=list(req.headers), data=req.body)
        except Exception as exc:
            raise NoResponse(f"{type(exc).__name__} escaped the app") from exc
        except BaseException as exc:
            if exc is not app.extensions.get(_RAISE_KEY):
                raise
            raise NoResponse(f"{type(exc).__name__} escaped the app") from exc
        try:
            return Reply(response.status_code, tuple(response.headers.items()), response.get_data())
        finally:
            response.close()

    return send


@contextlib.contextmanager
def muted_logs() -> Iterator[None]:
    """Silence every logger while the block runs, then restore the previous setting."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _probe_routes() -> Blueprint:
    probes = Blueprint(_PROBES, __name__, url_prefix=PROBE_PREFIX)

    @probes.route("/raise", methods=["GET", "POST"])
    def raise_probe() -> tuple[str, int]:
        exc = current_app.extensions.get(_RAISE_KEY)
        if exc is None:
            return "", 204
        raise exc

    @probes.post("/json")
    def json_probe() -> dict[str, bool]:
        request.get_json()
        return {"received": True}

    @probes.post("/upload")
    def upload_probe() -> dict[str, bool]:
        request.max_content_length = UPLOAD_LIMIT
        request.get_data()
        return {"received": True}

    @probes.get("/ok")
    def ok_probe() -> dict[str, bool]:
        return {"ok": True}

    @probes.get("/folder/")
    def folder_probe() -> dict[str, bool]:
        return {"folder": True}

    return probes
