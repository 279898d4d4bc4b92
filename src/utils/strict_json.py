"""Turn any Python value into strict JSON: RFC 8259 text within the I-JSON profile (RFC 7493).

Use :func:`to_ijson` when a value you did not build yourself (an exception's payload, a message
that quotes user input, a value from an upstream service) is about to become part of a JSON
response, and :func:`dumps_ijson` to serialise it. Neither raises for any input value: what
cannot be represented is replaced, never passed on. The rules:

* strings: unpaired surrogates and Unicode noncharacters become U+FFFD (I-JSON forbids them);
  a correctly paired surrogate sequence becomes the character it encodes;
* integers beyond ±(2**53 - 1) (not interoperable, RFC 7493 §2.2) become decimal strings;
* NaN and the infinities become ``null`` (as JavaScript's ``JSON.stringify`` does); other real
  numbers (``Decimal``, ``Fraction``) become doubles;
* ``bytes`` decode as UTF-8 with U+FFFD for bad sequences; dates and times become ISO 8601
  strings; ``timedelta`` becomes seconds; an ``Enum`` becomes its value;
* mappings become objects with string keys (``None``, booleans and numbers spelled as JSON spells
  them, ``bytes`` decoded, anything else ``str(key)``); a key that would repeat another once converted is
  dropped (string keys win over converted ones), so the output never has duplicate names;
* lists, tuples and other sequences become arrays; sets become arrays sorted by their JSON text;
* any other object becomes ``str(obj)``.

Bounds: containers keep their first :data:`MAX_ITEMS` entries, nesting deeper than
:data:`MAX_DEPTH` and reference cycles become ``null``, and a value whose conversion raises
(a ``__str__`` that raises, a mapping whose ``items()`` fails) becomes ``null``.

Cost: a value that is already strict JSON data (exactly ``dict`` with ``str`` keys, ``list``,
``str``, ``int``, ``float``, ``bool`` or ``None``, within the rules and bounds above), such as
an error body, is recognised by one cheap scan and converted or serialised without the general
machinery; anything else takes the general path. Both give the same result.
"""

from __future__ import annotations

import datetime
import enum
import itertools
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from typing import Any, TypeAlias

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_SAFE_INTEGER", "JSONValue", "clean_text", "dumps_ijson", "to_ijson"]

#: A value that :func:`json.dumps` writes as strict JSON.
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

#: The largest integer magnitude I-JSON says every implementation reads exactly (2**53 - 1).
MAX_SAFE_INTEGER = 2**53 - 1
#: Containers nested deeper than this become ``null``.
MAX_DEPTH = 32
#: Containers keep at most this many entries.
MAX_ITEMS = 1000

_SURROGATES = re.compile("[\ud800-\udfff]")
_NONCHARACTERS = re.compile(
    "[\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)
# What clean_text would change: a string without any of these is already clean.
_UNCLEAN = re.compile(_SURROGATES.pattern[:-1] + _NONCHARACTERS.pattern[1:])
_CONTAINERS = frozenset({dict, list})
# Compact UTF-8 JSON that refuses NaN; built once (json.dumps builds an encoder per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def clean_text(text: str) -> str:
    """Return ``text`` with unpaired surrogates and noncharacters replaced by U+FFFD.

    Use it on any string that must be encodable as UTF-8 and acceptable to I-JSON.
    """
    text = str.__str__(text)
    if text.isascii():
        return text
    if _SURROGATES.search(text):
        # Round-tripping through UTF-16 joins valid pairs and replaces lone halves.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _NONCHARACTERS.sub("\ufffd", text)


def to_ijson(value: object) -> JSONValue:
    """Convert ``value`` into plain JSON data that :func:`json.dumps` writes as strict I-JSON.

    Never raises; see the module docstring for how each type is converted. The result shares no
    container with ``value``.
    """
    if _is_plain(value, 0):
        return _copy_plain(value)
    return _convert(value, 0, set())


def dumps_ijson(value: object) -> bytes:
    """Serialise ``value`` (converted by :func:`to_ijson` first) as compact UTF-8 JSON bytes."""
    if not _is_plain(value, 0):
        value = to_ijson(value)
    return _ENCODER.encode(value).encode("utf-8")


def _is_plain(value: Any, depth: int) -> bool:
    """Whether ``value`` is strict JSON data already, which :func:`to_ijson` would only copy.

    Exact types only (a subclass may behave differently), clean strings and keys, safe integers,
    finite floats, and containers within :data:`MAX_DEPTH` and :data:`MAX_ITEMS` (so a cycle is
    never plain).
    """
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _UNCLEAN.search(key) is None):
                return False
            # The scalars of an error body are checked here rather than by a call each.
            item_kind = type(item)
            if item_kind is str:
                if not (item.isascii() or _UNCLEAN.search(item) is None):
                    return False
            elif item_kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    return False
            elif item is not None and item_kind is not bool and not _is_plain(item, depth + 1):
                return False
        return True
    if kind is str:
        return value.isascii() or _UNCLEAN.search(value) is None
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if value is None or kind is bool:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        if depth >= MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        return all(_is_plain(item, depth + 1) for item in value)
    return False


def _copy_plain(value: Any) -> JSONValue:
    """A copy of data :func:`_is_plain` accepted, with fresh containers."""
    kind = type(value)
    if kind is dict:
        if _CONTAINERS.isdisjoint(map(type, value.values())):
            return dict(value)  # scalars only, the usual error body: copied in C
        return {key: _copy_plain(item) for key, item in value.items()}
    if kind is list:
        if _CONTAINERS.isdisjoint(map(type, value)):
            return list(value)
        return [_copy_plain(item) for item in value]
    plain: JSONValue = value
    return plain


def _convert(value: object, depth: int, active: set[int]) -> JSONValue:
    try:
        return _convert_unguarded(value, depth, active)
    except Exception:
        return None


def _convert_unguarded(value: object, depth: int, active: set[int]) -> JSONValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        return _integer(int.__int__(value))
    if isinstance(value, float):
        return _double(float.__float__(value))
    if isinstance(value, enum.Enum):
        return _convert(value.value, depth + 1, active)
    if isinstance(value, numbers.Integral):
        return _integer(int(value))
    if isinstance(value, numbers.Real | Decimal):
        return _double(float(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return clean_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, datetime.date | datetime.time):
        return clean_text(value.isoformat())
    if isinstance(value, datetime.timedelta):
        return _double(value.total_seconds())
    if isinstance(value, Mapping | Sequence | Set):
        if depth >= MAX_DEPTH or id(value) in active:
            return None
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                return _object(value, depth, active)
            items = [_convert(item, depth + 1, active) for item in itertools.islice(value, MAX_ITEMS)]
            if isinstance(value, Set):
                items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return items
        finally:
            active.discard(id(value))
    return clean_text(str(value))


def _object(value: Mapping[object, object], depth: int, active: set[int]) -> dict[str, JSONValue]:
    pairs = list(itertools.islice(value.items(), MAX_ITEMS))
    # A stable sort puts genuine string keys first, so "1" wins over 1 when both are present.
    pairs.sort(key=lambda pair: not isinstance(pair[0], str))
    result: dict[str, JSONValue] = {}
    for key, item in pairs:
        name = _key(key)
        if name is not None and name not in result:
            result[name] = _convert(item, depth + 1, active)
    return result


def _key(key: object) -> str | None:
    try:
        if isinstance(key, str):
            return clean_text(key)
        if key is None or isinstance(key, bool | int | float):
            # The same spelling json.dumps would give the key: null, true, 1, 1.5, NaN.
            return json.dumps(key)
        if isinstance(key, bytes):
            return clean_text(key.decode("utf-8", "replace"))
        return clean_text(str(key))
    except Exception:
        return None


def _integer(number: int) -> int | str:
    return number if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER else str(number)


def _double(number: float) -> float | None:
    return number if math.isfinite(number) else None
