"""A total time limit for each HTTP attempt, which the SDK's timeout is not.

The Anthropic SDK's ``timeout`` bounds each *read*: an upstream that trickles a byte every few
milliseconds (headers or body) never trips it, and the call lasts as long as the upstream keeps
trickling. Use :func:`deadline_http_client` (or its async twin) as the SDK's ``http_client`` to
bound each attempt as a whole: once ``seconds`` have passed since the request was sent, the next
socket read or write raises a timeout, which the SDK turns into ``APITimeoutError`` and the retry
policy treats like any other timeout. :class:`~src.generators.base_generator.BaseGenerator` does
this for the clients it builds.

How: every socket operation of the transport's connection pool gets ``min(its own timeout, time
left)``; the time left is per request, kept in a context variable that each request sets when it
is sent (so it follows the thread, or the asyncio task, that reads the response).
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

__all__ = ["deadline_async_http_client", "deadline_http_client"]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("http_attempt_deadline", default=None)
_SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


def deadline_http_client(seconds: float) -> httpx2.Client:
    """An ``httpx2.Client`` for ``anthropic.Anthropic(http_client=...)`` whose attempts end by ``seconds``."""
    import anthropic

    transport = _DeadlineTransport(seconds)
    _bound_backend(transport, _DeadlineBackend(_backend_of(transport)))
    return anthropic.DefaultHttpxClient(transport=transport)


def deadline_async_http_client(seconds: float) -> httpx2.AsyncClient:
    """The ``httpx2.AsyncClient`` twin of :func:`deadline_http_client`, for ``anthropic.AsyncAnthropic``."""
    import anthropic

    transport = _AsyncDeadlineTransport(seconds)
    _bound_backend(transport, _AsyncDeadlineBackend(_backend_of(transport)))
    return anthropic.DefaultAsyncHttpxClient(transport=transport)


def _backend_of(transport: httpx2.HTTPTransport | httpx2.AsyncHTTPTransport) -> Any:
    # httpx2 builds its httpcore2 pool itself and offers no parameter for the pool's network
    # backend (httpcore2's public extension point), so we wrap the one it chose. Fail loudly if
    # a new release moves it, rather than silently losing the deadline.
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:  # pragma: no cover - guards against an httpx2 upgrade
        raise RuntimeError("httpx2's transport no longer exposes its connection pool's network backend")
    return backend


def _bound_backend(transport: httpx2.HTTPTransport | httpx2.AsyncHTTPTransport, backend: Any) -> None:
    transport._pool._network_backend = backend


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt ran past its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineTransport(httpx2.HTTPTransport):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self._seconds = seconds

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _DEADLINE.set(time.monotonic() + self._seconds)
        return super().handle_request(request)


class _AsyncDeadlineTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self._seconds = seconds

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _DEADLINE.set(time.monotonic() + self._seconds)
        return await super().handle_async_request(request)


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore2.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncDeadlineStream(httpcore2.AsyncNetworkStream):
    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _time_left(timeout, httpcore2.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _time_left(timeout, httpcore2.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore2.ConnectTimeout))
        return _AsyncDeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _time_left(timeout, httpcore2.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[_SocketOption] | None = None
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _time_left(timeout, httpcore2.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, inner: httpcore2.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, _time_left(timeout, httpcore2.ConnectTimeout), local_address, socket_options
        )
        return _AsyncDeadlineStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[_SocketOption] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, _time_left(timeout, httpcore2.ConnectTimeout), socket_options
        )
        return _AsyncDeadlineStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
