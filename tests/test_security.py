"""What a hostile or unlucky request can get out of the app, and what it can put into the logs.

* No response (body or headers) carries a traceback, an exception's text or type, or a secret
  (the admin token, an API key from the environment, a password inside an exception, an
  upstream's error text), whatever error it answers.
* Log lines cannot be forged: CR, LF, ANSI escapes and Unicode line breaks in the path, the
  method, the request's fields, ``X-Request-ID`` or the user id arrive escaped, one line each.
* A hostile ``X-Request-ID`` is never echoed; a fresh id is, in the header, the body and the log.
* Debug mode and diagnostic routes are off unless explicitly enabled, and even with debug on
  (``FLASK_DEBUG=1``, the Werkzeug debugger around the app) a 500 is the generic JSON body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from flask import Flask, g, request
from werkzeug.debug import DebuggedApplication
from werkzeug.test import Client, TestResponse

from app import create_app
from src.api.contract import validate_error_response
from src.api.errors import AIServiceError, APIError, NotFoundError
from src.generators.base_generator import BaseGenerator
from src.utils.error_handlers import INTERNAL_ERROR_MESSAGE
from src.utils.retry import ai_retry, set_testing
from src.utils.wsgi_guard import JSONFallbackMiddleware
from tests.conftest import ErrorContract
from tests.fakes import Reply, anthropic_error, anthropic_message, fault_server

ADMIN_TOKEN = "adm-7c1e-very-secret-token"
ENV_API_KEY = "sk-ant-env-0123456789abcdef"
PASSWORD = "hunter2-db-password"
UPSTREAM_SECRET = "sk-ant-upstream-echo-42"
#: Nothing of these may reach a client.
FORBIDDEN = (
    ADMIN_TOKEN,
    ENV_API_KEY,
    PASSWORD,
    UPSTREAM_SECRET,
    "Traceback",
    'File "',
    ".py",
    "RuntimeError",
    "KeyError",
    "ValueError",
    "OSError",
    "ZeroDivisionError",
    "PermissionError",
    "werkzeug",
    "__debugger__",
)
_LOG_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202e]")


def assert_nothing_leaks(response: TestResponse) -> None:
    text = response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    leaked = [marker for marker in FORBIDDEN if marker in text]
    assert not leaked, f"{leaked} in {text!r}"


def raiser(exc: BaseException) -> Callable[[], Any]:
    def view() -> Any:
        raise exc

    return view


def _chained() -> Any:
    try:
        raise PermissionError(f"cannot read /etc/app/secrets ({PASSWORD})")
    except PermissionError as exc:
        raise RuntimeError("wrapped") from exc


def _sdk_error() -> Exception:
    import httpx2

    request_ = httpx2.Request("POST", "https://api.anthropic.com/v1/messages", headers={"x-api-key": ENV_API_KEY})
    response = httpx2.Response(529, headers={"retry-after": "5"}, request=request_)
    return anthropic.OverloadedError(f"upstream echoed {UPSTREAM_SECRET}", response=response, body=None)


FAULTS: dict[str, Callable[[], Any]] = {
    "runtime-error": raiser(RuntimeError(f"db password {PASSWORD} for admin {ADMIN_TOKEN}")),
    "key-error": raiser(KeyError(ENV_API_KEY)),
    "os-error": raiser(OSError(13, "Permission denied", f"/srv/{PASSWORD}.key")),
    "zero-division": lambda: 1 / 0,
    "chained": _chained,
    "ai-original-error": raiser(
        AIServiceError("The AI service failed", original_error=ValueError(f"ANTHROPIC_API_KEY={ENV_API_KEY}"))
    ),
    "ai-retry-after": raiser(
        AIServiceError("Busy", original_error=RuntimeError(UPSTREAM_SECRET), retry_after=5, status_code=503)
    ),
    "sdk-error": lambda: (_ for _ in ()).throw(_sdk_error()),
    "api-error-500": raiser(APIError("Storage failed", 500)),
    "not-found": raiser(NotFoundError("Course", "crs_1")),
    "form-key": lambda: request.form[ENV_API_KEY],
}


@pytest.fixture
def secret_app(monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_API_KEY)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = create_app({"ADMIN_TOKEN": ADMIN_TOKEN, "AI_GENERATOR": None})
    for name, view in FAULTS.items():
        app.add_url_rule(f"/fault/{name}", name, view, methods=["GET", "POST"])
    return app


# --- nothing secret in any response -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_no_fault_puts_a_trace_exception_text_or_secret_in_the_response(
    name: str, secret_app: Flask, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = secret_app.test_client().post(f"/fault/{name}", data={"other": "1"})
    assert response.status_code >= 400
    validate_error_response(response.status_code, response.headers, response.get_data(), method="POST")
    assert_nothing_leaks(response)
    if response.status_code == 500 and name != "api-error-500":
        assert response.json is not None
        assert response.json["error"] == INTERNAL_ERROR_MESSAGE
        # ...while the log keeps what the client must not see.
        assert any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/no/such/page", {}),
        ("DELETE", "/healthz", {}),
        ("DELETE", "/api/courses/crs_1", {}),
        ("DELETE", "/api/courses/crs_1", {"headers": {"Authorization": f"Bearer {ADMIN_TOKEN}x"}}),
        ("DELETE", "/api/courses/crs_1", {"headers": {"Authorization": f"Basic {ADMIN_TOKEN}"}}),
        ("POST", "/api/courses", {"data": f'{{"title": "{ENV_API_KEY}', "content_type": "application/json"}),
        ("POST", "/api/courses", {"data": b"\xff\xfe{", "content_type": "application/json"}),
        ("POST", "/api/courses", {"data": ENV_API_KEY, "content_type": "text/plain"}),
        ("POST", "/api/courses", {"data": "x" * 70_000, "content_type": "application/json"}),
        ("GET", "/static/../app.py", {}),
        ("GET", "/static/%2e%2e/src/api/errors.py", {}),
    ],
    ids=["404", "405", "401", "403", "401-basic", "400-json", "400-utf8", "415", "413", "static-1", "static-2"],
)
def test_client_errors_never_echo_secrets_or_parser_errors(
    method: str, path: str, kwargs: dict[str, Any], secret_app: Flask, contract: ErrorContract
) -> None:
    response = secret_app.test_client().open(path, method=method, **kwargs)
    assert 400 <= response.status_code < 500
    validate_error_response(response.status_code, response.headers, response.get_data(), method=method)
    assert_nothing_leaks(response)
    assert b"decode" not in response.data
    assert b"Unterminated" not in response.data


def test_an_upstream_that_echoes_the_api_key_is_not_echoed_to_the_client(
    monkeypatch: pytest.MonkeyPatch, contract: ErrorContract
) -> None:
    upstream = anthropic_error(401, "authentication_error")
    body = upstream.body.replace(b"(fake)", ENV_API_KEY.encode())
    echo = Reply(upstream.kind, upstream.status, upstream.headers, body)
    ai_retry.reset()
    with fault_server([echo]) as server, set_testing(True):
        client = anthropic.Anthropic(api_key=ENV_API_KEY, base_url=server.url)
        app = create_app({"AI_GENERATOR": BaseGenerator(client=client, timeout=2.0)})
        course = app.test_client().post("/api/courses", json={"title": "T"}).json
        assert course is not None
        response = app.test_client().post(f"/api/courses/{course['id']}/summary")
    ai_retry.reset()
    contract.check(response, 502)
    assert_nothing_leaks(response)


# --- log injection ----------------------------------------------------------------------------

_HOSTILE = "x\r\nERROR forged line \x1b[31mred\x1b[0m \u2028 \x85 \u202e"
#: The same as a WSGI environ holds it (bytes decoded as latin-1), for headers and the path.
_HOSTILE_WSGI = _HOSTILE.encode("utf-8").decode("latin-1")


def _assert_one_escaped_line(record: logging.LogRecord) -> None:
    message = record.getMessage()
    assert not _LOG_UNSAFE.search(message), repr(message)
    for key in ("http_method", "http_path", "endpoint", "request_id", "user_id", "error_type"):
        value = record.__dict__.get(key)
        assert value is None or not _LOG_UNSAFE.search(str(value)), (key, value)
    # Rendered by a stock formatter, the line before any traceback is the whole message.
    first_line = logging.Formatter("%(levelname)s %(message)s").format(record).split("\n")[0]
    assert first_line.endswith(message)


@pytest.fixture
def injection_app() -> Flask:
    app = create_app({"TESTING": True})

    def as_user(rest: str) -> Any:
        g.user_id = request.headers.get("X-User", "").encode("latin-1").decode("utf-8")
        raise RuntimeError("boom")

    app.add_url_rule("/user/<path:rest>", "as_user", as_user)
    return app


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "where"),
    [
        ("GET", "/nope", {"environ_overrides": {"PATH_INFO": f"/nope/{_HOSTILE_WSGI}"}}, 404, "path"),
        ("GET", "/api/courses/crs%0D%0AERROR%20forged%1B%5B2J", {}, 404, "resource id"),
        ("GET", "/healthz", {"environ_overrides": {"REQUEST_METHOD": f"DELETE{_HOSTILE}"}}, 405, "method"),
        (
            "POST",
            "/api/courses",
            {"data": b'{"ti\\r\\ntle\\u001b[2J": 1}', "content_type": "application/json"},
            400,
            "field",
        ),
        ("GET", "/user/x", {"environ_overrides": {"HTTP_X_USER": _HOSTILE_WSGI}}, 500, "user id"),
        ("GET", "/nope", {"environ_overrides": {"HTTP_X_REQUEST_ID": _HOSTILE_WSGI}}, 404, "request id"),
        (
            "DELETE",
            "/api/courses/crs_1",
            {
                "environ_overrides": {
                    f"HTTP_{name}": _HOSTILE_WSGI
                    for name in ("USER_AGENT", "REFERER", "X_FORWARDED_FOR", "AUTHORIZATION", "COOKIE")
                }
            },
            403,
            "other headers",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)
def test_a_log_injection_attempt_is_one_escaped_line(
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    where: str,
    injection_app: Flask,
    contract: ErrorContract,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="src.utils.error_logging")
    response = injection_app.test_client().open(path, method=method, **kwargs)
    contract.check(response, status)
    records = [record for record in caplog.records if record.name == "src.utils.error_logging"]
    assert len(records) == 1
    _assert_one_escaped_line(records[0])
    if where in ("path", "user id"):
        assert "\\x0d\\x0aERROR forged line \\x1b[31mred\\x1b[0m \\u2028 \\x85 \\u202e" in records[0].getMessage()
    if where == "method":
        assert "DELETEX\\x0d\\x0aERROR FORGED LINE" in records[0].getMessage()
    if where == "resource id":
        assert "crs\\x0d\\x0aERROR forged\\x1b[2J" in records[0].getMessage()


def test_an_upstream_error_body_cannot_forge_retry_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="src.utils.retry")
    fault = Reply("status", 503, {"Content-Type": "text/plain"}, f"busy{_HOSTILE}".encode())
    ai_retry.reset()
    with fault_server([fault, anthropic_message()]) as server, set_testing(True):
        generator = BaseGenerator(client=anthropic.Anthropic(api_key="sk-test", base_url=server.url), timeout=2.0)
        assert generator.generate("hi") == "Hello from the fake API"
    ai_retry.reset()
    [record] = [record for record in caplog.records if record.name == "src.utils.retry"]
    assert not _LOG_UNSAFE.search(record.getMessage()), repr(record.getMessage())


# --- hostile X-Request-ID ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id",
    [
        "x" * 65,
        "y" * 10_000,
        "a\r\nSet-Cookie: session=evil",
        "\x1b[31mred\x1b[0m",
        "ünïcödé",
        '"quoted"',
        "it's",
        "two words",
        "tab\there",
        "nul\x00byte",
        "a,b",
        "",
    ],
    ids=["65-chars", "10k-chars", "crlf", "ansi", "unicode", "quotes", "apostrophe", "space", "tab", "nul",
         "comma", "empty"],
)  # fmt: skip
def test_a_hostile_request_id_is_replaced_everywhere(
    request_id: str, injection_app: Flask, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.utils.error_logging")
    response = injection_app.test_client().get("/nope", environ_overrides={"HTTP_X_REQUEST_ID": request_id})
    body = contract.check(response, 404)
    generated = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert body["request_id"] == generated
    assert response.headers.getlist("X-Request-ID") == [generated]
    assert "Set-Cookie" not in response.headers
    [record] = [record for record in caplog.records if record.name == "src.utils.error_logging"]
    assert record.__dict__["request_id"] == generated
    assert f"request_id={generated}" in record.getMessage()


def test_a_hostile_request_id_is_replaced_on_success_too(injection_app: Flask) -> None:
    response = injection_app.test_client().get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": "a b"})
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# --- debug mode and diagnostic routes ---------------------------------------------------------

_ROUTES = {
    "/healthz",
    "/api/courses",
    "/api/courses/<course_id>",
    "/api/courses/<course_id>/summary",
    "/static/<path:filename>",
}


def test_create_app_without_config_has_debug_off_and_no_diagnostic_routes(
    monkeypatch: pytest.MonkeyPatch, contract: ErrorContract
) -> None:
    for name in ("FLASK_DEBUG", "FLASK_PROPAGATE_EXCEPTIONS", "FLASK_TESTING"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.debug is False
    assert app.testing is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert {rule.rule for rule in app.url_map.iter_rules()} == _ROUTES
    assert isinstance(app.wsgi_app, JSONFallbackMiddleware)
    client = app.test_client()
    for path in ("/debug", "/console", "/__debugger__", "/?__debugger__=yes&cmd=resource&f=debugger.js", "/admin"):
        response = client.get(path)
        contract.check(response, 404)
        assert_nothing_leaks(response)


def test_flask_debug_in_the_environment_turns_debug_on_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app()
    assert app.debug
    # Debug mode does not make exceptions escape the contract unless PROPAGATE_EXCEPTIONS says so.
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


@pytest.mark.parametrize("wrap_in_debugger", [False, True], ids=["debug-mode", "werkzeug-debugger"])
def test_a_500_stays_generic_json_even_in_debug_mode(
    wrap_in_debugger: bool, monkeypatch: pytest.MonkeyPatch, contract: ErrorContract
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app()
    app.add_url_rule("/boom", "boom", raiser(RuntimeError(f"db password {PASSWORD}")))
    # `flask run --debug` wraps the app in Werkzeug's debugger; it only shows pages for exceptions
    # that escape the app, and with PROPAGATE_EXCEPTIONS off none does.
    wsgi = DebuggedApplication(app, evalex=True) if wrap_in_debugger else app
    response = Client(wsgi).get("/boom")
    contract.check(response, 500)
    assert response.json == {
        "error": INTERNAL_ERROR_MESSAGE,
        "code": 500,
        "request_id": response.headers["X-Request-ID"],
    }
    assert_nothing_leaks(response)
