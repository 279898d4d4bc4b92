"""The retry policies: attempts, waits, jitter, Retry-After, statistics, hooks and async."""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from email.message import Message
from unittest import mock

import pytest

from src.utils import retry as retry_mod
from src.utils.retry import (
    RetryDetails,
    RetryPolicy,
    ai_retry,
    file_retry,
    is_testing,
    network_retry,
    set_on_retry_hooks,
    set_testing,
)

POLICIES = [ai_retry, file_retry, network_retry]


@pytest.fixture
def retries() -> Iterator[list[RetryDetails]]:
    """Collect every retry the policies announce."""
    seen: list[RetryDetails] = []
    set_on_retry_hooks([seen.append])
    yield seen
    set_on_retry_hooks(None)


def http_error(code: int, **headers: str) -> urllib.error.HTTPError:
    msg = Message()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return urllib.error.HTTPError("http://127.0.0.1/x", code, "status", msg, None)


# --- the six tests the plan names --------------------------------------------------------------


def test_ai_retry_succeeds_on_first_try() -> None:
    fn = mock.Mock(return_value="ok", __qualname__="fn")
    wrapped = ai_retry(fn)
    assert wrapped("a", k=1) == "ok"
    fn.assert_called_once_with("a", k=1)
    assert wrapped.retry.statistics["attempt_number"] == 1  # type: ignore[attr-defined]


def test_ai_retry_succeeds_after_transient_failure(retries: list[RetryDetails]) -> None:
    fn = mock.Mock(side_effect=[TimeoutError("slow"), ConnectionError("reset"), "ok"], __qualname__="fn")
    wrapped = ai_retry(fn)
    assert wrapped() == "ok"
    assert fn.call_count == 3
    assert wrapped.retry.statistics["attempt_number"] == 3  # type: ignore[attr-defined]
    assert [d.attempt for d in retries] == [1, 2]
    assert 4.0 <= retries[0].wait <= 8.0
    assert 5.0 <= retries[1].wait <= 10.0


def test_ai_retry_raises_after_max_attempts() -> None:
    error = ConnectionError("still down")
    fn = mock.Mock(side_effect=error, __qualname__="fn")
    wrapped = ai_retry(fn)
    with pytest.raises(ConnectionError) as info:
        wrapped()
    assert info.value is error  # the original, not tenacity's RetryError
    assert fn.call_count == 3
    assert wrapped.retry.statistics["attempt_number"] == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", [ValueError("bad input"), http_error(400), http_error(404), KeyError("k")])
def test_ai_retry_no_retry_on_permanent_error(error: Exception, retries: list[RetryDetails]) -> None:
    fn = mock.Mock(side_effect=error, __qualname__="fn")
    wrapped = ai_retry(fn)
    with pytest.raises(type(error)) as info:
        wrapped()
    assert info.value is error
    assert fn.call_count == 1
    assert retries == []


def test_file_retry_handles_permission_error() -> None:
    fn = mock.Mock(side_effect=[PermissionError("locked"), PermissionError("locked"), b"data"], __qualname__="f")
    wrapped = file_retry(fn)
    assert wrapped() == b"data"
    assert fn.call_count == 3


@pytest.mark.parametrize("error", [FileNotFoundError(), FileExistsError(), IsADirectoryError(), NotADirectoryError()])
def test_file_retry_does_not_retry_what_waiting_cannot_cure(error: OSError) -> None:
    fn = mock.Mock(side_effect=error, __qualname__="f")
    with pytest.raises(type(error)):
        file_retry(fn)()
    assert fn.call_count == 1


def test_file_retry_gives_up_after_five_attempts() -> None:
    fn = mock.Mock(side_effect=OSError(5, "I/O error"), __qualname__="f")
    with pytest.raises(OSError, match="I/O error"):
        file_retry(fn)()
    assert fn.call_count == 5


def test_network_retry_with_connection_error() -> None:
    fn = mock.Mock(side_effect=[ConnectionRefusedError("refused"), {"ok": True}], __qualname__="get")
    wrapped = network_retry(fn)
    assert wrapped() == {"ok": True}
    assert fn.call_count == 2


@pytest.mark.parametrize(("code", "calls"), [(500, 3), (503, 3), (429, 3), (408, 3), (404, 1), (409, 1), (401, 1)])
def test_network_retry_retries_only_transient_statuses(code: int, calls: int) -> None:
    fn = mock.Mock(side_effect=http_error(code), __qualname__="get")
    with pytest.raises(urllib.error.HTTPError):
        network_retry(fn)()
    assert fn.call_count == calls


# --- waits and jitter --------------------------------------------------------------------------


def _waits(policy: RetryPolicy, rng: random.Random | None = None) -> list[float]:
    seen: list[float] = []

    def always_fails() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        # A fresh budget and breaker per run: hundreds of failing runs would otherwise trip ai_retry's.
        policy.with_fresh_state().call(
            always_fails, sleep=lambda s: None, rng=rng, on_retry=lambda d: seen.append(d.wait)
        )
    return seen


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_wait_is_jittered_and_within_bounds(policy: RetryPolicy) -> None:
    runs = [_waits(policy, random.Random(seed)) for seed in range(200)]
    assert all(len(r) == policy.attempts - 1 for r in runs)
    for index in range(policy.attempts - 1):
        lo, hi = policy.wait_bounds(index + 1)
        column = [r[index] for r in runs]
        assert all(policy.wait_min <= lo <= w <= hi <= policy.wait_max for w in column)
        # Real jitter: many distinct values spread over most of the window, the capped windows included.
        assert len(set(column)) == len(column)
        assert max(column) - min(column) > 0.8 * (hi - lo)
        assert statistics.pstdev(column) > 0.2 * (hi - lo)


def test_ai_waits_grow_and_stay_between_4_and_10() -> None:
    runs = [_waits(ai_retry, random.Random(seed)) for seed in range(300)]
    firsts = [r[0] for r in runs]
    seconds = [r[1] for r in runs]
    assert min(firsts) >= 4.0
    assert max(seconds) <= 10.0
    assert statistics.mean(seconds) > statistics.mean(firsts) + 0.5


def test_waits_are_reproducible_with_a_seeded_rng() -> None:
    assert _waits(ai_retry, random.Random(7)) == _waits(ai_retry, random.Random(7))
    assert _waits(ai_retry, random.Random(7)) != _waits(ai_retry, random.Random(8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"wait_min": 0.0}, "wait_min"),
        ({"wait_min": 10.0, "wait_max": 10.0}, "wait_min"),
        ({"wait_max": float("inf")}, "wait_min"),
    ],
)
def test_policy_refuses_bounds_that_would_remove_jitter(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ai_retry.replace(**kwargs)


def test_overrides_make_a_tuned_copy() -> None:
    tuned = ai_retry(attempts=5)
    assert isinstance(tuned, RetryPolicy)
    assert (tuned.attempts, ai_retry.attempts) == (5, 3)
    fn = mock.Mock(side_effect=TimeoutError(), __qualname__="f")
    with pytest.raises(TimeoutError):
        tuned(fn)()
    assert fn.call_count == 5


# --- Retry-After -------------------------------------------------------------------------------


def test_retry_after_is_never_undercut(retries: list[RetryDetails]) -> None:
    fn = mock.Mock(side_effect=[http_error(429, Retry_After="7"), "ok"], __qualname__="get")
    assert ai_retry(fn)() == "ok"
    assert retries[0].retry_after == 7.0
    assert 7.0 <= retries[0].wait <= 10.0


def test_retry_after_ms_is_read_in_milliseconds(retries: list[RetryDetails]) -> None:
    fn = mock.Mock(side_effect=[http_error(503, **{"retry-after-ms": "2500"}), "ok"], __qualname__="get")
    assert network_retry(fn)() == "ok"
    assert retries[0].retry_after == 2.5
    assert retries[0].wait >= 2.5


def test_retry_after_longer_than_max_wait_gives_up_at_once(retries: list[RetryDetails]) -> None:
    error = http_error(429, Retry_After="3600")
    fn = mock.Mock(side_effect=error, __qualname__="get")
    with pytest.raises(urllib.error.HTTPError) as info:
        ai_retry(fn)()
    assert info.value is error
    assert fn.call_count == 1
    assert retries == []


# --- hooks, logging, testing switch ------------------------------------------------------------


def test_each_retry_is_logged_at_warning_before_sleeping(caplog: pytest.LogCaptureFixture) -> None:
    def flaky_lookup() -> str:
        raise TimeoutError("upstream slow")

    wrapped = ai_retry(flaky_lookup)
    with caplog.at_level(logging.WARNING, logger="src.utils.retry"), pytest.raises(TimeoutError):
        wrapped()
    records = [r for r in caplog.records if r.name == "src.utils.retry"]
    assert len(records) == 2
    assert all(r.levelno == logging.WARNING for r in records)
    text = records[0].getMessage()
    assert "flaky_lookup" in text
    assert "attempt 1/3" in text
    assert "TimeoutError" in text
    assert "upstream slow" in text
    assert "sleeping" in text
    assert 4.0 <= records[0].retry_wait <= 8.0  # type: ignore[attr-defined]


def test_a_failing_hook_does_not_change_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken_hook(details: RetryDetails) -> None:
        raise RuntimeError("metrics down")

    set_on_retry_hooks([broken_hook])
    try:
        fn = mock.Mock(side_effect=[TimeoutError(), "ok"], __qualname__="f")
        assert ai_retry(fn)() == "ok"
    finally:
        set_on_retry_hooks(None)
    assert any("retry hook" in r.getMessage() for r in caplog.records)


def test_testing_switch_skips_sleeps_and_restores_state() -> None:
    slept: list[float] = []
    with mock.patch.object(retry_mod.time, "sleep", slept.append):
        with set_testing(False):
            assert not is_testing()
            fn = mock.Mock(side_effect=[TimeoutError(), "ok"], __qualname__="f")
            assert ai_retry(fn)() == "ok"
        assert is_testing()  # the autouse fixture's state is back
        fn = mock.Mock(side_effect=[TimeoutError(), "ok"], __qualname__="f")
        assert ai_retry(fn)() == "ok"
    assert len(slept) == 1
    assert 4.0 <= slept[0] <= 8.0


# --- decoration ---------------------------------------------------------------------------------


def test_decorator_keeps_name_docstring_and_works_on_methods() -> None:
    class Client:
        def __init__(self) -> None:
            self.calls = 0

        @network_retry
        def fetch(self, path: str) -> str:
            """Fetch a path."""
            self.calls += 1
            if self.calls == 1:
                raise ConnectionResetError("reset")
            return path.upper()

    client = Client()
    assert client.fetch("/x") == "/X"
    assert client.calls == 2
    assert Client.fetch.__name__ == "fetch"
    assert Client.fetch.__doc__ == "Fetch a path."


def test_statistics_are_per_call() -> None:
    fn = mock.Mock(side_effect=[TimeoutError(), "ok", "ok"], __qualname__="f")
    wrapped = ai_retry(fn)
    wrapped()
    assert wrapped.retry.statistics["attempt_number"] == 2  # type: ignore[attr-defined]
    wrapped()
    assert wrapped.retry.statistics["attempt_number"] == 1  # type: ignore[attr-defined]


def test_async_functions_are_retried() -> None:
    calls = 0

    @ai_retry
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TimeoutError("slow")
        return "done"

    assert asyncio.run(fetch()) == "done"
    assert calls == 3
    assert fetch.retry.statistics["attempt_number"] == 3  # type: ignore[attr-defined]


def test_async_permanent_error_is_not_retried() -> None:
    calls = 0

    @network_retry
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(fetch())
    assert calls == 1


def test_async_exhaustion_reraises_the_original() -> None:
    error = ConnectionError("down")

    @network_retry
    async def fetch() -> str:
        raise error

    with pytest.raises(ConnectionError) as info:
        asyncio.run(fetch())
    assert info.value is error


def test_async_testing_switch_skips_asyncio_sleep() -> None:
    @ai_retry
    async def fetch() -> str:
        raise TimeoutError

    with mock.patch.object(asyncio, "sleep") as fake_sleep, pytest.raises(TimeoutError):
        asyncio.run(fetch())
    fake_sleep.assert_not_called()


# --- import cost --------------------------------------------------------------------------------


def test_import_is_cheap_and_has_no_side_effects() -> None:
    code = (
        "import logging, os, sys, socket\n"
        "opened = []\n"
        "socket.socket.connect = lambda *a, **k: opened.append(a)\n"
        "read = []\n"
        "class Spy(dict):\n"
        "    def __getitem__(self, k): read.append(k); return super().__getitem__(k)\n"
        "    def get(self, k, d=None): read.append(k); return super().get(k, d)\n"
        "os.environ = Spy(os.environ)\n"
        "import src.utils.retry\n"
        "assert not read, f'environment read: {read}'\n"
        "assert 'anthropic' not in sys.modules, 'anthropic imported'\n"
        "assert 'flask' not in sys.modules, 'flask imported'\n"
        "assert 'asyncio' not in sys.modules, 'asyncio imported'\n"
        "assert 'httpx2' not in sys.modules and 'httpx' not in sys.modules, 'httpx imported'\n"
        "assert not logging.getLogger().handlers, 'logging configured'\n"
        "assert not opened, 'network touched'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- runner, acall, jitter strategies -------------------------------------------------------------


def test_runner_reuses_the_machinery_and_matches_call() -> None:
    seen_call: list[float] = []
    seen_runner: list[float] = []
    policy = network_retry.with_fresh_state()

    def flaky_factory() -> object:
        state = {"n": 0}

        def flaky() -> str:
            state["n"] += 1
            if state["n"] < 3:
                raise ConnectionError("down")
            return "ok"

        return flaky

    assert policy.call(flaky_factory(), rng=random.Random(5), on_retry=lambda d: seen_call.append(d.wait)) == "ok"  # type: ignore[arg-type]
    run = policy.runner(rng=random.Random(5), on_retry=lambda d: seen_runner.append(d.wait))
    assert run(flaky_factory()) == "ok"  # type: ignore[arg-type]
    assert seen_call == seen_runner
    assert run(lambda: "first try") == "first try"
    with pytest.raises(ValueError, match="permanent"):
        run(mock.Mock(side_effect=ValueError("permanent")))


def test_acall_runs_on_an_injected_async_sleep() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise TimeoutError
        return "ok"

    policy = ai_retry.with_fresh_state()
    assert asyncio.run(policy.acall(flaky, sleep=fake_sleep, rng=random.Random(1))) == "ok"
    assert attempts == 3
    assert len(slept) == 2
    assert 4.0 <= slept[0] <= 8.0
    assert 5.0 <= slept[1] <= 10.0


@pytest.mark.parametrize("jitter", ["full", "equal", "decorrelated"])
def test_comparison_strategies_are_random_and_capped(jitter: str) -> None:
    policy = RetryPolicy(
        name="cmp",
        attempts=6,
        wait_min=1.0,
        wait_max=20.0,
        retry_if=lambda e: True,
        jitter=jitter,  # type: ignore[arg-type]
    )
    runs = [_waits(policy, random.Random(seed)) for seed in range(200)]
    for index in range(policy.attempts - 1):
        column = [r[index] for r in runs]
        lo, hi = policy.wait_bounds(index + 1)
        assert all(lo <= w <= hi <= policy.wait_max for w in column)
        assert len(set(column)) > 150


def test_no_jitter_waits_exactly_the_exponential() -> None:
    policy = RetryPolicy(name="cmp", attempts=6, wait_min=1.0, wait_max=10.0, retry_if=lambda e: True, jitter="none")
    assert _waits(policy, random.Random(1)) == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert _waits(policy, random.Random(2)) == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_unknown_jitter_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter must be one of"):
        network_retry.replace(jitter="sometimes")


def test_file_retry_does_not_retry_http_errors() -> None:
    fn = mock.Mock(side_effect=http_error(404), __qualname__="download")
    with pytest.raises(urllib.error.HTTPError):
        file_retry(fn)()
    assert fn.call_count == 1


def test_an_exception_text_cannot_forge_retry_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    def upstream() -> None:
        raise ConnectionError("busy\r\nERROR forged line \x1b[31mred\x1b[0m")

    with caplog.at_level(logging.WARNING, logger="src.utils.retry"), pytest.raises(ConnectionError):
        network_retry(upstream)()
    text = caplog.records[0].getMessage()
    assert "\r" not in text
    assert "\n" not in text
    assert "\x1b" not in text
    assert "busy\\x0d\\x0aERROR forged line \\x1b[31mred" in text


def test_retry_after_equal_to_the_longest_wait_gives_up_rather_than_retry_in_lockstep(
    retries: list[RetryDetails],
) -> None:
    # Waiting exactly wait_max would leave no room for jitter: every caller told "10" would return together.
    error = http_error(503, Retry_After="10")
    fn = mock.Mock(side_effect=[error, "ok"], __qualname__="get")
    with pytest.raises(urllib.error.HTTPError) as info:
        network_retry(fn)()
    assert info.value is error
    assert fn.call_count == 1
    assert retries == []
    # Just below the cap there is still a window to jitter in.
    fn = mock.Mock(side_effect=[http_error(503, Retry_After="9"), "ok"], __qualname__="get")
    assert network_retry(fn)() == "ok"
    assert 9.0 <= retries[0].wait <= 10.0
