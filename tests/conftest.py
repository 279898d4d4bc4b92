"""Shared fixtures: the app, its test client, and the contract check every error test applies."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from app import create_app
from src.utils.retry import ai_retry, file_retry, network_retry, set_testing

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "src" / "api" / "error_contract.schema.json"
ADMIN_TOKEN = "test-admin-token"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FORBIDDEN_CHARS = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)


def strict_json(data: bytes) -> Any:
    """Parse ``data`` as strict I-JSON: UTF-8, no NaN/Infinity, no duplicate names, safe integers."""

    def reject_constant(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name} in body")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names)), f"duplicate member names in {names}"
        return dict(pairs)

    def safe_int(text: str) -> int:
        assert len(text.lstrip("-")) <= 16, f"integer {text} beyond I-JSON's range"
        number = int(text)
        assert abs(number) <= 2**53 - 1, f"integer {text} beyond I-JSON's range"
        return number

    assert not data.startswith(b"\xef\xbb\xbf"), "byte order mark"
    text = data.decode("utf-8")  # raises on invalid UTF-8
    value = json.loads(text, parse_constant=reject_constant, object_pairs_hook=unique, parse_int=safe_int)
    assert _FORBIDDEN_CHARS.search(json.dumps(value, ensure_ascii=False)) is None, "lone surrogate or noncharacter"
    return value


class ErrorContract:
    """Checks that a test-client response is an error response honouring the JSON contract."""

    def __init__(self) -> None:
        schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        self.validator = Draft202012Validator(schema)

    def validate_body(self, body: Any) -> None:
        """Assert that parsed ``body`` is valid against the schema file."""
        errors = [f"{list(error.absolute_path)}: {error.message}" for error in self.validator.iter_errors(body)]
        assert not errors, errors

    def check(self, response: TestResponse, status: int) -> dict[str, Any]:
        """Assert status, headers and body of a test-client error response; return the parsed body."""
        return self.check_parts(
            response.status_code, response.headers, response.get_data(), status, method=response.request.method
        )

    def check_parts(
        self, actual_status: int, headers: Any, data: bytes, status: int, *, method: str = "GET"
    ) -> dict[str, Any]:
        """Assert that a response given as parts honours the contract; return the parsed body ({} for HEAD).

        ``headers`` is anything with a case-insensitive ``get`` (Werkzeug's Headers, http.client's).
        """
        assert actual_status == status, data
        assert headers.get("Content-Type") == "application/json"
        request_id = headers.get("X-Request-ID", "")
        assert _REQUEST_ID.fullmatch(request_id), request_id
        if method == "HEAD":
            assert data == b""
            return {}
        assert int(headers["Content-Length"]) == len(data)
        body = strict_json(data)
        assert isinstance(body, dict)
        self.validate_body(body)
        assert type(body["code"]) is int
        assert body["code"] == status
        assert body["error"].strip()
        if "request_id" in body:
            assert body["request_id"] == request_id
        if "retry_after" in body:
            assert headers.get("Retry-After") == str(body["retry_after"])
        return body


@pytest.fixture(scope="session")
def contract() -> ErrorContract:
    """The contract check, built once per session."""
    return ErrorContract()


@pytest.fixture
def app() -> Flask:
    """A fresh app in testing mode with an admin token configured."""
    return create_app({"TESTING": True, "ADMIN_TOKEN": ADMIN_TOKEN})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _retry_policies_for_tests() -> Iterator[None]:
    """Every test: retry waits are computed but never slept, and the shared budget and breaker start clean."""
    for policy in (ai_retry, file_retry, network_retry):
        policy.reset()
    with set_testing(True):
        yield
    for policy in (ai_retry, file_retry, network_retry):
        policy.reset()


# --- Hypothesis profiles ----------------------------------------------------------------------
# Hypothesis loads its "default" profile, or its "ci" profile when it detects CI (CI=true and the
# like). Registering a profile under the active name changes it in place without loading
# anything, so these two lines only trim the example count (fast enough for every test run)
# and leave the choice between them to Hypothesis. HYPOTHESIS_PROFILE picks any profile below,
# e.g. ``HYPOTHESIS_PROFILE=thorough pytest -m property`` for a deep run.
PROPERTY_EXAMPLES = 30
settings.register_profile(
    "default", settings.get_profile("default"), max_examples=PROPERTY_EXAMPLES, deadline=timedelta(seconds=1)
)
settings.register_profile("ci", settings.get_profile("ci"), max_examples=PROPERTY_EXAMPLES)
settings.register_profile(
    "thorough",
    settings.get_profile("default"),
    max_examples=2000,
    deadline=None,
    # Thousands of large generated exceptions: slow generation is expected here, not a smell.
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
