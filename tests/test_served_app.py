"""The app served by gunicorn, as deployed: real sockets, real HTTP, the same contract."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.api.contract import validate_error_response
from tests.conftest import ErrorContract

pytestmark = pytest.mark.live

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 10.0


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
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``gunicorn "app:create_app()"`` with one worker on a free local port."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-control-socket",  # several servers may run at once; don't share ~/.gunicorn
                "app:create_app()",
            ],
            cwd=REPO_ROOT,
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


def test_wrong_method_gives_405_with_allow_and_a_json_body(served_app: str, contract: ErrorContract) -> None:
    request = urllib.request.Request(f"{served_app}/healthz", method="DELETE", headers={"X-Request-ID": "live-405"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    error = caught.value
    data = error.read()
    error.close()
    body = contract.check_parts(error.code, error.headers, data, 405)
    assert set(error.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert error.headers["X-Request-ID"] == "live-405"
    assert body == {
        "error": "The method is not allowed for the requested URL.",
        "code": 405,
        "request_id": "live-405",
    }
    assert validate_error_response(error.code, error.headers, data) == body


def test_unknown_course_gives_404_in_the_contract(served_app: str, contract: ErrorContract) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{served_app}/api/courses/crs_missing", timeout=5)
    error = caught.value
    data = error.read()
    error.close()
    body = contract.check_parts(error.code, error.headers, data, 404)
    assert body["error"] == "Course crs_missing not found"
    assert body["resource_id"] == "crs_missing"
