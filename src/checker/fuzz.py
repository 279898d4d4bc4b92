"""``--fuzz``: raise Hypothesis-generated exceptions from a probe view and check every answer.

Use :func:`fuzz_results` after the catalogue has run. It draws exceptions from
:func:`src.testing.strategies.exceptions` with a ``@given``-decorated function under
``settings(max_examples=N, database=None, deadline=None)``, raises each from
``/__check__/raise`` on one fresh app, and checks the answer against the status
:func:`src.testing.oracle.expected_status` requires, plus the headers and leaks
:mod:`src.checker.expectations` takes from the same oracle. The function never fails inside Hypothesis: every example,
conforming or not, becomes a :class:`~src.checker.runner.CaseResult`, so nothing is shrunk and
Hypothesis runs at most ``N`` examples (fewer only if it runs out of distinct ones).

Importing this module is cheap; Hypothesis and the strategies are imported when it runs.
"""

from __future__ import annotations

from src.checker.cases import Expectation
from src.checker.catalogue import PROBE_PREFIX
from src.checker.inprocess import AppFactory, build_app, client_send, set_probe_exception
from src.checker.runner import CaseResult, run_expectation

__all__ = ["describe_exception", "fuzz_results"]

_SHOWN_MESSAGE = 40


def fuzz_results(factory: AppFactory, examples: int) -> list[CaseResult]:
    """Check ``examples`` generated exceptions against one fresh app from ``factory``.

    Each result is named ``fuzz #<n>: <exception>``. An example the oracle cannot judge fails
    with the oracle's error as its problem. Raises
    :class:`~src.checker.inprocess.AppLoadError` if the app cannot be built.
    """
    if examples <= 0:
        return []
    from hypothesis import given, settings

    from src.checker.cases import Request
    from src.checker.expectations import leaks_for, required_headers_for
    from src.testing.oracle import expected_status
    from src.testing.strategies import exceptions

    app = build_app(factory)
    send = client_send(app)
    request = Request("GET", f"{PROBE_PREFIX}/raise")
    results: list[CaseResult] = []

    @settings(max_examples=examples, database=None, deadline=None)
    @given(exceptions())
    def drive(exc: BaseException) -> None:
        number = len(results) + 1
        name = f"fuzz #{number}: {describe_exception(exc)}"
        try:
            status = expected_status(exc)
        except Exception as failure:
            problem = f"the oracle could not judge it: {type(failure).__name__}: {_safe_str(failure)}"
            results.append(CaseResult(name, 0, None, (problem,), origin="fuzz"))
            return
        expectation = Expectation(status, required_headers=required_headers_for(exc), leaks=leaks_for(exc))
        set_probe_exception(app, exc)
        results.append(
            run_expectation(name, expectation, request, send, tag=f"check-errors.fuzz.{number:05d}", origin="fuzz")
        )

    drive()
    return results


def describe_exception(exc: BaseException) -> str:
    """``Type('message…')``, short, printable and safe for any exception (even one whose str raises)."""
    shown = repr(_safe_str(exc)[: _SHOWN_MESSAGE * 2])
    if len(shown) > _SHOWN_MESSAGE:
        shown = shown[: _SHOWN_MESSAGE - 1] + "…"
    cls = type(exc)
    prefix = "anthropic." if cls.__module__.partition(".")[0] == "anthropic" else ""
    return f"{prefix}{cls.__name__}({shown})"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return "<str() raised>"
