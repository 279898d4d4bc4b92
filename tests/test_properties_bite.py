"""The properties bite: break the handlers or the policies on purpose, and each break is caught.

Every test applies one deliberate break (with ``monkeypatch``, or by building a broken policy),
then asks Hypothesis (``hypothesis.find``) for an example on which a property of
``test_properties_handlers.py`` or ``test_properties_policies.py`` fails, drawing from that
property's strategy or, to keep the search short, from the family of it the break concerns
(APIErrors for payloads, Werkzeug's exceptions for their headers). A break the properties could
not tell from working code fails the test. The unbroken code passes the same properties there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from src.utils import error_handlers, strict_json
from src.utils import retry as retry_mod
from src.utils.retry import RetryPolicy, set_testing
from tests.strategies import (
    api_errors,
    exceptions,
    http_exceptions,
    methods,
    retry_after_scripts,
    scripts,
    seeds,
    stock_policies,
)
from tests.test_properties_handlers import check_contract, check_headers, check_no_leak
from tests.test_properties_policies import (
    check_attempts,
    check_jitter,
    check_outcome,
    check_retry_after_honoured,
)

pytestmark = pytest.mark.property

# A fixed budget, whatever the profile: each break must show within it. No shrinking (the
# counterexample only has to exist) and no database (a broken run must not seed real ones).
_SEARCH = settings(
    max_examples=500,
    phases=[Phase.generate],
    database=None,
    deadline=None,
    # The search stops at the first violation; how fast examples are drawn is the real suites' concern.
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(autouse=True, scope="module")
def _no_real_sleep() -> Iterator[None]:
    with set_testing(True):
        yield


def counterexample(strategy: st.SearchStrategy[Any], check: Callable[..., None]) -> Any:
    """An example drawn from ``strategy`` on which ``check`` fails; fails the test if there is none."""

    def violated(example: Any) -> bool:
        arguments = example if isinstance(example, tuple) else (example,)
        try:
            check(*arguments)
        except AssertionError:
            return True
        return False

    try:
        return find(strategy, violated, settings=_SEARCH)
    except NoSuchExample:
        pytest.fail(f"{check.__name__} did not notice the break in {_SEARCH.max_examples} examples")


# --- handlers ---------------------------------------------------------------------------------


def test_nan_let_through_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: strict_json keeps NaN and the infinities and the encoder writes them; the contract check fails."""
    monkeypatch.setattr(strict_json, "_double", lambda number: number)
    monkeypatch.setattr(
        error_handlers,
        "dumps_ijson",
        lambda value: json.dumps(strict_json.to_ijson(value), ensure_ascii=False).encode("utf-8"),
    )
    # APIErrors are the exceptions whose payloads reach the body.
    counterexample(st.tuples(api_errors(), st.just("GET")), check_contract)


def test_dropped_headers_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: error responses start afresh instead of from ``e.get_response()``, losing Werkzeug's headers."""
    build = error_handlers._error_response

    def without_base(status: int, fields: Any, *, base: Any = None, retry_after: int | None = None) -> Any:
        return build(status, fields, retry_after=retry_after)

    monkeypatch.setattr(error_handlers, "_error_response", without_base)
    # Werkzeug's HTTPExceptions are the ones whose headers come from ``e.get_response()``.
    counterexample(st.tuples(http_exceptions(), methods()), check_headers)


def test_a_leaked_exception_text_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: a 5xx says which exception happened ("ValueError: db password ..."), as a debug page would."""
    build = error_handlers._error_response

    def telling(status: int, fields: Any, **options: Any) -> Any:
        failure = sys.exc_info()[1]
        if status >= 500 and failure is not None:
            fields = {**fields, "error": f"{type(failure).__name__}: {_safe_str(failure)}"}
        return build(status, fields, **options)

    monkeypatch.setattr(error_handlers, "_error_response", telling)
    counterexample(exceptions(), check_no_leak)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return "?"


# --- policies ---------------------------------------------------------------------------------


def test_a_retried_permanent_error_is_caught() -> None:
    """Break: the policy retries every exception, permanent ones included."""

    def retry_everything(script: Any) -> None:
        check_attempts(script, script.policy.with_fresh_state().replace(retry_if=lambda exc: True))

    counterexample(scripts(), retry_everything)


def test_removed_jitter_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: the backoff always waits the low end of its window (jitter removed)."""
    original_init = retry_mod._JitteredBackoff.__init__

    def low_end(self: Any, policy: RetryPolicy, rng: Any) -> None:
        original_init(self, policy, rng)
        self._uniform = lambda low, high: low

    monkeypatch.setattr(retry_mod._JitteredBackoff, "__init__", low_end)
    counterexample(st.tuples(stock_policies(), st.lists(seeds(), min_size=2, max_size=6, unique=True)), check_jitter)


def test_an_ignored_retry_after_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: the backoff no longer reads the server's Retry-After."""
    monkeypatch.setattr(retry_mod, "retry_after_of", lambda exc: None)
    counterexample(retry_after_scripts(), check_retry_after_honoured)


def test_a_wrapped_last_exception_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break: giving up raises tenacity's RetryError instead of the last exception itself."""
    build = RetryPolicy._retrying

    def wrapping(self: RetryPolicy, **options: Any) -> Any:
        return build(self, **options).copy(reraise=False)

    monkeypatch.setattr(RetryPolicy, "_retrying", wrapping)
    counterexample(scripts(), check_outcome)
