"""The course API: ordinary routes that reach every error class of the contract."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient

from app import DEFAULT_CONFIG, create_app
from src.api.errors import AIServiceError
from tests.conftest import ADMIN_TOKEN, ErrorContract

REPO_ROOT = Path(__file__).resolve().parents[1]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class FakeGenerator:
    """Answers every prompt with ``reply``, or raises it; remembers the prompts."""

    def __init__(self, reply: object) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def generate(self, prompt: str) -> Any:
        self.prompts.append(prompt)
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(**config: Any) -> Flask:
    return create_app({"TESTING": True, "ADMIN_TOKEN": ADMIN_TOKEN, **config})


def add_course(client: FlaskClient, title: str = "Intro to Flask", description: str = "Routes and views") -> str:
    response = client.post("/api/courses", json={"title": title, "description": description})
    assert response.status_code == 201
    course_id: str = response.get_json()["id"]
    return course_id


# --- the happy paths --------------------------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"status": "ok"}
    assert len(response.headers["X-Request-ID"]) == 32


def test_course_lifecycle(client: FlaskClient, contract: ErrorContract) -> None:
    assert client.get("/api/courses").get_json() == {"courses": []}
    created = client.post("/api/courses", json={"title": "  Intro to Flask ", "description": "Routes"})
    assert created.status_code == 201
    course = created.get_json()
    assert course["id"].startswith("crs_")
    assert course == {"id": course["id"], "title": "Intro to Flask", "description": "Routes"}
    assert created.headers["Location"] == f"/api/courses/{course['id']}"
    assert client.get(created.headers["Location"]).get_json() == course
    assert client.get("/api/courses").get_json() == {"courses": [course]}

    deleted = client.delete(f"/api/courses/{course['id']}", headers=AUTH)
    assert deleted.status_code == 204
    assert deleted.data == b""
    contract.check(client.get(f"/api/courses/{course['id']}"), 404)


def test_description_is_optional(client: FlaskClient) -> None:
    response = client.post("/api/courses", json={"title": "Only a title"})
    assert response.status_code == 201
    assert response.get_json()["description"] == ""


# --- 400, 404, 413, 415 -----------------------------------------------------------------------


def test_validation_error_returns_400(client: FlaskClient, contract: ErrorContract) -> None:
    response = client.post("/api/courses", json={"description": "no title"})
    body = contract.check(response, 400)
    assert body == {
        "error": "title is required.",
        "code": 400,
        "field": "title",
        "request_id": response.headers["X-Request-ID"],
    }


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ([], None, "The request body must be a JSON object."),
        (None, None, "The request body must be a JSON object."),
        ("title", None, "The request body must be a JSON object."),
        ({"title": "x", "price": 3}, "price", "Unknown field: price."),
        ({"title": 42}, "title", "title must be a non-empty string."),
        ({"title": "   "}, "title", "title must be a non-empty string."),
        ({"title": "x" * 201}, "title", "title must be at most 200 characters."),
        ({"title": "x", "description": ["a"]}, "description", "description must be a string."),
        ({"title": "x", "description": "d" * 2001}, "description", "description must be at most 2000 characters."),
    ],
)
def test_invalid_course_body_names_the_field(
    payload: Any, field: str | None, message: str, client: FlaskClient, contract: ErrorContract
) -> None:
    response = client.post("/api/courses", data=json.dumps(payload), content_type="application/json")
    body = contract.check(response, 400)
    assert body["error"] == message
    assert body.get("field") == field


def test_hostile_field_name_is_reported_as_strict_json(client: FlaskClient, contract: ErrorContract) -> None:
    response = client.post("/api/courses", data='{"title": "x", "\\ud800\\r\\n": 1}', content_type="application/json")
    body = contract.check(response, 400)
    assert body["field"] == "\ufffd\r\n"


def test_not_found_error_returns_404(client: FlaskClient, contract: ErrorContract) -> None:
    response = client.get("/api/courses/crs_123")
    body = contract.check(response, 404)
    assert body == {
        "error": "Course crs_123 not found",
        "code": 404,
        "resource_type": "Course",
        "resource_id": "crs_123",
        "request_id": response.headers["X-Request-ID"],
    }


@pytest.mark.parametrize("data", ['{"title": ', "{'title': 'x'}", "NaN]", "\xff"])
def test_malformed_json_returns_400(data: str, client: FlaskClient, contract: ErrorContract) -> None:
    response = client.post("/api/courses", data=data.encode("latin-1"), content_type="application/json")
    body = contract.check(response, 400)
    assert body["error"]


def test_body_that_is_not_json_returns_415(client: FlaskClient, contract: ErrorContract) -> None:
    response = client.post("/api/courses", data="title=x", content_type="application/x-www-form-urlencoded")
    contract.check(response, 415)


def test_oversized_body_returns_413(client: FlaskClient, contract: ErrorContract) -> None:
    big = {"title": "x", "description": "d" * DEFAULT_CONFIG["MAX_CONTENT_LENGTH"]}
    contract.check(client.post("/api/courses", json=big), 413)


def test_max_content_length_is_configurable(contract: ErrorContract) -> None:
    client = make_app(MAX_CONTENT_LENGTH=16).test_client()
    contract.check(client.post("/api/courses", json={"title": "a title longer than 16 bytes"}), 413)


def test_unknown_route_and_wrong_method(client: FlaskClient, contract: ErrorContract) -> None:
    contract.check(client.get("/api/nothing-here"), 404)
    response = client.put("/api/courses")
    contract.check(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


# --- 401, 403 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}])
def test_delete_without_a_bearer_token_returns_401_with_www_authenticate(
    headers: dict[str, str], client: FlaskClient, contract: ErrorContract
) -> None:
    course_id = add_course(client)
    response = client.delete(f"/api/courses/{course_id}", headers=headers)
    body = contract.check(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer realm=courses"
    assert body["error"] == "Deleting a course needs an admin bearer token."
    assert client.get(f"/api/courses/{course_id}").status_code == 200


def test_delete_with_a_wrong_token_returns_403(client: FlaskClient, contract: ErrorContract) -> None:
    course_id = add_course(client)
    response = client.delete(f"/api/courses/{course_id}", headers={"Authorization": "Bearer not-the-token"})
    body = contract.check(response, 403)
    assert body["error"] == "This token may not delete courses."
    assert "WWW-Authenticate" not in response.headers


def test_delete_is_refused_when_no_admin_token_is_configured(contract: ErrorContract) -> None:
    client = create_app({"TESTING": True}).test_client()
    course_id = add_course(client)
    response = client.delete(f"/api/courses/{course_id}", headers={"Authorization": "Bearer anything"})
    assert contract.check(response, 403)["error"] == "Deleting courses is disabled on this server."


def test_deleting_an_unknown_course_returns_404_and_logs_the_user(
    client: FlaskClient, contract: ErrorContract, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.utils.error_logging")
    contract.check(client.delete("/api/courses/crs_gone", headers=AUTH), 404)
    [record] = [r for r in caplog.records if r.name == "src.utils.error_logging"]
    assert "user_id=admin" in record.getMessage()
    assert "endpoint=api.delete_course" in record.getMessage()


# --- the AI route: 429, 502 -------------------------------------------------------------------


def test_summary_uses_the_configured_generator() -> None:
    generator = FakeGenerator("  A short course about Flask.  ")
    client = make_app(AI_GENERATOR=generator).test_client()
    course_id = add_course(client)
    response = client.post(f"/api/courses/{course_id}/summary")
    assert response.status_code == 200
    assert response.get_json() == {"course_id": course_id, "summary": "A short course about Flask."}
    [prompt] = generator.prompts
    assert "Intro to Flask" in prompt
    assert "Routes and views" in prompt


def test_ai_failure_in_summary_returns_502_with_retry_after(contract: ErrorContract) -> None:
    upstream = RuntimeError("429 from api.anthropic.com for key sk-ant-secret")
    generator = FakeGenerator(AIServiceError("The AI service is busy", original_error=upstream, retry_after=12.5))
    client = make_app(AI_GENERATOR=generator).test_client()
    response = client.post(f"/api/courses/{add_course(client)}/summary")
    body = contract.check(response, 502)
    assert body["error"] == "The AI service is busy"
    assert body["retry_after"] == 13
    assert response.headers["Retry-After"] == "13"
    assert b"sk-ant-secret" not in response.data


def test_circuit_breaker_refusal_in_summary_returns_503(contract: ErrorContract) -> None:
    generator = FakeGenerator(AIServiceError("The AI service is paused", retry_after=30, status_code=503))
    client = make_app(AI_GENERATOR=generator).test_client()
    response = client.post(f"/api/courses/{add_course(client)}/summary")
    assert contract.check(response, 503)["retry_after"] == 30


@pytest.mark.parametrize("reply", ["", "   ", None, 42])
def test_generator_without_text_returns_502(reply: object, contract: ErrorContract) -> None:
    client = make_app(AI_GENERATOR=FakeGenerator(reply)).test_client()
    response = client.post(f"/api/courses/{add_course(client)}/summary")
    assert contract.check(response, 502)["error"] == "The AI service returned no summary."


def test_generator_crash_returns_generic_500(contract: ErrorContract) -> None:
    client = make_app(AI_GENERATOR=FakeGenerator(KeyError("content"))).test_client()
    response = client.post(f"/api/courses/{add_course(client)}/summary")
    assert contract.check(response, 500)["error"] == "An unexpected error occurred on the server."


def test_summary_of_an_unknown_course_returns_404(contract: ErrorContract) -> None:
    generator = FakeGenerator("unused")
    client = make_app(AI_GENERATOR=generator).test_client()
    contract.check(client.post("/api/courses/crs_none/summary"), 404)
    assert generator.prompts == []


def test_summary_is_rate_limited_per_client(contract: ErrorContract) -> None:
    clock = FakeClock()
    app = make_app(
        AI_GENERATOR=FakeGenerator("ok"), SUMMARY_RATE_LIMIT=2, SUMMARY_RATE_WINDOW=60, RATE_LIMIT_CLOCK=clock
    )
    client = app.test_client()
    url = f"/api/courses/{add_course(client)}/summary"
    assert client.post(url).status_code == 200
    clock.now += 10
    assert client.post(url).status_code == 200
    clock.now += 5
    response = client.post(url)
    body = contract.check(response, 429)
    assert body["error"] == "Too many summary requests; try again later."
    assert response.headers["Retry-After"] == "45"
    assert body["retry_after"] == 45
    # Another client has its own window.
    assert client.post(url, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200
    # Once the first hit leaves the window, the first client may call again.
    clock.now += 45
    assert client.post(url).status_code == 200


@pytest.mark.parametrize(("elapsed", "header"), [(0.0, "2"), (0.7, "1"), (1.4, "1")])
def test_rate_limit_retry_after_is_rounded_up(elapsed: float, header: str, contract: ErrorContract) -> None:
    clock = FakeClock()
    app = make_app(
        AI_GENERATOR=FakeGenerator("ok"), SUMMARY_RATE_LIMIT=1, SUMMARY_RATE_WINDOW=1.5, RATE_LIMIT_CLOCK=clock
    )
    client = app.test_client()
    url = f"/api/courses/{add_course(client)}/summary"
    assert client.post(url).status_code == 200
    clock.now += elapsed
    response = client.post(url)
    contract.check(response, 429)
    assert response.headers["Retry-After"] == header


def test_default_generator_is_built_lazily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from src.generators import base_generator

    built: list[FakeGenerator] = []

    def fake_base_generator() -> FakeGenerator:
        built.append(FakeGenerator("from the default generator"))
        return built[-1]

    monkeypatch.setattr(base_generator, "BaseGenerator", fake_base_generator)
    client = create_app({"TESTING": True}).test_client()
    course_id = add_course(client)
    assert built == []
    for _ in range(2):
        response = client.post(f"/api/courses/{course_id}/summary")
        assert response.get_json()["summary"] == "from the default generator"
    assert len(built) == 1


@pytest.mark.parametrize(
    "config",
    [{"SUMMARY_RATE_LIMIT": 0}, {"SUMMARY_RATE_WINDOW": 0}, {"SUMMARY_RATE_WINDOW": float("inf")}],
)
def test_create_app_refuses_a_broken_rate_limit(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a positive"):
        create_app(config)


# --- the factory ------------------------------------------------------------------------------


def test_create_app_defaults() -> None:
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert app.config["ADMIN_TOKEN"] is None
    assert create_app({"PROPAGATE_EXCEPTIONS": True}).config["PROPAGATE_EXCEPTIONS"] is True


def test_config_comes_from_defaults_then_environment_then_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_ADMIN_TOKEN", "from-env")
    monkeypatch.setenv("FLASK_SUMMARY_RATE_LIMIT", "3")
    app = create_app()
    assert app.config["ADMIN_TOKEN"] == "from-env"
    assert app.config["SUMMARY_RATE_LIMIT"] == 3
    assert create_app({"ADMIN_TOKEN": "from-arg"}).config["ADMIN_TOKEN"] == "from-arg"


def test_flask_cli_finds_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    app = ScriptInfo(app_import_path="app").load_app()
    assert {rule.rule for rule in app.url_map.iter_rules()} >= {"/healthz", "/api/courses"}


def test_importing_and_serving_the_app_does_not_import_anthropic() -> None:
    script = (
        "import sys, app\n"
        "client = app.create_app({'AI_GENERATOR': None}).test_client()\n"
        "assert client.get('/healthz').status_code == 200\n"
        "assert client.get('/nope').status_code == 404\n"
        "assert client.delete('/healthz').status_code == 405\n"
        "assert 'anthropic' not in sys.modules, 'anthropic was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
