"""When the upstream AI API misbehaves, generate() keeps its deadline, its request cap and its mapping.

The real Anthropic SDK talks to the scripted fake Messages API of ``tests/fakes.py`` on
127.0.0.1, with deliberately short timeouts. For every fault, three things must hold:

* deadline: ``generate`` returns or raises within ``attempts * timeout + SLACK`` seconds of
  wall time. It runs on a helper thread, so a hang fails the test at the deadline instead of
  hanging the suite; this bounds behaviour, it is not a speed benchmark;
* request cap: the fake server sees at most 3 requests per ``generate`` call;
* mapping: the failure is an ``AIServiceError`` carrying the upstream's Retry-After (when it
  sent one), and, through the app, a 502 in the JSON contract with that ``Retry-After`` header.

Retry waits are switched off with ``set_testing(True)`` and ``ai_retry``'s shared budget and
breaker are reset around every test.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import anthropic
import pytest

from app import create_app
from src.api.contract import validate_error_response
from src.api.errors import AIServiceError
from src.generators.base_generator import BaseGenerator
from src.utils.retry import ai_retry, set_testing
from tests.conftest import ErrorContract
from tests.fakes import (
    RESET,
    TRUNCATE,
    Reply,
    ScriptedServer,
    anthropic_error,
    anthropic_message,
    delayed,
    fault_server,
    raw_response,
    stalled,
    status,
    trickled,
)

ATTEMPTS = 3
#: Wall-clock allowance on top of ``attempts * timeout``: thread start, connects, SDK overhead.
SLACK = 2.0
#: Per-attempt timeout for faults that are expected to time out.
SHORT = 0.1
#: Per-attempt timeout for faults that end quickly on their own (a generous one: no false timeouts).
LONG = 2.0

MESSAGE = anthropic_message("A summary.")
OVERLOADED = anthropic_error(529, "overloaded_error")

# Building a client costs ~60 ms (an SSL context); copies made with with_options() share its pool.
_CLIENT = anthropic.Anthropic(api_key="sk-test-not-a-secret", base_url="http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def _no_sleep_fresh_breaker() -> Iterator[None]:
    ai_retry.reset()
    with set_testing(True):
        yield
    ai_retry.reset()


def make_generator(server: ScriptedServer, timeout: float) -> BaseGenerator:
    return BaseGenerator(client=_CLIENT.with_options(base_url=server.url), timeout=timeout)


@dataclass
class Outcome:
    """What one ``generate`` call did against a fault."""

    result: str | AIServiceError | None
    requests: int
    elapsed: float
    deadline: float
    hung: bool


def generate_within_deadline(
    script: Sequence[Reply],
    timeout: float,
    *,
    calls: int = 1,
    factory: Callable[[ScriptedServer, float], BaseGenerator] = make_generator,
) -> list[Outcome]:
    """Run ``generate`` ``calls`` times against one fault server, each on a thread with its deadline."""
    deadline = ATTEMPTS * timeout + SLACK
    outcomes: list[Outcome] = []
    with fault_server(script) as server:
        generator = factory(server, timeout)
        threads: list[threading.Thread] = []
        for _ in range(calls):
            results: list[str | AIServiceError] = []

            def call(results: list[str | AIServiceError] = results) -> None:
                try:
                    results.append(generator.generate("Summarise the course"))
                except AIServiceError as exc:
                    results.append(exc)

            before = server.count
            started = time.monotonic()
            thread = threading.Thread(target=call, daemon=True)
            thread.start()
            thread.join(timeout=deadline)
            elapsed = time.monotonic() - started
            threads.append(thread)
            hung = thread.is_alive()
            outcomes.append(Outcome(results[0] if results else None, server.count - before, elapsed, deadline, hung))
            if hung:
                break
    # Leaving the block stopped the server, which ends every paced reply; the thread follows.
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), "generate still running after the fake server stopped"
    return outcomes


def one_failure(script: Sequence[Reply], timeout: float) -> tuple[AIServiceError, Outcome]:
    """The AIServiceError of one call that must fail, after checking the deadline and the cap."""
    [outcome] = generate_within_deadline(script, timeout)
    assert not outcome.hung, f"generate still running after {outcome.deadline:.1f} s"
    assert outcome.elapsed < outcome.deadline
    assert 1 <= outcome.requests <= ATTEMPTS
    assert isinstance(outcome.result, AIServiceError), outcome.result
    return outcome.result, outcome


# --- the connection is reset mid-response -----------------------------------------------------


@pytest.mark.parametrize("fault", [TRUNCATE, RESET], ids=["reset-mid-body", "reset-before-answer"])
def test_a_reset_connection_is_retried_three_times_then_a_502(fault: Reply) -> None:
    error, outcome = one_failure([fault], LONG)
    assert outcome.requests == 3
    assert error.status_code == 502
    assert error.retry_after is None
    assert isinstance(error.original_error, anthropic.APIConnectionError)
    assert error.message == "Could not reach the AI service"


def test_a_reset_then_an_answer_recovers_on_the_second_request() -> None:
    [outcome] = generate_within_deadline([TRUNCATE, MESSAGE], LONG)
    assert outcome.result == "A summary."
    assert outcome.requests == 2


# --- a response slower than the client's timeout ----------------------------------------------


@pytest.mark.parametrize(
    "fault",
    # A reply that never comes (HANG) is covered in test_generator.py.
    [delayed(MESSAGE, 1.0), stalled(MESSAGE, 20), stalled(MESSAGE, len(raw_response(MESSAGE)) - 5)],
    ids=["late-by-1s", "stalled-in-headers", "stalled-in-body"],
)
def test_a_slow_upstream_times_out_within_the_deadline(fault: Reply) -> None:
    error, outcome = one_failure([fault], SHORT)
    assert outcome.requests == 3
    assert error.status_code == 502
    assert error.retry_after is None
    assert isinstance(error.original_error, anthropic.APITimeoutError)
    assert error.message == "The AI service did not answer in time"


def test_a_trickling_upstream_still_ends_within_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte every 30 ms never trips a 0.1 s read timeout; the generator's own client ends each attempt anyway."""

    def from_environment(server: ScriptedServer, timeout: float) -> BaseGenerator:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-secret")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        return BaseGenerator(timeout=timeout)

    [outcome] = generate_within_deadline([trickled(MESSAGE, interval=0.03)], SHORT, factory=from_environment)
    assert not outcome.hung, f"generate still running after {outcome.deadline:.1f} s"
    assert outcome.requests == ATTEMPTS
    assert isinstance(outcome.result, AIServiceError)
    assert outcome.result.message == "The AI service did not answer in time"


# --- a malformed body -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        status(200, b"{not json"),
        status(200, b'{"id": "msg_'),
        status(200, b""),
        status(200, b"null"),
        status(200, {"content": "not a list of blocks"}),
        Reply("status", 200, {"Content-Type": "text/html"}, b"<html>upstream proxy error</html>"),
    ],
    ids=["not-json", "cut-json", "empty", "null", "wrong-shape", "html"],
)
def test_a_malformed_body_is_a_502_without_retry(fault: Reply) -> None:
    error, outcome = one_failure([fault, MESSAGE], LONG)
    assert outcome.requests == 1
    assert error.status_code == 502
    assert error.retry_after is None
    assert error.message == "The AI service call failed"


def test_a_malformed_error_body_still_maps_by_status() -> None:
    fault = Reply("status", 529, {"Content-Type": "application/json", "retry-after": "2"}, b"{overloaded")
    error, outcome = one_failure([fault], LONG)
    assert outcome.requests == 3
    assert isinstance(error.original_error, anthropic.OverloadedError)
    assert error.retry_after == 2


# --- 529 storms -------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "retry_after"), [({}, None), ({"retry_after": "3"}, 3)])
def test_a_529_storm_gives_up_after_three_requests(headers: dict[str, str], retry_after: int | None) -> None:
    error, outcome = one_failure([anthropic_error(529, "overloaded_error", **headers)], LONG)
    assert outcome.requests == 3
    assert error.status_code == 502
    assert error.retry_after == retry_after
    assert isinstance(error.original_error, anthropic.OverloadedError)
    assert error.message == "The AI service is overloaded; try again later"


def test_a_long_529_storm_opens_the_breaker_and_later_calls_cost_nothing() -> None:
    outcomes = generate_within_deadline([OVERLOADED], LONG, calls=5)
    assert all(not outcome.hung and outcome.elapsed < outcome.deadline for outcome in outcomes)
    assert all(outcome.requests <= ATTEMPTS for outcome in outcomes)
    errors = [outcome.result for outcome in outcomes]
    assert all(isinstance(error, AIServiceError) for error in errors)
    assert [outcome.requests for outcome in outcomes] == [3, 2, 0, 0, 0]
    assert [error.status_code for error in errors if isinstance(error, AIServiceError)] == [502, 503, 503, 503, 503]
    for error in errors[1:]:
        assert isinstance(error, AIServiceError)
        assert error.retry_after is not None
        assert 1 <= error.retry_after <= 30


# --- 429 with a huge Retry-After --------------------------------------------------------------


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"retry_after": "86400"}, 86400, 86400),
        ({"retry_after_ms": "3600000"}, 3600, 3600),
        ({"retry_after": _http_date(7200)}, 7100, 7300),
        ({"retry_after": "31536000000"}, 31536000000, 31536000000),
    ],
    ids=["a-day", "an-hour-in-ms", "http-date", "a-thousand-years"],
)
def test_a_429_with_a_huge_retry_after_gives_up_at_once_and_passes_it_on(
    headers: dict[str, str], low: int, high: int
) -> None:
    error, outcome = one_failure([anthropic_error(429, "rate_limit_error", **headers), MESSAGE], LONG)
    assert outcome.requests == 1
    assert error.status_code == 502
    assert error.retry_after is not None
    assert low <= error.retry_after <= high
    assert isinstance(error.original_error, anthropic.RateLimitError)


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "1e400"])
def test_a_429_with_an_unreadable_retry_after_is_retried_like_any_429(value: str) -> None:
    error, outcome = one_failure([anthropic_error(429, "rate_limit_error", retry_after=value)], LONG)
    assert outcome.requests == 3
    assert error.retry_after is None


# --- through the app: POST /api/courses/<id>/summary ------------------------------------------


def summarise_through_the_app(
    script: Sequence[Reply], timeout: float, contract: ErrorContract
) -> tuple[int, dict[str, str], bytes, int]:
    """POST a summary with a real BaseGenerator against the fault; return status, headers, body, requests."""
    with fault_server(script) as server:
        app = create_app({"TESTING": True, "AI_GENERATOR": make_generator(server, timeout)})
        client = app.test_client()
        created = client.post("/api/courses", json={"title": "Networks", "description": "Packets."})
        assert created.status_code == 201
        started = time.monotonic()
        response = client.post(f"/api/courses/{created.json['id']}/summary")  # type: ignore[index]
        elapsed = time.monotonic() - started
        assert elapsed < ATTEMPTS * timeout + SLACK
        return response.status_code, dict(response.headers), response.get_data(), server.count


@pytest.mark.parametrize(
    ("script", "timeout", "retry_after"),
    [
        ([anthropic_error(429, "rate_limit_error", retry_after="86400")], LONG, "86400"),
        ([anthropic_error(529, "overloaded_error", retry_after="3")], LONG, "3"),
        ([anthropic_error(503, "api_error", retry_after="2")], LONG, "2"),
        ([anthropic_error(529, "overloaded_error")], LONG, None),
        ([TRUNCATE], LONG, None),
        ([delayed(MESSAGE, 1.0)], SHORT, None),
        ([status(200, b"{not json")], LONG, None),
        ([anthropic_error(401, "authentication_error")], LONG, None),
    ],
    ids=["429-huge", "529-storm", "503", "529-no-header", "reset", "slow", "malformed", "401"],
)
def test_the_summary_route_answers_502_with_the_upstreams_retry_after(
    script: list[Reply], timeout: float, retry_after: str | None, contract: ErrorContract
) -> None:
    status_code, headers, body, requests = summarise_through_the_app(script, timeout, contract)
    assert requests <= ATTEMPTS
    parsed = validate_error_response(status_code, headers.items(), body, method="POST")
    assert status_code == 502
    assert headers.get("Retry-After") == retry_after
    assert parsed.get("retry_after") == (None if retry_after is None else int(retry_after))
    assert b"fake" not in body  # the upstream's own error text stays in the log


def test_the_summary_route_answers_503_with_retry_after_once_the_breaker_is_open(contract: ErrorContract) -> None:
    with fault_server([OVERLOADED]) as server:
        app = create_app({"TESTING": True, "AI_GENERATOR": make_generator(server, LONG)})
        client = app.test_client()
        course = client.post("/api/courses", json={"title": "Networks"}).json
        assert course is not None
        answers = [client.post(f"/api/courses/{course['id']}/summary") for _ in range(3)]
        assert [answer.status_code for answer in answers] == [502, 503, 503]
        assert server.count == 5
        for answer in answers[1:]:
            body = contract.check(answer, 503)
            assert 1 <= int(answer.headers["Retry-After"]) <= 30
            assert body["retry_after"] == int(answer.headers["Retry-After"])


@pytest.mark.parametrize("value", ["9007199254740992", "1e16", "1e300"])
def test_an_absurd_upstream_retry_after_still_gives_a_contract_502(value: str, contract: ErrorContract) -> None:
    # Beyond 2**53 - 1 the body's retry_after used to become a string, which the schema refuses.
    script = [anthropic_error(429, "rate_limit_error", retry_after=value)]
    status_code, headers, body, requests = summarise_through_the_app(script, LONG, contract)
    assert requests == 1
    parsed = validate_error_response(status_code, headers.items(), body, method="POST")
    assert status_code == 502
    assert headers["Retry-After"] == str(parsed["retry_after"])
    assert 0 < parsed["retry_after"] <= 2**53 - 1
