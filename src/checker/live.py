"""The live driver: the same checks over real HTTP, against a server someone is running.

Use :func:`parse_base_url` to validate what the user typed and :func:`run_live` to check every
case that can be triggered from outside (:func:`~src.checker.catalogue.cases_for` ``"live"``).
Requests go with ``urllib`` to the given URL only: no proxy from the environment, no redirect
followed, one connection per request, each bounded by ``timeout`` seconds.

If the very first request gets no answer (connection refused, DNS failure, timeout, TLS failure)
the server counts as unreachable and :func:`run_live` raises :class:`Unreachable`. Once the
server has answered, a request that gets no answer is a failed case instead.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from src.checker.cases import Case, NoResponse, Reply, Request
from src.checker.catalogue import cases_for
from src.checker.runner import Report, run_case

__all__ = ["DEFAULT_TIMEOUT", "MAX_BODY", "Unreachable", "parse_base_url", "run_live"]

#: Seconds each request may take, connecting and reading, unless told otherwise.
DEFAULT_TIMEOUT = 10.0
#: Bytes of a response body read at most; the rest is ignored.
MAX_BODY = 4 * 1024 * 1024

_USER_AGENT = "error-contract-harness check-errors"


class Unreachable(Exception):
    """The server did not answer the first request; ``str()`` says why in one line."""


def parse_base_url(url: str) -> str:
    """``url`` as a base URL without a trailing slash; raises ``ValueError`` saying what is wrong.

    It must be ``http`` or ``https`` with a host, and have no query, fragment, whitespace or
    control characters. A path is kept as a prefix for every case's path.
    """
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(f"{url!r} contains whitespace or control characters")
    if "://" not in url:
        raise ValueError(f"{url!r} has no scheme; give an http:// or https:// URL, e.g. 'http://{url}'")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r} has scheme {parts.scheme!r}; give an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port") from None
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} has credentials in it; give the server's base URL without them")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{url!r} has an invalid host name") from None
    if port == 0:
        raise ValueError(f"{url!r} has an invalid port")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r} has a query or fragment; give the server's base URL")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def run_live(base_url: str, *, timeout: float = DEFAULT_TIMEOUT, cases: Sequence[Case] | None = None) -> Report:
    """Check every live case (or ``cases``) against the server at ``base_url``.

    ``base_url`` should come from :func:`parse_base_url`. Raises :class:`Unreachable` if the
    server does not answer the first request.
    """
    send = _HTTPSender(base_url, timeout)
    results = [
        run_case(case, send, tag=f"check-errors.{index:03d}")
        for index, case in enumerate(cases_for("live") if cases is None else cases, start=1)
    ]
    return Report(tuple(results))


class _HTTPSender:
    """A :data:`Send` over HTTP that remembers whether the server has ever answered."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.answered = False
        # An empty ProxyHandler: only the URL the user gave is contacted, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepEveryStatus())

    def __call__(self, req: Request) -> Reply:
        request = urllib.request.Request(
            self.base_url + req.path,
            data=req.body if req.body or req.method in ("POST", "PUT", "PATCH") else None,
            headers={"User-Agent": _USER_AGENT, **dict(req.headers)},
            method=req.method,
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                reply = Reply(response.status, tuple(response.headers.items()), response.read(MAX_BODY))
        except (OSError, UnicodeError, http.client.HTTPException, http.client.InvalidURL) as exc:
            reason = _describe(exc, self.timeout)
            if not self.answered:
                raise Unreachable(f"cannot reach {self.base_url}: {reason}") from None
            raise NoResponse(reason) from exc
        self.answered = True
        return reply


class _KeepEveryStatus(urllib.request.HTTPErrorProcessor):
    """Return every response as it is: no ``HTTPError`` for a 4xx/5xx, no redirect followed."""

    def http_response(self, request: urllib.request.Request, response: http.client.HTTPResponse) -> object:
        return response

    https_response = http_response


def _describe(exc: BaseException, timeout: float) -> str:
    """One line saying why a request got no answer."""
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve the host name ({reason.strerror or reason})"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed ({reason.reason or reason})"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror[0].lower() + reason.strerror[1:]
    return str(reason) or type(reason).__name__
