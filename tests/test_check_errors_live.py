"""``check-errors --url`` against real servers on 127.0.0.1: gunicorn serving app.py, and a broken app."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from cli import cli
from src.checker.catalogue import cases_for

pytestmark = pytest.mark.live

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 10.0


def check_errors(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check-errors", *args])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def gunicorn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``gunicorn "app:create_app()"`` (one worker, an admin token) on a free local port."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {**os.environ, "FLASK_ADMIN_TOKEN": "live-admin-token"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app:create_app()",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "--no-control-socket",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(f"{base_url}/healthz"):
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {STARTUP_TIMEOUT} s:\n{log_path.read_text()}")
            try:
                # Waiting on the process doubles as the pause between polls and notices a crash.
                server.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()}")
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


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
