"""Properties of the retry policies: attempts, waits, Retry-After and the exception that escapes.

Each example runs a policy (``ai_retry``, ``file_retry``, ``network_retry`` or a tuned copy,
always ``with_fresh_state()`` so that ``ai_retry``'s process-wide budget and breaker carry
nothing between examples) through ``policy.call`` on a scripted function, with a recording
``sleep`` and ``on_retry`` and a seeded ``random.Random``: nothing sleeps for real, and the
whole module runs under ``set_testing(True)`` besides. The expected behaviour comes from the
script's labels (transient, permanent, success), never from asking the policy. Every ``check_*``
function states one property for one example; ``test_properties_bite.py`` breaks the policies
and shows the properties notice.
"""

from __future__ import annotations

import random
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from src.utils.retry import RetryDetails, RetryPolicy, ai_retry, file_retry, network_retry, set_testing
from tests.strategies import Outcome, Script, retry_after_scripts, scripts, seeds, stock_policies

pytestmark = pytest.mark.property


@pytest.fixture(autouse=True, scope="module")
def _no_real_sleep() -> Iterator[None]:
    with set_testing(True):
        yield


@dataclass
class Run:
    """What one call under a policy did."""

    attempts: int = 0
    sleeps: list[float] = field(default_factory=list)
    retries: list[RetryDetails] = field(default_factory=list)
    result: object = None
    raised: BaseException | None = None


def run(script: Script, policy: RetryPolicy | None = None, rng: random.Random | None = None) -> Run:
    """Call a function that follows ``script`` under ``policy`` (default: the script's, fresh state)."""
    record = Run()
    chosen = policy if policy is not None else script.policy.with_fresh_state()

    def attempt() -> str:
        record.attempts += 1
        outcome = script.outcome(record.attempts)
        if outcome.error is not None:
            raise outcome.error
        return f"ok after {record.attempts}"

    try:
        record.result = chosen.call(
            attempt,
            sleep=record.sleeps.append,
            rng=rng if rng is not None else random.Random(script.seed),
            on_retry=record.retries.append,
        )
    except Exception as exc:
        record.raised = exc
    return record


def expected_attempts(script: Script) -> int:
    """min(first success, first permanent error, a Retry-After of wait_max or more, max attempts)."""
    policy = script.policy
    for number in range(1, policy.attempts + 1):
        outcome = script.outcome(number)
        asks_too_much = outcome.retry_after is not None and outcome.retry_after >= policy.wait_max
        if outcome.kind != "transient" or asks_too_much:
            return number
    return policy.attempts


# --- the properties, one example at a time ----------------------------------------------------


def check_attempts(script: Script, policy: RetryPolicy | None = None) -> None:
    """The policy makes exactly min(first success, first permanent error, max attempts) attempts,
    stopping at once after a Retry-After above ``wait_max``."""
    record = run(script, policy)
    assert record.attempts == expected_attempts(script), (record.attempts, script)
    assert len(record.sleeps) == len(record.retries) == record.attempts - 1, record


def check_outcome(script: Script, policy: RetryPolicy | None = None) -> None:
    """The call returns the first success, or raises the last attempt's exception itself (never a wrapper)."""
    record = run(script, policy)
    last: Outcome = script.outcome(record.attempts)
    if last.kind == "success":
        assert record.raised is None, record.raised
        assert record.result == f"ok after {record.attempts}"
    else:
        assert record.raised is last.error, (record.raised, last)


def check_waits(script: Script, policy: RetryPolicy | None = None) -> None:
    """Every wait lies in the window ``wait_bounds(n)`` (with a Retry-After: between it and ``wait_max``),
    within [wait_min, wait_max], and is what the retry hook was told."""
    record = run(script, policy)
    configured = script.policy
    assert record.sleeps == [details.wait for details in record.retries]
    for number, wait in enumerate(record.sleeps, start=1):
        low, high = configured.wait_bounds(number)
        asked = script.outcome(number).retry_after
        assert configured.wait_min <= wait <= configured.wait_max, (number, wait)
        if asked is None:
            assert low <= wait <= high, (number, wait, (low, high))
        else:
            assert max(low, asked) <= wait <= configured.wait_max, (number, wait, asked)


def check_retry_after_honoured(script: Script, policy: RetryPolicy | None = None) -> None:
    """No wait is shorter than the Retry-After of the failure before it, and the hook reports that Retry-After."""
    record = run(script, policy)
    for number, (wait, details) in enumerate(zip(record.sleeps, record.retries, strict=True), start=1):
        asked = script.outcome(number).retry_after
        if asked is not None:
            assert wait >= asked, (number, wait, asked)
            assert details.retry_after == asked, (details.retry_after, asked)


def check_jitter(policy: RetryPolicy, seed_list: list[int]) -> None:
    """The wait after a failure is random: different seeds give more than one wait, each within its window."""
    failure = PermissionError("locked") if policy.name == "file" else ConnectionError("down")
    always_failing = Script(policy, (Outcome("transient", failure),) * policy.attempts, 0)
    waits = {run(always_failing, rng=random.Random(seed)).sleeps[0] for seed in seed_list}
    low, high = policy.wait_bounds(1)
    assert len(waits) > 1, f"every seed waited {waits} in [{low}, {high}]"
    assert all(low <= wait <= high for wait in waits), (waits, low, high)


# --- the tests --------------------------------------------------------------------------------


@given(script=scripts())
def test_attempts_stop_at_the_first_success_permanent_error_or_the_limit(script: Script) -> None:
    """Attempts = min(first success, first permanent error, max attempts, first Retry-After above wait_max)."""
    check_attempts(script)


@given(script=scripts())
def test_the_call_returns_the_success_or_raises_the_last_exception_itself(script: Script) -> None:
    """The call returns the first success or raises the very exception of the last attempt."""
    check_outcome(script)


@given(script=scripts())
def test_every_wait_lies_within_the_policys_bounds(script: Script) -> None:
    """Every wait lies within wait_bounds(n) and [wait_min, wait_max]; after a Retry-After, between it and wait_max."""
    check_waits(script)


@given(script=retry_after_scripts())
def test_a_retry_after_is_never_undercut(script: Script) -> None:
    """No retry comes sooner than the Retry-After the failure asked for."""
    check_retry_after_honoured(script)
    check_attempts(script)


@given(policy=stock_policies(), seed_list=st.lists(seeds(), min_size=2, max_size=6, unique=True))
@example(policy=ai_retry, seed_list=[0, 1])
@example(policy=file_retry, seed_list=[0, 1])
@example(policy=network_retry, seed_list=[0, 1])
def test_waits_are_jittered(policy: RetryPolicy, seed_list: list[int]) -> None:
    """Different seeds give different waits: the backoff is never a fixed value."""
    check_jitter(policy, seed_list)


# --- a regression: Retry-After dates past the year 9999 -------------------------------------------

_UNREADABLE_DATES = ("Fri, 01 Jan 99999 00:00:00 GMT", "Sat, 01 Jan 10000 00:00:00", "01 Jan 10000000000 00:00:00 GMT")


@given(
    policy=stock_policies().filter(lambda policy: policy.name != "file"),
    date=st.sampled_from(_UNREADABLE_DATES),
    seed=seeds(),
)
@example(policy=network_retry, date=_UNREADABLE_DATES[0], seed=0)
def test_an_unreadable_retry_after_date_never_replaces_the_upstream_error(
    policy: RetryPolicy, date: str, seed: int
) -> None:
    """A Retry-After date the policy cannot read never turns the upstream's error into another exception."""
    headers = Message()
    headers["Retry-After"] = date
    upstream = urllib.error.HTTPError("http://upstream.invalid/x", 503, "busy", headers, None)
    record = run(Script(policy, (Outcome("transient", upstream),), seed))
    assert record.raised is None or record.raised is upstream, repr(record.raised)
