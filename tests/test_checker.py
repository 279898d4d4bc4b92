"""The contract checker: its catalogue, its checks, and that it catches each fault of a broken app."""

from __future__ import annotations

import inspect
import json
import traceback
from collections.abc import Callable
from typing import Any

import click
import pytest
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, NotFound, default_exceptions

from app import DEFAULT_CONFIG, create_app
from src.api import errors
from src.checker.cases import Case, CaseSetupError, Expectation, Leak, NoResponse, Reply, Request, Send
from src.checker.catalogue import COURSE_BODY_LIMIT, PROBE_PREFIX, SECRET, cases_for, catalogue, probe_cases
from src.checker.checks import check_reply
from src.checker.expectations import leaks_for, required_headers_for
from src.checker.inprocess import AppLoadError, build_app, load_factory, run_in_process
from src.checker.report import PROBLEM_WIDTH, render_table, report_document, summary_line
from src.checker.runner import CaseResult, Report, run_case

REQUEST_ID = "check-errors.test"
JSON = "application/json"


def reply(status: int = 404, body: bytes | str = b'{"error": "Not here", "code": 404}', **headers: str) -> Reply:
    """A reply with a JSON content type and the test's request id unless ``headers`` say otherwise."""
    fields = {"Content-Type": JSON, "X-Request-ID": REQUEST_ID}
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return Reply(status, tuple((name, value) for name, value in fields.items() if value), data)


def check(answer: Reply, expected: int = 404, *, method: str = "GET", **expectation: Any) -> list[str]:
    request = Request(method, "/x", (("X-Request-ID", REQUEST_ID),))
    return check_reply(Expectation(expected, **expectation), request, answer)


def results_by_name(report: Report) -> dict[str, CaseResult]:
    return {result.name: result for result in report.results}


def cases_named(*names: str) -> list[Case]:
    chosen = [case for case in cases_for("in-process") if case.name in names]
    assert len(chosen) == len(names), [case.name for case in chosen]
    return chosen


@pytest.fixture(scope="module")
def app_report() -> Report:
    """The whole in-process catalogue, run once against app.py."""
    return run_in_process(create_app)


# --- the catalogue ----------------------------------------------------------------------------


def test_catalogue_raises_every_exception_class_of_the_contract() -> None:
    classes = {
        obj
        for name in errors.__all__
        if inspect.isclass(obj := getattr(errors, name)) and issubclass(obj, errors.APIError)
    }
    raised = {type(case.raises()) for case in probe_cases() if case.raises is not None}
    assert classes <= raised


def test_catalogue_raises_every_werkzeug_error_code() -> None:
    codes = {code for code in default_exceptions if code >= 400}
    raised = {
        exc.code
        for case in probe_cases()
        if case.raises is not None and isinstance(exc := case.raises(), HTTPException)
    }
    assert codes <= raised


@pytest.mark.parametrize("mode", ["in-process", "live"])
def test_case_names_are_unique_within_a_mode(mode: Any) -> None:
    names = [case.name for case in cases_for(mode)]
    assert len(names) == len(set(names))


def test_live_cases_cover_what_can_be_triggered_from_outside() -> None:
    live = cases_for("live")
    assert all(case.raises is None for case in live)
    requests = {(case.request.method, case.expected_status) for case in live}
    assert {("GET", 404), ("HEAD", 404), ("PUT", 405), ("POST", 400), ("POST", 413), ("POST", 415)} <= requests
    assert {("DELETE", 401), ("DELETE", 403), ("POST", 429)} <= requests


def test_every_case_of_the_catalogue_has_a_mode() -> None:
    assert all(case.modes for case in catalogue())


def test_oversized_course_body_is_just_above_the_apps_default_limit() -> None:
    assert DEFAULT_CONFIG["MAX_CONTENT_LENGTH"] == COURSE_BODY_LIMIT
    [oversized] = [case for case in cases_for("live") if case.expected_status == 413]
    assert len(oversized.request.body) > COURSE_BODY_LIMIT


# --- the app keeps the contract ---------------------------------------------------------------


def test_app_keeps_the_contract_in_every_case(app_report: Report) -> None:
    failures = {result.name: result.problems for result in app_report.results if not result.ok}
    assert failures == {}
    assert app_report.not_applicable == ()
    assert app_report.passed == len(cases_for("in-process"))
    assert all(result.status == result.expected_status for result in app_report.results)


def test_app_keeps_redirects_and_successes_as_they_are(app_report: Report) -> None:
    results = results_by_name(app_report)
    assert results["trailing-slash redirect stays a redirect"].status == 308
    assert results["successful response"].status == 200


def test_course_api_cases_are_left_out_for_an_app_without_those_routes() -> None:
    report = run_in_process(create_app, cases=cases_named("unknown route", "GET a missing course"))
    assert [result.name for result in report.results] == ["unknown route", "GET a missing course"]
    assert report.not_applicable == ()

    def bare() -> Flask:
        return plain_contract_app()

    report = run_in_process(bare, cases=cases_named("unknown route", "GET a missing course"))
    assert [result.name for result in report.results] == ["unknown route"]
    assert report.not_applicable == ("GET a missing course",)


# --- broken apps: every fault is caught and named ---------------------------------------------


def plain_contract_app() -> Flask:
    """An app with the contract's handlers and no routes of its own."""
    from src.utils.error_handlers import ContractFlask, register_error_handlers

    app = ContractFlask(__name__)
    register_error_handlers(app)
    return app


def html_error_pages_app() -> Flask:
    """Flask out of the box: HTML error pages, no request id."""
    return Flask(__name__)


def lost_allow_header_app() -> Flask:
    """The real app, with a hook that drops the Allow header."""
    app = create_app()

    @app.after_request
    def drop_allow(response: Response) -> Response:
        del response.headers["Allow"]
        return response

    return app


def _json_error(body: str, status: int) -> Response:
    response = Response(body, status=status, content_type=JSON)
    response.headers["X-Request-ID"] = "fixed-id"
    return response


def nan_body_app() -> Flask:
    """404s come back with NaN in the body."""
    app = create_app()
    app.register_error_handler(
        NotFound, lambda e: _json_error('{"error": "Not Found", "code": 404, "score": NaN}', 404)
    )
    return app


def code_mismatch_app() -> Flask:
    """404s say 500 in their body."""
    app = create_app()
    app.register_error_handler(NotFound, lambda e: _json_error('{"error": "Not Found", "code": 500}', 404))
    return app


def leaky_app() -> Flask:
    """Unexpected exceptions are answered with their type, message and traceback."""
    app = create_app()

    def leak(e: Exception) -> tuple[dict[str, Any], int]:
        return {"error": f"{type(e).__name__}: {e}", "code": 500, "trace": traceback.format_exc()}, 500

    app.register_error_handler(Exception, leak)
    return app


def test_html_error_pages_are_caught() -> None:
    report = run_in_process(html_error_pages_app, cases=cases_named("unknown route", "wrong method"))
    for result in report.results:
        assert not result.ok
        assert "Content-Type is 'text/html; charset=utf-8', not application/json" in result.problems
        assert any(problem.startswith("body is not JSON") for problem in result.problems)
        assert any(problem.startswith("X-Request-ID must be one id") for problem in result.problems)


def test_a_lost_allow_header_is_caught() -> None:
    report = run_in_process(lost_allow_header_app, cases=cases_named("wrong method", "PUT /api/courses (wrong method)"))
    for result in report.results:
        assert result.problems == ("Allow header is missing",)


def test_nan_in_a_body_is_caught() -> None:
    [result] = run_in_process(nan_body_app, cases=cases_named("unknown route")).results
    assert result.problems == ("body contains NaN, which JSON does not allow",)


def test_a_code_that_differs_from_the_status_is_caught() -> None:
    [result] = run_in_process(code_mismatch_app, cases=cases_named("unknown route")).results
    assert result.problems == ("/code: 500 does not equal the HTTP status 404",)


def test_leaked_exception_text_is_caught() -> None:
    [result] = run_in_process(leaky_app, cases=cases_named("unexpected exception with a secret in its message")).results
    assert f"the 5xx body leaks the secret: {SECRET!r}" in result.problems
    assert "the 5xx body leaks a type name: 'CheckerProbeError'" in result.problems
    assert "the 5xx body leaks a traceback: 'Traceback'" in result.problems


def test_an_exception_escaping_the_app_is_a_failed_case() -> None:
    def propagating() -> Flask:
        app = Flask(__name__)
        app.testing = True  # without error handlers, testing mode lets the exception through
        return app

    [result] = run_in_process(
        propagating, cases=cases_named("unexpected exception with a secret in its message")
    ).results
    assert result.status is None
    assert result.problems == ("no response: CheckerProbeError escaped the app",)


def test_a_failed_set_up_is_a_failed_case() -> None:
    def refuse(send: Send) -> Request:
        raise CaseSetupError("no course could be created")

    case = Case("needs a course", 404, Request("GET", "/x"), prepare=refuse)
    result = run_case(case, lambda request: reply(), tag="t")
    assert result.problems == ("set-up failed: no course could be created",)


def test_a_reply_that_does_not_echo_the_request_id_is_caught() -> None:
    case = Case("echo", 404, Request("GET", "/x"))
    result = run_case(case, lambda request: reply(X_Request_ID="someone-else"), tag="mine")
    assert result.problems == ("X-Request-ID is 'someone-else', not the 'mine' the request sent",)


def test_no_response_from_the_send_function_is_a_failed_case() -> None:
    def send(request: Request) -> Reply:
        raise NoResponse("connection reset")

    result = run_case(Case("x", 404, Request("GET", "/x")), send, tag="t")
    assert (result.status, result.problems) == (None, ("no response: connection reset",))


# --- the checks on one reply ------------------------------------------------------------------


def test_a_conforming_error_reply_has_no_problems() -> None:
    assert check(reply()) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"error": "x", "code": 404, "n": Infinity}', "body contains Infinity, which JSON does not allow"),
        ('{"error": "x", "error": "y", "code": 404}', "member name 'error' appears twice in one object"),
        ('{"error": "\\ud800", "code": 404}', "body: a string holds a lone surrogate or a noncharacter"),
        ('{"error": "x", "code": "404"}', "/code: '404' is not of type 'integer'"),
        ('{"code": 404}', "/: 'error' is a required property"),
        ('{"error": "x", "code": 404, "retry_after": "soon"}', "/retry_after: 'soon' is not of type 'integer'"),
    ],
)
def test_a_body_that_is_not_strict_json_or_breaks_the_schema_is_named(body: str, problem: str) -> None:
    assert problem in check(reply(body=body))


def test_invalid_utf8_is_named() -> None:
    [problem] = check(reply(body=b'{"error": "\xff", "code": 404}'))
    assert problem.startswith("body is not valid UTF-8")


def test_a_wrong_status_is_named_and_a_non_error_status_is_not_judged_as_an_error() -> None:
    assert check(reply(status=200, body=b"<p>fine</p>", Content_Type="text/html")) == ["status is 200, expected 404"]
    assert check(reply(status=410, body=b'{"error": "Gone", "code": 410}')) == ["status is 410, expected 404"]


def test_an_accepted_alternative_status_passes_without_the_expected_statuss_headers() -> None:
    forbidden = reply(status=403, body=b'{"error": "No", "code": 403}')
    assert check(forbidden, 401, also_accepted=(403,), required_headers={"WWW-Authenticate": None}) == []
    unauthorized = reply(status=401, body=b'{"error": "Who?", "code": 401}')
    assert check(unauthorized, 401, also_accepted=(403,), required_headers={"WWW-Authenticate": None}) == [
        "WWW-Authenticate header is missing"
    ]


def test_head_must_have_an_empty_body_and_the_json_content_type() -> None:
    assert check(reply(body=b""), method="HEAD") == []
    assert check(reply(body=b"{}"), method="HEAD") == ["a HEAD response must have an empty body"]


def test_a_redirect_needs_its_location_and_request_id() -> None:
    redirect = Reply(308, (("Location", "/folder/"), ("X-Request-ID", REQUEST_ID)), b"")
    assert check(redirect, 308, kind="redirect", required_headers={"Location": None}) == []
    bare = Reply(308, (), b"")
    assert check(bare, 308, kind="redirect", required_headers={"Location": None}) == [
        "X-Request-ID must be one id of 1-64 characters [A-Za-z0-9._-], got []",
        "Location header is missing",
    ]


def test_leaks_are_looked_for_in_5xx_bodies_only_and_type_names_as_whole_words() -> None:
    leaks = (Leak("Boom", "the type name", whole_word=True), Leak("hunter2", "the secret"))
    quiet = reply(500, '{"error": "BoomBox broke", "code": 500}')
    assert check(quiet, 500, leaks=leaks) == []
    loud = reply(500, '{"error": "Boom: hunter2", "code": 500}')
    assert check(loud, 500, leaks=leaks) == [
        "the 5xx body leaks the type name: 'Boom'",
        "the 5xx body leaks the secret: 'hunter2'",
    ]
    client_error = reply(404, '{"error": "Boom: hunter2", "code": 404}')
    assert check(client_error, 404, leaks=leaks) == []


def test_the_request_id_value_is_not_searched_for_leaks() -> None:
    answer = reply(500, f'{{"error": "Oops", "code": 500, "request_id": "{REQUEST_ID}"}}')
    assert check(answer, 500, leaks=(Leak(REQUEST_ID, "the id"),)) == []


# --- what an exception obliges ----------------------------------------------------------------


def test_required_headers_follow_the_oracle_with_exact_values_where_known() -> None:
    from werkzeug.exceptions import MethodNotAllowed, TooManyRequests, Unauthorized

    assert required_headers_for(MethodNotAllowed(["GET", "POST"])) == {"Allow": "GET, POST"}
    assert required_headers_for(MethodNotAllowed()) == {"Allow": None}
    assert required_headers_for(Unauthorized()) == {}
    assert required_headers_for(TooManyRequests(retry_after=5)) == {"Retry-After": "5"}
    assert required_headers_for(errors.RateLimitError("slow", retry_after=2.5)) == {"Retry-After": "3"}
    assert required_headers_for(errors.AIServiceError("down")) == {}

    class Moved(TooManyRequests):
        code = 600

    assert required_headers_for(Moved(retry_after=5)) == {}


def test_leaks_name_hidden_text_and_type_names_but_not_what_the_contract_shows() -> None:
    leaks = {leak.text: leak.what for leak in leaks_for(KeyError("the db password"))}
    assert leaks["KeyError"] == "a type name"
    assert any(what == "exception text" and "the db password" in text for text, what in leaks.items())
    assert not any("Traceback" in text for text in leaks)  # every 5xx is searched for one anyway
    public = leaks_for(errors.ValidationError("title is a required field"))
    assert not any(leak.text == "title is a required field" for leak in public)
    wrapped = leaks_for(errors.AIServiceError("AI down", original_error=ValueError("token sk-123456")))
    assert {"ValueError", "token sk-123456"} <= {leak.text for leak in wrapped}


def test_the_catalogue_expects_the_status_the_oracle_requires() -> None:
    from src.testing.oracle import expected_status

    for case in probe_cases():
        if case.raises is not None:
            assert expected_status(case.raises()) == case.expected_status, case.name


def test_a_required_header_with_the_wrong_value_is_named() -> None:
    answer = reply(405, '{"error": "No", "code": 405}', Allow="GET")
    assert check(answer, 405, required_headers={"Allow": "GET, POST"}) == ["Allow is 'GET', expected 'GET, POST'"]
    assert check(answer, 405, required_headers={"Allow": None}) == []


# --- loading the app --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("app", "'app' is not MODULE:FACTORY (for example app:create_app)"),
        ("app:", "'app:' is not MODULE:FACTORY (for example app:create_app)"),
        ("no_such_module_here:create", "cannot import 'no_such_module_here': ModuleNotFoundError"),
        ("app:no_such_factory", "module 'app' has no attribute 'no_such_factory'"),
        ("app:TITLE_MAX_LENGTH", "app:TITLE_MAX_LENGTH is a int, not a function that builds an app"),
        ("tests.test_checker:SERVED_APP", "tests.test_checker:SERVED_APP is an app, not a factory"),
    ],
)
def test_load_factory_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(AppLoadError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        load_factory(spec)


SERVED_APP = Flask(__name__)


def test_load_factory_finds_a_factory() -> None:
    assert load_factory("app:create_app") is create_app


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: 1 / 0, "the app factory raised ZeroDivisionError: division by zero"),
        (lambda: "not an app", "the app factory returned a str, not a Flask app"),
    ],
)
def test_build_app_refuses_a_factory_that_does_not_build_an_app(factory: Callable[[], Any], message: str) -> None:
    with pytest.raises(AppLoadError, match=message):
        build_app(factory)


def test_build_app_refuses_an_app_built_before() -> None:
    app = create_app()
    build_app(lambda: app)
    with pytest.raises(AppLoadError, match="returned an app it had built before"):
        build_app(lambda: app)


def test_probe_routes_never_touch_the_app_the_factory_would_serve() -> None:
    served = create_app()
    build_app(create_app)
    assert not any(rule.rule.startswith(PROBE_PREFIX) for rule in served.url_map.iter_rules())


# --- the report -------------------------------------------------------------------------------


def sample_report() -> Report:
    return Report(
        (
            CaseResult("unknown route", 404, 404, ()),
            CaseResult("DELETE without a token", 401, 403, (), also_accepted=(403,)),
            CaseResult("wrong method", 405, 405, ("Allow header is missing",)),
            CaseResult("gone", 404, None, ("no response: connection reset",)),
            CaseResult("fuzz #1: ValueError('x')", 500, 500, (), origin="fuzz"),
            CaseResult("fuzz #2: KeyError('y')", 500, 500, (), origin="fuzz"),
            CaseResult("fuzz #3: TypeError('z')", 400, 500, ("status is 500, expected 400",), origin="fuzz"),
            CaseResult("fuzz #4: TypeError('z')", 400, 500, ("status is 500, expected 400",), origin="fuzz"),
            CaseResult("fuzz #5: TypeError('w')", 400, 400, ("x" * 500,), origin="fuzz"),
        )
    )


def test_table_has_one_row_per_case_problems_below_and_the_summary_alone_last() -> None:
    lines = click.unstyle(render_table(sample_report())).splitlines()
    assert lines[0].split() == ["case", "expected", "got", "verdict"]
    assert lines[1].split()[-3:] == ["404", "404", "ok"]
    assert lines[2].split()[-3:] == ["401|403", "403", "ok"]
    assert lines[3].split()[-3:] == ["405", "405", "FAIL"]
    assert lines[4] == "    - Allow header is missing"
    assert lines[5].split()[-3:] == ["404", "-", "FAIL"]
    assert lines[6] == "    - no response: connection reset"
    assert lines[7].split()[:5] == ["fuzz", "#3", "(+1", "alike):", "TypeError('z')"]
    assert lines[8] == "    - status is 500, expected 400"
    assert lines[9].startswith("fuzz #5: TypeError('w')")
    assert lines[10] == "    - " + "x" * (PROBLEM_WIDTH - 1) + "…"
    assert lines[11].startswith("fuzz: 2 generated exceptions conform ")
    assert lines[-2:] == ["", "4 passed, 5 failed"]
    assert summary_line(sample_report()) == "4 passed, 5 failed"


def test_json_document_lists_every_case() -> None:
    document = json.loads(json.dumps(report_document(sample_report())))
    assert document["passed"] == 4
    assert document["failed"] == 5
    assert len(document["cases"]) == 9
    assert document["cases"][8]["problems"] == ["x" * 500]
    assert document["cases"][2] == {
        "name": "wrong method",
        "expected_status": 405,
        "status": 405,
        "ok": False,
        "problems": ["Allow header is missing"],
    }
    assert document["cases"][3]["status"] is None


# --- fuzzing ----------------------------------------------------------------------------------


def test_fuzz_reports_one_result_per_generated_exception() -> None:
    from src.checker.fuzz import fuzz_results

    results = fuzz_results(create_app, 10)
    assert 1 <= len(results) <= 10
    assert [result.name.split(":")[0] for result in results] == [f"fuzz #{n}" for n in range(1, len(results) + 1)]
    assert all(result.origin == "fuzz" for result in results)
    assert all(result.ok or result.problems for result in results)


def test_fuzz_catches_a_leak_in_a_generated_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import strategies as st

    from src.checker.fuzz import fuzz_results
    from src.testing import strategies

    monkeypatch.setattr(strategies, "exceptions", lambda: st.just(LookupError("the vault combination")))
    [result] = fuzz_results(leaky_app, 3)
    assert result.name == "fuzz #1: LookupError('the vault combination')"
    assert result.expected_status == result.status == 500
    assert "the 5xx body leaks a type name: 'LookupError'" in result.problems
    assert "the 5xx body leaks a traceback: 'Traceback'" in result.problems


def test_fuzz_names_an_unprintable_exception_safely() -> None:
    from src.checker.fuzz import describe_exception

    class Mute(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert describe_exception(Mute()) == "Mute('<str() raised>')"
    assert describe_exception(ValueError("x" * 100)) == f"ValueError('{'x' * 38}…)"
    assert describe_exception(ValueError("\U0010ffff" * 30)) == "ValueError('" + "\\U0010ffff" * 3 + "\\U0010ff…)"


def test_a_leak_is_reported_once_not_again_inside_longer_texts_holding_it() -> None:
    leaks = (Leak("hunter2", "the secret"), Leak("password is hunter2", "exception text"), Leak("Boom", "a type name"))
    answer = reply(500, '{"error": "Boom: password is hunter2", "code": 500}')
    assert check(answer, 500, leaks=leaks) == [
        "the 5xx body leaks the secret: 'hunter2'",
        "the 5xx body leaks a type name: 'Boom'",
    ]
