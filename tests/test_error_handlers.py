"""The error handlers: every failure a Flask app can meet comes out in the JSON error contract."""

from __future__ import annotations

import io
import logging
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import Flask, Response, abort, g, request
from werkzeug.datastructures import Headers, WWWAuthenticate
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    default_exceptions,
)
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wsgi import FileWrapper

from app import create_app
from src.api.errors import AIServiceError, APIError, NotFoundError, RateLimitError, ValidationError
from src.utils import error_handlers
from src.utils.error_handlers import (
    AI_SERVICE_ERROR_MESSAGE,
    INTERNAL_ERROR_MESSAGE,
    ContractFlask,
    register_error_handlers,
)
from src.utils.wsgi_guard import FALLBACK_BODY, JSONFallbackMiddleware
from tests.conftest import ErrorContract

LOGGER = "src.utils.error_logging"
ERROR_CODES = sorted(code for code in default_exceptions if code >= 400)
FALLBACK = {"error": "Internal Server Error", "code": 500}


def make_app(config: dict[str, Any] | None = None, **views: Callable[..., Any]) -> Flask:
    """create_app() plus one GET route ``/<name>`` per keyword, whose endpoint is ``name``."""
    app = create_app({"TESTING": True, **(config or {})})
    for name, view in views.items():
        app.add_url_rule(f"/{name}", name, view, methods=["GET", "POST"])
    return app


def get(app: Flask, path: str, **kwargs: Any) -> TestResponse:
    return app.test_client().get(path, **kwargs)


def raiser(exc: BaseException) -> Callable[[], Any]:
    def view() -> Any:
        raise exc

    return view


def records(caplog: pytest.LogCaptureFixture, level: int | None = None) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and (level is None or r.levelno == level)]


@pytest.fixture(autouse=True)
def _capture_error_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")


# --- unexpected exceptions --------------------------------------------------------------------


def test_unexpected_exception_returns_500(contract: ErrorContract) -> None:
    app = make_app(boom=raiser(RuntimeError("db password is hunter2")))
    response = get(app, "/boom")
    body = contract.check(response, 500)
    assert body == {"error": INTERNAL_ERROR_MESSAGE, "code": 500, "request_id": response.headers["X-Request-ID"]}
    for secret in (b"hunter2", b"RuntimeError", b"Traceback", b"boom"):
        assert secret not in response.data


def test_exception_logging_includes_context(contract: ErrorContract, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> Any:
        g.user_id = "user-42"
        raise RuntimeError("db password is hunter2")

    response = get(make_app(boom=boom), "/boom", headers={"X-Request-ID": "req-abc.1"})
    contract.check(response, 500)
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    message = record.getMessage()
    for part in ("500 RuntimeError", "GET /boom", "endpoint=boom", "request_id=req-abc.1", "user_id=user-42"):
        assert part in message
    assert record.__dict__["http_method"] == "GET"
    assert record.__dict__["http_path"] == "/boom"
    assert record.__dict__["endpoint"] == "boom"
    assert record.__dict__["request_id"] == "req-abc.1"
    assert record.__dict__["user_id"] == "user-42"
    assert record.__dict__["status_code"] == 500


def test_exception_whose_str_raises_still_gives_json_500(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    response = get(make_app(boom=raiser(_Unprintable())), "/boom")
    assert contract.check(response, 500)["error"] == INTERNAL_ERROR_MESSAGE
    [record] = records(caplog, logging.ERROR)
    assert "unprintable _Unprintable" in record.getMessage()


@pytest.mark.parametrize("config", [{"TESTING": True}, {"DEBUG": True}, {"TESTING": True, "DEBUG": True}])
def test_testing_and_debug_mode_keep_the_contract(config: dict[str, Any], contract: ErrorContract) -> None:
    app = make_app(config, boom=raiser(KeyError("x")))
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    contract.check(get(app, "/boom"), 500)
    app.testing = True
    app.debug = True
    contract.check(get(app, "/boom"), 500)


def test_bad_request_key_error_in_debug_mode_is_json_400(contract: ErrorContract) -> None:
    app = make_app({"DEBUG": True}, form=lambda: request.form["missing"])
    contract.check(app.test_client().post("/form", data={"other": "1"}), 400)


# --- APIError family --------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "header"), [(1.2, "2"), (0.2, "1"), (60, "60"), (0, "0"), (-3, "0")])
def test_rate_limit_error_includes_retry_after(given: float, header: str, contract: ErrorContract) -> None:
    response = get(make_app(limited=raiser(RateLimitError("Slow down", retry_after=given))), "/limited")
    body = contract.check(response, 429)
    assert response.headers["Retry-After"] == header
    assert body == {
        "error": "Slow down",
        "code": 429,
        "retry_after": int(header),
        "request_id": response.headers["X-Request-ID"],
    }


def test_rate_limit_error_header_is_fixed_even_if_retry_after_is_tampered_with(contract: ErrorContract) -> None:
    error = RateLimitError("Slow down")
    error.retry_after = -2.5  # type: ignore[assignment]
    response = get(make_app(limited=raiser(error)), "/limited")
    contract.check(response, 429)
    assert response.headers["Retry-After"] == "0"


def test_ai_service_error_returns_502(contract: ErrorContract, caplog: pytest.LogCaptureFixture) -> None:
    upstream = ConnectionError("api.anthropic.com refused key sk-ant-secret")
    app = make_app(summary=raiser(AIServiceError("The AI service is unavailable", original_error=upstream)))
    response = get(app, "/summary")
    body = contract.check(response, 502)
    assert body == {
        "error": "The AI service is unavailable",
        "code": 502,
        "request_id": response.headers["X-Request-ID"],
    }
    assert "Retry-After" not in response.headers
    assert b"sk-ant-secret" not in response.data
    assert b"ConnectionError" not in response.data
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "502 AIServiceError" in record.getMessage()
    assert "ConnectionError" in record.getMessage()


def test_ai_service_error_carries_retry_after_and_status_override(contract: ErrorContract) -> None:
    error = AIServiceError("Circuit open", original_error=TimeoutError(), retry_after=4.2, status_code=503)
    response = get(make_app(summary=raiser(error)), "/summary")
    body = contract.check(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert body["retry_after"] == 5
    assert body["error"] == "Circuit open"


@pytest.mark.parametrize(
    ("error", "status", "fields"),
    [
        (ValidationError("title is required", field="title"), 400, {"field": "title"}),
        (NotFoundError("Course", "crs_123"), 404, {"resource_type": "Course", "resource_id": "crs_123"}),
        (APIError("Already exists", 409, {"course_id": "crs_1"}), 409, {"course_id": "crs_1"}),
    ],
    ids=["validation", "not-found", "conflict"],
)
def test_api_errors_answer_their_own_body(
    error: APIError, status: int, fields: dict[str, Any], contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    response = get(make_app(fail=raiser(error)), "/fail")
    body = contract.check(response, status)
    assert body == {"error": error.message, "code": status, **fields, "request_id": response.headers["X-Request-ID"]}
    [record] = records(caplog)
    assert record.levelno == logging.INFO
    assert record.exc_info is None


@pytest.mark.parametrize(
    "payload",
    [
        {"value": float("nan")},
        {"value": float("inf")},
        {"value": b"\xff\x00bytes"},
        {"value": {1, 2, 3}},
        {"value": frozenset({"a"})},
        {"value": __import__("datetime").datetime(2024, 1, 1)},
        {1: "int key", "1": "str key", None: "none", 2.5: "float"},
        {"value": object()},
        {"value": _Unprintable()},
        {"value": 2**80},
        {"value": "lone \ud800 surrogate \U0010fffe"},
        {"value": [[[[["deep"]]]]]},
        {"error": "forged", "code": 200, "request_id": "forged", "retry_after": -1},
    ],
    ids=lambda payload: type(next(iter(payload.values()))).__name__,
)
def test_hostile_payload_gives_strict_json(payload: dict[Any, Any], contract: ErrorContract) -> None:
    response = get(make_app(fail=raiser(APIError("Hostile", 422, payload))), "/fail")
    body = contract.check(response, 422)
    assert body["error"] == "Hostile"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "retry_after" not in body


def test_message_with_control_characters_and_lone_surrogates_gives_strict_json(contract: ErrorContract) -> None:
    error = ValidationError("bad\r\nvalue\x00 \ud800", field="ti\udfffle")
    body = contract.check(get(make_app(fail=raiser(error)), "/fail"), 400)
    assert body["error"] == "bad\r\nvalue\x00 \ufffd"
    assert body["field"] == "ti\ufffdle"


# --- Werkzeug's HTTP exceptions ---------------------------------------------------------------


@pytest.mark.parametrize("code", ERROR_CODES)
def test_werkzeug_exception_converted_to_json(
    code: int, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    response = get(make_app(fail=lambda: abort(code)), "/fail")
    body = contract.check(response, code)
    assert body == {
        "error": default_exceptions[code].description,
        "code": code,
        "request_id": response.headers["X-Request-ID"],
    }
    [record] = records(caplog)
    if code >= 500:
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None
    else:
        assert record.levelno == logging.INFO
        assert record.exc_info is None


@pytest.mark.parametrize(
    ("exc", "header", "value"),
    [
        (MethodNotAllowed(["GET", "POST"]), "Allow", "GET, POST"),
        (
            Unauthorized(www_authenticate=WWWAuthenticate("bearer", {"realm": "api"})),
            "WWW-Authenticate",
            "Bearer realm=api",
        ),
        (TooManyRequests(retry_after=30), "Retry-After", "30"),
        (ServiceUnavailable(retry_after=120), "Retry-After", "120"),
    ],
    ids=["405-allow", "401-www-authenticate", "429-retry-after", "503-retry-after"],
)
def test_werkzeug_exception_keeps_its_headers(
    exc: HTTPException, header: str, value: str, contract: ErrorContract
) -> None:
    response = get(make_app(fail=raiser(exc)), "/fail")
    contract.check(response, exc.code or 0)
    assert response.headers[header] == value


def test_abort_with_a_custom_description_sends_it(contract: ErrorContract) -> None:
    body = contract.check(get(make_app(fail=lambda: abort(409, "Course title taken")), "/fail"), 409)
    assert body["error"] == "Course title taken"


@pytest.mark.parametrize("description", ["   ", "\t\r\n", "\x00\x7f", " \u2028 "])
def test_a_blank_description_gives_the_reason_phrase(description: str, contract: ErrorContract) -> None:
    body = contract.check(get(make_app(fail=lambda: abort(409, description)), "/fail"), 409)
    assert body["error"] == "Conflict"


class _ExtraHeaders(NotFound):
    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), ("X-From-Get-Headers", "1")]


class _ExtraResponseHeader(NotFound):
    def get_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().get_response(*args, **kwargs)
        response.headers["X-From-Get-Response"] = "1"
        return response


@pytest.mark.parametrize(
    ("exc", "header"),
    [(_ExtraHeaders(), "X-From-Get-Headers"), (_ExtraResponseHeader(), "X-From-Get-Response")],
    ids=["get_headers", "get_response"],
)
def test_an_http_exceptions_own_headers_survive_whichever_method_it_overrides(
    exc: HTTPException, header: str, contract: ErrorContract
) -> None:
    response = get(make_app(fail=raiser(exc)), "/fail")
    contract.check(response, 404)
    assert response.headers[header] == "1"
    assert response.headers.getlist("Content-Type") == ["application/json"]


def test_wrong_method_gives_405_with_allow(client: Any, contract: ErrorContract) -> None:
    response = client.delete("/healthz")
    contract.check(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_unknown_route_gives_json_404(client: Any, contract: ErrorContract) -> None:
    body = contract.check(client.get("/no/such/page"), 404)
    assert body["error"] == NotFound.description


def test_codeless_http_exception_becomes_json_500(contract: ErrorContract, caplog: pytest.LogCaptureFixture) -> None:
    response = get(make_app(fail=raiser(HTTPException("proxy exception"))), "/fail")
    assert contract.check(response, 500)["error"] == INTERNAL_ERROR_MESSAGE
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def test_abort_with_a_response_passes_through_unchanged() -> None:
    ready = Response("<p>teapot</p>", status=418, content_type="text/html", headers={"X-Custom": "1"})
    response = get(make_app(fail=lambda: abort(ready)), "/fail")
    assert response.status_code == 418
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["X-Custom"] == "1"
    assert response.data == b"<p>teapot</p>"
    assert response.headers["X-Request-ID"]


def test_http_exception_with_a_ready_response_passes_through_unchanged() -> None:
    ready = Response("gone elsewhere", status=404, content_type="text/plain")
    response = get(make_app(fail=raiser(NotFound(response=ready))), "/fail")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == b"gone elsewhere"


def test_trailing_slash_redirect_stays_a_redirect() -> None:
    app = make_app()
    app.add_url_rule("/things/", "things", lambda: "things")
    response = get(app, "/things")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/things/")
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["X-Request-ID"]
    assert b"Redirecting" in response.data


@pytest.mark.parametrize(
    ("path", "status", "header"),
    [
        ("/nope", 404, None),
        ("/limited", 429, "Retry-After"),
        ("/boom", 500, None),
        ("/api/courses/crs_x/summary", 405, "Allow"),
    ],
)
def test_head_request_gets_status_and_headers_with_empty_body(
    path: str, status: int, header: str | None, contract: ErrorContract
) -> None:
    app = make_app(limited=raiser(RateLimitError("Slow down", retry_after=3)), boom=raiser(RuntimeError()))
    response = app.test_client().head(path)
    contract.check(response, status)
    assert response.data == b""
    # Werkzeug drops the body of a HEAD response but keeps the headers of the GET answer.
    assert int(response.headers["Content-Length"]) > 0
    if header is not None:
        assert response.headers[header]


# --- Anthropic SDK exceptions -----------------------------------------------------------------


def _anthropic_status_error(status: int, headers: dict[str, str]) -> Exception:
    import anthropic
    import httpx2

    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    response = httpx2.Response(status, headers=headers, request=request)
    error_class = {429: anthropic.RateLimitError, 529: anthropic.OverloadedError}.get(status, anthropic.APIStatusError)
    return error_class(f"upstream said no to sk-ant-secret ({status})", response=response, body=None)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"retry-after": "7"}, "7"),
        (529, {"retry-after-ms": "2500"}, "3"),
        (500, {"retry-after": "9"}, None),
        (429, {}, None),
    ],
)
def test_anthropic_error_escaping_a_view_becomes_ai_service_error(
    status: int,
    headers: dict[str, str],
    retry_after: str | None,
    contract: ErrorContract,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = get(make_app(summary=raiser(_anthropic_status_error(status, headers))), "/summary")
    body = contract.check(response, 502)
    assert body["error"] == AI_SERVICE_ERROR_MESSAGE
    assert response.headers.get("Retry-After") == retry_after
    assert b"sk-ant-secret" not in response.data
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert "502 AIServiceError from" in record.getMessage()


def test_anthropic_connection_error_becomes_ai_service_error(contract: ErrorContract) -> None:
    import anthropic
    import httpx2

    error = anthropic.APIConnectionError(request=httpx2.Request("POST", "https://api.anthropic.com/v1/messages"))
    response = get(make_app(summary=raiser(error)), "/summary")
    assert contract.check(response, 502)["error"] == AI_SERVICE_ERROR_MESSAGE
    assert "Retry-After" not in response.headers


def test_anthropic_errors_are_recognised_through_sys_modules(
    monkeypatch: pytest.MonkeyPatch, contract: ErrorContract
) -> None:
    fake = types.ModuleType("anthropic")

    class AnthropicError(Exception):
        pass

    fake.AnthropicError = AnthropicError  # type: ignore[attr-defined]
    fake.APIStatusError = type("APIStatusError", (AnthropicError,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "anthropic", fake)
    app = make_app(sdk=raiser(AnthropicError("sdk failure")), other=raiser(ValueError("not the sdk")))
    assert contract.check(get(app, "/sdk"), 502)["error"] == AI_SERVICE_ERROR_MESSAGE
    assert contract.check(get(app, "/other"), 500)["error"] == INTERNAL_ERROR_MESSAGE


def test_handling_errors_never_imports_anthropic(monkeypatch: pytest.MonkeyPatch, contract: ErrorContract) -> None:
    monkeypatch.delitem(sys.modules, "anthropic", raising=False)
    app = make_app(boom=raiser(RuntimeError("x")), limited=raiser(RateLimitError("slow")))
    contract.check(get(app, "/boom"), 500)
    contract.check(get(app, "/limited"), 429)
    assert "anthropic" not in sys.modules


# --- the handlers never fail ------------------------------------------------------------------


class _BrokenToDict(APIError):
    def to_dict(self) -> Any:
        raise RuntimeError("to_dict exploded")


class _MistypedToDict(APIError):
    def to_dict(self) -> Any:
        return {
            "error": ["not", "a", "string"],
            "code": "418",
            "field": 12,
            "resource_type": "Course",
            "retry_after": -4,
            "request_id": "forged",
            "hint": "kept",
        }


def test_mistyped_to_dict_still_gives_a_contract_body(contract: ErrorContract) -> None:
    response = get(make_app(fail=raiser(_MistypedToDict("x", 418))), "/fail")
    body = contract.check(response, 418)
    assert body == {
        "error": "I'm a teapot",
        "code": 418,
        "hint": "kept",
        "request_id": response.headers["X-Request-ID"],
    }


def _assert_fallback(response: TestResponse) -> None:
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"]
    assert response.data == FALLBACK_BODY


def test_fallback_body_honours_the_contract(contract: ErrorContract) -> None:
    from tests.conftest import strict_json

    body = strict_json(FALLBACK_BODY)
    contract.validate_body(body)
    assert body == FALLBACK


def test_broken_to_dict_gives_the_fallback_500(caplog: pytest.LogCaptureFixture) -> None:
    _assert_fallback(get(make_app(fail=raiser(_BrokenToDict("x", 400))), "/fail"))
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert "error handler failure" in record.getMessage()


@pytest.mark.parametrize(
    "exc",
    [ValidationError("bad", field="x"), BadRequest(), RuntimeError("boom")],
    ids=["api-error", "http-exception", "unexpected"],
)
def test_encoder_failure_gives_the_fallback_500(exc: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_dumps(value: object) -> bytes:
        raise TypeError("encoder exploded")

    monkeypatch.setattr(error_handlers, "dumps_ijson", broken_dumps)
    _assert_fallback(get(make_app(fail=raiser(exc)), "/fail"))


def test_logging_that_raises_does_not_change_the_response(
    contract: ErrorContract, capsys: pytest.CaptureFixture[str]
) -> None:
    class ExplodingFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            raise RuntimeError("log filter exploded")

    logger = logging.getLogger(LOGGER)
    exploding = ExplodingFilter()
    logger.addFilter(exploding)
    try:
        app = make_app(boom=raiser(RuntimeError("x")), fail=raiser(NotFoundError("Course", "c1")))
        assert contract.check(get(app, "/boom"), 500)["error"] == INTERNAL_ERROR_MESSAGE
        assert contract.check(get(app, "/fail"), 404)["error"] == "Course c1 not found"
    finally:
        logger.removeFilter(exploding)
    assert "failed to log a request error" in capsys.readouterr().err


@pytest.mark.parametrize("app_class", [ContractFlask, Flask])
def test_after_request_error_gives_json_500_logged_once(
    app_class: type[Flask], contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_class(__name__)
    register_error_handlers(app)
    app.add_url_rule("/ok", "ok", lambda: {"ok": True})
    failures: list[int] = []

    @app.after_request
    def fail_once(response: Response) -> Response:
        if not failures:
            failures.append(1)
            raise RuntimeError("after_request exploded")
        return response

    caplog.set_level(logging.INFO)
    response = app.test_client().get("/ok", headers={"X-Request-ID": "after-1"})
    body = contract.check(response, 500)
    assert body == {"error": INTERNAL_ERROR_MESSAGE, "code": 500, "request_id": "after-1"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is RuntimeError
    if app_class is ContractFlask:
        assert errors[0].name == LOGGER
        assert "request_id=after-1" in errors[0].getMessage()


def test_after_request_error_on_every_response_still_gives_json_500(contract: ErrorContract) -> None:
    app = make_app()

    @app.after_request
    def always_fail(response: Response) -> Response:
        raise RuntimeError("after_request exploded")

    contract.check(app.test_client().get("/healthz"), 500)


def test_a_hook_that_changes_the_500_and_fails_again_leaves_it_as_built_and_logs_once(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    @app.after_request
    def tamper_then_fail(response: Response) -> Response:
        response.status_code = 200
        response.set_data(b"<p>tampered</p>")
        response.headers["X-Tampered"] = "yes"
        raise RuntimeError("after_request exploded")

    response = app.test_client().get("/healthz", headers={"X-Request-ID": "tamper-1"})
    body = contract.check(response, 500)
    assert body == {"error": INTERNAL_ERROR_MESSAGE, "code": 500, "request_id": "tamper-1"}
    assert "X-Tampered" not in response.headers
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in errors] == [LOGGER]


def test_after_request_returning_nothing_gives_the_fallback_500(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()

    @app.after_request
    def lose_response(response: Response) -> Any:
        return None

    response = app.test_client().get("/healthz", headers={"X-Request-ID": "lost-1"})
    _assert_fallback(response)
    assert response.headers["X-Request-ID"] == "lost-1"
    assert len(records(caplog, logging.ERROR)) >= 1


def test_view_returning_an_invalid_value_gives_json_500(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    response = get(make_app(nothing=lambda: None), "/nothing")
    assert contract.check(response, 500)["error"] == INTERNAL_ERROR_MESSAGE
    [record] = records(caplog, logging.ERROR)
    assert record.exc_info is not None
    assert record.exc_info[0] is TypeError


def test_explicit_propagate_exceptions_is_respected() -> None:
    app = make_app({"PROPAGATE_EXCEPTIONS": True})

    @app.after_request
    def always_fail(response: Response) -> Response:
        raise RuntimeError("after_request exploded")

    with pytest.raises(RuntimeError, match="after_request exploded"):
        app.test_client().get("/healthz")


class _Server:
    """A PEP 3333 server's ``start_response``: headers are sent when the first body chunk is."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert exc_info is not None or not self.calls, "a second call needs exc_info"
        self.calls.append((status, headers))
        return lambda data: None

    def run(self, app: Flask, path: str, method: str = "GET", **kwargs: Any) -> tuple[str, dict[str, str], bytes]:
        environ = EnvironBuilder(path=path, method=method, **kwargs).get_environ()
        chunks: Iterable[bytes] = app.wsgi_app(environ, self.start_response)
        body = b"".join(chunks)
        status, headers = self.calls[-1]
        return status, dict(headers), body


class _AppendingServer:
    """A server whose ``start_response`` behaves like gunicorn 27's, run the way gunicorn runs an app.

    A second call with ``exc_info`` re-raises once headers are sent and otherwise *appends* its
    headers to the first call's (gunicorn's ``Response.start_response``); a second call without
    ``exc_info`` is an error. Headers go out with the first body write. ``progress`` is read at
    each event, so a test can tell how far the app's body had got when headers and chunks went out.
    """

    def __init__(self, progress: Callable[[], object] = lambda: None) -> None:
        self.progress = progress
        self.calls: list[tuple[str, list[tuple[str, str]], bool]] = []
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.headers_sent = False
        self.writes: list[bytes] = []
        self.events: list[tuple[str, object]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.calls.append((status, list(headers), exc_info is not None))
        self.events.append(("start_response", self.progress()))
        if exc_info is not None:
            if self.headers_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise AssertionError("Response headers already set!")
        self.status = status
        self.headers.extend(headers)
        return self.write

    def write(self, data: bytes) -> None:
        assert self.status is not None, "body written before start_response"
        self.headers_sent = True
        self.writes.append(data)
        self.events.append(("write", self.progress()))

    def serve(self, app: Callable[..., Iterable[bytes]], path: str, method: str = "GET", **kwargs: Any) -> bytes:
        """Run ``app`` for one request as gunicorn's sync worker does; return the body bytes sent."""
        environ = EnvironBuilder(path=path, method=method, **kwargs).get_environ()
        body = app(environ, self.start_response)
        try:
            for chunk in body:
                self.write(chunk)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return b"".join(self.writes)

    def header_names(self) -> list[str]:
        return [name.lower() for name, _ in self.headers]


def test_teardown_error_gives_the_fallback_500(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()

    @app.teardown_request
    def fail(exc: BaseException | None) -> None:
        raise RuntimeError("teardown exploded")

    server = _Server()
    status, headers, body = server.run(app, "/healthz", headers={"X-Request-ID": "tear-1"})
    assert status.startswith("500")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"] == "tear-1"
    assert body == FALLBACK_BODY
    # Flask's 200 was held back by the guard, so the server only ever hears of the fallback.
    assert len(server.calls) == 1
    [record] = records(caplog, logging.ERROR)
    assert "request_id=tear-1" in record.getMessage()


def test_teardown_error_on_a_server_that_appends_headers_sends_each_header_once(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    @app.teardown_request
    def fail(exc: BaseException | None) -> None:
        raise RuntimeError("teardown exploded")

    server = _AppendingServer()
    body = server.serve(app.wsgi_app, "/healthz", headers={"X-Request-ID": "tear-2"})
    assert [(status, with_exc_info) for status, _, with_exc_info in server.calls] == [
        ("500 INTERNAL SERVER ERROR", False)
    ]
    assert sorted(server.header_names()) == ["content-length", "content-type", "x-request-id"]
    assert body == FALLBACK_BODY
    contract.check_parts(500, Headers(server.headers), body, 500)
    assert len(records(caplog, logging.ERROR)) == 1


def _divide_by_zero(exc: BaseException | None) -> None:
    raise ZeroDivisionError("teardown exploded")


def test_teardown_error_for_head_gives_an_empty_fallback() -> None:
    app = make_app()
    app.teardown_request(_divide_by_zero)
    status, headers, body = _Server().run(app, "/healthz", method="HEAD")
    assert status.startswith("500")
    assert headers["Content-Length"] == str(len(FALLBACK_BODY))
    assert body == b""


def _streaming_app(parts: Iterable[bytes | Exception]) -> tuple[Flask, list[bytes], list[str]]:
    """An app whose ``/stream`` yields ``parts`` one by one (raising the exceptions among them).

    Returns the app, the chunks the body has produced so far, and a list that records ``closed``.
    """
    produced: list[bytes] = []
    closed: list[str] = []

    def generate() -> Iterator[bytes]:
        for part in parts:
            if isinstance(part, Exception):
                raise part
            produced.append(part)
            yield part

    def stream() -> Response:
        response = Response(generate(), mimetype="text/plain")
        response.call_on_close(lambda: closed.append("closed"))
        return response

    return make_app(stream=stream), produced, closed


def test_a_streamed_body_goes_out_chunk_by_chunk() -> None:
    app, produced, closed = _streaming_app([b"one,", b"two,", b"three"])
    server = _AppendingServer(progress=lambda: len(produced))
    assert server.serve(app.wsgi_app, "/stream") == b"one,two,three"
    # The headers go out with the first chunk, and each chunk as soon as it is produced.
    assert server.events == [("start_response", 1), ("write", 1), ("write", 2), ("write", 3)]
    assert server.status == "200 OK"
    assert closed == ["closed"]


@pytest.mark.parametrize(
    "parts",
    [[RuntimeError("stream exploded")], [b"", RuntimeError("stream exploded")]],
    ids=["at-once", "after-an-empty-chunk"],
)
def test_a_body_that_fails_before_its_first_bytes_gives_the_fallback_500(
    parts: list[bytes | Exception], contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app, _, closed = _streaming_app(parts)
    server = _AppendingServer()
    body = server.serve(app.wsgi_app, "/stream", headers={"X-Request-ID": "stream-1"})
    assert [status for status, _, _ in server.calls] == ["500 INTERNAL SERVER ERROR"]
    contract.check_parts(500, Headers(server.headers), body, 500)
    assert body == FALLBACK_BODY
    assert closed == ["closed"]
    [record] = records(caplog, logging.ERROR)
    assert "request_id=stream-1" in record.getMessage()


def test_a_body_that_fails_after_its_first_bytes_is_logged_and_aborted(caplog: pytest.LogCaptureFixture) -> None:
    app, _, closed = _streaming_app([b"partial", RuntimeError("stream exploded")])
    server = _AppendingServer()
    # Nothing can replace a response that has started: the server gets the exception and drops the connection.
    with pytest.raises(RuntimeError, match="stream exploded"):
        server.serve(app.wsgi_app, "/stream")
    assert [status for status, _, _ in server.calls] == ["200 OK"]
    assert server.writes == [b"partial"]
    assert closed == ["closed"]
    [record] = records(caplog, logging.ERROR)
    assert "failure after the response started" in record.getMessage()


def test_a_write_call_starts_the_response_at_once() -> None:
    def legacy_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"returned"]

    server = _AppendingServer()
    assert server.serve(JSONFallbackMiddleware(legacy_app), "/") == b"written;returned"
    assert [event for event, _ in server.events] == ["start_response", "write", "write"]


def test_guard_reraises_when_the_app_has_already_written(caplog: pytest.LogCaptureFixture) -> None:
    def legacy_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])(b"written;")
        raise ZeroDivisionError("after a write")

    server = _AppendingServer()
    with pytest.raises(ZeroDivisionError):
        server.serve(JSONFallbackMiddleware(legacy_app), "/")
    assert len(server.calls) == 1
    assert server.writes == [b"written;"]
    assert len(records(caplog, logging.ERROR)) == 1


def test_a_servers_file_wrapper_is_passed_through_for_sendfile() -> None:
    def file_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file contents"))

    server = _AppendingServer()
    environ = EnvironBuilder(path="/", environ_overrides={"wsgi.file_wrapper": FileWrapper}).get_environ()
    # gunicorn sends a body of its own file wrapper type with sendfile, so it must arrive unwrapped.
    body = JSONFallbackMiddleware(file_app)(environ, server.start_response)
    assert isinstance(body, FileWrapper)
    assert len(server.calls) == 1
    assert b"".join(body) == b"file contents"


def test_headers_replaced_with_exc_info_before_the_body_reach_the_server_once() -> None:
    def changing_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        try:
            raise ValueError("changed its mind")
        except ValueError:
            start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/json")], sys.exc_info())
        return [b"{}"]

    server = _AppendingServer()
    assert server.serve(JSONFallbackMiddleware(changing_app), "/") == b"{}"
    assert [(status, with_exc_info) for status, _, with_exc_info in server.calls] == [
        ("503 SERVICE UNAVAILABLE", False)
    ]
    assert server.headers == [("Content-Type", "application/json")]


def test_register_error_handlers_is_idempotent(contract: ErrorContract, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(boom=raiser(RuntimeError("x")))
    guard = app.wsgi_app
    register_error_handlers(app)
    assert app.wsgi_app is guard
    assert isinstance(guard, JSONFallbackMiddleware)
    assert not isinstance(guard.wsgi_app, JSONFallbackMiddleware)
    contract.check(get(app, "/boom"), 500)
    assert len(records(caplog)) == 1


# --- logging ----------------------------------------------------------------------------------


def test_client_errors_are_logged_without_traceback(
    client: Any, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    contract.check(client.get("/nope"), 404)
    contract.check(client.get("/api/courses/crs_missing"), 404)
    assert [r.levelno for r in records(caplog)] == [logging.INFO, logging.INFO]
    assert all(r.exc_info is None for r in records(caplog))


def test_5xx_http_exceptions_are_logged_once_at_error(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    contract.check(get(make_app(fail=lambda: abort(503)), "/fail"), 503)
    [record] = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def test_a_client_cannot_forge_log_lines(contract: ErrorContract, caplog: pytest.LogCaptureFixture) -> None:
    def boom(rest: str) -> Any:
        g.user_id = "evil\r\nINFO forged user line"
        raise RuntimeError("boom\r\nERROR forged message line")

    app = make_app()
    app.add_url_rule("/boom/<path:rest>", "boom", boom)
    client = app.test_client()
    # Werkzeug's path converter stops at LF; CR and U+2028 reach the view.
    contract.check(client.get("/boom/x%0DERROR%20forged%20path%20line%E2%80%A8"), 500)
    contract.check(client.get("/nope%0D%0AINFO%20forged%20404%20line"), 404)
    contract.check(client.open("/healthz", method="DELETE\r\nX"), 405)
    logged = records(caplog)
    assert len(logged) == 3
    for record in logged:
        message = record.getMessage()
        assert "\r" not in message
        assert "\n" not in message
        assert "\u2028" not in message
        assert "\r" not in record.__dict__["http_path"]
    assert "/boom/x\\x0dERROR forged path line\\u2028" in logged[0].getMessage()
    assert "/nope\\x0d\\x0aINFO forged 404 line" in logged[1].getMessage()
    assert "user_id=evil\\x0d\\x0aINFO forged user line" in logged[0].getMessage()


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["abc", "A-b_c.9", "x" * 64, "0123456789abcdef0123456789abcdef"])
def test_well_formed_request_id_is_echoed(request_id: str, client: Any, contract: ErrorContract) -> None:
    ok = client.get("/healthz", headers={"X-Request-ID": request_id})
    assert ok.status_code == 200
    assert ok.headers["X-Request-ID"] == request_id
    failed = client.get("/nope", headers={"X-Request-ID": request_id})
    assert contract.check(failed, 404)["request_id"] == request_id
    assert failed.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["", "x" * 65, "has space", "semi;colon", "../../etc/passwd", "naïve", "<script>", "a\r\nSet-Cookie: x=1"],
)
def test_hostile_request_id_is_replaced(request_id: str, client: Any, contract: ErrorContract) -> None:
    response = client.get("/nope", environ_overrides={"HTTP_X_REQUEST_ID": request_id})
    body = contract.check(response, 404)
    generated = response.headers["X-Request-ID"]
    assert generated != request_id
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    assert body["request_id"] == generated


def test_each_request_gets_its_own_id(client: Any) -> None:
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
