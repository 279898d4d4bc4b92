"""Section ``retry``: what a retry decorator costs per call, on success and on one transient failure.

Success path: a function that returns at once, called bare and through ``ai_retry``, ``file_retry``
and ``network_retry`` as shipped (``ai_retry`` with its process-wide budget and breaker), through
tenacity's ``@retry`` with ``ai_retry``'s settings (3 attempts, waits of 4 to 10 s, the same
predicate, ``reraise=True``), backoff's ``on_exception`` and stamina's ``retry`` with the nearest
settings each offers. Each sample is ``timeit`` over enough calls to take ``seconds`` (so loop
overhead is in every figure alike); the candidates take turns in every round and the figure is
each one's fastest sample. Target: each of our decorators within 10x a bare call.

Failure path: the function raises one ``ConnectionError`` (transient for every policy) and then
succeeds, under ``set_testing(True)`` so that nothing sleeps, against tenacity's ``@retry`` with a
no-op sleep. A counting hook replaces the default logging one on both sides; afterwards the section
checks that every failure reached the hook with a wait inside the policy's first window and that
the statistics say two attempts, i.e. that failures still go through tenacity. ``ai_retry`` runs
on a copy with its own budget, reset before every call (one retry per call would otherwise spend
it), and that reset is in its figure.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import backoff
import stamina
import tenacity

from bench.report import Ratio, Row, Section, Target
from bench.timing import Sampler, interleave, median, timed_loop
from src.utils.retry import (
    RetryDetails,
    RetryPolicy,
    ai_retry,
    file_retry,
    get_on_retry_hooks,
    network_retry,
    set_on_retry_hooks,
    set_testing,
)
from src.utils.transient import is_transient_ai_error

__all__ = ["DEFAULT", "QUICK", "TARGET_RATIO", "Sizes", "run"]

#: The issue's goal: a successful call through our decorators costs at most this many bare calls.
TARGET_RATIO = 10.0


@dataclass(frozen=True, slots=True)
class Sizes:
    """How long the section measures."""

    rounds: int
    """Samples per candidate, one per round."""
    seconds: float
    """Length of one sample."""


DEFAULT = Sizes(rounds=15, seconds=0.02)
QUICK = Sizes(rounds=2, seconds=0.002)

_OURS = {"ai_retry": ai_retry, "file_retry": file_retry, "network_retry": network_retry}


def _target() -> None:
    return None


def _tenacity_like_ai(
    sleep: Callable[[float], None] | None = None,
    before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
) -> Callable[[Callable[[], None]], Callable[[], None]]:
    options: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(ai_retry.attempts),
        "wait": tenacity.wait_random_exponential(
            multiplier=ai_retry.wait_min, min=ai_retry.wait_min, max=ai_retry.wait_max
        ),
        "retry": tenacity.retry_if_exception(is_transient_ai_error),
        "reraise": True,
    }
    if sleep is not None:
        options["sleep"] = sleep
    if before_sleep is not None:
        options["before_sleep"] = before_sleep
    decorate: Callable[[Callable[[], None]], Callable[[], None]] = tenacity.retry(**options)
    return decorate


def _success_candidates() -> dict[str, Callable[[], None]]:
    return {
        "bare": _target,
        **{name: policy(_target) for name, policy in _OURS.items()},
        "tenacity": _tenacity_like_ai()(_target),
        "backoff": backoff.on_exception(
            backoff.expo,
            Exception,
            max_tries=ai_retry.attempts,
            giveup=lambda exc: not is_transient_ai_error(exc),
            factor=ai_retry.wait_min,
            max_value=ai_retry.wait_max,
        )(_target),
        "stamina": stamina.retry(
            on=is_transient_ai_error,
            attempts=ai_retry.attempts,
            timeout=None,
            wait_initial=ai_retry.wait_min,
            wait_max=ai_retry.wait_max,
        )(_target),
    }


_SUCCESS_LABELS = {
    "bare": "bare call",
    "ai_retry": "@ai_retry",
    "file_retry": "@file_retry",
    "network_retry": "@network_retry",
    "tenacity": "tenacity @retry (ai settings)",
    "backoff": "backoff.on_exception",
    "stamina": "stamina.retry",
}


class _FlakyOnce:
    """Raises one transient ``ConnectionError`` after each arming, then succeeds."""

    def __init__(self) -> None:
        self.armed = False
        self.failures = 0

    def __call__(self) -> None:
        if self.armed:
            self.armed = False
            self.failures += 1
            raise ConnectionError("bench: transient failure")


def _success_sampler(fn: Callable[[], None]) -> Sampler:
    return timeit.Timer("fn()", globals={"fn": fn}).timeit


def _failure_loop(fn: Callable[[], None], flaky: _FlakyOnce, before: Callable[[], None] | None) -> Sampler:
    if before is None:

        def loop(n: int) -> None:
            for _ in range(n):
                flaky.armed = True
                fn()

    else:

        def loop(n: int) -> None:
            for _ in range(n):
                flaky.armed = True
                before()
                fn()

    return timed_loop(loop)


@dataclass
class _Check:
    """What the failure path saw: retries reaching hooks, waits in the window, statistics."""

    flaky: _FlakyOnce
    statistics_of: Callable[[], dict[str, Any]]
    window: tuple[float, float]
    hook_calls: int = 0
    waits_outside_window: int = 0

    def see(self, wait: float) -> None:
        self.hook_calls += 1
        lo, hi = self.window
        if not lo <= wait <= hi:
            self.waits_outside_window += 1

    def verdict(self) -> dict[str, Any]:
        attempts = self.statistics_of().get("attempt_number")
        return {
            "failures": self.flaky.failures,
            "hook_calls": self.hook_calls,
            "waits_outside_window": self.waits_outside_window,
            "last_attempt_number": attempts,
            "through_tenacity": self.flaky.failures > 0
            and self.hook_calls == self.flaky.failures
            and self.waits_outside_window == 0
            and attempts == 2,
        }


def _statistics_of(retrying: tenacity.BaseRetrying) -> Callable[[], dict[str, Any]]:
    """Reads the statistics of the last call in this thread, as ``fn.retry.statistics`` does."""
    return lambda: dict(retrying.statistics)


def _failure_candidates() -> tuple[dict[str, Sampler], dict[str, _Check], Callable[[RetryDetails], None]]:
    samplers: dict[str, Sampler] = {}
    checks: dict[str, _Check] = {}
    by_policy: dict[str, _Check] = {}
    policies: dict[str, RetryPolicy] = {
        "ai_retry": ai_retry.with_fresh_state(),
        "file_retry": file_retry,
        "network_retry": network_retry,
    }
    for name, policy in policies.items():
        flaky = _FlakyOnce()
        fn = policy(flaky)
        check = _Check(flaky, _statistics_of(fn.retry), policy.wait_bounds(1))  # type: ignore[attr-defined]
        checks[name] = by_policy[policy.name] = check
        samplers[name] = _failure_loop(fn, flaky, policy.reset if policy.budget is not None else None)

    tenacity_flaky = _FlakyOnce()
    # tenacity's random exponential wait draws the first wait from [4, 8] here, the window ai_retry uses.
    tenacity_check = _Check(tenacity_flaky, dict, (ai_retry.wait_min, 2 * ai_retry.wait_min))

    def tenacity_hook(state: tenacity.RetryCallState) -> None:
        tenacity_check.see(state.upcoming_sleep)

    tenacity_fn = _tenacity_like_ai(sleep=lambda _seconds: None, before_sleep=tenacity_hook)(tenacity_flaky)
    tenacity_check.statistics_of = _statistics_of(tenacity_fn.retry)  # type: ignore[attr-defined]
    checks["tenacity"] = tenacity_check
    samplers["tenacity"] = _failure_loop(tenacity_fn, tenacity_flaky, None)

    def our_hook(details: RetryDetails) -> None:
        by_policy[details.policy].see(details.wait)

    return samplers, checks, our_hook


def _success_rows(sizes: Sizes) -> list[Row]:
    candidates = _success_candidates()
    for fn in candidates.values():
        fn()  # a first call may build caches; it is not what is measured
    per_call = interleave(
        {name: _success_sampler(fn) for name, fn in candidates.items()}, rounds=sizes.rounds, seconds=sizes.seconds
    )
    best = {name: min(samples) * 1e9 for name, samples in per_call.items()}
    typical = {name: median(samples) * 1e9 for name, samples in per_call.items()}
    rows = []
    for name in candidates:
        ratio = best[name] / best["bare"]
        target = None
        if name in _OURS:
            target = Target(f"≤ {TARGET_RATIO:g}× bare", ratio <= TARGET_RATIO)
        rows.append(
            Row(
                key=f"success_{name}",
                label=f"success: {_SUCCESS_LABELS[name]}",
                value=best[name],
                unit="ns/call",
                ratios=() if name == "bare" else (Ratio("success_bare", "bare", ratio),),
                target=target,
                extra={
                    "min_ns": best[name],
                    "median_ns": typical[name],
                    "ratio_of_medians": typical[name] / typical["bare"],
                    "samples": len(per_call[name]),
                },
            )
        )
    return rows


def _failure_rows(sizes: Sizes) -> list[Row]:
    samplers, checks, hook = _failure_candidates()
    previous_hooks = get_on_retry_hooks()
    set_on_retry_hooks([hook])
    try:
        with set_testing(True):
            per_call = interleave(samplers, rounds=sizes.rounds, seconds=sizes.seconds)
    finally:
        set_on_retry_hooks(previous_hooks)
    best = {name: min(samples) * 1e9 for name, samples in per_call.items()}
    rows = []
    for name in samplers:
        verdict = checks[name].verdict()
        label = "tenacity @retry (ai settings, no-op sleep)" if name == "tenacity" else f"@{name}"
        note = f"hooks {verdict['hook_calls']}/{verdict['failures']}, attempt_number {verdict['last_attempt_number']}"
        if not verdict["through_tenacity"]:
            note = "CHECK FAILED: " + note
        rows.append(
            Row(
                key=f"failure_{name}",
                label=f"1 failure + success: {label}",
                value=best[name],
                unit="ns/call",
                ratios=()
                if name == "tenacity"
                else (Ratio("failure_tenacity", "tenacity", best[name] / best["tenacity"]),),
                note=note,
                extra={"min_ns": best[name], "median_ns": median(per_call[name]) * 1e9, **verdict},
            )
        )
    return rows


def run(sizes: Sizes = DEFAULT) -> Section:
    """Measure the success and failure paths; see the module docstring."""
    rows = _success_rows(sizes) + _failure_rows(sizes)
    return Section(
        key="retry",
        title=f"Retry decorators per call (fastest of {sizes.rounds} interleaved rounds)",
        rows=tuple(rows),
        notes=(
            "Ratios compare figures from the same run; a bare call here includes timeit's loop.",
            "Failure path: set_testing(True), so waits are computed, hooked and counted but not slept; "
            "'hooks n/n' counts retries that reached the hook with a wait in the first window, "
            "'attempt_number 2' is fn.retry.statistics after the last call; @ai_retry's figure includes "
            "resetting its own budget before each call.",
        ),
        params=asdict(sizes),
    )
