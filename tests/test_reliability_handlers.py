"""When parts of the error path itself break, the client still gets one JSON 500 and the log one record.

Each test breaks one thing the handlers rely on (logging, the app's JSON provider, the
exception's own ``str``/``repr``, an ``after_request`` hook, the error object that is being
answered) and checks two things: the response honours the contract as a 500, and exactly one
ERROR record was written, carrying the original exception in ``exc_info``. Some of these cases
also appear in ``test_error_handlers.py``; here each one asserts the log side as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound

from app import create_app
from src.api.contract import validate_error_response
from src.api.errors import APIError, NotFoundError, ValidationError
from src.utils.error_handlers import INTERNAL_ERROR_MESSAGE
from src.utils.wsgi_guard import FALLBACK_BODY
from tests.conftest import ErrorContract

LOGGER = "src.utils.error_logging"


def make_app(**views: Callable[..., Any]) -> Flask:
    """create_app() plus one route ``/<name>`` per keyword."""
    app = create_app({"TESTING": True})
    for name, view in views.items():
        app.add_url_rule(f"/{name}", name, view, methods=["GET", "POST"])
    return app


def raiser(exc: BaseException) -> Callable[[], Any]:
    def view() -> Any:
        raise exc

    return view


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def the_error_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The one ERROR record of the test; fails if there are none or several."""
    records = error_records(caplog)
    assert len(records) == 1, [record.getMessage() for record in records]
    return records[0]


def assert_json_500(response: Any, contract: ErrorContract) -> dict[str, Any]:
    body = contract.check(response, 500)
    validate_error_response(response.status_code, response.headers, response.get_data())
    return body


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


class _Unprintable(Exception):
    """An exception whose str() and repr() both raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ exploded")


# --- logging that raises ----------------------------------------------------------------------


class _RaisingHandler(logging.Handler):
    """A log handler whose emit raises, as a broken log shipper would; it remembers what it got."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)
        raise OSError("log shipper is down")


@pytest.fixture
def raising_handler() -> Iterator[Callable[[str], _RaisingHandler]]:
    attached: list[tuple[logging.Logger, _RaisingHandler]] = []

    def attach(logger_name: str) -> _RaisingHandler:
        handler = _RaisingHandler()
        logger = logging.getLogger(logger_name) if logger_name else logging.getLogger()
        logger.addHandler(handler)
        attached.append((logger, handler))
        return handler

    yield attach
    for logger, handler in attached:
        logger.removeHandler(handler)


def test_a_raising_handler_on_the_handlers_logger_still_gives_json_500(
    raising_handler: Callable[[str], _RaisingHandler],
    contract: ErrorContract,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = RuntimeError("the original failure")
    handler = raising_handler(LOGGER)
    response = make_app(boom=raiser(original)).test_client().get("/boom")
    assert assert_json_500(response, contract)["error"] == INTERNAL_ERROR_MESSAGE
    # The raising handler comes first, so the record stops there: it was offered exactly once.
    [record] = handler.seen
    assert record.exc_info is not None
    assert record.exc_info[1] is original
    assert "failed to log a request error" in capsys.readouterr().err


@pytest.mark.parametrize("logger_name", ["app", ""], ids=["app-logger", "root-logger"])
def test_a_raising_handler_elsewhere_still_gives_json_500_and_one_record(
    logger_name: str,
    raising_handler: Callable[[str], _RaisingHandler],
    contract: ErrorContract,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = RuntimeError("the original failure")
    app = make_app(boom=raiser(original))
    assert app.logger.name == "app"
    handler = raising_handler(logger_name)
    assert_json_500(app.test_client().get("/boom"), contract)
    record = the_error_record(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is original
    assert len(handler.seen) == (1 if logger_name == "" else 0)


def test_a_raising_handler_does_not_turn_a_4xx_into_a_500(
    raising_handler: Callable[[str], _RaisingHandler], contract: ErrorContract
) -> None:
    handler = raising_handler(LOGGER)
    response = make_app(missing=raiser(NotFoundError("Course", "c1"))).test_client().get("/missing")
    assert contract.check(response, 404)["error"] == "Course c1 not found"
    assert len(handler.seen) == 1


# --- a JSON provider that fails ---------------------------------------------------------------


class _BrokenJSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        raise RuntimeError("JSON provider dumps exploded")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        raise RuntimeError("JSON provider loads exploded")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("POST", "/api/courses", {"data": b'{"title": "A course"}', "content_type": "application/json"}),
    ],
    ids=["dumps", "loads"],
)
def test_a_failing_json_provider_gives_json_500_and_one_record(
    method: str, path: str, kwargs: dict[str, Any], contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    app.json = _BrokenJSONProvider(app)
    response = app.test_client().open(path, method=method, **kwargs)
    assert assert_json_500(response, contract)["error"] == INTERNAL_ERROR_MESSAGE
    record = the_error_record(caplog)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "JSON provider" in str(record.exc_info[1])


def test_error_responses_do_not_depend_on_the_json_provider(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(invalid=raiser(ValidationError("title is required", field="title")))
    app.json = _BrokenJSONProvider(app)
    body = contract.check(app.test_client().get("/invalid"), 400)
    assert body["field"] == "title"
    assert error_records(caplog) == []


# --- an exception whose str() and repr() raise ------------------------------------------------


def test_an_unprintable_exception_gives_json_500_and_one_formattable_record(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    original = _Unprintable()
    response = make_app(boom=raiser(original)).test_client().get("/boom")
    assert assert_json_500(response, contract)["error"] == INTERNAL_ERROR_MESSAGE
    record = the_error_record(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is original
    assert "unprintable _Unprintable" in record.getMessage()
    # A stock formatter can still render the record, traceback included.
    text = logging.Formatter().format(record)
    assert "_Unprintable" in text
    assert "Traceback" in text


def test_an_unprintable_exception_as_original_error_is_logged_once(
    contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    from src.api.errors import AIServiceError

    error = AIServiceError("The AI service failed", original_error=_Unprintable())
    response = make_app(ai=raiser(error)).test_client().get("/ai")
    assert contract.check(response, 502)["error"] == "The AI service failed"
    record = the_error_record(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert "unprintable _Unprintable" in record.getMessage()


# --- an error in an after_request hook --------------------------------------------------------


def _app_with_failing_hook(times: int | None, **views: Callable[..., Any]) -> tuple[Flask, list[Exception]]:
    """An app whose after_request hook raises a new exception on its first ``times`` calls (None: always)."""
    app = make_app(**views)
    raised: list[Exception] = []

    @app.after_request
    def explode(response: Response) -> Response:
        if times is None or len(raised) < times:
            raised.append(RuntimeError(f"after_request exploded ({len(raised) + 1})"))
            raise raised[-1]
        return response

    return app, raised


@pytest.mark.parametrize("path", ["/healthz", "/missing"], ids=["after-a-200", "after-a-404"])
def test_an_after_request_error_gives_json_500_and_one_record(
    path: str, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app, raised = _app_with_failing_hook(1, missing=raiser(NotFoundError("Course", "c1")))
    response = app.test_client().get(path, headers={"X-Request-ID": "after-7"})
    body = assert_json_500(response, contract)
    assert body == {"error": INTERNAL_ERROR_MESSAGE, "code": 500, "request_id": "after-7"}
    record = the_error_record(caplog)
    assert record.name == LOGGER
    assert record.exc_info is not None
    assert record.exc_info[1] is raised[0]
    assert "request_id=after-7" in record.getMessage()


@pytest.mark.parametrize("path", ["/healthz", "/missing"], ids=["after-a-200", "after-a-404"])
def test_an_after_request_hook_that_always_fails_is_logged_once(
    path: str, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    app, raised = _app_with_failing_hook(None, missing=raiser(NotFoundError("Course", "c1")))
    assert_json_500(app.test_client().get(path), contract)
    record = the_error_record(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is raised[0]


# --- an error while handling an error ---------------------------------------------------------


class _BrokenToDict(APIError):
    def to_dict(self) -> Any:
        raise RuntimeError("to_dict exploded")


class _BrokenMessage(APIError):
    @property
    def message(self) -> str:
        raise RuntimeError("message exploded")

    @message.setter
    def message(self, value: str) -> None:
        pass


class _BrokenGetResponse(NotFound):
    def get_response(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("get_response exploded")


@pytest.mark.parametrize(
    "original",
    [_BrokenToDict("x", 400), _BrokenMessage("x", 409), _BrokenGetResponse()],
    ids=["api-error-to-dict", "api-error-message", "http-exception-get-response"],
)
def test_an_error_while_handling_an_error_gives_the_fallback_500_and_one_record(
    original: Exception, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    response = make_app(fail=raiser(original)).test_client().get("/fail", headers={"X-Request-ID": "nested-1"})
    assert response.data == FALLBACK_BODY
    assert response.headers["X-Request-ID"] == "nested-1"
    assert_json_500(response, contract)
    record = the_error_record(caplog)
    assert record.exc_info is not None
    failure = record.exc_info[1]
    assert isinstance(failure, RuntimeError)
    assert "exploded" in str(failure)
    # The handler's failure is logged with the error it was answering chained to it.
    assert failure.__context__ is original
    text = logging.Formatter().format(record)
    assert type(original).__name__ in text
    assert "exploded" in text
    assert "request_id=nested-1" in record.getMessage()
