"""The retry budget and circuit breaker state machines, alone, under threads, and inside a policy."""

from __future__ import annotations

import asyncio
import threading
from unittest import mock

import pytest

from src.utils.breaker import CircuitBreaker
from src.utils.budget import RetryBudget
from src.utils.retry import RetryPolicy, network_retry, set_on_retry_hooks


class Clock:
    """A virtual monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- budget -----------------------------------------------------------------------------------


def test_budget_allows_a_burst_then_refuses() -> None:
    budget = RetryBudget(capacity=3, retry_cost=1, success_refund=0.5)
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, False, False]
    stats = budget.stats()
    assert (stats.retries_allowed, stats.retries_denied, stats.tokens) == (3, 2, 0.0)


def test_successes_refill_the_budget_at_the_refund_ratio() -> None:
    budget = RetryBudget(capacity=10, retry_cost=1, success_refund=0.1)
    while budget.try_spend():
        pass
    for _ in range(9):
        budget.record_success()
    assert not budget.try_spend()  # 0.9 tokens
    budget.record_success()
    assert budget.try_spend()  # 1.0 token: one retry per ten successes
    assert budget.stats().refunds == 10


def test_budget_never_exceeds_capacity() -> None:
    budget = RetryBudget(capacity=2, retry_cost=1, success_refund=1)
    for _ in range(100):
        budget.record_success()
    assert budget.stats().tokens == 2.0


def test_budget_is_exact_under_threads() -> None:
    budget = RetryBudget(capacity=1000, retry_cost=1, success_refund=0)
    granted: list[bool] = []
    lock = threading.Lock()

    def spend() -> None:
        mine = [budget.try_spend() for _ in range(300)]
        with lock:
            granted.extend(mine)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 1000
    assert budget.stats().retries_denied == 8 * 300 - 1000


@pytest.mark.parametrize("kwargs", [{"retry_cost": 0}, {"capacity": 1, "retry_cost": 2}, {"success_refund": -1}])
def test_budget_refuses_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        RetryBudget(**kwargs)


# --- breaker ----------------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cool_down=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_success()  # resets the streak
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_after() == 10.0
    clock.now = 4.0
    assert breaker.retry_after() == 6.0
    assert breaker.stats().calls_refused == 1


def test_breaker_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cool_down=5, clock=clock)
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # a second caller while the probe is in flight
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.stats().times_opened == 1


def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cool_down=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 6.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.retry_after() == 5.0
    assert breaker.stats().times_opened == 2


def test_only_one_probe_under_threads() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cool_down=1, clock=clock)
    breaker.record_failure()
    clock.now = 2.0
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def probe() -> None:
        barrier.wait()
        results.append(breaker.allow())

    threads = [threading.Thread(target=probe) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


# --- inside a policy ---------------------------------------------------------------------------


def guarded(threshold: int = 3, capacity: float = 2, clock: Clock | None = None) -> RetryPolicy:
    return network_retry.replace(
        budget=RetryBudget(capacity=capacity, retry_cost=1, success_refund=0.5),
        breaker=CircuitBreaker(failure_threshold=threshold, cool_down=30, clock=clock or Clock()),
    )


def test_open_breaker_fails_fast_with_a_503_ai_service_error() -> None:
    from src.api.errors import AIServiceError

    policy = guarded(threshold=3, capacity=100)
    fn = mock.Mock(side_effect=ConnectionError("down"), __qualname__="f")
    wrapped = policy(fn)
    with pytest.raises(ConnectionError):
        wrapped()  # attempts 1..3 fail; the 3rd failure opens the breaker
    assert fn.call_count == 3
    with pytest.raises(AIServiceError) as info:
        wrapped()
    assert fn.call_count == 3  # refused before calling
    assert info.value.status_code == 503
    assert info.value.retry_after == 30


def test_spent_budget_fails_fast_instead_of_sleeping() -> None:
    from src.api.errors import AIServiceError

    policy = guarded(threshold=100, capacity=2)
    slept: list[float] = []
    set_on_retry_hooks([lambda d: slept.append(d.wait)])
    try:
        fn = mock.Mock(side_effect=ConnectionError("down"), __qualname__="f")
        with pytest.raises(ConnectionError):
            policy(fn)()  # 2 retries: the whole budget
        with pytest.raises(AIServiceError) as info:
            policy(fn)()  # the first retry is refused
    finally:
        set_on_retry_hooks(None)
    assert fn.call_count == 3 + 1
    assert len(slept) == 2
    assert info.value.status_code == 503
    assert isinstance(info.value.__cause__, ConnectionError)


def test_successes_keep_the_breaker_closed_and_refill_the_budget() -> None:
    policy = guarded(threshold=2, capacity=1)
    fn = mock.Mock(side_effect=[ConnectionError(), "ok"] * 5, __qualname__="f")
    wrapped = policy(fn)
    assert wrapped() == "ok"  # spends the single token
    assert policy.budget is not None
    assert policy.budget.stats().tokens == 0.5  # the success refunded half
    assert policy.breaker is not None
    assert policy.breaker.state == "closed"


def test_permanent_errors_do_not_trip_the_breaker() -> None:
    policy = guarded(threshold=1)
    fn = mock.Mock(side_effect=ValueError("bad"), __qualname__="f")
    for _ in range(3):
        with pytest.raises(ValueError, match="bad"):
            policy(fn)()
    assert policy.breaker is not None
    assert policy.breaker.state == "closed"


def test_async_calls_share_the_breaker() -> None:
    from src.api.errors import AIServiceError

    policy = guarded(threshold=2, capacity=100)
    calls = 0

    @policy
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        raise TimeoutError

    async def main() -> list[BaseException]:
        results = await asyncio.gather(*(fetch() for _ in range(5)), return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)]

    errors = asyncio.run(main())
    assert len(errors) == 5
    assert any(isinstance(e, AIServiceError) and e.status_code == 503 for e in errors)
    assert calls < 5 * 3  # the breaker cut the storm short


def test_with_fresh_state_does_not_share() -> None:
    policy = guarded()
    fresh = policy.with_fresh_state()
    assert fresh.budget is not policy.budget
    assert fresh.breaker is not policy.breaker
    assert policy.replace(attempts=4).budget is policy.budget


# --- regressions: the half-open probe slot is always given back ---------------------------------


def half_open_policy(clock: Clock, capacity: float = 100) -> RetryPolicy:
    policy = guarded(threshold=1, capacity=capacity, clock=clock)
    assert policy.breaker is not None
    policy.breaker.record_failure()
    clock.now = 31.0  # past the 30 s cool-down
    assert policy.breaker.state == "half_open"
    return policy


def test_a_permanent_error_on_the_probe_frees_the_slot() -> None:
    clock = Clock()
    policy = half_open_policy(clock)
    with pytest.raises(ValueError, match="bad request"):
        policy(mock.Mock(side_effect=ValueError("bad request"), __qualname__="probe"))()
    # Not stuck: the next call is let through as the probe, and its success closes the circuit.
    assert policy(mock.Mock(return_value="ok", __qualname__="next"))() == "ok"
    assert policy.breaker is not None
    assert policy.breaker.state == "closed"


def test_a_cancelled_probe_frees_the_slot() -> None:
    clock = Clock()
    policy = half_open_policy(clock)

    @policy
    async def probe() -> str:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(probe())
    assert policy(mock.Mock(return_value="ok", __qualname__="next"))() == "ok"


def test_a_budget_refusal_does_not_hold_the_probe_slot() -> None:
    from src.utils.retry import CallRefused

    clock = Clock()
    policy = half_open_policy(clock, capacity=1)
    assert policy.budget is not None
    assert policy.budget.try_spend()  # spend the only token
    fn = mock.Mock(side_effect=[TimeoutError("slow"), "ok"], __qualname__="probe")
    with pytest.raises(CallRefused):
        policy(fn)()  # the probe fails and reopens the circuit: refused before sleeping
    clock.now += 31.0
    assert policy(mock.Mock(return_value="ok", __qualname__="later"))() == "ok"


def test_the_breaker_is_asked_again_after_the_wait() -> None:
    from src.utils.retry import CallRefused

    clock = Clock()
    policy = guarded(threshold=2, capacity=100, clock=clock)
    assert policy.breaker is not None
    breaker = policy.breaker

    def other_callers_fail_meanwhile(details: object) -> None:
        breaker.record_failure()  # during our sleep the rest of the process trips the breaker

    set_on_retry_hooks([other_callers_fail_meanwhile])
    try:
        fn = mock.Mock(side_effect=[ConnectionError("down"), "ok"], __qualname__="f")
        with pytest.raises(CallRefused) as info:
            policy(fn)()
    finally:
        set_on_retry_hooks(None)
    assert fn.call_count == 1  # the retry after the wait never reached the upstream
    assert isinstance(info.value.__cause__, ConnectionError)
    assert info.value.status_code == 503


def test_a_refusal_is_never_retried_even_by_a_retry_everything_policy() -> None:
    from src.utils.retry import CallRefused

    clock = Clock()
    policy = guarded(threshold=1, capacity=100, clock=clock).replace(retry_if=lambda e: True)
    assert policy.breaker is not None
    policy.breaker.record_failure()
    with pytest.raises(CallRefused):
        policy(mock.Mock(return_value="never", __qualname__="f"))()
