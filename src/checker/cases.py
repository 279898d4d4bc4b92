"""What one check is made of: the request, the reply, and what the contract expects of the reply.

Use these types to describe a case for :func:`~src.checker.runner.run_case`; the catalogue in
:mod:`src.checker.catalogue` is built from them. A :class:`Case` is plain data plus two optional
hooks: ``raises`` builds the exception an in-process probe route raises, and ``prepare`` sends
set-up requests (create a course, use up a rate limit) and returns the request to check. The
same case runs in-process and against a live server whenever its ``modes`` allow it, because
both drivers speak through one :data:`Send` function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ALL_MODES",
    "Case",
    "CaseSetupError",
    "Expectation",
    "Kind",
    "Leak",
    "Mode",
    "NoResponse",
    "Reply",
    "Request",
    "Send",
]

#: Where a case can run: inside the process (a fresh app and its test client) or over HTTP.
Mode = Literal["in-process", "live"]
#: What the reply must be: an error in the contract, a redirect left alone, or a success.
Kind = Literal["error", "redirect", "success"]

ALL_MODES: frozenset[Mode] = frozenset({"in-process", "live"})


@dataclass(frozen=True)
class Request:
    """One HTTP request, relative to the app's root (``path`` starts with ``/``)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def with_header(self, name: str, value: str) -> Request:
        """This request with header ``name`` set to ``value`` (replacing any earlier value)."""
        kept = tuple((key, item) for key, item in self.headers if key.lower() != name.lower())
        return replace(self, headers=(*kept, (name, value)))

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass(frozen=True)
class Reply:
    """What came back: the status, every header field in order (repeats kept), the raw body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        values = self.header_values(name)
        return values[0] if values else None


#: Sends a request to the app under check and returns its reply; raises :class:`NoResponse`.
Send = Callable[[Request], Reply]


class NoResponse(Exception):
    """The app gave no reply at all: an exception escaped it, or the connection failed."""


class CaseSetupError(Exception):
    """A case's ``prepare`` hook could not set the stage (say, creating a course failed)."""


@dataclass(frozen=True)
class Leak:
    """Text a 5xx body must not contain, and what it is, for the problem report.

    ``whole_word`` matches only where the text is not part of a longer identifier, so a class
    named ``Error`` is not reported because ``ErrorHandler`` appears in a body.
    """

    text: str
    what: str
    whole_word: bool = False


def _no_headers() -> Mapping[str, str | None]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Expectation:
    """Everything a reply is checked against; built by :meth:`Case.expectation` or by the fuzzer.

    ``expected_status`` is the status the case provokes; ``also_accepted`` are other statuses
    that still conform (a live server whose configuration the checker cannot see).
    ``required_headers`` maps each header that must be present when the status is
    ``expected_status`` to its exact value, or to None when any value will do. ``leaks`` must not
    appear in a body whose status is 500 or more (nor may a traceback, whatever the case).
    """

    expected_status: int
    kind: Kind = "error"
    also_accepted: tuple[int, ...] = ()
    required_headers: Mapping[str, str | None] = field(default_factory=_no_headers)
    leaks: tuple[Leak, ...] = ()

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status that conforms: the expected one first."""
        return (self.expected_status, *self.also_accepted)


def _no_config() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Case:
    """One way of provoking a response, and what the contract requires of that response.

    * ``expected_status``, ``kind``, ``also_accepted``: as in :class:`Expectation`.
    * ``required_headers``: headers the reply must carry (any value) at ``expected_status``.
    * ``leaks``: texts a 5xx reply must not contain, such as a planted secret.
    * ``request``: what to send (for a probe case, usually ``GET /__check__/raise``).
    * ``raises``: in-process only; builds the exception the probe route raises. Its required
      headers and leak markers are added to the case's own (see :mod:`src.checker.expectations`).
    * ``prepare``: sends set-up requests through the given :data:`Send` and returns the request
      to check; raises :class:`CaseSetupError` when the stage cannot be set.
    * ``config``: in-process only; set on the fresh app's ``config`` before its first request.
    * ``needs``: in-process only; endpoints the app must have, else the case does not apply.
    * ``modes``: where the case can run.
    """

    name: str
    expected_status: int
    request: Request
    kind: Kind = "error"
    also_accepted: tuple[int, ...] = ()
    required_headers: tuple[str, ...] = ()
    leaks: tuple[Leak, ...] = ()
    raises: Callable[[], BaseException] | None = None
    prepare: Callable[[Send], Request] | None = None
    config: Mapping[str, object] = field(default_factory=_no_config)
    needs: tuple[str, ...] = ()
    modes: frozenset[Mode] = ALL_MODES

    def expectation(self, raised: BaseException | None = None) -> Expectation:
        """What the reply must satisfy; ``raised`` is the exception the probe route raised.

        For a raised exception, the headers and leaks :mod:`src.checker.expectations` derives
        from it are added to the case's own (an exact header value wins over "any value").
        """
        required: dict[str, str | None] = dict.fromkeys(self.required_headers)
        leaks = self.leaks
        if raised is not None:
            # Imported here: it brings in the oracle and Flask, which building cases does not need.
            from src.checker.expectations import leaks_for, required_headers_for

            for name, value in required_headers_for(raised).items():
                if value is not None or name not in required:
                    required[name] = value
            leaks = tuple(dict.fromkeys((*leaks, *leaks_for(raised))))
        return Expectation(
            expected_status=self.expected_status,
            kind=self.kind,
            also_accepted=self.also_accepted,
            required_headers=MappingProxyType(required),
            leaks=leaks,
        )
