"""The retry simulator's engine: clock, outcomes, scenarios, runs, Monte Carlo and rendering."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import urllib.error
from pathlib import Path

import anthropic
import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.simulation import (
    DEFAULT_SCENARIOS,
    OUTCOMES,
    POLICIES,
    TIMELINE_WIDTH,
    Outcome,
    Scenario,
    ScenarioError,
    ScenarioRun,
    VirtualClock,
    expected_mean_attempts,
    expected_success_rate,
    monte_carlo_document,
    parse_outcome,
    parse_scenario,
    policies_named,
    render_monte_carlo,
    render_run,
    render_timeline,
    run_monte_carlo,
    run_scenario,
    runs_document,
    silenced_retry_hooks,
    simulate_call,
    to_json,
)
from src.utils.breaker import CircuitBreaker
from src.utils.retry import (
    RetryDetails,
    RetryPolicy,
    ai_retry,
    file_retry,
    get_on_retry_hooks,
    network_retry,
    set_on_retry_hooks,
)
from src.utils.transient import retry_after_of

ROOT = Path(__file__).resolve().parents[1]
ALL_POLICIES = [ai_retry, file_retry, network_retry]
HTTP_OUTCOMES = [name for name, kind in OUTCOMES.items() if kind.takes_retry_after]


def expected_attempts(policy: RetryPolicy, scenario: Scenario) -> int:
    """The oracle: the first success, the first permanent error, a Retry-After above wait_max, or the last attempt."""
    for attempt in range(1, policy.attempts + 1):
        error = scenario.outcome_for(attempt).exception()
        if error is None or not policy.is_retryable(error):
            return attempt
        asked = retry_after_of(error)
        if asked is not None and asked >= policy.wait_max:
            return attempt
    return policy.attempts


def shared_state(policy: RetryPolicy) -> tuple[object, object]:
    """Snapshots of the budget and breaker a policy shares process-wide."""
    return (
        policy.breaker.stats() if policy.breaker else None,
        policy.budget.stats() if policy.budget else None,
    )


def check_timeline(policy: RetryPolicy, run: ScenarioRun) -> None:
    """Every invariant a run must keep: counts, starts, waits within bounds, Retry-After honoured."""
    assert len(run.attempts) == expected_attempts(policy, parse_scenario(run.scenario))
    assert [record.attempt for record in run.attempts] == list(range(1, len(run.attempts) + 1))
    assert run.attempts[0].start == 0.0
    assert run.attempts[-1].wait is None
    for record, following in zip(run.attempts, run.attempts[1:], strict=False):
        assert record.wait is not None
        assert following.start == pytest.approx(record.start + record.wait)
        assert policy.wait_min <= record.wait <= policy.wait_max
        lo, hi = policy.wait_bounds(record.attempt)
        if record.retry_after is None:
            assert lo <= record.wait <= hi
        else:
            assert record.wait >= max(lo, record.retry_after), "a Retry-After was undercut"
    assert run.total_time == pytest.approx(run.attempts[-1].start)


# --- clock -----------------------------------------------------------------------------------


def test_clock_moves_only_when_advanced() -> None:
    clock = VirtualClock()
    assert clock.now == clock.time() == 0.0
    clock.advance(1.5)
    clock.advance(0)
    clock.advance(2.25)
    assert clock.now == clock.time() == 3.75
    assert VirtualClock(10).now == 10.0


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_clock_refuses_impossible_durations(seconds: float) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="finite number >= 0"):
        clock.advance(seconds)
    assert clock.now == 0.0


# --- outcomes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "status"),
    [
        ("ai-ratelimit", anthropic.RateLimitError, 429),
        ("ai-overloaded", anthropic.OverloadedError, 529),
        ("ai-server", anthropic.InternalServerError, 500),
        ("ai-badrequest", anthropic.BadRequestError, 400),
        ("ai-auth", anthropic.AuthenticationError, 401),
    ],
)
def test_ai_status_outcomes_are_real_sdk_errors(name: str, cls: type[anthropic.APIStatusError], status: int) -> None:
    error = Outcome(name).exception()
    assert isinstance(error, cls)
    assert isinstance(error, anthropic.APIStatusError)
    assert error.status_code == status
    assert error.response.status_code == status
    assert str(error.request.url) == "https://api.anthropic.com/v1/messages"
    assert error.type is not None
    assert retry_after_of(error) is None

    with_header = Outcome(name, 7.5).exception()
    assert isinstance(with_header, cls)
    assert with_header.response.headers["retry-after"] == "7.5"
    assert retry_after_of(with_header) == 7.5


def test_ai_connection_outcomes_are_real_sdk_errors() -> None:
    connection = Outcome("ai-connection").exception()
    timeout = Outcome("ai-timeout").exception()
    assert isinstance(connection, anthropic.APIConnectionError)
    assert not isinstance(connection, anthropic.APITimeoutError)
    assert isinstance(timeout, anthropic.APITimeoutError)
    assert ai_retry.is_retryable(connection)
    assert ai_retry.is_retryable(timeout)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("timeout", TimeoutError),
        ("connection", ConnectionError),
        ("permission", PermissionError),
        ("notfound", FileNotFoundError),
        ("value", ValueError),
    ],
)
def test_plain_outcomes_raise_builtin_exceptions(name: str, cls: type[BaseException]) -> None:
    assert type(Outcome(name).exception()) is cls


def test_http_outcomes_are_urllib_errors_with_retry_after() -> None:
    error = Outcome("http-503", 3).exception()
    assert isinstance(error, urllib.error.HTTPError)
    assert error.code == 503
    assert retry_after_of(error) == 3.0
    assert network_retry.is_retryable(error)
    assert not network_retry.is_retryable(Outcome("http-404").exception())  # type: ignore[arg-type]


def test_each_catalogue_summary_names_what_is_raised() -> None:
    for kind in OUTCOMES.values():
        error = Outcome(kind.name).exception()
        assert kind.summary == "success" if error is None else type(error).__name__ in kind.summary


def test_each_attempt_gets_a_fresh_exception() -> None:
    outcome = Outcome("ai-ratelimit", 1)
    assert outcome.exception() is not outcome.exception()
    assert Outcome("ok").exception() is None
    assert Outcome("ok").succeeds
    assert not Outcome("timeout").succeeds


def test_outcome_classification_matches_the_policies() -> None:
    """The default paths rely on these: what each policy retries and what it doesn't."""
    retried = {
        name: [p.name for p in ALL_POLICIES if p.is_retryable(e)]
        for name in OUTCOMES
        if (e := Outcome(name).exception())
    }
    assert retried["ai-overloaded"] == ["ai", "network"]  # any 5xx is transient for plain HTTP too
    assert retried["ai-badrequest"] == []
    assert retried["permission"] == ["file"]
    assert retried["notfound"] == []
    assert retried["value"] == []
    assert set(retried["connection"]) == {"ai", "file", "network"}


# --- scenarios -------------------------------------------------------------------------------


def test_scenario_round_trips_and_its_last_outcome_repeats() -> None:
    scenario = parse_scenario(" AI-Overloaded , ai-ratelimit@5,ok ")
    assert str(scenario) == "ai-overloaded,ai-ratelimit@5,ok"
    assert parse_scenario(str(scenario)) == scenario
    assert scenario.outcome_for(2) == Outcome("ai-ratelimit", 5.0)
    assert scenario.outcome_for(3) == scenario.outcome_for(99) == Outcome("ok")
    with pytest.raises(ValueError, match="numbered from 1"):
        scenario.outcome_for(0)


def test_retry_after_may_be_fractional_or_zero() -> None:
    assert parse_outcome("http-429@0.25") == Outcome("http-429", 0.25)
    assert parse_outcome("ai-server@0").retry_after == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty scenario"),
        ("   ", "empty scenario"),
        ("ok,,ok", "outcome 2 of 'ok,,ok' is empty"),
        ("timeout,", "outcome 2"),
        ("bogus", "unknown outcome 'bogus'; choose from ok, timeout"),
        ("ok@3", "'ok' has no HTTP response"),
        ("connection@3", "'connection' has no HTTP response"),
        ("ai-timeout@3", "'ai-timeout' has no HTTP response"),
        ("ai-ratelimit@", "not a number"),
        ("ai-ratelimit@soon", "not a number"),
        ("ai-ratelimit@1@2", "not a number"),
        ("ai-ratelimit@-1", "finite number of seconds >= 0"),
        ("ai-ratelimit@nan", "finite number of seconds >= 0"),
        ("ai-ratelimit@inf", "finite number of seconds >= 0"),
        ("@5", "empty outcome"),
    ],
)
def test_bad_scenarios_raise_a_one_line_scenario_error(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_scenario(text)
    assert "\n" not in str(caught.value)


def test_outcome_validates_when_built_directly() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        Outcome("nope")
    with pytest.raises(ValueError, match="finite"):
        Outcome("http-429", -1.0)
    with pytest.raises(ScenarioError, match="at least one outcome"):
        Scenario(())


# --- policies --------------------------------------------------------------------------------


def test_policies_are_the_production_objects() -> None:
    assert dict(POLICIES) == {"ai": ai_retry, "file": file_retry, "network": network_retry}
    assert POLICIES["ai"] is ai_retry
    assert policies_named("all") == (ai_retry, file_retry, network_retry)
    assert policies_named("file") == (file_retry,)
    with pytest.raises(KeyError):
        policies_named("disk")


# --- scenario runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "results"),
    [
        (ai_retry, ["success", "gave_up", "not_retried", "success", "gave_up"]),
        (file_retry, ["success", "gave_up", "not_retried"]),
        (network_retry, ["success", "gave_up", "not_retried", "success", "gave_up"]),
    ],
)
def test_default_scenarios_cover_every_path(policy: RetryPolicy, results: list[str]) -> None:
    runs = [run_scenario(policy, scenario, seed=7) for scenario in DEFAULT_SCENARIOS[policy.name]]
    assert [run.result for run in runs] == results
    for run in runs:
        check_timeline(policy, run)
    exhausted = runs[1]
    assert len(exhausted.attempts) == policy.attempts
    assert exhausted.retry_after_too_long is None
    if policy is not file_retry:  # file errors carry no Retry-After
        honoured = runs[3].attempts[0]
        assert honoured.retry_after is not None
        assert honoured.wait is not None
        assert honoured.wait >= honoured.retry_after
        too_long = runs[4]
        assert len(too_long.attempts) == 1
        assert too_long.retry_after_too_long is not None
        assert too_long.retry_after_too_long > policy.wait_max


def test_success_after_transient_failures_takes_the_policys_waits() -> None:
    run = run_scenario(ai_retry, parse_scenario("ai-overloaded,ai-server,ok"), seed=1)
    assert run.result == "success"
    assert [a.outcome for a in run.attempts] == ["ai-overloaded", "ai-server", "ok"]
    assert [a.error for a in run.attempts] == ["529 OverloadedError", "500 InternalServerError", None]
    check_timeline(ai_retry, run)


def test_a_scenario_longer_than_the_policy_stops_at_its_attempts() -> None:
    run = run_scenario(network_retry, parse_scenario("timeout,timeout,timeout,timeout,ok"), seed=1)
    assert run.result == "gave_up"
    assert len(run.attempts) == network_retry.attempts == run.max_attempts


def test_permanent_error_after_transient_ones_ends_the_call() -> None:
    run = run_scenario(file_retry, parse_scenario("permission,notfound,ok"), seed=1)
    assert run.result == "not_retried"
    assert len(run.attempts) == 2


def test_same_seed_same_run_and_different_seeds_different_waits() -> None:
    scenario = parse_scenario("connection")
    first = run_scenario(file_retry, scenario, seed=42)
    assert run_scenario(file_retry, scenario, seed=42) == first
    other = run_scenario(file_retry, scenario, seed=43)
    assert [a.wait for a in other.attempts] != [a.wait for a in first.attempts]


def test_a_run_leaves_the_process_wide_policy_and_hooks_alone() -> None:
    seen: list[RetryDetails] = []
    set_on_retry_hooks([seen.append])
    try:
        hooks = get_on_retry_hooks()
        before = shared_state(ai_retry)
        for _ in range(3):
            run_scenario(ai_retry, parse_scenario("ai-overloaded"), seed=1)
        assert shared_state(ai_retry) == before
        assert get_on_retry_hooks() == hooks
        assert seen == [], "simulated retries reached the global hooks"
    finally:
        set_on_retry_hooks(None)


def test_hooks_are_restored_even_when_the_simulation_fails() -> None:
    hooks = get_on_retry_hooks()
    inside: list[tuple[object, ...]] = []

    def fail_inside() -> None:
        with silenced_retry_hooks():
            inside.append(get_on_retry_hooks())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert inside == [()]
    assert get_on_retry_hooks() == hooks


def test_a_breaker_that_trips_within_one_call_is_reported_as_refused() -> None:
    policy = network_retry.replace(attempts=6, breaker=CircuitBreaker(failure_threshold=2, cool_down=30.0))
    run = run_scenario(policy, parse_scenario("connection"), seed=1)
    assert run.result == "refused"
    assert len(run.attempts) == 2
    assert run.refusal is not None
    assert "circuit" in run.refusal
    assert "refused after 2 attempts" in click.unstyle(render_run(run))


# --- simulate_call: the primitive a fleet simulation builds on -------------------------------


def test_simulate_call_shares_policy_state_across_calls_on_one_clock() -> None:
    clock = VirtualClock()
    policy = network_retry.replace(breaker=CircuitBreaker(failure_threshold=3, cool_down=30.0)).with_fresh_state(
        clock.time
    )

    def down(attempt: int, now: float) -> BaseException | None:
        return ConnectionError("down")

    with silenced_retry_hooks():
        first = simulate_call(policy, down, clock=clock, rng=random.Random(1))
        second = simulate_call(policy, down, clock=clock, rng=random.Random(1))
        clock.advance(30.0)
        third = simulate_call(policy, lambda attempt, now: None, clock=clock, rng=random.Random(1))
    assert (first.attempts, first.refused, isinstance(first.error, ConnectionError)) == (3, False, True)
    assert first.elapsed > 0
    assert (second.attempts, second.refused, second.elapsed) == (0, True, 0.0)
    assert (third.attempts, third.error, third.refused) == (1, None, False)


def test_simulate_call_passes_the_time_of_each_attempt_to_the_source() -> None:
    clock = VirtualClock(100.0)
    seen: list[tuple[int, float]] = []

    def source(attempt: int, now: float) -> BaseException | None:
        seen.append((attempt, now))
        return TimeoutError() if attempt < 3 else None

    with silenced_retry_hooks():
        trace = simulate_call(file_retry, source, clock=clock, rng=random.Random(5))
    assert [attempt for attempt, _ in seen] == [1, 2, 3]
    assert seen[0][1] == 100.0
    assert seen[2][1] == clock.now == trace.ended
    assert trace.error is None


def test_a_broken_source_is_not_mistaken_for_a_failed_attempt() -> None:
    def broken(attempt: int, now: float) -> BaseException | None:
        raise KeyError("bug in the simulation")

    with pytest.raises(KeyError, match="bug in the simulation"), silenced_retry_hooks():
        simulate_call(file_retry, broken, clock=VirtualClock(), rng=random.Random(1))


# --- property --------------------------------------------------------------------------------


@st.composite
def outcomes(draw: st.DrawFn) -> Outcome:
    """Any catalogue outcome, HTTP ones sometimes with a Retry-After of 0 to 20 s (some above wait_max)."""
    name = draw(st.sampled_from(list(OUTCOMES)))
    retry_after = None
    if name in HTTP_OUTCOMES and draw(st.booleans()):
        retry_after = draw(st.floats(min_value=0, max_value=20, allow_nan=False).map(lambda x: round(x, 2)))
    return Outcome(name, retry_after)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A scenario of 1 to 7 outcomes, e.g. ``timeout,http-429@12.5,ok``."""
    return Scenario(tuple(draw(st.lists(outcomes(), min_size=1, max_size=7))))


@pytest.mark.property
@settings(deadline=None)  # the first ai-* outcome may import anthropic, which takes over a second
@given(policy=st.sampled_from(ALL_POLICIES), scenario=scenarios(), seed=st.integers(0, 2**32))
def test_every_run_follows_its_policy(policy: RetryPolicy, scenario: Scenario, seed: int) -> None:
    """Any scenario through any policy: the oracle's attempt count, waits in bounds, no Retry-After undercut."""
    run = run_scenario(policy, scenario, seed=seed)
    check_timeline(policy, run)
    assert run.result != "refused"
    assert (run.result == "success") == scenario.outcome_for(len(run.attempts)).succeeds


# --- Monte Carlo -----------------------------------------------------------------------------


def truncated_geometric_sd(fail_rate: float, attempts: int) -> float:
    """Standard deviation of the attempt count of one call (stop at first success or after ``attempts``)."""
    probabilities = [fail_rate ** (k - 1) * (1 - fail_rate) for k in range(1, attempts)] + [fail_rate ** (attempts - 1)]
    mean = sum(k * p for k, p in enumerate(probabilities, start=1))
    return math.sqrt(sum((k - mean) ** 2 * p for k, p in enumerate(probabilities, start=1)))


@pytest.mark.parametrize("policy", [ai_retry, file_retry])
@pytest.mark.parametrize("fail_rate", [0.2, 0.5, 0.8])
def test_monte_carlo_agrees_with_theory(policy: RetryPolicy, fail_rate: float) -> None:
    runs = 2000
    summary = run_monte_carlo(policy, runs=runs, fail_rate=fail_rate, seed=11)
    p_success = expected_success_rate(fail_rate, policy.attempts)
    assert summary.expected_success_rate == pytest.approx(p_success)
    success_se = math.sqrt(p_success * (1 - p_success) / runs)
    assert abs(summary.success_rate - p_success) <= 4 * success_se + 1 / runs
    mean = expected_mean_attempts(fail_rate, policy.attempts)
    assert summary.expected_mean_attempts == pytest.approx(mean)
    assert abs(summary.mean_attempts - mean) <= 4 * truncated_geometric_sd(fail_rate, policy.attempts) / math.sqrt(runs)
    assert 0 <= summary.wait_p50 <= summary.wait_p95 <= summary.wait_p99 <= summary.wait_max
    assert summary.wait_max <= policy.wait_max * (policy.attempts - 1)


def test_monte_carlo_edges_are_exact() -> None:
    never = run_monte_carlo(network_retry, runs=50, fail_rate=0.0, seed=1)
    assert (never.success_rate, never.mean_attempts, never.wait_max) == (1.0, 1.0, 0.0)
    always = run_monte_carlo(network_retry, runs=50, fail_rate=1.0, seed=1)
    assert (always.success_rate, always.mean_attempts) == (0.0, 3.0)
    assert always.expected_mean_attempts == 3.0
    lo = sum(network_retry.wait_bounds(n)[0] for n in (1, 2))
    hi = sum(network_retry.wait_bounds(n)[1] for n in (1, 2))
    assert lo <= always.wait_p50 <= always.wait_max <= hi
    single = run_monte_carlo(ai_retry, runs=1, fail_rate=0.5, seed=3)
    assert single.wait_p50 == single.wait_p99 == single.wait_max


def test_monte_carlo_is_reproducible_by_seed() -> None:
    first = run_monte_carlo(file_retry, runs=300, fail_rate=0.5, seed=9)
    assert run_monte_carlo(file_retry, runs=300, fail_rate=0.5, seed=9) == first
    assert run_monte_carlo(file_retry, runs=300, fail_rate=0.5, seed=10) != first


def test_monte_carlo_reports_progress_for_every_call() -> None:
    steps: list[int] = []
    run_monte_carlo(network_retry, runs=2345, fail_rate=0.1, seed=1, progress=steps.append)
    assert sum(steps) == 2345
    assert steps == [1000, 1000, 345]


@pytest.mark.parametrize(
    ("runs", "fail_rate", "message"),
    [(0, 0.5, "runs"), (10, -0.1, "fail_rate"), (10, 1.1, "fail_rate"), (10, math.nan, "fail_rate")],
)
def test_monte_carlo_rejects_bad_arguments(runs: int, fail_rate: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_monte_carlo(ai_retry, runs=runs, fail_rate=fail_rate, seed=1)


def test_monte_carlo_leaves_the_process_wide_breaker_closed() -> None:
    run_monte_carlo(ai_retry, runs=200, fail_rate=1.0, seed=1)
    if ai_retry.breaker is not None:
        assert ai_retry.breaker.state == "closed"


# --- rendering -------------------------------------------------------------------------------


def test_text_shows_each_attempt_the_timeline_and_the_verdict() -> None:
    run = run_scenario(ai_retry, parse_scenario("ai-overloaded,ai-ratelimit@7,ok"), seed=1)
    text = click.unstyle(render_run(run))
    lines = text.splitlines()
    assert lines[0] == "ai  ·  3 attempts, waits 4–10s  ·  scenario ai-overloaded,ai-ratelimit@7,ok  ·  seed 1"
    assert f"waited {run.attempts[0].wait:.2f}s" in lines[2]
    assert f"retry-after 7s → waited {run.attempts[1].wait:.2f}s" in lines[3]
    assert lines[4].split()[:3] == ["3", f"{run.attempts[2].start:.2f}s", "ok"]
    assert lines[-1] == f"  succeeded on attempt 3  ·  total {run.total_time:.2f}s"


def test_timeline_is_drawn_to_scale() -> None:
    run = run_scenario(file_retry, parse_scenario("permission"), seed=3)
    bar, axis, labels = (click.unstyle(line) for line in render_timeline(run))
    assert len(bar) == len(axis) == TIMELINE_WIDTH
    marks = [i for i, char in enumerate(bar) if char in "✓✗"]
    assert len(marks) == file_retry.attempts
    for record, column in zip(run.attempts, marks, strict=True):
        assert column == round(record.start / run.total_time * (TIMELINE_WIDTH - 1))
    assert set(bar) == {"✗", "━"}
    assert labels.startswith("0s")
    assert axis.startswith("┬")


def test_a_call_without_waits_has_a_one_mark_timeline() -> None:
    run = run_scenario(network_retry, parse_scenario("value"), seed=1)
    assert [click.unstyle(line) for line in render_timeline(run)] == ["✗  (no wait)"]
    assert "not retried: ValueError is permanent (attempt 1)" in click.unstyle(render_run(run))


def test_a_retry_after_above_the_max_says_so() -> None:
    run = run_scenario(ai_retry, parse_scenario("ai-ratelimit@600"), seed=1)
    text = click.unstyle(render_run(run))
    assert "gave up: server asked for 600s > max 10s" in text
    assert "gave up after 1 attempt: server asked for 600s > max 10s  ·  total 0.00s" in text


def test_monte_carlo_text_puts_theory_next_to_measurement() -> None:
    summary = run_monte_carlo(ai_retry, runs=100, fail_rate=0.3, seed=1)
    text = click.unstyle(render_monte_carlo(summary))
    assert "100 calls at fail rate 0.3" in text
    assert "theory 97.300%" in text
    assert "theory 1.3900" in text
    assert "p50" in text
    assert "p99" in text


def test_json_documents_hold_every_field() -> None:
    runs = [run_scenario(network_retry, parse_scenario("http-503@3,ok"), seed=5)]
    document = json.loads(to_json(runs_document(runs)))
    assert document["mode"] == "scenario"
    (run,) = document["runs"]
    assert run["policy"] == "network"
    assert run["scenario"] == "http-503@3,ok"
    assert run["seed"] == 5
    assert run["result"] == "success"
    assert [a["attempt"] for a in run["attempts"]] == [1, 2]
    assert run["attempts"][0]["retry_after"] == 3.0
    assert run["attempts"][0]["error"] == "503 HTTPError"
    assert run["attempts"][-1]["wait"] is None
    assert run["total_time"] == run["attempts"][0]["wait"]

    summary = run_monte_carlo(network_retry, runs=10, fail_rate=0.5, seed=1)
    mc = json.loads(to_json(monte_carlo_document([summary])))
    assert mc["mode"] == "monte_carlo"
    assert set(mc["policies"][0]) >= {
        "policy", "runs", "fail_rate", "seed", "success_rate", "mean_attempts",
        "wait_p50", "wait_p95", "wait_p99", "wait_max", "expected_success_rate", "expected_mean_attempts",
    }  # fmt: skip


# --- imports ---------------------------------------------------------------------------------


def test_simulating_without_ai_outcomes_does_not_import_anthropic() -> None:
    code = (
        "import sys\n"
        "from src.simulation import run_scenario, parse_scenario, run_monte_carlo\n"
        "from src.utils.retry import file_retry, ai_retry\n"
        "run_scenario(file_retry, parse_scenario('permission,notfound'), seed=1)\n"
        "run_scenario(ai_retry, parse_scenario('timeout,http-503@3,ok'), seed=1)\n"
        "run_monte_carlo(ai_retry, runs=10, fail_rate=0.5, seed=1)\n"
        "print(sorted(m for m in ('anthropic', 'flask', 'httpx2') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
