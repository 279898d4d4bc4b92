"""The checks applied to every reply: does it keep the JSON error contract, and is it the right one?

Use :func:`check_reply` with the request that was sent, the reply that came back and the
:class:`~src.checker.cases.Expectation` for it; it returns the problems found, one readable line
each, and an empty list when the reply conforms. It never raises on a malformed reply.

Every reply: the status is one the expectation allows; ``X-Request-ID`` is one id of 1-64
characters from ``[A-Za-z0-9._-]`` and echoes the one the request sent.

An error (status 400 or more): :func:`~src.api.contract.validate_error_response` checks the
content type, the strict JSON of the body (no NaN or Infinity, valid UTF-8, no lone surrogates,
no duplicate keys), the contract's JSON Schema (with the ``jsonschema`` library), ``code``
against the status, and ``request_id`` / ``retry_after`` against their headers; HEAD must have
an empty body. At the expected status, the expectation's required headers must be present, with
the exact value where it names one. At 500 or more, the body must not contain a traceback nor
any of the expectation's leaks.

A redirect must carry its required headers (``Location``); a success is only checked for its
status and request id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from src.api.contract import REQUEST_ID_PATTERN, ContractViolation, validate_error_response
from src.checker.cases import Expectation, Leak, Reply, Request

__all__ = ["check_reply"]

_REQUEST_ID_HEADER = "X-Request-ID"
_SHOWN_TEXT = 60
_TRACEBACK = Leak("Traceback", "a traceback")


def check_reply(expectation: Expectation, request: Request, reply: Reply) -> list[str]:
    """Every way ``reply`` (the answer to ``request``) fails ``expectation``; empty if it conforms."""
    problems: list[str] = []
    if reply.status not in expectation.statuses:
        wanted = " or ".join(str(status) for status in expectation.statuses)
        problems.append(f"status is {reply.status}, expected {wanted}")
        if expectation.kind == "error" and reply.status < 400:
            # Not an error response at all: the contract's body rules do not apply to it.
            problems.extend(_request_id_problems(request, reply, check_format=True))
            return problems

    if reply.status >= 400:
        try:
            validate_error_response(reply.status, reply.headers, reply.body, method=request.method)
        except ContractViolation as violation:
            problems.extend(violation.problems)
        problems.extend(_request_id_problems(request, reply, check_format=False))
    else:
        problems.extend(_request_id_problems(request, reply, check_format=True))

    if reply.status == expectation.expected_status:
        problems.extend(_header_problems(expectation, reply))
    if reply.status >= 500:
        problems.extend(_leak_problems((*expectation.leaks, _TRACEBACK), reply.body))
    return problems


def _header_problems(expectation: Expectation, reply: Reply) -> list[str]:
    problems = []
    for name, value in expectation.required_headers.items():
        values = reply.header_values(name)
        if not values:
            problems.append(f"{name} header is missing")
        elif value is not None and values != [value]:
            problems.append(f"{name} is {', '.join(values)!r}, expected {value!r}")
    return problems


def _request_id_problems(request: Request, reply: Reply, *, check_format: bool) -> list[str]:
    """The request id must be sane (unless the contract check already said so) and echo the sent one."""
    values = reply.header_values(_REQUEST_ID_HEADER)
    if len(values) != 1 or REQUEST_ID_PATTERN.fullmatch(values[0]) is None:
        if check_format:
            return [f"X-Request-ID must be one id of 1-64 characters [A-Za-z0-9._-], got {values!r}"]
        return []
    sent = request.header(_REQUEST_ID_HEADER)
    if sent is not None and values[0] != sent:
        return [f"X-Request-ID is {values[0]!r}, not the {sent!r} the request sent"]
    return []


def _leak_problems(leaks: tuple[Leak, ...], body: bytes) -> list[str]:
    """One problem per leaked text, leaving out a text that holds one already reported.

    So a leaked secret is reported once, not again inside the message and the repr that hold it.
    """
    raw = body.decode("utf-8", errors="replace")
    readable = "\n".join(_strings_of(raw))
    found: list[Leak] = []
    for leak in dict.fromkeys(leaks):
        # A traceback is looked for in the raw text: it may hide in a key or outside the JSON.
        haystack = raw if leak is _TRACEBACK else readable
        if _contains(haystack, leak) and not any(earlier.text in leak.text for earlier in found):
            found.append(leak)
    return [f"the 5xx body leaks {leak.what}: {_shorten(leak.text)!r}" for leak in found]


def _strings_of(raw: str) -> Iterator[str]:
    """The string values of a JSON body (its decoded text), or the raw text if it is not JSON.

    ``request_id`` is left out: the client chose it. Keys are left out too, so a class named
    ``code`` is not found in every body.
    """
    try:
        parsed = json.loads(raw)
    except ValueError:
        yield raw
        return
    yield from _values(parsed, skip_request_id=True)


def _values(value: Any, *, skip_request_id: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not (skip_request_id and key == "request_id"):
                yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


def _contains(text: str, leak: Leak) -> bool:
    if not leak.whole_word:
        return leak.text in text
    return re.search(rf"(?<!\w){re.escape(leak.text)}(?!\w)", text) is not None


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_TEXT else text[: _SHOWN_TEXT - 1] + "…"
