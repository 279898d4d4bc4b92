"""BaseGenerator on the real Anthropic SDK against a scripted fake Messages API on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import anthropic
import pytest

from src.api.errors import AIServiceError
from src.generators.base_generator import AsyncBaseGenerator, BaseGenerator
from tests.fakes import (
    HANG,
    RESET,
    TRUNCATE,
    Reply,
    ScriptedServer,
    anthropic_error,
    anthropic_message,
    scripted_server,
    status,
)

OVERLOADED = anthropic_error(529, "overloaded_error")
SERVER_ERROR = anthropic_error(500, "api_error")


# Building a client costs ~60 ms (an SSL context); copies made with with_options() share its pool.
_CLIENT = anthropic.Anthropic(api_key="sk-test-not-a-secret", base_url="http://127.0.0.1:9")


def make_generator(server: ScriptedServer, timeout: float = 2.0) -> BaseGenerator:
    return BaseGenerator(client=_CLIENT.with_options(base_url=server.url), timeout=timeout)


def run(script: Sequence[Reply], timeout: float = 2.0) -> tuple[str | AIServiceError, ScriptedServer]:
    with scripted_server(script) as server:
        generator = make_generator(server, timeout)
        try:
            return generator.generate("Summarise the course"), server
        except AIServiceError as exc:
            return exc, server


def test_success_makes_one_request() -> None:
    result, server = run([anthropic_message("A short summary")])
    assert result == "A short summary"
    assert server.requests == [("POST", "/v1/messages")]


@pytest.mark.parametrize(
    "failure",
    [OVERLOADED, SERVER_ERROR, anthropic_error(429, "rate_limit_error", retry_after="1"), RESET, HANG],
    ids=["529", "500", "429-retry-after", "reset", "slow"],
)
def test_transient_failure_then_success(failure: Reply) -> None:
    result, server = run([failure, anthropic_message("recovered")], timeout=0.3)
    assert result == "recovered"
    assert server.count == 2


def test_the_whole_story_never_exceeds_three_requests() -> None:
    # 529, 429 with retry-after, 500: the decorator gives up after 3, the SDK adds none.
    script = [OVERLOADED, anthropic_error(429, "rate_limit_error", retry_after="2"), SERVER_ERROR, anthropic_message()]
    result, server = run(script)
    assert isinstance(result, AIServiceError)
    assert server.count == 3
    assert result.status_code == 502
    assert isinstance(result.original_error, anthropic.InternalServerError)
    assert "failed with status 500" in result.message


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (anthropic_error(400, "invalid_request_error"), anthropic.BadRequestError),
        (anthropic_error(401, "authentication_error"), anthropic.AuthenticationError),
        (anthropic_error(403, "permission_error"), anthropic.PermissionDeniedError),
        (anthropic_error(404, "not_found_error"), anthropic.NotFoundError),
        (anthropic_error(413, "request_too_large"), anthropic.ContentTooLargeError),
        (anthropic_error(422, "invalid_request_error"), anthropic.UnprocessableEntityError),
    ],
)
def test_permanent_errors_are_not_retried(reply: Reply, error_type: type[Exception]) -> None:
    result, server = run([reply, anthropic_message()])
    assert isinstance(result, AIServiceError)
    assert server.count == 1
    assert type(result.original_error) is error_type
    assert result.status_code == 502
    assert "rejected the request" in result.message


def test_overload_storm_gives_up_after_three_with_retry_after() -> None:
    result, server = run([anthropic_error(529, "overloaded_error", retry_after="3")])
    assert isinstance(result, AIServiceError)
    assert server.count == 3
    assert isinstance(result.original_error, anthropic.OverloadedError)
    assert result.retry_after == 3
    assert "overloaded" in result.message


def test_huge_retry_after_gives_up_at_once_and_passes_it_on() -> None:
    result, server = run([anthropic_error(429, "rate_limit_error", retry_after="600"), anthropic_message()])
    assert isinstance(result, AIServiceError)
    assert server.count == 1
    assert isinstance(result.original_error, anthropic.RateLimitError)
    assert result.retry_after == 600


def test_retry_after_ms_is_honoured_and_rounded_up() -> None:
    result, server = run([anthropic_error(429, "rate_limit_error", retry_after_ms="60500")])
    assert isinstance(result, AIServiceError)
    assert server.count == 1
    assert result.retry_after == 61


def test_slow_upstream_times_out_three_times() -> None:
    result, server = run([HANG], timeout=0.2)
    assert isinstance(result, AIServiceError)
    assert server.count == 3
    assert isinstance(result.original_error, anthropic.APITimeoutError)
    assert "in time" in result.message


def test_dropped_connections_become_connection_errors() -> None:
    result, server = run([RESET])
    assert isinstance(result, AIServiceError)
    assert server.count == 3
    assert isinstance(result.original_error, anthropic.APIConnectionError)


def test_truncated_body_is_retried() -> None:
    result, server = run([TRUNCATE, anthropic_message("whole")])
    assert result == "whole"
    assert server.count == 2


def test_malformed_json_body_is_a_service_error_without_retry() -> None:
    result, server = run([status(200, b"{not json", Content_Type="application/json")])
    assert isinstance(result, AIServiceError)
    assert server.count == 1
    assert result.status_code == 502


def test_a_client_passed_in_loses_its_own_retries() -> None:
    with scripted_server([OVERLOADED]) as server:
        client = _CLIENT.with_options(base_url=server.url, max_retries=5)
        with pytest.raises(AIServiceError):
            BaseGenerator(client=client).generate("hi")
        assert server.count == 3


def test_client_is_built_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_server([OVERLOADED, anthropic_message("from env")]) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-env")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        generator = BaseGenerator()
        assert generator.client.max_retries == 0
        assert generator.generate("hi") == "from env"
        assert server.count == 2


def test_async_generator_retries_and_maps_errors() -> None:
    async def go(url: str) -> tuple[str, str | AIServiceError]:
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=url)
        generator = AsyncBaseGenerator(client=client)
        first = await generator.generate("hi")
        try:
            second: str | AIServiceError = await generator.generate("again")
        except AIServiceError as exc:
            second = exc
        return first, second

    script = [OVERLOADED, anthropic_message("async ok"), anthropic_error(401, "authentication_error")]
    with scripted_server(script) as server:
        first, second = asyncio.run(go(server.url))
        assert first == "async ok"
        assert isinstance(second, AIServiceError)
        assert server.count == 3


def generate_error(generator: BaseGenerator, prompt: str) -> AIServiceError:
    with pytest.raises(AIServiceError) as info:
        generator.generate(prompt)
    return info.value


def test_outage_opens_the_breaker_and_later_calls_fail_fast_with_503() -> None:
    with scripted_server([OVERLOADED]) as server:
        generator = make_generator(server)
        first = generate_error(generator, "one")
        assert first.status_code == 502
        assert server.count == 3
        # The 5th consecutive failure opens ai_retry's breaker: the call fails fast instead of sleeping.
        second = generate_error(generator, "two")
        assert second.status_code == 503
        assert server.count == 5
        assert second.retry_after is not None
        assert 1 <= second.retry_after <= 30
        third = generate_error(generator, "three")
        assert third.status_code == 503
        assert server.count == 5  # refused without touching the upstream


# --- the whole-attempt deadline of the clients the generator builds ---------------------------------


def test_deadline_client_ends_a_trickling_response_and_recovers() -> None:
    import httpx2

    from src.generators.deadline import deadline_http_client
    from tests.fakes import fault_server, trickled

    client = deadline_http_client(0.2)
    with fault_server([trickled(anthropic_message(), interval=0.02), anthropic_message("quick")]) as server:
        with pytest.raises(httpx2.TimeoutException):
            client.post(server.url + "/v1/messages", content=b"{}")
        # The next request on the same client gets its own, fresh deadline.
        assert client.post(server.url + "/v1/messages", content=b"{}").json()["content"][0]["text"] == "quick"
    client.close()


def test_async_generator_built_from_the_environment_keeps_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import fault_server, trickled

    with fault_server([trickled(anthropic_message(), interval=0.02)]) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        generator = AsyncBaseGenerator(timeout=0.15)
        with pytest.raises(AIServiceError) as info:
            asyncio.run(generator.generate("hi"))
        assert info.value.message == "The AI service did not answer in time"
        assert server.count == 3
