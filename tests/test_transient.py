"""Classification of failures as transient or permanent, and Retry-After parsing."""

from __future__ import annotations

import email.utils
import socket
import urllib.error
from email.message import Message

import anthropic
import httpx
import httpx2
import pytest
import requests

from src.utils.transient import (
    http_status_of,
    is_transient_ai_error,
    is_transient_file_error,
    is_transient_network_error,
    parse_retry_after,
    retry_after_of,
)

REQUEST = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")


def sdk_status_error(status: int, **headers: str) -> anthropic.APIStatusError:
    """The exception the SDK raises for ``status``, built the way the SDK builds it."""
    from anthropic._error_classes import make_status_error

    response = httpx2.Response(status, headers=headers, request=REQUEST)
    return make_status_error("fake", body={"type": "error", "error": {"type": "x"}}, response=response)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (529, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (413, False),
        (422, False),
    ],
)
def test_sdk_status_errors(status: int, expected: bool) -> None:
    error = sdk_status_error(status)
    assert http_status_of(error) == status
    assert is_transient_ai_error(error) is expected


def test_sdk_error_classes_are_the_real_ones() -> None:
    assert type(sdk_status_error(529)) is anthropic.OverloadedError
    assert isinstance(sdk_status_error(529), anthropic.InternalServerError)
    assert type(sdk_status_error(429)) is anthropic.RateLimitError


@pytest.mark.parametrize(
    "error",
    [
        anthropic.APIConnectionError(request=REQUEST),
        anthropic.APITimeoutError(REQUEST),
        TimeoutError(),
        ConnectionResetError(),
    ],
)
def test_connection_failures_are_transient_for_ai(error: Exception) -> None:
    assert is_transient_ai_error(error)


@pytest.mark.parametrize(
    "error",
    [ValueError(), KeyError(), TypeError(), RuntimeError(), FileNotFoundError(), anthropic.AnthropicError("generic")],
)
def test_programming_errors_are_permanent_everywhere(error: Exception) -> None:
    assert not is_transient_ai_error(error)
    assert not is_transient_network_error(error)


def test_409_is_transient_only_for_ai() -> None:
    http_409 = urllib.error.HTTPError("http://x", 409, "Conflict", Message(), None)
    assert not is_transient_network_error(http_409)
    assert is_transient_ai_error(sdk_status_error(409))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), True),
        (urllib.error.URLError(TimeoutError("timed out")), True),
        (urllib.error.URLError(socket.gaierror(socket.EAI_AGAIN, "temporary")), True),
        (urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "no such host")), False),
        (urllib.error.URLError("unknown url type: ftp"), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("closed"), True),
        (httpx.UnsupportedProtocol("ftp"), False),
        (httpx2.ConnectError("refused"), True),
        (httpx2.PoolTimeout("pool"), True),
        (httpx2.InvalidURL("bad"), False),
        (requests.ConnectionError("refused"), True),
        (requests.Timeout("slow"), True),
        (requests.exceptions.InvalidURL("bad"), False),
    ],
)
def test_transport_failures(error: Exception, expected: bool) -> None:
    assert is_transient_network_error(error) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermissionError(), True),
        (BlockingIOError(), True),
        (OSError(28, "No space left"), True),
        (FileNotFoundError(), False),
        (FileExistsError(), False),
        (IsADirectoryError(), False),
        (NotADirectoryError(), False),
        (ValueError(), False),
    ],
)
def test_file_errors(error: Exception, expected: bool) -> None:
    assert is_transient_file_error(error) is expected


def test_retry_after_headers() -> None:
    assert retry_after_of(sdk_status_error(429, **{"retry-after": "7"})) == 7.0
    assert retry_after_of(sdk_status_error(529, **{"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert retry_after_of(sdk_status_error(500)) is None
    msg = Message()
    msg["Retry-After"] = "12"
    assert retry_after_of(urllib.error.HTTPError("http://x", 503, "busy", msg, None)) == 12.0


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "-5", ""])
def test_unreadable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == 30.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_own_retry_after_attribute_is_read() -> None:
    class Limited(Exception):
        retry_after = 4

    assert retry_after_of(Limited()) == 4.0


@pytest.mark.parametrize("value", ["Fri, 01 Jan 99999 00:00:00 GMT", "01 Jan 10000000000 00:00:00 GMT"])
def test_a_date_past_9999_is_unreadable_not_an_error(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_certificate_failures_are_permanent() -> None:
    import ssl

    bad_cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    wrapped = httpx.ConnectError("tls")
    wrapped.__cause__ = bad_cert
    assert not is_transient_network_error(wrapped)
    assert not is_transient_network_error(requests.exceptions.SSLError("certificate verify failed"))
    assert not is_transient_network_error(urllib.error.URLError(bad_cert))
    assert is_transient_network_error(httpx.ConnectError("refused"))  # a plain refusal still is transient


def test_requests_errors_are_not_file_errors() -> None:
    assert not is_transient_file_error(requests.ConnectionError("refused"))
    assert is_transient_file_error(PermissionError("locked"))
