"""The app served by gunicorn, as deployed: real sockets, real HTTP, the same contract."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from src.api.contract import validate_error_response
from tests.conftest import ErrorContract
from tests.live_server import gunicorn_app

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``gunicorn "app:create_app()"`` with one worker on a free local port."""
    with gunicorn_app(tmp_path_factory.mktemp("gunicorn")) as base_url:
        yield base_url


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
