"""The fleet simulation: the virtual-time loop, the upstream, fleet runs and their figures, the jitter comparison."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import time
from collections.abc import Iterator

import click
import pytest

from src.api.errors import AIServiceError
from src.simulation import (
    COMPARED_JITTERS,
    RECOVERY_THRESHOLD,
    ContentionConfig,
    FleetConfig,
    FleetConfigError,
    FleetRun,
    Outage,
    RequestOutcome,
    RequestRecord,
    Upstream,
    UpstreamCall,
    UpstreamDown,
    UpstreamOverloaded,
    UpstreamTimeout,
    VirtualTimeDeadlock,
    VirtualTimeLoop,
    compare_jitter,
    contention_policy,
    default_capacity,
    default_contention_capacity,
    default_outage,
    fleet_document,
    fleet_policy,
    jitter_document,
    recovery_time,
    render_fleet,
    render_fleet_header,
    render_jitter,
    run_contention,
    run_fleet,
    run_virtual,
    summarize,
    timeline,
    to_json,
)
from src.simulation.fleet_stats import percentile
from src.utils.breaker import CircuitBreaker
from src.utils.budget import RetryBudget
from src.utils.retry import RetryPolicy, ai_retry, file_retry, network_retry

ALL_POLICIES = [ai_retry, file_retry, network_retry]
SMALL = FleetConfig(clients=20, duration=60.0, outage=Outage(15.0, 30.0), capacity=default_capacity(20), seed=7)


@pytest.fixture(scope="module")
def small_runs() -> dict[tuple[str, bool], FleetRun]:
    """Every policy through the small fleet, without and with its budget and breaker (computed once)."""
    return {(p.name, guarded): run_fleet(p, SMALL, guarded=guarded) for p in ALL_POLICIES for guarded in (False, True)}


def _record(request: int, arrived: float, outcome: RequestOutcome, attempts: int = 1) -> RequestRecord:
    return RequestRecord(request, 0, arrived, arrived + 0.5, attempts, outcome)


def _synthetic_run(config: FleetConfig, records: list[RequestRecord]) -> FleetRun:
    """A run made by hand, to check the figures against known answers."""
    calls = tuple(UpstreamCall(r.id, r.arrived, "served") for r in records for _ in range(r.attempts))
    return FleetRun(
        policy=network_retry,
        guarded=False,
        config=config,
        requests=tuple(records),
        calls=calls,
        breaker=None,
        budget=None,
        peak_queue=0,
        wasted=0,
    )


# --- the virtual-time loop -------------------------------------------------------------------


def test_sleeping_an_hour_takes_no_real_time_and_moves_the_loop_clock_exactly() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        return loop.time(), time.monotonic()

    before = time.monotonic()
    virtual, real = run_virtual(main())
    assert virtual == 3600.0
    assert real - before < 60  # an hour of virtual time, nowhere near an hour of real time


def test_concurrent_sleepers_wake_in_deadline_order_at_their_virtual_times() -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        await asyncio.gather(sleeper("c", 3.0), sleeper("a", 1.0), sleeper("b", 2.5), sleeper("a2", 1.0))

    run_virtual(main(), start=100.0)
    assert woke == [("a", 101.0), ("a2", 101.0), ("b", 102.5), ("c", 103.0)]


def test_the_loop_is_closed_afterwards_and_never_installed_as_the_current_loop() -> None:
    async def main() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    sentinel = asyncio.new_event_loop()
    asyncio.set_event_loop(sentinel)
    try:
        used = run_virtual(main())
        assert isinstance(used, VirtualTimeLoop)
        assert used.is_closed()
        assert asyncio.get_event_loop_policy().get_event_loop() is sentinel
    finally:
        asyncio.set_event_loop(None)
        sentinel.close()


def test_waiting_on_what_no_timer_completes_is_a_deadlock_not_a_hang() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualTimeDeadlock, match="would wait forever"):
        run_virtual(main())


def test_tasks_left_pending_are_cancelled_and_errors_propagate() -> None:
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(1e9)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(1)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run_virtual(main())
    assert cancelled == [True]


def test_the_loop_refuses_a_start_that_is_not_a_time() -> None:
    with pytest.raises(ValueError, match="finite"):
        VirtualTimeLoop(math.nan)


# --- the upstream ----------------------------------------------------------------------------


def _outcomes(upstream: Upstream, starts: list[float], *, linger: float = 0.0) -> list[tuple[float, str]]:
    """Start one attempt at each of ``starts``; return (end time, what happened) per attempt.

    The run goes on for ``linger`` seconds after the last attempt ends, for the upstream's leftover work.
    """

    async def one(start: float, request: int) -> tuple[float, str]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(start)
        try:
            await upstream.call(request)
        except Exception as exc:
            return loop.time(), type(exc).__name__
        return loop.time(), "ok"

    async def main() -> list[tuple[float, str]]:
        ends = list(await asyncio.gather(*(one(s, i) for i, s in enumerate(starts))))
        await asyncio.sleep(linger)
        return ends

    return run_virtual(main())


def test_attempts_beyond_capacity_queue_and_are_served_in_order() -> None:
    upstream = Upstream(capacity=2, service_time=1.0, timeout=10.0)
    assert _outcomes(upstream, [0, 0, 0, 0, 0]) == [(1, "ok"), (1, "ok"), (2, "ok"), (2, "ok"), (3, "ok")]
    assert (upstream.peak_in_service, upstream.peak_queue, upstream.wasted) == (2, 3, 0)


def test_a_caller_gives_up_after_its_timeout_but_the_upstream_still_does_the_work() -> None:
    upstream = Upstream(capacity=1, service_time=1.0, timeout=1.5)
    ends = _outcomes(upstream, [0, 0, 0], linger=5.0)
    assert ends == [(1, "ok"), (1.5, "UpstreamTimeout"), (1.5, "UpstreamTimeout")]
    assert upstream.wasted == 2  # served at 1-2 s and 2-3 s, after their callers had left
    assert [call.result for call in upstream.calls] == ["served", "timed_out", "timed_out"]


def test_without_a_queue_a_full_upstream_refuses_at_once() -> None:
    upstream = Upstream(capacity=1, service_time=1.0, timeout=5.0, queue_limit=0)
    assert _outcomes(upstream, [0, 0, 1]) == [(1, "ok"), (0, "UpstreamOverloaded"), (2, "ok")]


def test_attempts_starting_during_the_outage_time_out() -> None:
    upstream = Upstream(capacity=5, service_time=0.5, timeout=2.0, outage=Outage(10, 20))
    ends = _outcomes(upstream, [9.9, 10, 19.9, 20])
    assert ends == [(10.4, "ok"), (12, "UpstreamDown"), (21.9, "UpstreamDown"), (20.5, "ok")]
    assert [(call.request, call.result) for call in upstream.calls] == [
        (0, "served"),
        (1, "down"),
        (2, "down"),
        (3, "served"),
    ]


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_every_upstream_failure_is_transient_for_every_policy(policy: RetryPolicy) -> None:
    for failure in (UpstreamOverloaded("x"), UpstreamTimeout("x"), UpstreamDown("x")):
        assert policy.is_retryable(failure), type(failure).__name__


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "capacity"),
        ({"queue_limit": -1}, "queue_limit"),
        ({"service_time": -1.0}, "service_time"),
        ({"timeout": 0.0}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
    ],
)
def test_upstream_refuses_impossible_settings(kwargs: dict[str, float], message: str) -> None:
    settings: dict[str, float] = {"capacity": 1, "service_time": 1.0, "timeout": 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        Upstream(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "end"), [(5.0, 5.0), (-1.0, 3.0), (0.0, math.inf), (math.nan, 1.0)])
def test_outage_needs_a_window(start: float, end: float) -> None:
    with pytest.raises(ValueError, match="start < end"):
        Outage(start, end)


# --- fleet runs: conservation and determinism ------------------------------------------------


@pytest.mark.parametrize("guarded", [False, True], ids=["without", "with"])
@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_every_upstream_call_belongs_to_exactly_one_request(
    small_runs: dict[tuple[str, bool], FleetRun], policy: RetryPolicy, guarded: bool
) -> None:
    """Conservation: upstream calls are the sum of attempts, request by request, and every request ends once."""
    run = small_runs[(policy.name, guarded)]
    requests = run.requests
    assert [r.id for r in requests] == list(range(len(requests)))
    per_request = collections.Counter(call.request for call in run.calls)
    assert per_request == collections.Counter({r.id: r.attempts for r in requests if r.attempts})
    assert len(run.calls) == sum(r.attempts for r in requests)
    summary = summarize(run)
    assert summary.successes + summary.failures + summary.refusals == summary.requests == len(requests)
    assert summary.upstream_calls == summary.served + summary.timed_out + summary.down
    served = collections.Counter(call.request for call in run.calls if call.result == "served")
    for record in requests:
        assert served[record.id] == (record.outcome == "success")
        assert 0 <= record.attempts <= policy.attempts
        assert record.latency >= 0
        assert 0 < record.arrived < SMALL.duration
        if record.outcome == "failed":
            assert record.attempts == policy.attempts
        if record.outcome == "success":
            assert record.attempts >= 1
    assert (summary.refusals > 0) == guarded  # only the guards refuse, and in an outage they do


def test_the_same_requests_arrive_in_both_variants(small_runs: dict[tuple[str, bool], FleetRun]) -> None:
    arrivals = {key: [r.arrived for r in run.requests] for key, run in small_runs.items()}
    assert len({tuple(times) for times in arrivals.values()}) == 1


def test_the_same_seed_gives_the_same_json_and_another_seed_does_not() -> None:
    def document(seed: int) -> str:
        config = FleetConfig(clients=10, duration=40.0, outage=Outage(10, 20), capacity=1, seed=seed)
        return to_json(fleet_document(config, [run_fleet(ai_retry, config, guarded=g) for g in (False, True)]))

    first = document(3)
    assert document(3) == first
    assert document(4) != first
    json.loads(first)


def test_timeline_adds_up_to_the_totals(small_runs: dict[tuple[str, bool], FleetRun]) -> None:
    for run in small_runs.values():
        seconds = timeline(run)
        summary = summarize(run)
        assert [s.start for s in seconds] == list(range(len(seconds)))
        assert sum(s.arrivals for s in seconds) == summary.requests
        assert sum(s.successes for s in seconds) == summary.successes
        assert sum(s.calls for s in seconds) == summary.upstream_calls
        assert len(seconds) >= SMALL.duration


def test_budget_and_breaker_cut_the_calls_and_the_wait_in_an_outage(
    small_runs: dict[tuple[str, bool], FleetRun],
) -> None:
    for policy in ALL_POLICIES:
        plain, guarded = summarize(small_runs[(policy.name, False)]), summarize(small_runs[(policy.name, True)])
        assert guarded.upstream_calls < plain.upstream_calls, policy.name
        assert (guarded.latency_p99 or 0) < (plain.latency_p99 or 0), policy.name
        assert (guarded.breaker_opened or 0) >= 1
        assert (plain.breaker_opened, plain.retries_denied) == (None, None)


# --- the policies a fleet runs ---------------------------------------------------------------


def test_without_guards_the_policy_loses_its_budget_and_breaker_only() -> None:
    plain = fleet_policy(ai_retry, guarded=False, clock=lambda: 0.0)
    assert (plain.budget, plain.breaker) == (None, None)
    assert (plain.attempts, plain.wait_min, plain.wait_max, plain.retry_if, plain.jitter) == (
        ai_retry.attempts,
        ai_retry.wait_min,
        ai_retry.wait_max,
        ai_retry.retry_if,
        ai_retry.jitter,
    )


def test_with_guards_ai_gets_fresh_copies_of_its_own_and_the_others_get_defaults() -> None:
    clock = [42.0]
    guarded = fleet_policy(ai_retry, guarded=True, clock=lambda: clock[0])
    assert isinstance(ai_retry.budget, RetryBudget)
    assert isinstance(ai_retry.breaker, CircuitBreaker)
    assert isinstance(guarded.budget, RetryBudget)
    assert isinstance(guarded.breaker, CircuitBreaker)
    assert guarded.budget is not ai_retry.budget
    assert guarded.breaker is not ai_retry.breaker
    assert guarded.budget.capacity == ai_retry.budget.capacity
    assert guarded.breaker.cool_down == ai_retry.breaker.cool_down
    assert guarded.breaker.clock() == 42.0

    for policy in (file_retry, network_retry):
        other = fleet_policy(policy, guarded=True, clock=lambda: clock[0])
        assert isinstance(other.budget, RetryBudget)
        assert isinstance(other.breaker, CircuitBreaker)
        assert (other.budget.capacity, other.breaker.failure_threshold) == (RetryBudget().capacity, 5)
        assert other.breaker.clock() == 42.0
        assert (policy.budget, policy.breaker) == (None, None)


def test_a_run_leaves_the_process_wide_guards_and_loggers_alone(caplog: pytest.LogCaptureFixture) -> None:
    assert ai_retry.budget is not None
    assert ai_retry.breaker is not None
    before = (ai_retry.budget.stats(), ai_retry.breaker.stats())
    with caplog.at_level(logging.INFO):
        run = run_fleet(ai_retry, SMALL, guarded=True)
    assert run.breaker is not None
    assert run.breaker.times_opened >= 1
    assert (ai_retry.budget.stats(), ai_retry.breaker.stats()) == before
    assert not [r for r in caplog.records if r.name.startswith(("src.utils.breaker", "src.utils.budget"))]
    assert not [r for r in caplog.records if r.name == "src.utils.retry"]
    assert not logging.getLogger("src.utils.breaker").disabled


def test_a_refusal_is_the_policys_own_503() -> None:
    config = FleetConfig(clients=10, duration=40.0, outage=Outage(5, 35), capacity=1, seed=1)
    refused_early: list[AIServiceError] = []

    async def never_called() -> None:
        raise AssertionError("an open breaker lets no attempt through")

    async def probe() -> None:
        policy = fleet_policy(network_retry, guarded=True, clock=asyncio.get_running_loop().time)
        assert policy.breaker is not None
        for _ in range(policy.breaker.failure_threshold):
            policy.breaker.record_failure()
        try:
            await policy.acall(never_called, sleep=asyncio.sleep)
        except AIServiceError as exc:
            refused_early.append(exc)

    run_virtual(probe())
    assert [exc.status_code for exc in refused_early] == [503]
    run = run_fleet(network_retry, config, guarded=True)
    assert any(r.outcome == "refused" and r.attempts == 0 for r in run.requests)


# --- figures ---------------------------------------------------------------------------------


RECOVERY_CONFIG = FleetConfig(clients=10, duration=30.0, outage=Outage(10, 20), capacity=1, seed=0)


def test_recovery_is_the_start_of_the_first_window_from_which_on_all_succeed() -> None:
    records = [_record(i, 20.0 + i + 0.5, "failed" if i in (0, 2) else "success") for i in range(10)]
    assert recovery_time(_synthetic_run(RECOVERY_CONFIG, records)) == 3.0


def test_recovery_is_immediate_when_nothing_fails_after_the_outage() -> None:
    records = [_record(0, 12.0, "failed"), _record(1, 20.2, "success"), _record(2, 29.5, "success")]
    assert recovery_time(_synthetic_run(RECOVERY_CONFIG, records)) == 0.0


def test_recovery_skips_windows_without_arrivals_and_tolerates_the_threshold() -> None:
    ok = [_record(i, 21.1 + i / 100, "success") for i in range(19)]
    one_failure_in_twenty = [*ok, _record(19, 21.5, "failed")]
    assert RECOVERY_THRESHOLD == 0.95
    assert recovery_time(_synthetic_run(RECOVERY_CONFIG, one_failure_in_twenty)) == 0.0
    two_failures = [*one_failure_in_twenty, _record(20, 21.6, "refused"), _record(21, 25.5, "success")]
    assert recovery_time(_synthetic_run(RECOVERY_CONFIG, two_failures)) == 2.0


def test_recovery_is_none_without_an_outage_or_when_the_last_window_fails() -> None:
    failing_last = [_record(0, 29.5, "failed")]
    assert recovery_time(_synthetic_run(RECOVERY_CONFIG, failing_last)) is None
    no_outage = FleetConfig(clients=10, duration=30.0, outage=None, capacity=1, seed=0)
    assert recovery_time(_synthetic_run(no_outage, [_record(0, 1.0, "success")])) is None
    ends_with_run = FleetConfig(clients=10, duration=30.0, outage=Outage(10, 30), capacity=1, seed=0)
    assert recovery_time(_synthetic_run(ends_with_run, [_record(0, 1.0, "success")])) is None


def test_a_run_without_requests_has_no_rates() -> None:
    summary = summarize(_synthetic_run(RECOVERY_CONFIG, []))
    assert (summary.requests, summary.amplification, summary.success_rate, summary.latency_p99) == (0, None, None, None)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == pytest.approx(3.97)
    assert percentile([5.0], 0.99) == 5.0
    with pytest.raises(ValueError, match="no data"):
        percentile([], 0.5)


# --- configuration ---------------------------------------------------------------------------


def test_standard_config_scales_capacity_with_the_fleet_and_puts_the_outage_in_the_second_quarter() -> None:
    config = FleetConfig.standard()
    assert (config.clients, config.duration, config.capacity) == (50, 120.0, 5)
    assert (config.outage, default_outage(80.0)) == (Outage(30.0, 60.0), Outage(20.0, 40.0))
    assert config.clients * config.rate * config.service_time * 2 <= config.capacity


@pytest.mark.parametrize(
    ("changes", "setting", "message"),
    [
        ({"clients": 0}, "clients", "clients must be an integer from 1"),
        ({"clients": 10_001}, "clients", "clients must be an integer from 1"),
        ({"duration": 0.0}, "duration", "duration must be more than 0"),
        ({"duration": 3601.0}, "duration", "at most 3600s"),
        ({"capacity": 0}, "capacity", "capacity must be an integer >= 1"),
        ({"outage": Outage(10, 200)}, "outage", "must end within the run's 120s"),
        ({"timeout": 0.0}, "timeout", "timeout must be a finite number > 0"),
        ({"clients": 10_000, "duration": 3600.0}, None, "at most 5,000 are allowed"),
    ],
)
def test_config_refuses_out_of_range_settings(changes: dict[str, object], setting: str | None, message: str) -> None:
    settings: dict[str, object] = {"clients": 50, "duration": 120.0, "outage": None, "capacity": 5, "seed": 0}
    with pytest.raises(FleetConfigError, match=message) as raised:
        FleetConfig(**{**settings, **changes})  # type: ignore[arg-type]
    assert raised.value.setting == setting
    assert "\n" not in str(raised.value)


# --- the jitter comparison -------------------------------------------------------------------


@pytest.fixture(scope="module")
def jitter_runs() -> dict[str, tuple[int, int, float]]:
    """(calls, successes, finished) per strategy for the standard 50-client comparison with seed 1."""
    runs = compare_jitter(ContentionConfig.standard(seed=1))
    return {run.jitter: (run.calls, run.successes, run.finished) for run in runs}


def test_full_and_decorrelated_jitter_need_far_fewer_calls_and_less_time_than_none(
    jitter_runs: dict[str, tuple[int, int, float]],
) -> None:
    """AWS's result: under contention, jittered backoff beats unjittered exponential backoff in calls and time."""
    none_calls, none_successes, none_finished = jitter_runs["none"]
    for jitter in ("full", "decorrelated"):
        calls, successes, finished = jitter_runs[jitter]
        assert calls <= 0.8 * none_calls, jitter
        assert finished <= 0.25 * none_finished, jitter
        assert successes == 50 > none_successes, jitter
    assert jitter_runs["decorrelated"][0] < jitter_runs["full"][0]


def test_every_strategy_is_compared_in_order_with_a_real_policy() -> None:
    config = ContentionConfig.standard(clients=10, seed=2)
    assert [run.jitter for run in compare_jitter(config)] == list(COMPARED_JITTERS)
    assert COMPARED_JITTERS[0] == "none"
    for jitter in COMPARED_JITTERS:
        policy = contention_policy(jitter, config)
        assert isinstance(policy, RetryPolicy)
        assert (policy.jitter, policy.attempts, policy.budget, policy.breaker) == (jitter, 10, None, None)


def test_jitter_runs_are_deterministic_per_seed() -> None:
    config = ContentionConfig.standard(clients=30, seed=5)
    assert run_contention("full", config) == run_contention("full", config)
    assert run_contention("full", config) != run_contention("full", ContentionConfig.standard(clients=30, seed=6))


def test_unjittered_clients_collide_in_lockstep() -> None:
    """Without jitter each round lets exactly `capacity` clients through: the others all retry at the same instant."""
    config = ContentionConfig(clients=6, capacity=2, seed=0)
    run = run_contention("none", config)
    assert run.successes == 6
    assert run.calls == 6 + 4 + 2  # round 1: 2 of 6 served; round 2: 2 of 4; round 3: the last 2


def test_contention_capacity_defaults_to_one_per_twenty_clients() -> None:
    assert [default_contention_capacity(n) for n in (1, 20, 21, 50, 100)] == [1, 1, 2, 3, 5]
    with pytest.raises(FleetConfigError, match="1,000") as raised:
        ContentionConfig(clients=1001, capacity=1, seed=0)
    assert raised.value.setting == "clients"


# --- rendering -------------------------------------------------------------------------------


def test_fleet_text_has_a_row_per_figure_and_a_column_per_variant(small_runs: dict[tuple[str, bool], FleetRun]) -> None:
    text = click.unstyle(render_fleet(small_runs[("ai", False)], small_runs[("ai", True)]))
    lines = text.splitlines()
    assert lines[0] == "ai  ·  3 attempts, waits 4–10s"
    assert lines[1].split() == ["without", "budget+breaker", "with", "budget+breaker"]
    labels = [line[:26].strip() for line in lines[2:-1]]
    assert labels == [
        "logical requests",
        "upstream calls",
        "amplification",
        "success rate",
        "failed after retries",
        "refused fast (503)",
        "latency p50",
        "latency p99",
        "recovery after outage",
        "calls timed out",
        "served anyway (wasted)",
    ]
    assert lines[-1].startswith("  with budget+breaker: breaker opened ")
    header = click.unstyle(render_fleet_header(SMALL))
    assert "20 clients × 0.1 requests/s for 60s" in header
    assert "outage 15–30s" in header


def test_jitter_text_has_a_row_per_strategy() -> None:
    config = ContentionConfig.standard(clients=10, seed=2)
    lines = click.unstyle(render_jitter(config, compare_jitter(config))).splitlines()
    assert lines[1].split() == ["jitter", "calls", "succeeded", "calls/success", "all", "done", "mean", "done"]
    assert [line.split()[0] for line in lines[2:]] == list(COMPARED_JITTERS)


def test_json_documents_hold_every_figure(small_runs: dict[tuple[str, bool], FleetRun]) -> None:
    document = json.loads(to_json(fleet_document(SMALL, [small_runs[("file", False)], small_runs[("file", True)]])))
    assert document["mode"] == "fleet"
    assert document["config"]["outage"] == {"start": 15.0, "end": 30.0}
    assert document["config"]["recovery_threshold"] == RECOVERY_THRESHOLD
    for run in document["runs"]:
        assert set(run) >= {
            "policy",
            "guarded",
            "max_attempts",
            "requests",
            "successes",
            "failures",
            "refusals",
            "upstream_calls",
            "amplification",
            "success_rate",
            "latency_p50",
            "latency_p99",
            "recovery",
            "timeline",
        }
        assert (run["policy"], run["max_attempts"]) == ("file", 5)
    config = ContentionConfig.standard(clients=10, seed=2)
    jitter = json.loads(to_json(jitter_document(config, compare_jitter(config))))
    assert (jitter["mode"], jitter["config"]["clients"]) == ("jitter", 10)
    assert [run["jitter"] for run in jitter["runs"]] == list(COMPARED_JITTERS)


@pytest.fixture(autouse=True)
def _no_loop_left_running() -> Iterator[None]:
    """After every test here, no event loop is running in this thread."""
    yield
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
