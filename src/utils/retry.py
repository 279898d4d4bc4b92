"""Retry policies for calls that fail for a while and then work again.

Three ready-made policies, each usable bare (``@ai_retry``) or with overrides
(``@ai_retry(attempts=5)``), on sync and async functions alike:

* :data:`ai_retry` — calls to the Anthropic API: 3 attempts, waits of 4 to 10 s.
* :data:`network_retry` — plain HTTP or socket calls: 3 attempts, waits of 1 to 10 s.
* :data:`file_retry` — file system operations: 5 attempts, waits of 1 to 5 s.

Backoff. The wait after failed attempt *n* (1-based) is drawn uniformly from
``[lo_n, hi_n]`` where ``hi_n = min(wait_max, wait_min * 2**n)`` and
``lo_n = max(wait_min, hi_n / 2)``. The window doubles with each failure until it
reaches ``wait_max``, and because ``lo_n < hi_n`` whenever ``wait_min < wait_max``
every wait is random, the capped ones included. (Tenacity's own strategies clamp:
``wait_random_exponential(min=4, max=10)`` draws from ``[4, 4]`` on the first retry
and ``wait_exponential`` adds no jitter at all.)

Retry-After. When the failure carries a server's ``retry-after-ms`` or
``retry-after``, the wait is never shorter than that; if the server asks for more
than ``wait_max``, the policy gives up at once instead of blocking.

Giving up. After the last attempt, or at once for a permanent error, the original
exception propagates (never tenacity's ``RetryError``). ``fn.retry.statistics``
reports the attempt count of the last call in this thread.

Tests. :func:`set_testing` turns every sleep into a no-op, as a call or a context
manager. Instrumentation: every retry produces a frozen :class:`RetryDetails`
passed to the hooks set with :func:`set_on_retry_hooks`; the default hook logs it
at WARNING.

Importing this module has no side effects: it does not import ``anthropic``,
configure logging, touch the network or read the environment.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

import tenacity as _tenacity

from src.api.errors import AIServiceError
from src.utils.breaker import CircuitBreaker
from src.utils.budget import RetryBudget
from src.utils.log_escape import escape_log_value
from src.utils.transient import (
    is_transient_ai_error,
    is_transient_file_error,
    is_transient_network_error,
    retry_after_of,
)

__all__ = [
    "JITTER_STRATEGIES",
    "CallRefused",
    "Jitter",
    "RetryDetails",
    "RetryHook",
    "RetryPolicy",
    "ai_retry",
    "file_retry",
    "get_on_retry_hooks",
    "is_testing",
    "network_retry",
    "set_on_retry_hooks",
    "set_testing",
]

#: The backoff strategies a policy can use; see :attr:`RetryPolicy.jitter`.
Jitter = Literal["window", "full", "equal", "decorrelated", "none"]
JITTER_STRATEGIES: tuple[Jitter, ...] = ("window", "full", "equal", "decorrelated", "none")

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)


# --- instrumentation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """What one retry is about to do: passed to every hook before the policy sleeps."""

    policy: str
    function: str
    attempt: int
    """The attempt that just failed (1-based)."""
    max_attempts: int
    exception: BaseException
    wait: float
    """Seconds the policy will sleep before the next attempt."""
    retry_after: float | None
    """What the server asked for, when it did."""


RetryHook = Callable[[RetryDetails], None]


def _log_retry(details: RetryDetails) -> None:
    logger.warning(
        "Retrying %s (policy %s): attempt %d/%d failed with %s: %s; sleeping %.2fs",
        details.function,
        details.policy,
        details.attempt,
        details.max_attempts,
        type(details.exception).__name__,
        escape_log_value(details.exception),
        details.wait,
        extra={
            "retry_policy": details.policy,
            "retry_function": details.function,
            "retry_attempt": details.attempt,
            "retry_wait": details.wait,
        },
    )


_hooks: tuple[RetryHook, ...] = (_log_retry,)


def set_on_retry_hooks(hooks: Iterable[RetryHook] | None) -> None:
    """Replace the hooks called before every retry sleep. ``None`` restores the logging default.

    Use it to feed retries into metrics or tracing. A hook that raises is logged
    and ignored: instrumentation never changes what a call does.
    """
    global _hooks
    _hooks = (_log_retry,) if hooks is None else tuple(hooks)


def get_on_retry_hooks() -> tuple[RetryHook, ...]:
    """The hooks currently called before every retry sleep."""
    return _hooks


# --- testing switch --------------------------------------------------------------------------


class _TestingSwitch:
    """Returned by :func:`set_testing`; as a context manager it restores the previous state."""

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _testing
        _testing = self._previous


_testing = False


def set_testing(testing: bool = True) -> _TestingSwitch:
    """Make every policy skip its sleeps (``True``) or sleep for real again (``False``).

    Attempts, waits, hooks and statistics are unchanged, so tests still see what
    the policy *would* have waited; only the sleeping is skipped. Use it in tests
    and simulations::

        with set_testing():
            flaky_call()
    """
    global _testing
    previous = _testing
    _testing = testing
    return _TestingSwitch(previous)


def is_testing() -> bool:
    """Whether :func:`set_testing` is on."""
    return _testing


def _sleep(seconds: float) -> None:
    if not _testing and seconds > 0:
        time.sleep(seconds)


async def _async_sleep(seconds: float) -> None:
    if not _testing and seconds > 0:
        import asyncio  # only async callers get here, and they have imported it already

        await asyncio.sleep(seconds)


# --- the tenacity pieces (private) -----------------------------------------------------------


class _JitteredBackoff(_tenacity.wait.wait_base):
    """The policy's backoff (see :attr:`RetryPolicy.jitter`), floored by Retry-After."""

    def __init__(self, policy: RetryPolicy, rng: random.Random | None) -> None:
        self._policy = policy
        self._uniform = (rng or random).uniform

    def __call__(self, retry_state: _tenacity.RetryCallState) -> float:
        policy = self._policy
        attempt = retry_state.attempt_number
        if policy.jitter == "decorrelated":
            # AWS's "decorrelated jitter": each wait depends on the previous one.
            previous = retry_state.upcoming_sleep if attempt > 1 else policy.wait_min
            lo, hi = policy.wait_min, min(policy.wait_max, max(previous, policy.wait_min) * 3.0)
        else:
            lo, hi = policy.wait_bounds(attempt)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = retry_after_of(exc) if exc is not None else None
        if asked is None:
            return self._uniform(lo, hi)
        if asked >= policy.wait_max:
            # Longer than we would ever wait: give up rather than block. As long as the longest
            # wait: no room is left for jitter, and every caller told the same would come back
            # at the same instant; give up too and let the caller pass the Retry-After on.
            return math.inf  # _StopPolicy sees this

        if policy.jitter != "window":
            return max(asked, self._uniform(lo, hi))
        floor = max(lo, asked)
        return self._uniform(floor, max(hi, min(policy.wait_max, asked + (hi - lo))))


class _StopPolicy(_tenacity.stop.stop_base):
    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: _tenacity.RetryCallState) -> bool:
        return retry_state.attempt_number >= self._policy.attempts or retry_state.upcoming_sleep > self._policy.wait_max


def _make_before_sleep(policy: RetryPolicy, extra_hook: RetryHook | None) -> Callable[[_tenacity.RetryCallState], None]:
    def before_sleep(retry_state: _tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:  # pragma: no cover - retry_if only retries failures
            return
        exc = cast(BaseException, outcome.exception())
        _check_retry_allowed(policy, exc)
        details = RetryDetails(
            policy=policy.name,
            function=_function_name(retry_state),
            attempt=retry_state.attempt_number,
            max_attempts=policy.attempts,
            exception=exc,
            wait=retry_state.upcoming_sleep,
            retry_after=retry_after_of(exc),
        )
        for hook in (*_hooks, *((extra_hook,) if extra_hook else ())):
            try:
                hook(details)
            except Exception:
                logger.exception("retry hook %r failed", hook)

    return before_sleep


def _function_name(retry_state: _tenacity.RetryCallState) -> str:
    fn = retry_state.fn
    original = getattr(fn, "__wrapped_original__", fn)
    return getattr(original, "__qualname__", None) or repr(original)


class CallRefused(AIServiceError):
    """A policy's circuit breaker or retry budget refused a call or a retry: a 503 with Retry-After.

    Raised instead of waiting, chained to the attempt's failure when there was one.
    Catch it (or any :class:`~src.api.errors.AIServiceError`) to answer the client fast.
    """


def _check_retry_allowed(policy: RetryPolicy, exc: BaseException) -> None:
    """Before sleeping: fail fast when the breaker is open or the budget is spent.

    Only looks at the breaker (the probe slot is taken by the attempt itself, after the
    sleep, in :class:`_Attempts`); spends a budget token for the retry.
    """
    breaker, budget = policy.breaker, policy.budget
    if breaker is not None and breaker.state == "open":
        raise _refused(policy, "the circuit is open", breaker.retry_after()) from exc
    if budget is not None and not budget.try_spend():
        raise _refused(policy, "the retry budget is spent", policy.wait_min) from exc


def _check_call_allowed(policy: RetryPolicy, last: BaseException | None = None) -> None:
    """Before an attempt: the breaker must let it through (in half-open state, as the one probe)."""
    breaker = policy.breaker
    if breaker is not None and not breaker.allow():
        probing = breaker.state == "half_open"
        why = "the circuit is half-open and a probe is in flight" if probing else "the circuit is open"
        raise _refused(policy, why, breaker.retry_after()) from last


def _refused(policy: RetryPolicy, why: str, retry_after: float) -> CallRefused:
    return CallRefused(
        f"Service temporarily unavailable: {why} for {policy.name} calls; try again later",
        status_code=503,
        retry_after=float(math.ceil(max(retry_after, 1.0))),
    )


def _record(policy: RetryPolicy, exc: BaseException | None) -> None:
    """Tell the budget and breaker how an attempt went.

    Success refunds the budget and closes the breaker; a transient failure counts
    against the breaker; anything else (a permanent error, a cancellation) says
    nothing about the upstream and only frees a half-open probe slot.
    """
    breaker = policy.breaker
    if exc is None:
        if policy.budget is not None:
            policy.budget.record_success()
        if breaker is not None:
            breaker.record_success()
    elif breaker is not None:
        if isinstance(exc, Exception) and policy.retry_if(exc):
            breaker.record_failure()
        else:
            breaker.release()


class _Flags:
    """Stands in for an absent budget or breaker on the guarded hot path."""

    full = True
    clean = True


_ALWAYS_FULL = _ALWAYS_CLEAN = _Flags()


_FIRST_TRY_STATS: dict[str, Any] = cast(
    dict[str, Any],
    MappingProxyType({"attempt_number": 1, "idle_for": 0.0, "delay_since_first_attempt": 0.0}),
)


# --- the policy ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry policy: how many attempts, how long to wait, and which failures to retry.

    Call it on a function (``@policy``) to decorate it, or with keyword overrides
    (``@policy(attempts=5)``) to get a tuned copy. Use :meth:`call` to run a
    callable once under the policy with your own clock, as the simulator does.
    """

    name: str
    attempts: int
    wait_min: float
    wait_max: float
    retry_if: Callable[[BaseException], bool]
    budget: RetryBudget | None = field(default=None, compare=False)
    """Shared by every call of this policy (and its tuned copies): caps retries when failures dominate."""
    breaker: CircuitBreaker | None = field(default=None, compare=False)
    """Shared likewise: refuses calls at once while the upstream keeps failing."""
    jitter: Jitter = "window"
    """How waits are randomised. ``"window"`` (the default, described in the module
    docstring) keeps every wait random and inside ``[wait_min, wait_max]``. The others
    exist to compare strategies, as in AWS's "Exponential Backoff And Jitter", with
    ``e_n = min(wait_max, wait_min * 2**(n-1))``: ``"full"`` draws from ``[0, e_n]``,
    ``"equal"`` from ``[e_n/2, e_n]``, ``"decorrelated"`` from
    ``[wait_min, min(wait_max, 3 * previous wait)]``, and ``"none"`` waits exactly ``e_n``."""

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if not 0 < self.wait_min < self.wait_max < float("inf"):
            raise ValueError(
                f"need 0 < wait_min < wait_max for jittered waits, got {self.wait_min!r}, {self.wait_max!r}"
            )
        if self.jitter not in JITTER_STRATEGIES:
            raise ValueError(f"jitter must be one of {', '.join(JITTER_STRATEGIES)}, got {self.jitter!r}")

    def wait_bounds(self, attempt: int) -> tuple[float, float]:
        """The ``(low, high)`` window the wait after failed attempt ``attempt`` is drawn from.

        For ``jitter="decorrelated"`` the window also depends on the previous wait;
        this returns the widest it can be, ``(wait_min, wait_max)``.
        """
        n = min(max(attempt, 1), 64)
        if self.jitter == "window":
            hi = min(self.wait_max, self.wait_min * 2.0**n)
            return max(self.wait_min, hi / 2.0), hi
        exp = min(self.wait_max, self.wait_min * 2.0 ** (n - 1))
        if self.jitter == "full":
            return 0.0, exp
        if self.jitter == "equal":
            return exp / 2.0, exp
        if self.jitter == "none":
            return exp, exp
        return self.wait_min, self.wait_max

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether this policy would retry after ``exc`` (ignoring attempts left and Retry-After)."""
        return self.retry_if(exc)

    def replace(self, **changes: Any) -> RetryPolicy:
        """A copy with some fields changed, e.g. ``ai_retry.replace(attempts=5)``.

        The copy shares this policy's budget and breaker unless you pass new ones.
        """
        return dataclasses.replace(self, **changes)

    def with_fresh_state(self, clock: Callable[[], float] | None = None) -> RetryPolicy:
        """A copy with its own new budget and breaker (same settings), the breaker on ``clock``.

        Use it for simulations and tests that must not share state with the process-wide policy.
        """
        return self.replace(
            budget=self.budget.fresh() if self.budget else None,
            breaker=self.breaker.fresh(clock) if self.breaker else None,
        )

    def reset(self) -> None:
        """Refill the budget and close the breaker (tests, or after an incident)."""
        if self.budget is not None:
            self.budget.reset()
        if self.breaker is not None:
            self.breaker.reset()

    @overload
    def __call__(self, fn: Callable[P, T], /) -> Callable[P, T]: ...

    @overload
    def __call__(
        self,
        fn: None = None,
        /,
        *,
        name: str = ...,
        attempts: int = ...,
        wait_min: float = ...,
        wait_max: float = ...,
        retry_if: Callable[[BaseException], bool] = ...,
        budget: RetryBudget | None = ...,
        breaker: CircuitBreaker | None = ...,
        jitter: Jitter = ...,
    ) -> RetryPolicy: ...

    def __call__(self, fn: Callable[P, T] | None = None, /, **changes: Any) -> Callable[P, T] | RetryPolicy:
        if fn is None:
            return self.replace(**changes)
        if changes:  # pragma: no cover - the overloads forbid it
            raise TypeError("pass either a function or keyword overrides, not both")
        return _decorate(self, fn)

    def call(
        self,
        fn: Callable[[], T],
        *,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        on_retry: RetryHook | None = None,
    ) -> T:
        """Run ``fn()`` under this policy once, with an injectable clock and random source.

        ``sleep`` replaces the real sleep (a virtual clock's ``advance``, say),
        ``rng`` makes the jitter reproducible and ``on_retry`` sees every retry
        besides the global hooks. Returns what ``fn`` returns, or raises its last
        exception, exactly as the decorated function would. The call counts
        against this policy's shared budget and breaker: use
        :meth:`with_fresh_state` for runs that must not share them.
        """
        return self.runner(sleep=sleep, rng=rng, on_retry=on_retry)(fn)

    def runner(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        on_retry: RetryHook | None = None,
    ) -> Callable[[Callable[[], T]], T]:
        """:meth:`call` with its clock, random source and hook fixed, for running many calls.

        Builds tenacity's machinery once instead of per call, and like the decorator
        runs the first attempt outside it, so a simulation of 100,000 calls spends
        its time in the retries. The returned function is not reentrant: don't call
        it from inside the ``fn`` it is running.
        """
        retrying = cast(_tenacity.Retrying, self._retrying(sleep=sleep or _sleep, rng=rng, on_retry=on_retry))
        guarded = self.budget is not None or self.breaker is not None

        def run(fn: Callable[[], T]) -> T:
            if guarded:
                _check_call_allowed(self)
            try:
                result = fn()
            except Exception as first:
                if guarded:
                    _record(self, first)
                return cast(T, retrying(_Attempts(self, fn, first)))
            except BaseException as stop:
                if guarded:
                    _record(self, stop)
                raise
            if guarded:
                _record(self, None)
            return result

        return run

    async def acall(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        on_retry: RetryHook | None = None,
    ) -> T:
        """The asyncio twin of :meth:`call`: awaits ``fn()`` under this policy, sleeping with ``sleep``.

        Use it to run many concurrent calls on one virtual clock (an event loop
        whose time is simulated), as the fleet simulation does.
        """
        retrying = cast(
            _tenacity.AsyncRetrying,
            self._retrying(sleep=sleep or _async_sleep, rng=rng, on_retry=on_retry, asynchronous=True),
        )
        _check_call_allowed(self)
        try:
            result = await fn()
        except Exception as first:
            _record(self, first)
            return cast(T, await retrying(_AsyncAttempts(self, fn, first)))
        except BaseException as stop:  # cancelled: frees a half-open probe slot
            _record(self, stop)
            raise
        _record(self, None)
        return result

    def _retrying(
        self,
        *,
        sleep: Callable[[float], Any],
        rng: random.Random | None = None,
        on_retry: RetryHook | None = None,
        asynchronous: bool = False,
    ) -> _tenacity.BaseRetrying:
        kwargs: dict[str, Any] = {
            "sleep": sleep,
            "stop": _StopPolicy(self),
            "wait": _JitteredBackoff(self, rng),
            "retry": _tenacity.retry_if_exception(lambda exc: not isinstance(exc, CallRefused) and self.retry_if(exc)),
            "before_sleep": _make_before_sleep(self, on_retry),
            "reraise": True,
            "name": self.name,
        }
        if asynchronous:
            return _tenacity.AsyncRetrying(**kwargs)
        return _tenacity.Retrying(**kwargs)


def _decorate(policy: RetryPolicy, fn: Callable[P, T]) -> Callable[P, T]:
    """Wrap ``fn`` so that its first attempt runs without tenacity's bookkeeping.

    A successful first call costs one ``try`` and a thread-local store; only a
    failure enters tenacity, which replays that first failure as attempt 1 and
    takes over from there (waits, stop, hooks and statistics unchanged).
    """
    if inspect.iscoroutinefunction(fn):
        return cast(Callable[P, T], _decorate_async(policy, cast(Callable[..., Awaitable[Any]], fn)))

    base = policy._retrying(sleep=_sleep)
    local = base._local
    budget, breaker = policy.budget, policy.breaker

    if budget is None and breaker is None:

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                result = fn(*args, **kwargs)
            except Exception as first:
                return _run_after_first_failure(policy, base, fn, first, args, kwargs)
            local.statistics = _FIRST_TRY_STATS
            return result

    else:
        # The same, plus the guard. Each check is one attribute read while all is well.
        budget_full = budget if budget is not None else _ALWAYS_FULL
        breaker_clean = breaker if breaker is not None else _ALWAYS_CLEAN

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if not breaker_clean.clean:
                _check_call_allowed(policy)
            try:
                result = fn(*args, **kwargs)
            except Exception as first:
                _record(policy, first)
                return _run_after_first_failure(policy, base, fn, first, args, kwargs)
            except BaseException as stop:
                _record(policy, stop)
                raise
            if not budget_full.full or not breaker_clean.clean:
                _record(policy, None)
            local.statistics = _FIRST_TRY_STATS
            return result

    wrapper.retry = base  # type: ignore[attr-defined]
    wrapper.__wrapped_original__ = fn  # type: ignore[attr-defined]
    return wrapper


def _run_after_first_failure(
    policy: RetryPolicy,
    base: _tenacity.BaseRetrying,
    fn: Callable[..., T],
    first: Exception,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    retrying = cast(_tenacity.Retrying, base.copy())
    stats: dict[str, Any] = {}
    retrying._local.statistics = stats
    base._local.statistics = stats
    return cast(T, retrying(_Attempts(policy, fn, first), *args, **kwargs))


class _Attempts:
    """What tenacity calls for each attempt.

    Replays an already-seen first failure once; before every later attempt asks the
    breaker (the wait may have outlasted its state), then calls the real function and
    reports the outcome to the policy's budget and breaker.
    """

    __slots__ = ("__wrapped_original__", "_first", "_fn", "_last", "_policy")

    def __init__(self, policy: RetryPolicy, fn: Callable[..., Any], first: BaseException | None) -> None:
        self._policy = policy
        self._fn = fn
        self._first = first
        self._last = first
        self.__wrapped_original__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        first, self._first = self._first, None
        if first is not None:
            raise first
        _check_call_allowed(self._policy, self._last)
        try:
            result = self._fn(*args, **kwargs)
        except BaseException as exc:
            self._last = exc
            _record(self._policy, exc)
            raise
        _record(self._policy, None)
        return result


class _AsyncAttempts(_Attempts):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        first, self._first = self._first, None
        if first is not None:
            raise first
        _check_call_allowed(self._policy, self._last)
        try:
            result = await self._fn(*args, **kwargs)
        except BaseException as exc:
            self._last = exc
            _record(self._policy, exc)
            raise
        _record(self._policy, None)
        return result


def _decorate_async(policy: RetryPolicy, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    base = policy._retrying(sleep=_async_sleep, asynchronous=True)
    local = base._local
    guarded = policy.budget is not None or policy.breaker is not None

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        if guarded:
            _check_call_allowed(policy)
        try:
            result = await fn(*args, **kwargs)
        except Exception as first:
            if guarded:
                _record(policy, first)
            retrying = cast(_tenacity.AsyncRetrying, base.copy())
            stats: dict[str, Any] = {}
            retrying._local.statistics = stats
            local.statistics = stats
            return cast(T, await retrying(_AsyncAttempts(policy, fn, first), *args, **kwargs))
        except BaseException as stop:  # cancelled: frees a half-open probe slot
            if guarded:
                _record(policy, stop)
            raise
        if guarded:
            _record(policy, None)
        local.statistics = _FIRST_TRY_STATS
        return result

    wrapper.retry = base  # type: ignore[attr-defined]
    wrapper.__wrapped_original__ = fn  # type: ignore[attr-defined]
    return wrapper


# --- the three policies ----------------------------------------------------------------------

ai_retry = RetryPolicy(
    name="ai",
    attempts=3,
    wait_min=4.0,
    wait_max=10.0,
    retry_if=is_transient_ai_error,
    budget=RetryBudget(capacity=10.0, retry_cost=1.0, success_refund=0.1, name="ai"),
    breaker=CircuitBreaker(failure_threshold=5, cool_down=30.0, name="ai"),
)
"""Use for calls to the Anthropic API (SDK created with ``max_retries=0``).

3 attempts; waits drawn from [4, 8] then [5, 10] seconds. Retries timeouts,
connection errors, the SDK's ``APIConnectionError``, 408, 409, 429 and every 5xx
including 529; never 400, 401, 403, 404, 413, 422 or another client error. Gives
up at once when the server's Retry-After is 10 s or more.

Process-wide, its calls share a retry budget (a burst of 10 retries, then one
per 10 successes) and a circuit breaker (open after 5 consecutive transient
failures, a probe after 30 s). When either refuses, the call fails fast with
``AIServiceError`` 503 and a Retry-After instead of waiting.
"""

network_retry = RetryPolicy(
    name="network", attempts=3, wait_min=1.0, wait_max=10.0, retry_if=is_transient_network_error
)
"""Use for plain HTTP and socket calls (urllib, httpx, httpx2, requests).

3 attempts; waits drawn from [1, 2] then [2, 4] seconds. Retries
``ConnectionError``, ``TimeoutError``, transport failures and HTTP 408, 429 and
5xx; never another 4xx.
"""

file_retry = RetryPolicy(name="file", attempts=5, wait_min=1.0, wait_max=5.0, retry_if=is_transient_file_error)
"""Use for file operations that can fail for a moment (locks, permissions being fixed, NFS).

5 attempts; waits drawn from [1, 2], [2, 4], [2.5, 5], [2.5, 5] seconds.
Retries ``OSError`` except ``FileNotFoundError``, ``FileExistsError``,
``IsADirectoryError`` and ``NotADirectoryError``.
"""
