"""Named Hypothesis strategies for the property tests.

The exception, message, payload and status-code strategies live in :mod:`src.testing.strategies`
(``check-errors --fuzz`` uses them too) and are re-exported here. This module adds what only
the tests need: retry policies and scripts of attempt outcomes to run them on.
"""

from __future__ import annotations

import math
import urllib.error
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from hypothesis import strategies as st

# Imported now, not on the first draw of an SDK error (which would trip Hypothesis's too_slow
# health check), and so that the handlers recognise the SDK's exceptions from the start.
import anthropic  # noqa: F401  isort: skip

from src.testing.strategies import (
    anthropic_errors,
    api_error_classes,
    api_errors,
    builtin_exception_classes,
    builtin_exceptions,
    error_statuses,
    exception_classes,
    exceptions,
    http_exception_classes,
    http_exceptions,
    messages,
    payload_mappings,
    payloads,
    status_codes,
    unprintable_exceptions,
)
from src.utils.retry import RetryPolicy, ai_retry, file_retry, network_retry

__all__ = [
    "Outcome",
    "Script",
    "anthropic_errors",
    "api_error_classes",
    "api_errors",
    "builtin_exception_classes",
    "builtin_exceptions",
    "error_statuses",
    "exception_classes",
    "exceptions",
    "http_exception_classes",
    "http_exceptions",
    "messages",
    "methods",
    "outcomes",
    "payload_mappings",
    "payloads",
    "policies",
    "retry_after_scripts",
    "scripts",
    "seeds",
    "status_codes",
    "stock_policies",
    "unprintable_exceptions",
]

OutcomeKind = Literal["success", "transient", "permanent"]
STOCK_POLICIES = (ai_retry, file_retry, network_retry)


@dataclass(frozen=True)
class Outcome:
    """What one attempt does: return, or raise ``error`` (transient or permanent for the policy).

    ``retry_after`` is the wait the error asks for, in seconds, as the policy will read it from
    the error's headers or attribute (None: it asks for nothing; ``inf``: an HTTP date decades
    ahead).
    """

    kind: OutcomeKind
    error: BaseException | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Script:
    """A policy, the outcomes of its successive attempts (success once they run out), and a seed."""

    policy: RetryPolicy
    outcomes: tuple[Outcome, ...]
    seed: int

    def outcome(self, attempt: int) -> Outcome:
        """The outcome of ``attempt`` (1-based)."""
        return self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else Outcome("success")


class _BusyFile(OSError):
    """A transient file error that says how long to wait, as the file policy reads it."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(16, "Device or resource busy")
        self.retry_after = retry_after


def _http_error(status: int, headers: dict[str, str] | None = None) -> urllib.error.HTTPError:
    fields = Message()
    for name, value in (headers or {}).items():
        fields[name] = value
    return urllib.error.HTTPError("http://upstream.invalid/x", status, "status", fields, None)


# Retry-After dates whose wait does not depend on when the test runs: "now" and "decades from now".
_LONG_AGO = "Wed, 21 Oct 2015 07:28:00 GMT"
_FAR_FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
_UNREADABLE = "Fri, 01 Jan 99999 00:00:00 GMT"
# Failures each policy must retry, and failures it must not (the labels do not ask the policy).
_TRANSIENT_STATUSES = {"ai": (408, 409, 429, 500, 502, 503, 529), "network": (408, 429, 500, 502, 503, 504)}
_PERMANENT_STATUSES = {"ai": (400, 401, 403, 404, 413, 422), "network": (400, 401, 403, 404, 409, 413, 422)}
_NETWORK_TRANSIENTS = st.sampled_from((TimeoutError, ConnectionError, ConnectionResetError, ConnectionRefusedError))
_FILE_TRANSIENTS = st.sampled_from((PermissionError, BlockingIOError, InterruptedError, OSError, TimeoutError))
_FILE_PERMANENTS = st.sampled_from((FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError))
_PROGRAMMING_ERRORS = st.sampled_from((ValueError, KeyError, TypeError, RuntimeError, ZeroDivisionError))


@st.composite
def stock_policies(draw: st.DrawFn) -> RetryPolicy:
    """``ai_retry``, ``file_retry`` or ``network_retry`` exactly as the application uses them."""
    return draw(st.sampled_from(STOCK_POLICIES))


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    """A stock policy, or a tuned copy of one, e.g. ``network_retry.replace(attempts=6, wait_min=0.03, wait_max=2.5)``.

    Tuned ``ai`` copies keep at most 5 attempts, so that one call never opens its circuit
    breaker (5 consecutive failures) and the properties see the policy's own decisions.
    """
    policy = draw(st.sampled_from(STOCK_POLICIES))
    if draw(st.booleans()):
        return policy
    wait_min = draw(st.floats(0.001, 60.0))
    wait_max = wait_min * draw(st.floats(1.001, 1000.0))
    attempts = draw(st.integers(1, 5 if policy.name == "ai" else 8))
    return policy.replace(attempts=attempts, wait_min=wait_min, wait_max=wait_max)


@st.composite
def _retry_after_values(draw: st.DrawFn, policy: RetryPolicy) -> float:
    """A Retry-After for ``policy``: 0, inside or at the edge of [wait_min, wait_max], or beyond it."""
    lo, hi = policy.wait_min, policy.wait_max
    return draw(
        st.one_of(
            st.sampled_from((0.0, lo, hi, hi * 1.0000001, hi * 10)),
            st.floats(0.0, hi, allow_subnormal=False),
            st.floats(hi, hi * 3, exclude_min=True),
        )
    )


@st.composite
def _transient_errors(draw: st.DrawFn, policy: RetryPolicy, retry_after: float | None) -> Outcome:
    """A failure ``policy`` retries, asking for ``retry_after`` the way its kind of call does."""
    if policy.name == "file":
        if retry_after is not None:
            return Outcome("transient", _BusyFile(retry_after), retry_after)
        return Outcome("transient", draw(_FILE_TRANSIENTS)("transient"))
    if retry_after is not None:
        status = draw(st.sampled_from((429, 503)))
        form = draw(st.sampled_from(("seconds", "milliseconds", "date")))
        if form == "seconds":
            return Outcome("transient", _http_error(status, {"Retry-After": repr(retry_after)}), retry_after)
        if form == "milliseconds":
            # retry-after-ms is read as float(text) / 1000, so that is the wait asked for.
            millis = retry_after * 1000.0
            return Outcome("transient", _http_error(status, {"retry-after-ms": repr(millis)}), millis / 1000.0)
        # An HTTP date is read against the clock: only dates far away give a wait known in advance.
        if draw(st.integers(0, 3)) == 0:  # past the year 9999: unreadable, so it asks for nothing
            return Outcome("transient", _http_error(status, {"Retry-After": _UNREADABLE}))
        if retry_after > policy.wait_max:
            return Outcome("transient", _http_error(status, {"Retry-After": _FAR_FUTURE}), math.inf)
        return Outcome("transient", _http_error(status, {"Retry-After": _LONG_AGO}), 0.0)
    if draw(st.booleans()):
        return Outcome("transient", _http_error(draw(st.sampled_from(_TRANSIENT_STATUSES[policy.name]))))
    return Outcome("transient", draw(_NETWORK_TRANSIENTS)("transient"))


@st.composite
def _permanent_errors(draw: st.DrawFn, policy: RetryPolicy) -> BaseException:
    """A failure ``policy`` must not retry."""
    if policy.name == "file" and draw(st.booleans()):
        return draw(_FILE_PERMANENTS)("permanent")
    if policy.name != "file" and draw(st.booleans()):
        return _http_error(draw(st.sampled_from(_PERMANENT_STATUSES[policy.name])))
    return draw(_PROGRAMMING_ERRORS)("permanent")


_ANY_KIND: tuple[OutcomeKind, ...] = ("transient", "transient", "transient", "permanent", "success")


@st.composite
def outcomes(
    draw: st.DrawFn,
    policy: RetryPolicy,
    *,
    kinds: tuple[OutcomeKind, ...] = _ANY_KIND,
    retry_after: bool | None = None,
) -> Outcome:
    """One attempt's outcome for ``policy``, of one of ``kinds``::

        Outcome("transient", ConnectionResetError("transient"))
        Outcome("transient", HTTPError(429, Retry-After: 7.25), retry_after=7.25)
        Outcome("permanent", HTTPError(404))     Outcome("success")

    ``retry_after``: True, a transient error always asks for a wait; False, never; None, sometimes.
    """
    kind = draw(st.sampled_from(kinds))
    if kind == "success":
        return Outcome("success")
    if kind == "permanent":
        return Outcome("permanent", draw(_permanent_errors(policy)))
    asks = draw(st.booleans()) if retry_after is None else retry_after
    return draw(_transient_errors(policy, draw(_retry_after_values(policy)) if asks else None))


@st.composite
def seeds(draw: st.DrawFn) -> int:
    """A seed for the policy's ``random.Random``."""
    return draw(st.integers(0, 2**32 - 1))


@st.composite
def scripts(draw: st.DrawFn, *, policy: st.SearchStrategy[RetryPolicy] | None = None) -> Script:
    """A policy and up to ``attempts + 1`` scripted outcomes, for example::

    Script(ai_retry, (transient, transient + Retry-After 4.5, success), seed=17)
    Script(file_retry.replace(attempts=2, ...), (permanent,), seed=0)
    """
    chosen = draw(policy if policy is not None else policies())
    steps = draw(st.lists(outcomes(chosen), min_size=1, max_size=chosen.attempts + 1))
    return Script(chosen, tuple(steps), draw(seeds()))


@st.composite
def retry_after_scripts(draw: st.DrawFn) -> Script:
    """A script of transient failures that all ask for a Retry-After, ending in success."""
    chosen = draw(policies())
    count = draw(st.integers(1, chosen.attempts))
    steps = [draw(outcomes(chosen, kinds=("transient",), retry_after=True)) for _ in range(count)]
    return Script(chosen, tuple(steps), draw(seeds()))


@st.composite
def methods(draw: st.DrawFn) -> str:
    """The HTTP method of a request that reaches a view: ``GET``, ``POST``, ``PUT``, ``DELETE`` or ``HEAD``."""
    return draw(st.sampled_from(("GET", "POST", "PUT", "DELETE", "HEAD")))
