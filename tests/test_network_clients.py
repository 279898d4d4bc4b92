"""network_retry with real HTTP clients (urllib, httpx, httpx2, requests) against a flaky local server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import httpx2
import pytest
import requests

from src.utils.retry import network_retry
from tests.fakes import HANG, RESET, Reply, scripted_server, status

OK = status(200, {"ok": True})


# Long enough for a loaded machine to answer on loopback, short enough that a hung reply costs little.
TIMEOUT = 0.3
# One client each for the module: building an httpx client (SSL context and all) costs ~80 ms.
_HTTPX = httpx.Client(timeout=TIMEOUT)
_HTTPX2 = httpx2.Client(timeout=TIMEOUT)
_REQUESTS = requests.Session()


def get_urllib(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return json.loads(response.read())


def get_httpx(url: str) -> Any:
    response = _HTTPX.get(url)
    response.raise_for_status()
    return response.json()


def get_httpx2(url: str) -> Any:
    response = _HTTPX2.get(url)
    response.raise_for_status()
    return response.json()


def get_requests(url: str) -> Any:
    response = _REQUESTS.get(url, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


CLIENTS: dict[str, Callable[[str], Any]] = {
    "urllib": get_urllib,
    "httpx": get_httpx,
    "httpx2": get_httpx2,
    "requests": get_requests,
}


def call(client: str, script: Sequence[Reply]) -> tuple[Any, int]:
    with scripted_server(script) as server:
        fetch = network_retry(CLIENTS[client])
        try:
            return fetch(server.url + "/data"), server.count
        except Exception as exc:
            return exc, server.count


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    "failure",
    [status(503), status(500), status(429, retry_after="1"), status(408), RESET, HANG],
    ids=["503", "500", "429", "408", "reset", "timeout"],
)
def test_transient_failure_is_retried_until_success(client: str, failure: Reply) -> None:
    script = [failure, OK] if failure is HANG else [failure, failure, OK]
    result, count = call(client, script)
    assert result == {"ok": True}
    assert count == len(script)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(client: str, code: int) -> None:
    result, count = call(client, [status(code), OK])
    assert isinstance(result, Exception)
    assert count == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_exhaustion_raises_the_clients_own_error(client: str) -> None:
    result, count = call(client, [status(502)])
    assert count == 3
    expected = {
        "urllib": urllib.error.HTTPError,
        "httpx": httpx.HTTPStatusError,
        "httpx2": httpx2.HTTPStatusError,
        "requests": requests.HTTPError,
    }[client]
    assert isinstance(result, expected)


@pytest.mark.parametrize("client", CLIENTS)
def test_huge_retry_after_gives_up_at_once(client: str) -> None:
    result, count = call(client, [status(429, retry_after="120"), OK])
    assert isinstance(result, Exception)
    assert count == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_refused_connection_is_retried_then_raised(client: str) -> None:
    with scripted_server([OK]) as server:
        url = server.url
    # The server is gone: every attempt is refused.
    attempts = 0

    def counting(u: str) -> Any:
        nonlocal attempts
        attempts += 1
        return CLIENTS[client](u)

    with pytest.raises(Exception) as info:
        network_retry(counting)(url)
    assert attempts == 3
    assert not isinstance(info.value, ValueError)
