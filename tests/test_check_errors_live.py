"""``check-errors --url`` against real servers on 127.0.0.1: gunicorn serving app.py, and a broken app."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from cli import cli
from src.checker.catalogue import cases_for
from tests.live_server import gunicorn_app

pytestmark = pytest.mark.live


def check_errors(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check-errors", *args])


@pytest.fixture(scope="module")
def gunicorn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``gunicorn "app:create_app()"`` (one worker, an admin token) on a free local port."""
    with gunicorn_app(tmp_path_factory.mktemp("gunicorn"), {"FLASK_ADMIN_TOKEN": "live-admin-token"}) as base_url:
        yield base_url


@pytest.fixture
def html_server_url() -> Iterator[str]:
    """Base URL of a plain Flask app (HTML error pages) under Werkzeug's server on a free local port."""
    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_gunicorn_serving_app_py_keeps_the_contract_in_every_live_case(gunicorn_url: str) -> None:
    result = check_errors("--url", gunicorn_url)
    assert result.exit_code == 0, result.output
    total = len(cases_for("live"))
    assert result.stdout.splitlines()[-1] == f"{total} passed, 0 failed"
    assert result.stderr == ""


def test_json_over_http_reports_the_statuses_the_server_sent(gunicorn_url: str) -> None:
    result = check_errors("--url", gunicorn_url + "/", "--json", "--timeout", "5")
    assert result.exit_code == 0, result.output
    cases = {case["name"]: case for case in json.loads(result.stdout)["cases"]}
    # The server has an admin token, so a delete without one is asked to authenticate.
    assert cases["DELETE a course without a token"]["status"] == 401
    assert cases["DELETE a course with a wrong token"]["status"] == 403
    assert cases["POST a course above the size limit"]["status"] == 413
    assert cases["summary past the rate limit"]["status"] == 429
    assert cases["HEAD on an unknown route"]["status"] == 404


def test_a_server_with_html_error_pages_fails_over_http(html_server_url: str) -> None:
    result = check_errors("--url", html_server_url, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    unknown = next(case for case in document["cases"] if case["name"] == "unknown route")
    assert unknown["status"] == 404
    assert "Content-Type is 'text/html; charset=utf-8', not application/json" in unknown["problems"]
    assert document["failed"] > 0
