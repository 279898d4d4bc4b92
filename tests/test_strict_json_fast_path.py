"""The fast path of ``to_ijson`` / ``dumps_ijson`` gives exactly what the full conversion gives.

Values that are already strict JSON data (an error body) skip the general conversion; anything
else, or anything in doubt, takes it. These properties compare both paths on plain data salted
with what makes data not plain (lone surrogates, noncharacters, unsafe integers, NaN, subclasses,
deep nesting, long containers) and on the suite's general payloads.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from src.utils import strict_json
from src.utils.strict_json import MAX_DEPTH, MAX_ITEMS, MAX_SAFE_INTEGER, dumps_ijson, to_ijson
from tests.strategies import payloads

pytestmark = pytest.mark.property

_TRICKY_CHARS = st.sampled_from(
    ["a", "é", "\ud800", "\udfff", "\ud83d", "\ude00", "\ufdd0", "\ufffe", "\U0010ffff", "\x00"]
)
_TEXT = st.text(st.one_of(_TRICKY_CHARS, st.characters(exclude_categories=())), max_size=8)
_INTEGERS = st.one_of(
    st.integers(), st.sampled_from([MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER - 1])
)


class _Text(str):
    def __str__(self) -> str:
        return "changed by __str__"


class _Number(int):
    pass


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    _INTEGERS,
    st.floats(),
    _TEXT,
    st.builds(_Text, _TEXT),
    st.builds(_Number, st.integers()),
)
#: JSON-like data that is mostly plain: dicts with (mostly) string keys, lists, and the scalars above.
_MOSTLY_PLAIN = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_TEXT, st.builds(_Text, _TEXT), st.integers()), children, max_size=4),
    ),
    max_leaves=10,
)


def _slow(value: object) -> Any:
    """What the general conversion alone gives."""
    return strict_json._convert(value, 0, set())


def _slow_dumps(value: object) -> bytes:
    text = json.dumps(_slow(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")


def _same(left: Any, right: Any) -> bool:
    """Equal, with the types of every member equal too (``1 == 1.0 == True`` is not enough)."""
    return json.dumps(left, sort_keys=False) == json.dumps(right, sort_keys=False)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@given(value=st.one_of(_MOSTLY_PLAIN, payloads()))
@example(value={"error": "Not Found", "code": 404, "request_id": "abc"})
@example(value={"error": "lone \ud800", "code": 400})
@example(value={"lone \udfff key": 1})
@example(value={"big": 2**53})
@example(value={"nan": math.nan, "inf": -math.inf})
@example(value=_nested(MAX_DEPTH - 1))
@example(value=_nested(MAX_DEPTH + 1))
@example(value=list(range(MAX_ITEMS + 1)))
@example(value={str(i): i for i in range(MAX_ITEMS + 1)})
def test_the_fast_path_converts_and_serialises_like_the_full_conversion(value: object) -> None:
    """``to_ijson`` and ``dumps_ijson`` give what the general conversion gives, for any value."""
    converted = to_ijson(value)
    assert _same(converted, _slow(value))
    assert dumps_ijson(value) == _slow_dumps(value)
    if isinstance(value, dict | list):
        assert converted is not value


def test_a_plain_body_shares_no_container_with_its_conversion() -> None:
    body = {"error": "x", "code": 400, "details": {"fields": ["a", "b"]}}
    converted = to_ijson(body)
    assert converted == body
    assert isinstance(converted, dict)
    assert converted["details"] is not body["details"]
    assert converted["details"]["fields"] is not body["details"]["fields"]  # type: ignore[index]
