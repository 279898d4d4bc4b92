"""Properties of the error handlers: whatever a view raises, the client gets the JSON contract.

Hypothesis raises arbitrary exceptions (``tests/strategies.py``) in a view of one app built by
``create_app()`` at import, and :mod:`src.testing.oracle` says what the contract requires for
each. Every ``check_*`` function states one property for one example and fails with an
``AssertionError``; the ``test_*`` functions run them under ``@given``, and
``test_properties_bite.py`` shows that each fails once the handlers are broken.
"""

from __future__ import annotations

import json
import math
from typing import Any

import anthropic
import httpx2
import pytest
from flask import Flask, current_app
from hypothesis import example, given
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.test import TestResponse

from app import create_app
from src.api.contract import ContractViolation, loads_strict, validate_error_body, validate_error_response
from src.api.errors import APIError, RateLimitError
from src.testing.oracle import TRACEBACK_MARKER, expected_status, leak_texts, required_headers
from src.utils.strict_json import dumps_ijson
from tests.strategies import api_errors, exception_classes, exceptions, methods, payloads, unprintable_exceptions

pytestmark = pytest.mark.property

_EXCEPTION = "property_tests.exception"
_METHODS = ["GET", "POST", "PUT", "DELETE"]


def _raise_the_exception() -> Any:
    raise current_app.extensions[_EXCEPTION]


def build_app() -> Flask:
    """``create_app()`` plus ``/raise``, a view that raises whatever ``answer`` hands it."""
    app = create_app({"TESTING": True})
    app.add_url_rule("/raise", "raise", _raise_the_exception, methods=_METHODS)
    return app


APP = build_app()


def answer(exc: BaseException | type[BaseException], method: str = "GET") -> TestResponse:
    """The response to ``method /raise`` when the view raises ``exc`` (an instance, or a class as ``raise X`` takes)."""
    APP.extensions[_EXCEPTION] = exc
    try:
        return APP.test_client().open("/raise", method=method)
    finally:
        APP.extensions.pop(_EXCEPTION, None)


def _contract_body(response: TestResponse, method: str) -> Any:
    try:
        return validate_error_response(response.status_code, response.headers, response.get_data(), method=method)
    except ContractViolation as violation:
        raise AssertionError(f"{response.status_code}: {violation.problems}") from None


def _strings(value: Any, skip: str = "") -> list[str]:
    """Every string in parsed JSON (keys too), except the values of member ``skip``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            if key != skip:
                found += [key, *_strings(item, skip)]
        return found
    if isinstance(value, list):
        return [text for item in value for text in _strings(item, skip)]
    return []


# --- the properties, one example at a time ----------------------------------------------------


def check_contract(exc: BaseException, method: str = "GET") -> None:
    """The answer to ``exc`` is a JSON error response the contract's schema and strictness accept,
    its ``code`` equals its status, and its Content-Length is the body's (HEAD: no body)."""
    response = answer(exc, method)
    _contract_body(response, method)
    assert response.mimetype == "application/json", response.content_type
    if method != "HEAD":  # HEAD announces the length the GET body would have
        assert int(response.headers["Content-Length"]) == len(response.get_data())


def check_status(exc: BaseException, method: str = "GET") -> None:
    """The answer's status is the one the oracle requires for ``exc``."""
    response = answer(exc, method)
    assert response.status_code == expected_status(exc), (response.status_code, response.get_data()[:300])


def check_headers(exc: BaseException, method: str = "GET") -> None:
    """The answer carries every header the oracle requires for ``exc``, with the value it requires."""
    response = answer(exc, method)
    for name, value in required_headers(exc).items():
        assert name in response.headers, (name, response.status_code, dict(response.headers))
        if value is not None:
            assert response.headers[name] == value, (name, response.headers[name], value)


def check_no_leak(exc: BaseException, method: str = "GET") -> None:
    """A 5xx answer to ``exc`` contains none of its texts, type names or a traceback."""
    response = answer(exc, method)
    if response.status_code < 500 or method == "HEAD":
        return
    raw = response.get_data(as_text=True)
    assert TRACEBACK_MARKER not in raw, raw[:300]
    # Every member name and string value, decoded; the request id is random and may hold anything.
    shown = _strings(json.loads(raw), skip="request_id")
    for text in leak_texts(exc):
        assert not any(text in item for item in shown), f"{text!r} in {shown!r}"


# --- the tests --------------------------------------------------------------------------------


def _coded(code: object) -> HTTPException:
    """An HTTPException whose class has ``code``, as a view's own subclass might."""
    return type("CustomHTTPException", (HTTPException,), {"code": code})("custom description")


def _sdk_error(status: int, headers: dict[str, str]) -> Exception:
    """An Anthropic SDK status error, as its client raises it for an upstream answer."""
    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    return anthropic.APIStatusError(
        "upstream", response=httpx2.Response(status, headers=headers, request=request), body=None
    )


# Regressions the suite found, pinned. A Retry-After beyond 2**53 - 1 s reached the body as a string.
_HUGE_RETRY_AFTER = RateLimitError("Slow down", retry_after=1e300)
# An upstream Retry-After date past year 9999 made retry_after_of raise: a fallback 500, not the 502.
_UNREADABLE_DATE = _sdk_error(503, {"retry-after": "Fri, 01 Jan 99999 00:00:00 GMT"})


@given(exc=exceptions(), method=methods())
@example(exc=_HUGE_RETRY_AFTER, method="GET")
# An HTTPException code outside 3xx-5xx was sent as the status (0, 100, 200, 600) with an HTML body.
@example(exc=_coded(0), method="GET")
@example(exc=_coded(600), method="POST")
def test_every_exception_gets_a_strict_json_contract_response(exc: BaseException, method: str) -> None:
    """Every exception raised in a view gets a strict-JSON, schema-valid, JSON-typed body whose code is the status."""
    check_contract(exc, method)


@given(exc=exceptions(), method=methods())
@example(exc=_coded(0), method="GET")
@example(exc=_coded(100), method="GET")
@example(exc=_coded(200), method="GET")
@example(exc=_coded(600), method="GET")
@example(exc=_coded(True), method="GET")
@example(exc=_coded(None), method="GET")
@example(exc=_UNREADABLE_DATE, method="GET")
def test_the_status_is_the_exceptions_own_when_valid_and_500_otherwise(exc: BaseException, method: str) -> None:
    """The status is the exception's own valid 4xx/5xx, 502 for an Anthropic SDK error, and 500 for anything else."""
    check_status(exc, method)


@given(exc=exceptions(), method=methods())
# A 405 without valid_methods (APIError, bare MethodNotAllowed) had no Allow header.
@example(exc=APIError("Use another method", 405), method="DELETE")
@example(exc=MethodNotAllowed(), method="GET")
@example(exc=_HUGE_RETRY_AFTER, method="GET")
def test_required_headers_are_present(exc: BaseException, method: str) -> None:
    """The answer has X-Request-ID, Allow on 405, WWW-Authenticate on a 401 that has one, and any Retry-After asked."""
    check_headers(exc, method)


@given(exc=exceptions())
def test_a_server_error_never_shows_the_exceptions_text_type_or_traceback(exc: BaseException) -> None:
    """A 5xx body never contains the exception's text, its type name or a traceback."""
    check_no_leak(exc)


@given(exc=unprintable_exceptions(), method=methods())
def test_an_exception_that_cannot_be_printed_still_gets_its_answer(exc: BaseException, method: str) -> None:
    """An exception whose ``__str__`` or ``__repr__`` raises still gets the contract response and the right status."""
    check_contract(exc, method)
    check_status(exc, method)


@given(cls=exception_classes(), method=methods())
def test_raising_an_exception_class_is_answered_like_its_instance(cls: type[Exception], method: str) -> None:
    """``raise SomeError`` gets the contract answer and the status of the instance it makes (or of its TypeError)."""
    try:
        instance: BaseException = cls()
    except Exception as failure:  # the class needs arguments: ``raise cls`` raises this instead
        instance = failure
    response = answer(cls, method)
    _contract_body(response, method)
    assert response.status_code == expected_status(instance), (response.status_code, instance)


@given(value=payloads())
@example(value=[math.nan, math.inf, 2**64, b"\xff", "\ud800", {1: 1, "1": 2}])
def test_any_payload_serialises_to_strict_json(value: object) -> None:
    """``dumps_ijson`` turns any value into text the strict I-JSON parser accepts."""
    try:
        loads_strict(dumps_ijson(value))
    except ContractViolation as violation:
        raise AssertionError(violation.problems) from None


@given(exc=api_errors())
@example(exc=_HUGE_RETRY_AFTER)
def test_an_api_errors_own_body_honours_the_schema(exc: APIError) -> None:
    """``to_dict()`` of every APIError with a valid status is a contract body whose code is that status."""
    if expected_status(exc) != exc.status_code:
        return
    try:
        validate_error_body(exc.to_dict(), status=exc.status_code)
    except ContractViolation as violation:
        raise AssertionError(violation.problems) from None
