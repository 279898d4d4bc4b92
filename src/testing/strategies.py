"""Hypothesis strategies for everything a view can throw at the error handlers.

Use them to fuzz an app built by ``create_app()``: raise each generated exception from a view,
check the response with :func:`src.api.contract.validate_error_response`, and compare it with
what :mod:`src.testing.oracle` says the contract requires. The property tests (through
``tests/strategies.py``) and ``python cli.py check-errors --fuzz N`` both do. Each strategy's
docstring shows what it generates:

* :func:`messages`: any text, lone surrogates, control characters, empty and very long included;
* :func:`payloads` / :func:`payload_mappings`: JSON-like data plus what JSON cannot hold;
* :func:`status_codes` (any integer) and :func:`error_statuses` (400-599);
* :func:`exception_classes`: classes made at run time from a builtin exception, the ``APIError``
  family or a Werkzeug ``HTTPException`` (with unusual codes and a code of None);
* :func:`exceptions`: instances ready to raise, from those classes and from the Anthropic SDK;
  :func:`unprintable_exceptions` are the ones whose ``__str__`` or ``__repr__`` raises.

Generated exceptions are always ``Exception`` subclasses: ``KeyboardInterrupt``, ``SystemExit``
and ``GeneratorExit`` exist to stop the process, Flask lets them through and sends no response,
so no contract applies. Nor is a Werkzeug ``HTTPException`` ever given a 3xx code here: a 3xx
exception is a redirect, which the handlers pass on untouched by design.

``anthropic`` (slow to import) is imported the first time an SDK exception is drawn. The
strategies these functions draw from are built once, at import, because building a strategy
costs far more than drawing from it.
"""

from __future__ import annotations

import builtins
import collections
import datetime
import enum
import fractions
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal

from hypothesis import strategies as st
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestedRangeNotSatisfiable,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    default_exceptions,
)

from src.api.errors import (
    RESERVED_KEYS,
    AIServiceError,
    APIError,
    AuthorizationError,
    NotFoundError,
    RateLimitError,
    ValidationError,
)

__all__ = [
    "API_ERROR_BASES",
    "BUILTIN_EXCEPTION_BASES",
    "HTTP_EXCEPTION_BASES",
    "Unprintable",
    "anthropic_errors",
    "api_error_classes",
    "api_errors",
    "builtin_exception_classes",
    "builtin_exceptions",
    "error_statuses",
    "exception_classes",
    "exceptions",
    "http_exception_classes",
    "http_exceptions",
    "messages",
    "payload_mappings",
    "payloads",
    "status_codes",
    "unprintable_exceptions",
]

#: Which of ``__str__`` and ``__repr__`` a generated class makes raise (None: neither).
Unprintable = Literal["str", "repr", "both"] | None

#: Every builtin exception class a view can raise and Flask hands to the handlers, by name.
BUILTIN_EXCEPTION_BASES: tuple[type[Exception], ...] = tuple(
    sorted(
        {obj for obj in vars(builtins).values() if isinstance(obj, type) and issubclass(obj, Exception)},
        key=lambda cls: cls.__name__,
    )
)
#: The ``APIError`` family, base first.
API_ERROR_BASES: tuple[type[APIError], ...] = (
    APIError,
    ValidationError,
    AuthorizationError,
    NotFoundError,
    RateLimitError,
    AIServiceError,
)
#: ``HTTPException`` itself and each of Werkzeug's own error classes, by code.
HTTP_EXCEPTION_BASES: tuple[type[HTTPException], ...] = (
    HTTPException,
    *(default_exceptions[code] for code in sorted(default_exceptions)),
)


def _takes_one_message(cls: type[Exception]) -> bool:
    try:
        cls("message")
    except Exception:
        return False
    return not issubclass(cls, BaseExceptionGroup)


# Builtin classes another class can be mixed with: they accept a lone message.
_MIXIN_BASES = tuple(cls for cls in BUILTIN_EXCEPTION_BASES if _takes_one_message(cls))
# Status codes at and beyond the edges of what HTTP and the contract accept.
_EDGE_STATUSES = (0, -1, 1, 99, 100, 101, 199, 200, 204, 299, 300, 308, 399, 400, 499, 500, 599, 600, 999, 1000)
_UNPRINTABLE_MODES: tuple[Unprintable, ...] = (None, None, None, None, "str", "repr", "both")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND")
# Characters that break naive text handling, so that they turn up far more often than chance.
_AWKWARD_CHARACTERS = tuple(
    "\x00\x07\x1b\t\n\r\x7f\x85\xa0\u2028\u2029\u200e\u202e\u2066\ufeff\ufdd0\ufffd\ufffe\uffff"
    "\U0001fffe\U0010ffff\ud800\udbff\udc00\udfff\ud83d\ude00\\\"'<&%{\U0001f600"
)


# --- text -------------------------------------------------------------------------------------

# Any code point, with lone surrogates (which st.text() never yields), controls, format
# characters, separators, private-use and unassigned code points boosted.
_CHARACTERS = st.one_of(
    st.characters(codec=None),
    st.characters(categories=["Cs"]),
    st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co", "Cn"]),
    st.sampled_from(_AWKWARD_CHARACTERS),
)
_SHORT_TEXTS = st.text(alphabet=_CHARACTERS, max_size=40)
_BLANK_TEXTS = st.text(alphabet=" \t\n\r\x00\x0b\u3000\u200b", max_size=5)
_REPEATED_UNITS = st.text(alphabet=_CHARACTERS, min_size=1, max_size=8)
_MESSAGE_KINDS = st.sampled_from(("text", "text", "text", "text", "text", "text", "blank", "blank", "long"))


@functools.cache
def _lengths(max_length: int) -> st.SearchStrategy[int]:
    return st.integers(min(1000, max_length), max_length)


@st.composite
def messages(draw: st.DrawFn, *, max_length: int = 50_000) -> str:
    """Any message a view might put in an exception, for example::

        ""   "   "   "\\x00\\ud800x"   "\\u202eevil\\r\\nforged: line"   "\\udfff" * 20_000

    Full Unicode including unpaired surrogates and noncharacters, control characters, strings
    with nothing printable, and (rarely) strings up to ``max_length`` characters.
    """
    kind = draw(_MESSAGE_KINDS)
    if kind == "blank":
        return draw(_BLANK_TEXTS)
    if kind == "long":
        unit = draw(_REPEATED_UNITS)
        length = draw(_lengths(max_length))
        return (unit * (length // len(unit) + 1))[:length]
    return draw(_SHORT_TEXTS)


_MESSAGES = messages()
_SHORTER_MESSAGES = messages(max_length=2000)


# --- payloads ---------------------------------------------------------------------------------


def _pretty(self: object, printer: Any, cycle: bool) -> None:
    """How Hypothesis shows an object whose ``repr`` may raise, so that a failing example can be reported."""
    text = getattr(self, "text", None)
    name = type(self).__name__
    printer.text(f"<{name} {text!r}>" if isinstance(text, str) else f"<{name} that cannot be printed>")


class _Opaque:
    """An object JSON knows nothing about: ``str`` and ``repr`` give ``text``, or raise if it is None."""

    __slots__ = ("text",)

    def __init__(self, text: str | None) -> None:
        self.text = text

    def __str__(self) -> str:
        if self.text is None:
            raise RuntimeError("this object refuses to be printed")
        return self.text

    __repr__ = __str__
    _repr_pretty_ = _pretty


class _BrokenMapping(Mapping[str, object]):
    """A mapping whose every method but ``__len__`` raises."""

    def __getitem__(self, key: str) -> object:
        raise RuntimeError("broken mapping")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken mapping")

    def __len__(self) -> int:
        return 1

    _repr_pretty_ = _pretty


class _Colour(enum.Enum):
    RED = "red"
    NAN = math.nan
    HUGE = 2**64


# Scalars JSON cannot hold as they are.
_ODD_SCALARS = st.one_of(
    st.sampled_from(
        (math.nan, math.inf, -math.inf, -0.0, 2**53, -(2**53), 2**64, 10**400, 5e-324, 1.7976931348623157e308)
    ),
    st.integers(),
    st.floats(),
    st.binary(max_size=16),
    st.builds(bytearray, st.binary(max_size=8)),
    st.sampled_from((Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1e999"), Decimal("0.1"))),
    st.fractions(max_denominator=10**6),
    st.just(fractions.Fraction(1, 3)),
    st.complex_numbers(max_magnitude=1e6),
    st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.sampled_from(tuple(_Colour)),
    st.builds(_Opaque, st.none() | _SHORTER_MESSAGES),
    st.builds(_BrokenMapping),
    st.builds(range, st.integers(0, 5)),
)
_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _SHORTER_MESSAGES)
# Mapping keys of mixed types: strings (reserved names too), numbers, NaN, None, bools, bytes, tuples, objects.
_KEYS = st.one_of(
    messages(max_length=200),
    st.sampled_from(sorted(RESERVED_KEYS)),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.binary(max_size=8),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.builds(_Opaque, st.none() | st.text(max_size=8)),
)
_HASHABLES = st.one_of(st.integers(), st.floats(), st.text(max_size=8), st.binary(max_size=8), st.none(), st.booleans())
_NESTED_VALUES = st.recursive(
    st.one_of(_JSON_SCALARS, _ODD_SCALARS),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_KEYS, children, max_size=4),
        st.tuples(children, children),
        st.frozensets(_HASHABLES, max_size=5),
        st.sets(_HASHABLES, max_size=5),
        st.builds(collections.deque, st.lists(children, max_size=3)),
    ),
    max_leaves=6,
)


@st.composite
def payloads(draw: st.DrawFn) -> object:
    """JSON-like values nested a few levels deep, salted with what JSON cannot hold, for example::

        {"a": [1, nan, b"\\xff"], 2: {None: inf}, "code": "x"}   {frozenset({1, "a"})}   [[...], Decimal("sNaN")]

    Scalars include NaN, the infinities, integers beyond 2**53, bytes, Decimals, dates, enums and
    objects whose ``str`` is anything or raises; containers include sets, tuples, deques, a list
    that contains itself, and mappings whose keys mix strings, numbers, None, bytes and objects.
    """
    value = draw(_NESTED_VALUES)
    if draw(_ONE_IN_TWENTY):
        cycle: list[object] = [value]
        cycle.append(cycle)
        return cycle
    return value


_PAYLOADS = payloads()


_MAPPINGS = st.dictionaries(_KEYS, _PAYLOADS, max_size=4)


@st.composite
def payload_mappings(draw: st.DrawFn) -> dict[object, object]:
    """An ``APIError`` payload: a dict whose keys mix types and may repeat reserved names, e.g.
    ``{"error": "x", "code": nan, 1: b"\\xff", None: {...}}``."""
    return draw(_MAPPINGS)


# --- status codes -----------------------------------------------------------------------------

_ANY_STATUS = st.one_of(st.integers(400, 599), st.sampled_from(_EDGE_STATUSES), st.integers(-(2**63), 2**63))
_ERROR_STATUS = st.one_of(st.integers(400, 599), st.sampled_from((400, 401, 404, 405, 429, 499, 500, 502, 503, 599)))


@st.composite
def status_codes(draw: st.DrawFn) -> int:
    """Any integer as an HTTP status: mostly 400-599, often an edge (0, -1, 100, 399, 600, 1000), sometimes huge."""
    return draw(_ANY_STATUS)


@st.composite
def error_statuses(draw: st.DrawFn) -> int:
    """An error status the contract accepts, 400-599, assigned (404, 503) or not (420, 599)."""
    return draw(_ERROR_STATUS)


# --- exception classes ------------------------------------------------------------------------


def _raise_on_print(self: object) -> str:
    raise RuntimeError("this exception refuses to be printed")


def _derive(bases: tuple[type[BaseException], ...], unprintable: Unprintable, **attributes: object) -> type[Any]:
    """A new class on ``bases``; its ``__str__``/``__repr__`` raise as ``unprintable`` says
    (Hypothesis still prints its instances, through ``_repr_pretty_``)."""
    namespace: dict[str, object] = dict(attributes)
    if unprintable is not None:
        namespace["_repr_pretty_"] = _pretty
    if unprintable in ("str", "both"):
        namespace["__str__"] = _raise_on_print
    if unprintable in ("repr", "both"):
        namespace["__repr__"] = _raise_on_print
    name = "Fuzzed" + "".join(base.__name__ for base in bases)
    return type(name, bases, namespace)


_MODES_BY_WISH: dict[bool | None, st.SearchStrategy[Unprintable]] = {
    None: st.sampled_from(_UNPRINTABLE_MODES),
    True: st.sampled_from(("str", "repr", "both")),
    False: st.none(),
}
_BUILTIN_BASES = st.sampled_from(BUILTIN_EXCEPTION_BASES)
_MIXINS = st.sampled_from(_MIXIN_BASES)
_API_BASES = st.sampled_from(API_ERROR_BASES)
# The classes that carry headers of their own (Allow, WWW-Authenticate, Retry-After) or a
# wrapped exception are drawn as often as all the others together.
_HTTP_BASES = st.one_of(
    st.sampled_from(HTTP_EXCEPTION_BASES),
    st.sampled_from((MethodNotAllowed, Unauthorized, TooManyRequests, ServiceUnavailable, InternalServerError)),
)
_ONE_IN_FIVE = st.integers(0, 4).map(lambda n: n == 0)
_ONE_IN_TWENTY = st.integers(0, 19).map(lambda n: n == 0)
_ONE_IN_THREE = st.integers(0, 2).map(lambda n: n == 0)


@st.composite
def builtin_exception_classes(draw: st.DrawFn, *, unprintable: bool | None = None) -> type[Exception]:
    """A class derived at run time from one builtin exception, sometimes two::

        class FuzzedKeyError(KeyError)   class FuzzedTimeoutErrorUnicodeWarning(TimeoutError, UnicodeWarning)

    With ``unprintable`` its ``__str__`` and/or ``__repr__`` raise (None: sometimes).
    """
    mode = draw(_MODES_BY_WISH[unprintable])
    bases: tuple[type[Exception], ...] = (draw(_BUILTIN_BASES),)
    if draw(_ONE_IN_FIVE):
        second = draw(_MIXINS)
        if second not in bases:
            bases = (*bases, second)
    try:
        return _derive(bases, mode)
    except TypeError:  # an impossible combination (instance lay-out or MRO conflict)
        return _derive(bases[:1], mode)


@st.composite
def api_error_classes(draw: st.DrawFn, *, unprintable: bool | None = None) -> type[APIError]:
    """A class derived at run time from one of the ``APIError`` family, sometimes mixed with a builtin::

    class FuzzedNotFoundError(NotFoundError)   class FuzzedAPIErrorLookupError(APIError, LookupError)
    """
    mode = draw(_MODES_BY_WISH[unprintable])
    bases: tuple[type[Exception], ...] = (draw(_API_BASES),)
    if draw(_ONE_IN_FIVE):
        bases = (*bases, draw(_MIXINS))
    try:
        return _derive(bases, mode)
    except TypeError:
        return _derive(bases[:1], mode)


# A ``code`` for an HTTPException: None, any 4xx/5xx, or one no error response can carry.
_HTTP_CODES = st.one_of(
    st.none(),
    _ERROR_STATUS,
    _ANY_STATUS.filter(lambda code: not 300 <= code <= 399),
    st.sampled_from((True, False, "404", 404.0, 500.5)),
)


@st.composite
def http_exception_classes(draw: st.DrawFn, *, unprintable: bool | None = None) -> type[HTTPException]:
    """A class derived at run time from ``HTTPException`` or one of Werkzeug's error classes,
    often with a ``code`` of its own::

        class FuzzedHTTPException(HTTPException): code = None
        class FuzzedMethodNotAllowed(MethodNotAllowed): code = 600
        class FuzzedNotFound(NotFound)    # keeps 404

    Codes drawn: None, any 4xx/5xx, and ones no error response can carry (0, 100, 200, 600,
    2**63, True, "404"), never a 3xx.
    """
    mode = draw(_MODES_BY_WISH[unprintable])
    base = draw(_HTTP_BASES)
    if base is HTTPException or draw(_ONE_IN_THREE):
        return _derive((base,), mode, code=draw(_HTTP_CODES))
    return _derive((base,), mode)


@st.composite
def exception_classes(draw: st.DrawFn, *, unprintable: bool | None = None) -> type[Exception]:
    """An exception class created at run time, as :func:`builtin_exception_classes`,
    :func:`api_error_classes` or :func:`http_exception_classes` make them."""
    return draw(
        st.one_of(
            builtin_exception_classes(unprintable=unprintable),
            api_error_classes(unprintable=unprintable),
            http_exception_classes(unprintable=unprintable),
        )
    )


_WISHES: tuple[bool | None, ...] = (None, True, False)
_BUILTIN_CLASSES_BY_WISH = {wish: builtin_exception_classes(unprintable=wish) for wish in _WISHES}
_API_CLASSES_BY_WISH = {wish: api_error_classes(unprintable=wish) for wish in _WISHES}
_HTTP_CLASSES_BY_WISH = {wish: http_exception_classes(unprintable=wish) for wish in _WISHES}


# --- exceptions -------------------------------------------------------------------------------


def _build(factory: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
    try:
        return factory()
    except Exception:  # the drawn arguments do not suit this class
        return fallback()


# The ``args`` of a builtin exception: usually one message, sometimes none or several values.
_ARGUMENTS = st.lists(st.one_of(_MESSAGES, _MESSAGES, _PAYLOADS), max_size=3).map(tuple)
_INNER_EXCEPTIONS = st.lists(st.builds(ValueError, _MESSAGES), min_size=1, max_size=3)


@st.composite
def builtin_exceptions(draw: st.DrawFn, *, unprintable: bool | None = None) -> Exception:
    """An instance of a :func:`builtin_exception_classes` class with arbitrary ``args``::

    FuzzedValueError("\\ud800")   FuzzedOSError(2, "No such file", b"/x")   FuzzedExceptionGroup("g", [...])
    """
    cls = draw(_BUILTIN_CLASSES_BY_WISH[unprintable])
    message = draw(_MESSAGES)
    exc: Exception
    if issubclass(cls, BaseExceptionGroup):
        inner = draw(_INNER_EXCEPTIONS)
        exc = _build(lambda: cls(message, inner), lambda: cls("group", [ValueError()]))
    elif issubclass(cls, UnicodeDecodeError):
        exc = _build(lambda: cls("utf-8", message.encode("utf-8", "surrogatepass"), 0, 1, message), cls)
    elif issubclass(cls, UnicodeEncodeError):
        exc = _build(lambda: cls("ascii", message, 0, 1, message), cls)
    elif issubclass(cls, UnicodeTranslateError):
        exc = _build(lambda: cls(message, 0, 1, message), cls)
    else:
        args = draw(_ARGUMENTS)
        exc = _build(lambda: cls(*args), lambda: _build(lambda: cls(message), cls))
    return exc


_BUILTIN_EXCEPTIONS = builtin_exceptions()
# An APIError message: text, and once in a while an object that is not a string.
_API_MESSAGES = st.one_of(_MESSAGES, _MESSAGES, _MESSAGES, _PAYLOADS)
_OPTIONAL_PAYLOADS = st.one_of(st.none(), payload_mappings(), payload_mappings())
_DELAYS = st.one_of(st.integers(-(10**6), 10**20), st.floats(allow_nan=False, allow_infinity=False))
_OPTIONAL_DELAYS = st.none() | _DELAYS
_OPTIONAL_EXCEPTIONS = st.none() | _BUILTIN_EXCEPTIONS
_SERVER_STATUS = st.integers(500, 599)
_RESOURCE_IDS = st.one_of(_MESSAGES, st.integers(), _PAYLOADS)
_FIELDS = st.one_of(st.none(), _MESSAGES, _PAYLOADS)


@st.composite
def api_errors(draw: st.DrawFn, *, unprintable: bool | None = None) -> APIError:
    """An instance of an :func:`api_error_classes` class with arbitrary arguments::

        FuzzedAPIError("x", 599, payload={"code": nan})   FuzzedNotFoundError("", 2**70)
        FuzzedRateLimitError("", retry_after=1e300)        FuzzedAIServiceError("x", KeyError(...), retry_after=-3)

    Arguments are deliberately looser than the signatures (a message that is not a string, a
    payload with non-string keys), as buggy callers pass them; now and then ``status_code`` is
    overwritten after construction with any integer.
    """
    cls = draw(_API_CLASSES_BY_WISH[unprintable])
    message: Any = draw(_API_MESSAGES)
    payload: Any = draw(_OPTIONAL_PAYLOADS)
    exc: APIError
    if issubclass(cls, AIServiceError):
        original = draw(_OPTIONAL_EXCEPTIONS)
        delay = draw(_OPTIONAL_DELAYS)
        exc = cls(message, original, retry_after=delay, status_code=draw(_SERVER_STATUS), payload=payload)
    elif issubclass(cls, RateLimitError):
        exc = cls(message, retry_after=draw(_DELAYS), payload=payload)
    elif issubclass(cls, NotFoundError):
        resource_type: Any = draw(_API_MESSAGES)
        resource_id: Any = draw(_RESOURCE_IDS)
        exc = _build(
            lambda: cls(resource_type, resource_id, payload=payload), lambda: cls("Course", "crs_1", payload=payload)
        )
    elif issubclass(cls, ValidationError):
        field: Any = draw(_FIELDS)
        exc = cls(message, field, payload=payload)
    elif issubclass(cls, AuthorizationError):
        exc = cls(message, payload=payload)
    else:
        exc = cls(message, draw(_ERROR_STATUS), payload)
    if draw(_ONE_IN_TWENTY):
        exc.status_code = draw(_ANY_STATUS)
    return exc


_CHALLENGES = st.builds(
    WWWAuthenticate,
    st.sampled_from(("Bearer", "Basic", "Digest", "Newauth")),
    st.dictionaries(
        st.just("realm"),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", min_size=1, max_size=12),
        max_size=1,
    ),
)
_WWW_AUTHENTICATE = st.one_of(st.none(), _CHALLENGES, st.lists(_CHALLENGES, min_size=1, max_size=2))
_OPTIONAL_MESSAGES = st.none() | _MESSAGES
_LENGTHS = st.none() | st.integers(0, 10**9)
_VALID_METHODS = st.none() | st.lists(st.sampled_from(_METHODS), unique=True, max_size=4)
_RETRY_AFTER_VALUES = st.one_of(
    st.none(),
    st.integers(0, 10**6),
    st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2100, 1, 1),
        timezones=st.just(datetime.UTC),
    ),
)


@st.composite
def http_exceptions(draw: st.DrawFn, *, unprintable: bool | None = None) -> HTTPException:
    """An instance of an :func:`http_exception_classes` class, with the headers its kind carries::

    FuzzedMethodNotAllowed(["GET"], "\\x00")   FuzzedUnauthorized(www_authenticate=Bearer realm=x)
    FuzzedTooManyRequests(retry_after=30)      FuzzedHTTPException(None)    # code None
    """
    cls = draw(_HTTP_CLASSES_BY_WISH[unprintable])
    description = draw(_OPTIONAL_MESSAGES)
    exc: HTTPException
    if issubclass(cls, MethodNotAllowed):
        exc = cls(valid_methods=draw(_VALID_METHODS), description=description)
    elif issubclass(cls, Unauthorized):
        exc = cls(description=description, www_authenticate=draw(_WWW_AUTHENTICATE))
    elif issubclass(cls, TooManyRequests | ServiceUnavailable):
        exc = cls(description=description, retry_after=draw(_RETRY_AFTER_VALUES))
    elif issubclass(cls, InternalServerError):
        exc = cls(description=description, original_exception=draw(_OPTIONAL_EXCEPTIONS))
    elif issubclass(cls, RequestedRangeNotSatisfiable):
        exc = cls(length=draw(_LENGTHS), description=description)
    else:
        exc = cls(description=description)
    return exc


_ANTHROPIC_CLASS_BY_STATUS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    413: "RequestTooLargeError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    503: "ServiceUnavailableError",
    529: "OverloadedError",
}
_BODIES = st.none() | _PAYLOADS
_ANTHROPIC_KINDS = st.sampled_from(("status", "status", "status", "connection", "timeout", "validation", "base"))
_ANTHROPIC_STATUSES = st.one_of(st.sampled_from(sorted(_ANTHROPIC_CLASS_BY_STATUS)), _ERROR_STATUS)
_UPSTREAM_SECONDS = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False, min_value=-5))
# HTTP dates whose delay does not depend on when they are read: long past (0 s), and beyond what
# a date parser accepts (years past 9999).
_TIMELESS_DATES = (
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Fri, 01 Jan 99999 00:00:00 GMT",
    "Sat, 01 Jan 10000 00:00:00",
    "01 Jan 10000000000 00:00:00 GMT",
)
# Upstream Retry-After headers: none, seconds, milliseconds, huge, negative, dates or unreadable.
_RETRY_AFTER_HEADERS = st.one_of(
    st.just({}),
    st.builds(lambda seconds: {"retry-after": str(seconds)}, _UPSTREAM_SECONDS),
    st.builds(lambda seconds: {"retry-after-ms": str(seconds)}, _UPSTREAM_SECONDS),
    st.builds(lambda text: {"retry-after": text}, st.sampled_from(("soon", "", "nan", "inf", "1e400", "-1"))),
    st.builds(lambda date: {"retry-after": date}, st.sampled_from(_TIMELESS_DATES)),
)


@st.composite
def anthropic_errors(draw: st.DrawFn) -> Exception:
    """An exception of the Anthropic SDK, as its client raises them::

        RateLimitError("x", response=<429, retry-after: 7>)   OverloadedError(...)   APIConnectionError(...)
        APITimeoutError(...)   APIStatusError(<599>)   AnthropicError("\\ud800")

    Status errors carry a response with any 4xx/5xx status and, often, a Retry-After header:
    seconds, milliseconds, an HTTP date (long past, or past year 9999) or something unreadable.
    """
    import anthropic
    import httpx2

    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    message = draw(_SHORTER_MESSAGES)
    kind = draw(_ANTHROPIC_KINDS)
    if kind == "connection":
        return anthropic.APIConnectionError(message=message, request=request)
    if kind == "timeout":
        return anthropic.APITimeoutError(request=request)
    if kind == "base":
        return anthropic.AnthropicError(message)
    status = draw(_ANTHROPIC_STATUSES)
    response = httpx2.Response(status, headers=draw(_RETRY_AFTER_HEADERS), request=request)
    body = draw(_BODIES)
    error: Exception
    # The SDK reads the body while it builds the error; a body that breaks it was never parsed JSON.
    if kind == "validation":
        error = _build(
            lambda: anthropic.APIResponseValidationError(response, body, message=message),
            lambda: anthropic.APIResponseValidationError(response, None, message=message),
        )
        return error
    default = "InternalServerError" if status >= 500 else "APIStatusError"
    cls = getattr(anthropic, _ANTHROPIC_CLASS_BY_STATUS.get(status, default))
    error = _build(
        lambda: cls(message, response=response, body=body), lambda: cls(message, response=response, body=None)
    )
    return error


_LINKS = st.sampled_from((None, None, None, "__cause__", "__context__"))
_FAMILIES_BY_WISH = {
    wish: st.one_of(
        builtin_exceptions(unprintable=wish),
        api_errors(unprintable=wish),
        http_exceptions(unprintable=wish),
        *([] if wish else [anthropic_errors()]),
    )
    for wish in _WISHES
}


@st.composite
def exceptions(draw: st.DrawFn, *, unprintable: bool | None = None) -> BaseException:
    """An exception instance ready to raise in a view, from any of the families above::

        FuzzedZeroDivisionError("\\udfff")   FuzzedAIServiceError("", ValueError(), status_code=599)
        FuzzedHTTPException(code=None)       anthropic.RateLimitError(<429, retry-after-ms: 1500>)

    Sometimes chained to another exception (``__cause__`` or ``__context__``). With
    ``unprintable=True`` only classes whose ``__str__`` or ``__repr__`` raises are drawn (the
    SDK's own classes are left out then); with False, none of them; with None, a mix.
    """
    exc: BaseException = draw(_FAMILIES_BY_WISH[unprintable])
    link = draw(_LINKS)
    if link is not None:
        setattr(exc, link, draw(_BUILTIN_EXCEPTIONS))
    return exc


@st.composite
def unprintable_exceptions(draw: st.DrawFn) -> BaseException:
    """An exception whose ``__str__`` or ``__repr__`` (or both) raise ``RuntimeError``, from any family."""
    return draw(exceptions(unprintable=True))
