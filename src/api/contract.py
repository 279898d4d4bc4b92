"""The JSON error contract as data, and the checks that a body or a whole response honours it.

Use :func:`validate_error_response` to check an HTTP response (status, headers, body), for
example in a command-line checker or a property test, and :func:`validate_error_body` to check
just a body. Both raise :class:`ContractViolation` listing every problem they found.
:func:`loads_strict` is the parser they use: it accepts only strict JSON (RFC 8259 within the
I-JSON profile, RFC 7493). :func:`load_schema` returns the contract's JSON Schema (draft
2020-12), kept next to this module in ``error_contract.schema.json``.

The contract: a response with a status of 400 or more has ``Content-Type: application/json``,
an ``X-Request-ID`` header of 1-64 characters from ``[A-Za-z0-9._-]``, and (except for HEAD) a
strict-JSON body that the schema accepts, whose ``code`` is the status written as an integer,
whose ``request_id`` (if any) equals the header, and whose ``retry_after`` (if any) equals the
``Retry-After`` header.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "ERROR_MEDIA_TYPE",
    "REQUEST_ID_PATTERN",
    "SCHEMA_PATH",
    "ContractViolation",
    "SupportsItems",
    "load_schema",
    "loads_strict",
    "validate_error_body",
    "validate_error_response",
]

#: Where the contract's JSON Schema lives.
SCHEMA_PATH = Path(__file__).with_name("error_contract.schema.json")
#: The media type of every error response.
ERROR_MEDIA_TYPE = "application/json"

#: What an ``X-Request-ID`` header must match in full (``fullmatch``), on every response.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

_MAX_SAFE_INTEGER = 2**53 - 1
_FORBIDDEN_CHARS = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)


class SupportsItems(Protocol):
    """Headers as a dict, Werkzeug's ``Headers`` or ``http.client.HTTPMessage`` provide them."""

    def items(self) -> Iterable[tuple[str, str]]:
        """The header fields as (name, value) pairs."""
        ...


class ContractViolation(ValueError):
    """A body or response breaks the error contract; ``problems`` says how, one line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


def load_schema() -> dict[str, Any]:
    """The contract's JSON Schema (a fresh copy each call)."""
    return copy.deepcopy(_schema())


def loads_strict(data: bytes | bytearray | str) -> Any:
    """Parse strict JSON; raise :class:`ContractViolation` for anything RFC 8259 or I-JSON rejects.

    Rejected: bytes that are not UTF-8 or start with a byte order mark, ``NaN`` and
    ``Infinity``, numbers too large for a double, integers beyond ±(2**53 - 1), duplicate
    member names, and strings (names included) holding a lone surrogate or a noncharacter.
    """
    if isinstance(data, bytes | bytearray):
        if data.startswith(b"\xef\xbb\xbf"):
            raise ContractViolation(["body starts with a UTF-8 byte order mark"])
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractViolation([f"body is not valid UTF-8: {exc}"]) from None
    else:
        text = data
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_safe_int,
            parse_float=_finite_float,
            object_pairs_hook=_unique_members,
        )
    except ContractViolation:
        raise
    except ValueError as exc:
        raise ContractViolation([f"body is not JSON: {exc}"]) from None
    problems = list(_string_problems(value, "body"))
    if problems:
        raise ContractViolation(problems)
    return value


def validate_error_body(body: bytes | bytearray | str | Mapping[str, Any], *, status: int | None = None) -> Any:
    """Check an error body (JSON text, or data as ``to_dict`` returns it) and return it parsed.

    With ``status``, ``code`` must equal it. Raises :class:`ContractViolation`.
    """
    if isinstance(body, bytes | bytearray | str):
        parsed = loads_strict(body)
    else:
        try:
            text = json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ContractViolation([f"body is not JSON data: {exc}"]) from None
        parsed = loads_strict(text)
    problems = [
        f"{_pointer(error.absolute_path)}: {error.message}"
        for error in sorted(_validator().iter_errors(parsed), key=lambda error: str(list(error.absolute_path)))
    ]
    if isinstance(parsed, dict):
        code = parsed.get("code")
        if isinstance(code, float):
            problems.append("/code: must be written as an integer, not a float")
        if status is not None and code != status:
            problems.append(f"/code: {code!r} does not equal the HTTP status {status}")
    if problems:
        raise ContractViolation(problems)
    return parsed


def validate_error_response(
    status: int,
    headers: SupportsItems | Iterable[tuple[str, str]],
    body: bytes | bytearray | str,
    *,
    method: str = "GET",
) -> Any:
    """Check a whole error response and return its parsed body (None for a HEAD request).

    Raises :class:`ContractViolation` listing every problem: status, headers and body.
    """
    problems: list[str] = []
    if not 400 <= status <= 599:
        problems.append(f"status {status} is not an error status (400-599)")
    fields = _header_fields(headers)

    content_types = fields.get("content-type", [])
    if not content_types:
        problems.append("Content-Type header is missing")
    elif content_types[0].split(";")[0].strip().lower() != ERROR_MEDIA_TYPE:
        problems.append(f"Content-Type is {content_types[0]!r}, not {ERROR_MEDIA_TYPE}")

    request_ids = fields.get("x-request-id", [])
    if len(request_ids) != 1 or REQUEST_ID_PATTERN.fullmatch(request_ids[0]) is None:
        problems.append(f"X-Request-ID must be one id of 1-64 characters [A-Za-z0-9._-], got {request_ids!r}")

    parsed: Any = None
    if method.upper() == "HEAD":
        if body:
            problems.append("a HEAD response must have an empty body")
    else:
        try:
            parsed = validate_error_body(body, status=status)
        except ContractViolation as exc:
            problems.extend(exc.problems)
    if isinstance(parsed, dict):
        if "request_id" in parsed and request_ids and parsed["request_id"] != request_ids[0]:
            problems.append("/request_id does not equal the X-Request-ID header")
        if "retry_after" in parsed and fields.get("retry-after", []) != [str(parsed["retry_after"])]:
            problems.append("/retry_after does not equal the Retry-After header")
    if problems:
        raise ContractViolation(problems)
    return parsed


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator() -> Any:
    # jsonschema ships no type information; it is imported on first use to keep imports cheap.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    Draft202012Validator.check_schema(_schema())
    return Draft202012Validator(_schema())


def _header_fields(headers: SupportsItems | Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    items = headers.items() if hasattr(headers, "items") else headers
    fields: dict[str, list[str]] = {}
    for name, value in items:
        fields.setdefault(name.lower(), []).append(value)
    return fields


def _pointer(path: Iterable[object]) -> str:
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _reject_constant(name: str) -> Any:
    raise ContractViolation([f"body contains {name}, which JSON does not allow"])


def _safe_int(text: str) -> int:
    if len(text.lstrip("-")) > len(str(_MAX_SAFE_INTEGER)) or abs(int(text)) > _MAX_SAFE_INTEGER:
        raise ContractViolation([f"integer {text[:40]} is beyond ±(2**53 - 1), which I-JSON does not allow"])
    return int(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ContractViolation([f"number {text[:40]} is too large for a double"])
    return number


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ContractViolation([f"member name {name!r} appears twice in one object"])
        result[name] = value
    return result


def _string_problems(value: Any, where: str) -> Iterable[str]:
    if isinstance(value, str):
        if _FORBIDDEN_CHARS.search(value):
            yield f"{where}: a string holds a lone surrogate or a noncharacter"
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _string_problems(name, where)
            yield from _string_problems(item, where)
    elif isinstance(value, list):
        for item in value:
            yield from _string_problems(item, where)
