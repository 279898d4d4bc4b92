"""What a raised exception obliges its answer to carry, and what the answer must not show.

Use :func:`required_headers_for` and :func:`leaks_for` when a view raised a known exception and
you need to know what to look for in the reply: :meth:`Case.expectation
<src.checker.cases.Case.expectation>` and the fuzzer do. Both ask :mod:`src.testing.oracle`, the
oracle the property tests use, so the checker and the property tests judge an exception alike:

* headers: ``Allow`` on a 405, ``WWW-Authenticate`` on a 401 whose exception has a challenge,
  ``Retry-After`` when the exception (or the upstream response behind an SDK error) asked for a
  wait; with the exact value when the oracle knows it. ``X-Request-ID`` is left out here:
  :func:`~src.checker.checks.check_reply` checks it on every reply.
* leaks: the texts of the exception and of the exceptions behind it (``str``, ``repr``,
  arguments, type names) that a 5xx body must not contain, minus what the contract shows on
  purpose. Every 5xx is searched for a traceback anyway, so the oracle's marker is left out.
"""

from __future__ import annotations

from src.checker.cases import Leak

__all__ = ["leaks_for", "required_headers_for"]

_REQUEST_ID_HEADER = "x-request-id"
_RELATED = ("original_error", "original_exception", "__cause__", "__context__")


def required_headers_for(exc: BaseException) -> dict[str, str | None]:
    """Header name -> exact value (None: any value) that the answer to ``exc`` must carry."""
    from src.testing.oracle import required_headers

    return {name: value for name, value in required_headers(exc).items() if name.lower() != _REQUEST_ID_HEADER}


def leaks_for(exc: BaseException) -> tuple[Leak, ...]:
    """The texts a 5xx answering ``exc`` must not contain, each labelled for the problem report."""
    from src.testing.oracle import TRACEBACK_MARKER, leak_texts

    type_names = _type_names(exc)
    return tuple(
        Leak(text, "a type name" if text in type_names else "exception text")
        for text in leak_texts(exc)
        if text != TRACEBACK_MARKER
    )


def _type_names(exc: BaseException) -> set[str]:
    """The names the type of ``exc`` and of the exceptions behind it go by."""
    names: set[str] = set()
    for item in (exc, *(getattr(exc, name, None) for name in _RELATED)):
        if isinstance(item, BaseException):
            cls = type(item)
            names.update((cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}"))
    return names
