"""Text generation on the Anthropic Messages API, with exactly one retry layer.

Use :class:`BaseGenerator` (or :class:`AsyncBaseGenerator`) wherever a route needs
text from the model. It sends one user message, retries transient failures with
:data:`~src.utils.retry.ai_retry` (the SDK's own retries are switched off, so a
call makes at most 3 HTTP requests), and turns every failure into
:class:`~src.api.errors.AIServiceError` (502) that carries the upstream's
Retry-After when it sent one.

``anthropic`` is imported when a generator first needs a client, not when this
module is imported.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from src.api.errors import AIServiceError
from src.utils.retry import ai_retry
from src.utils.transient import http_status_of, retry_after_of

if TYPE_CHECKING:
    import anthropic

__all__ = ["DEFAULT_MODEL", "DEFAULT_TIMEOUT", "AsyncBaseGenerator", "BaseGenerator", "to_ai_service_error"]

ClientT = TypeVar("ClientT")

DEFAULT_MODEL = "claude-sonnet-5-5"
#: Seconds one HTTP attempt may take (read, write, pool); connecting gets at most 5 s.
DEFAULT_TIMEOUT = 30.0
_CONNECT_TIMEOUT = 5.0


def to_ai_service_error(exc: BaseException) -> AIServiceError:
    """Describe a failed AI call as an :class:`AIServiceError` safe to show a client.

    The message names the kind of failure, never the upstream's text; the original
    exception travels as ``original_error`` for the logs, and a 429/5xx
    Retry-After from the upstream becomes the error's ``retry_after``.
    """
    status = http_status_of(exc)
    anthropic = sys.modules.get("anthropic")
    if status == 529:
        message = "The AI service is overloaded; try again later"
    elif status == 429:
        message = "The AI service is rate limiting requests; try again later"
    elif status is not None and status >= 500:
        message = f"The AI service failed with status {status}"
    elif status is not None:
        message = f"The AI service rejected the request with status {status}"
    elif isinstance(exc, TimeoutError) or (anthropic is not None and isinstance(exc, anthropic.APITimeoutError)):
        message = "The AI service did not answer in time"
    elif isinstance(exc, ConnectionError) or (anthropic is not None and isinstance(exc, anthropic.APIConnectionError)):
        message = "Could not reach the AI service"
    elif anthropic is not None and isinstance(exc, anthropic.CredentialsError):
        message = "The AI service is not configured"
    else:
        message = "The AI service call failed"
    retry_after = retry_after_of(exc) if status is None or status == 429 or status >= 500 else None
    if retry_after is not None:
        retry_after = float(math.ceil(retry_after))
    return AIServiceError(message, original_error=exc, retry_after=retry_after)


def _text_of(message: Any) -> str:
    parts = [block.text for block in getattr(message, "content", ()) if getattr(block, "type", None) == "text"]
    if not parts:
        raise ValueError("the model returned no text content")
    return "".join(parts)


def _timeout(seconds: float) -> Any:
    import anthropic

    return anthropic.Timeout(seconds, connect=min(_CONNECT_TIMEOUT, seconds))


class _Generator(Generic[ClientT]):
    """What the sync and async generators share: settings, the lazily built client, the request."""

    def __init__(
        self,
        client: ClientT | None = None,
        model: str = DEFAULT_MODEL,
        *,
        max_tokens: int = 1024,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        # Both SDK clients have with_options(); a TypeVar can't say so without a Protocol for one call.
        self._client: ClientT | None = (
            cast(ClientT, cast(Any, client).with_options(max_retries=0, timeout=_timeout(timeout))) if client else None
        )
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = timeout

    @property
    def client(self) -> ClientT:
        """The SDK client, built from the environment on first use."""
        if self._client is None:
            self._client = self._new_client(max_retries=0, timeout=_timeout(self.timeout))
        return self._client

    def _new_client(self, **options: Any) -> ClientT:
        raise NotImplementedError

    def _request(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            **kwargs,
            "messages": [{"role": "user", "content": prompt}],
        }


class BaseGenerator(_Generator["anthropic.Anthropic"]):
    """Generate text with one ``messages.create`` call, retried by :data:`ai_retry`.

    Without ``client``, builds ``anthropic.Anthropic(max_retries=0)`` on first
    use, reading ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` from the
    environment, with an HTTP client that ends each attempt ``timeout`` seconds after
    it was sent (see :mod:`src.generators.deadline`), so one :meth:`generate` lasts
    at most about ``3 * timeout + 20`` seconds. A client you pass is used through
    ``with_options(max_retries=0, timeout=...)`` so that :data:`ai_retry` stays the
    only retry layer; its ``timeout`` then bounds each read, and the whole-attempt
    bound holds only if you built it with ``http_client=deadline_http_client(timeout)``.
    """

    def _new_client(self, **options: Any) -> anthropic.Anthropic:
        import anthropic

        from src.generators.deadline import deadline_http_client

        return anthropic.Anthropic(http_client=deadline_http_client(self.timeout), **options)

    def generate(self, prompt: str, **kwargs: Any) -> str:
        """Return the model's text answer to ``prompt``.

        Extra keyword arguments go to ``messages.create`` (``system``,
        ``temperature``...). Raises :class:`AIServiceError` when the call fails
        for good: a permanent error, retries exhausted, a Retry-After longer than
        the policy allows, the policy's breaker or budget refusing (503), or a
        response without text.
        """
        try:
            return _text_of(self._create(self._request(prompt, kwargs)))
        except AIServiceError:
            raise
        except Exception as exc:
            raise to_ai_service_error(exc) from exc

    @ai_retry
    def _create(self, request: dict[str, Any]) -> Any:
        return self.client.messages.create(**request)


class AsyncBaseGenerator(_Generator["anthropic.AsyncAnthropic"]):
    """The asyncio twin of :class:`BaseGenerator`, on ``anthropic.AsyncAnthropic``."""

    def _new_client(self, **options: Any) -> anthropic.AsyncAnthropic:
        import anthropic

        from src.generators.deadline import deadline_async_http_client

        return anthropic.AsyncAnthropic(http_client=deadline_async_http_client(self.timeout), **options)

    async def generate(self, prompt: str, **kwargs: Any) -> str:
        """Return the model's text answer to ``prompt``; see :meth:`BaseGenerator.generate`."""
        try:
            return _text_of(await self._create(self._request(prompt, kwargs)))
        except AIServiceError:
            raise
        except Exception as exc:
            raise to_ai_service_error(exc) from exc

    @ai_retry
    async def _create(self, request: dict[str, Any]) -> Any:
        return await self.client.messages.create(**request)
