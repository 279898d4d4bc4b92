"""The exception classes, the strict-JSON conversion behind their bodies, and the contract checks."""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import inspect
import json
import re
from collections import OrderedDict
from typing import Any

import pytest

from src.api import errors
from src.api.contract import (
    ContractViolation,
    load_schema,
    loads_strict,
    validate_error_body,
    validate_error_response,
)
from src.api.errors import (
    ERROR_CLASSES_BY_STATUS,
    RESERVED_KEYS,
    AIServiceError,
    APIError,
    AuthorizationError,
    NotFoundError,
    RateLimitError,
    ValidationError,
    error_class_for_status,
)
from src.utils.strict_json import MAX_DEPTH, MAX_ITEMS, clean_text, dumps_ijson, to_ijson
from tests.conftest import ErrorContract, strict_json


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def _docstring_tree() -> list[tuple[int, str, str]]:
    """(indent, class name, status text) for each line of the class tree in the module docstring."""
    doc = errors.__doc__ or ""
    return [
        (len(match["indent"]), match["name"], match["status"])
        for match in re.finditer(r"^(?P<indent> *)[*+] (?P<name>\w+) — (?P<status>.+)$", doc, re.MULTILINE)
    ]


def _hostile_payload() -> dict[Any, Any]:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    return {
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": float("-inf"),
        "bytes": b"\xff\xfeabc",
        "set": {3, "a", None},
        "when": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 5, 1),
        "big": 2**64,
        "negative_big": -(2**53),
        "decimal": decimal.Decimal("1.5"),
        "decimal_nan": decimal.Decimal("NaN"),
        "fraction": fractions.Fraction(1, 3),
        "object": _Unprintable(),
        "lone": "a\ud800b",
        "nonchar": "x\uffffy",
        "control": "line1\r\nline2\x00",
        1: "int key",
        "1": "str key",
        (1, 2): "tuple key",
        None: "none key",
        2.5: "float key",
        "cycle": cyclic,
        "error": "payload tries to replace error",
        "code": 200,
        "request_id": "forged",
        "nested": {"deeper": [float("nan"), {b"k": b"v"}]},
    }


# --- the class tree ---------------------------------------------------------------------------


def test_docstring_tree_all_and_mapping_agree() -> None:
    """The docstring's tree, __all__ and ERROR_CLASSES_BY_STATUS describe the same classes."""
    tree = _docstring_tree()
    names = [name for _, name, _ in tree]
    classes_in_all = [name for name in errors.__all__ if inspect.isclass(getattr(errors, name))]
    assert sorted(names) == sorted(classes_in_all)
    assert names[0] == "APIError"
    assert tree[0][0] < min(indent for indent, _, _ in tree[1:])
    for _, name, status_text in tree[1:]:
        cls = getattr(errors, name)
        assert issubclass(cls, APIError)
        status = int(status_text.split()[0])
        assert cls.status_code == status
        assert ERROR_CLASSES_BY_STATUS[status] is cls
    assert sorted(ERROR_CLASSES_BY_STATUS.values(), key=lambda cls: cls.__name__) == sorted(
        (getattr(errors, name) for name in names[1:]), key=lambda cls: cls.__name__
    )
    # The code below the docstring follows the tree's order.
    source_order = sorted(names, key=lambda name: inspect.getsourcelines(getattr(errors, name))[1])
    assert source_order == names


def test_every_public_name_exists() -> None:
    assert all(hasattr(errors, name) for name in errors.__all__)


@pytest.mark.parametrize(("status", "cls"), sorted(ERROR_CLASSES_BY_STATUS.items()))
def test_error_class_for_status_uses_the_mapping(status: int, cls: type[APIError]) -> None:
    assert error_class_for_status(status) is cls


@pytest.mark.parametrize("status", [409, 418, 500, 503])
def test_error_class_for_other_statuses_is_the_base(status: int) -> None:
    assert error_class_for_status(status) is APIError


def test_status_map_is_read_only() -> None:
    with pytest.raises(TypeError):
        ERROR_CLASSES_BY_STATUS[400] = APIError  # type: ignore[index]


# --- constructors and bodies ------------------------------------------------------------------


def test_api_error_defaults_to_500() -> None:
    error = APIError("Something broke")
    assert error.status_code == 500
    assert error.to_dict() == {"error": "Something broke", "code": 500}


def test_api_error_takes_any_4xx_or_5xx_and_a_payload() -> None:
    error = APIError("Conflict with course crs_1", status_code=409, payload={"course_id": "crs_1"})
    assert error.to_dict() == {"error": "Conflict with course crs_1", "code": 409, "course_id": "crs_1"}


@pytest.mark.parametrize("status", [200, 302, 399, 600, -404, True, False, "404", 404.0, None])
def test_api_error_refuses_a_status_outside_4xx_5xx(status: Any) -> None:
    with pytest.raises(ValueError, match="status_code must be an int from 400 to 599"):
        APIError("nope", status_code=status)


def test_validation_error_returns_field() -> None:
    error = ValidationError("title is required", field="title")
    assert error.status_code == 400
    assert error.to_dict() == {"error": "title is required", "code": 400, "field": "title"}
    assert ValidationError("The body must be a JSON object").to_dict() == {
        "error": "The body must be a JSON object",
        "code": 400,
    }


def test_not_found_error_builds_its_message() -> None:
    error = NotFoundError("Course", "crs_123")
    assert error.message == "Course crs_123 not found"
    assert error.to_dict() == {
        "error": "Course crs_123 not found",
        "code": 404,
        "resource_type": "Course",
        "resource_id": "crs_123",
    }


def test_reserved_fields_keep_their_schema_types(contract: ErrorContract) -> None:
    import uuid

    assert ValidationError("bad", field=3).to_dict()["field"] == "3"  # type: ignore[arg-type]
    assert NotFoundError("Lesson", 7).to_dict()["resource_id"] == 7
    assert NotFoundError("Lesson", 2**60).to_dict()["resource_id"] == str(2**60)
    key = uuid.UUID(int=1)
    assert NotFoundError("Lesson", key).to_dict()["resource_id"] == str(key)  # type: ignore[arg-type]
    assert NotFoundError("Lesson", True).to_dict()["resource_id"] == "True"
    for error in (ValidationError("bad", field=b"x"), NotFoundError("", ""), NotFoundError(None, 1.5)):  # type: ignore[arg-type]
        contract.validate_body(error.to_dict())


def test_authorization_error_is_403() -> None:
    assert AuthorizationError("Admins only").to_dict() == {"error": "Admins only", "code": 403}


def test_rate_limit_error_defaults_to_60_seconds() -> None:
    error = RateLimitError("Slow down")
    assert error.retry_after == 60
    assert error.to_dict() == {"error": "Slow down", "code": 429, "retry_after": 60}


@pytest.mark.parametrize(("given", "stored"), [(0, 0), (1, 1), (0.2, 1), (1.5, 2), (59.0001, 60), (-5, 0), (-0.5, 0)])
def test_rate_limit_error_rounds_retry_after_up_and_clamps_at_zero(given: float, stored: int) -> None:
    error = RateLimitError("Slow down", retry_after=given)
    assert error.retry_after == stored
    assert type(error.retry_after) is int


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "60", None, True])
def test_rate_limit_error_refuses_a_retry_after_that_is_not_a_finite_number(bad: Any) -> None:
    with pytest.raises(ValueError, match="retry_after must be a finite number"):
        RateLimitError("Slow down", retry_after=bad)


def test_ai_service_error_keeps_original_error_out_of_the_body() -> None:
    upstream = ConnectionError("api.anthropic.com refused: key sk-ant-secret")
    error = AIServiceError("The AI service is unavailable", original_error=upstream)
    assert error.status_code == 502
    assert error.original_error is upstream
    assert error.retry_after is None
    assert error.to_dict() == {"error": "The AI service is unavailable", "code": 502}
    assert "sk-ant-secret" not in json.dumps(error.to_dict())


def test_ai_service_error_passes_retry_after_and_a_status_override() -> None:
    error = AIServiceError("Circuit open", retry_after=2.5, status_code=503)
    assert error.status_code == 503
    assert error.retry_after == 3
    assert error.to_dict() == {"error": "Circuit open", "code": 503, "retry_after": 3}


@pytest.mark.parametrize("status", [400, 429, 499, 600, True])
def test_ai_service_error_refuses_a_status_outside_5xx(status: Any) -> None:
    with pytest.raises(ValueError, match="from 500 to 599"):
        AIServiceError("nope", status_code=status)


def test_payload_can_never_override_reserved_keys() -> None:
    payload = dict.fromkeys(RESERVED_KEYS, "forged") | {"hint": "retry later"}
    error = NotFoundError("Course", "crs_1", payload=payload)
    assert error.to_dict() == {
        "error": "Course crs_1 not found",
        "code": 404,
        "resource_type": "Course",
        "resource_id": "crs_1",
        "hint": "retry later",
    }


def test_payload_is_copied_at_construction() -> None:
    payload = {"a": 1}
    error = APIError("x", 400, payload)
    payload["a"] = 2
    assert error.to_dict()["a"] == 1


@pytest.mark.parametrize("message", ["", "   ", "\n\t", "\x00\x01", "\u200b"])
def test_a_blank_message_becomes_the_reason_phrase(message: str) -> None:
    assert NotFoundError("Course", "x").to_dict()["error"] == "Course x not found"
    assert APIError(message, 404).to_dict()["error"] == "Not Found"
    assert APIError(message, 499).to_dict()["error"] == "Client Error"
    assert APIError(message, 599).to_dict()["error"] == "Server Error"


def test_a_message_that_is_not_a_string_is_converted_safely() -> None:
    assert APIError(_Unprintable(), 400).message == "<unprintable _Unprintable>"  # type: ignore[arg-type]
    assert APIError(12, 400).to_dict()["error"] == "12"  # type: ignore[arg-type]


def test_hostile_payload_gives_a_strict_json_body(contract: ErrorContract) -> None:
    body = APIError("bad \ud800 message \x07", 422, payload=_hostile_payload()).to_dict()
    text = dumps_ijson(body)
    parsed = strict_json(text)
    contract.validate_body(parsed)
    assert validate_error_body(text, status=422) == parsed
    assert parsed["error"] == "bad \ufffd message \x07"
    assert parsed["code"] == 422
    assert "request_id" not in parsed
    assert parsed["nan"] is None
    assert parsed["inf"] is None
    assert parsed["ninf"] is None
    assert parsed["bytes"] == "\ufffd\ufffdabc"
    assert parsed["set"] == sorted(parsed["set"], key=json.dumps)
    assert len(parsed["set"]) == 3
    assert parsed["when"] == "2024-05-01T12:30:00+00:00"
    assert parsed["day"] == "2024-05-01"
    assert parsed["big"] == str(2**64)
    assert parsed["negative_big"] == str(-(2**53))
    assert parsed["decimal"] == 1.5
    assert parsed["decimal_nan"] is None
    assert parsed["fraction"] == pytest.approx(1 / 3)
    assert parsed["object"] is None
    assert parsed["lone"] == "a\ufffdb"
    assert parsed["nonchar"] == "x\ufffdy"
    assert parsed["control"] == "line1\r\nline2\x00"
    assert parsed["1"] == "str key"
    assert parsed["(1, 2)"] == "tuple key"
    assert parsed["null"] == "none key"
    assert parsed["2.5"] == "float key"
    assert to_ijson({True: 1, "x": 2}) == {"true": 1, "x": 2}
    assert parsed["cycle"] == [None]
    assert parsed["nested"] == {"deeper": [None, {"k": "v"}]}


def test_str_is_for_logs_and_never_raises() -> None:
    assert str(NotFoundError("Course", "crs_123")) == (
        "404 NotFoundError: Course crs_123 not found (resource_type='Course', resource_id='crs_123')"
    )
    assert str(ValidationError("title is required", field="title")) == (
        "400 ValidationError: title is required (field='title')"
    )
    assert str(APIError("plain", 409)) == "409 APIError: plain"
    text = str(AIServiceError("AI down", original_error=TimeoutError("read timed out"), retry_after=4))
    assert text == "502 AIServiceError: AI down (retry_after=4, original_error=TimeoutError('read timed out'))"
    assert "unprintable" in str(AIServiceError("AI down", original_error=_Unprintable()))  # type: ignore[arg-type]


# --- strict JSON conversion -------------------------------------------------------------------


def test_clean_text_joins_surrogate_pairs_and_replaces_lone_ones() -> None:
    assert clean_text("\ud83d\ude00") == "\U0001f600"
    assert clean_text("\ude00\ud83d") == "\ufffd\ufffd"
    assert clean_text("ok \U0010ffff \ufdd0") == "ok \ufffd \ufffd"
    assert clean_text("plain ASCII") == "plain ASCII"


def test_to_ijson_keeps_plain_json_data_as_it_is() -> None:
    data = {"a": [1, 2.5, "x", None, True, False], "b": {"c": -(2**53 - 1)}}
    assert to_ijson(data) == data


def test_to_ijson_bounds_depth_and_size() -> None:
    deep: list[Any] = []
    current = deep
    for _ in range(MAX_DEPTH + 5):
        current.append([])
        current = current[0]
    converted = to_ijson(deep)
    depth = 0
    while isinstance(converted, list) and converted:
        converted = converted[0]
        depth += 1
    assert converted is None
    assert depth == MAX_DEPTH
    assert len(to_ijson(range(10**12))) == MAX_ITEMS  # type: ignore[arg-type]
    assert len(to_ijson({str(i): i for i in range(MAX_ITEMS + 10)})) == MAX_ITEMS  # type: ignore[arg-type]


def test_to_ijson_converts_enums_timedeltas_and_mappings() -> None:
    class Colour(enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    converted = to_ijson(
        OrderedDict(colour=Colour.RED, level=Level.HIGH, wait=datetime.timedelta(seconds=1.5), view=b"ab")
    )
    assert converted == {"colour": "red", "level": 3, "wait": 1.5, "view": "ab"}
    assert json.loads(dumps_ijson(converted)) == converted


def test_to_ijson_survives_a_mapping_that_raises() -> None:
    class Broken(dict[str, int]):
        def items(self) -> Any:
            raise RuntimeError("broken mapping")

    assert to_ijson({"ok": 1, "bad": Broken(a=1)}) == {"ok": 1, "bad": None}


def test_to_ijson_drops_a_key_that_cannot_be_printed() -> None:
    assert to_ijson({_Unprintable(): 1, "kept": 2}) == {"kept": 2}


# --- the contract checks ----------------------------------------------------------------------


def test_schema_file_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"error", "code"}
    assert set(schema["properties"]) == RESERVED_KEYS
    load_schema()["required"].append("mutated")
    assert load_schema()["required"] == ["error", "code"]


@pytest.mark.parametrize(
    "error",
    [
        APIError("x"),
        APIError("conflict", 409, {"extra": [1, 2]}),
        ValidationError("bad", field="title"),
        NotFoundError("Course", "crs_1"),
        NotFoundError("Lesson", 7),
        AuthorizationError("no"),
        RateLimitError("slow", retry_after=0.5),
        AIServiceError("down", retry_after=10, status_code=503),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_error_body_passes_the_contract_checks(error: APIError, contract: ErrorContract) -> None:
    body = error.to_dict()
    contract.validate_body(body)
    assert validate_error_body(body, status=error.status_code) == body
    assert validate_error_body(dumps_ijson(body), status=error.status_code) == body


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b'{"error": "x", "code": NaN}', "NaN"),
        (b'{"error": "x", "code": Infinity}', "Infinity"),
        (b'{"error": "x", "code": -Infinity}', "-Infinity"),
        (b'{"error": "x", "error": "y", "code": 500}', "appears twice"),
        (b'{"error": "x", "code": 500, "n": 9007199254740992}', "2**53"),
        (b'{"error": "x", "code": 500, "n": 1e400}', "too large"),
        (b'{"error": "\\ud800", "code": 500}', "lone surrogate"),
        (b'{"error": "\\uffff", "code": 500}', "noncharacter"),
        (b'{"error": "\xff", "code": 500}', "not valid UTF-8"),
        (b'\xef\xbb\xbf{"error": "x", "code": 500}', "byte order mark"),
        (b"<html>Internal Server Error</html>", "not JSON"),
        (b"", "not JSON"),
    ],
)
def test_loads_strict_rejects_what_i_json_forbids(text: bytes, problem: str) -> None:
    with pytest.raises(ContractViolation, match=re.escape(problem)):
        loads_strict(text)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"code": 500}, "'error' is a required property"),
        ({"error": "x"}, "'code' is a required property"),
        ({"error": "", "code": 500}, "/error"),
        ({"error": "   ", "code": 500}, "/error"),
        ({"error": "x", "code": "500"}, "/code"),
        ({"error": "x", "code": 200}, "/code"),
        ({"error": "x", "code": 500.0}, "must be written as an integer"),
        ({"error": "x", "code": 404}, "does not equal the HTTP status 500"),
        ({"error": "x", "code": 429, "retry_after": -1}, "/retry_after"),
        ({"error": "x", "code": 500, "request_id": "bad id\n"}, "/request_id"),
        ({"error": "x", "code": 404, "resource_type": "Course"}, "'resource_id' is a dependency"),
        ([{"error": "x", "code": 500}], "is not of type 'object'"),
        ({"error": "x", "code": 500, "n": float("nan")}, "not JSON data"),
    ],
)
def test_validate_error_body_reports_each_violation(body: Any, problem: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        validate_error_body(body, status=500)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def _headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Request-ID": "req-1"} | extra


def test_validate_error_response_accepts_a_good_response() -> None:
    body = b'{"error":"Slow down","code":429,"retry_after":3,"request_id":"req-1"}'
    parsed = validate_error_response(429, _headers(**{"Retry-After": "3"}), body)
    assert parsed == {"error": "Slow down", "code": 429, "retry_after": 3, "request_id": "req-1"}
    assert validate_error_response(404, list(_headers().items()), b"", method="HEAD") is None


@pytest.mark.parametrize(
    ("status", "headers", "body", "problem"),
    [
        (200, _headers(), b'{"error":"x","code":200}', "not an error status"),
        (500, {"X-Request-ID": "r"}, b'{"error":"x","code":500}', "Content-Type header is missing"),
        (500, _headers(**{"Content-Type": "text/html"}), b'{"error":"x","code":500}', "not application/json"),
        (500, {"Content-Type": "application/json"}, b'{"error":"x","code":500}', "X-Request-ID"),
        (500, _headers(), b'{"error":"x","code":500,"request_id":"other"}', "does not equal the X-Request-ID"),
        (429, _headers(), b'{"error":"x","code":429,"retry_after":3}', "does not equal the Retry-After"),
        (500, _headers(), b'{"error":"x","code":NaN}', "NaN"),
    ],
)
def test_validate_error_response_reports_each_violation(
    status: int, headers: dict[str, str], body: bytes, problem: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        validate_error_response(status, headers, body)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_validate_error_response_wants_an_empty_body_for_head() -> None:
    with pytest.raises(ContractViolation, match="HEAD response must have an empty body"):
        validate_error_response(404, _headers(), b'{"error":"x","code":404}', method="HEAD")
