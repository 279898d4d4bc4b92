"""``python cli.py check-errors``: every option and every exit path, through click's CliRunner."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from app import create_app
from cli import cli
from src.checker.catalogue import cases_for

ROOT = Path(__file__).resolve().parents[1]
HERE = "tests.test_cli_check_errors"


def check_errors(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check-errors", *args])


def html_app() -> Flask:
    """Flask without the contract: HTML error pages."""
    return Flask(__name__)


def failing_factory() -> Flask:
    raise RuntimeError("the database is not configured")


def recycling_factory() -> Flask:
    """Returns the same app every time, which the checker must refuse."""
    return SERVED


SERVED = create_app()


def closed_port() -> int:
    """A local port nothing listens on (connecting to it is refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- exit 0: every case conforms --------------------------------------------------------------


def test_default_run_checks_app_py_in_process_and_exits_0() -> None:
    result = check_errors()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["case", "expected", "got", "verdict"]
    total = len(cases_for("in-process"))
    assert lines[-1] == f"{total} passed, 0 failed"
    assert len([line for line in lines if line.endswith(" ok")]) == total
    assert "\x1b[" not in result.stdout  # no colour when not a terminal
    assert result.stderr == ""


def test_json_lists_every_case_and_exits_0() -> None:
    result = check_errors("--app", "app:create_app", "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert set(document) == {"cases", "passed", "failed"}
    assert document["failed"] == 0
    assert document["passed"] == len(document["cases"]) == len(cases_for("in-process"))
    first = document["cases"][0]
    assert set(first) == {"name", "expected_status", "status", "ok", "problems"}
    assert first["ok"] is True
    assert first["problems"] == []


# --- exit 1: a contract violation -------------------------------------------------------------


def test_a_non_conforming_app_exits_1_and_names_each_fault() -> None:
    result = check_errors("--app", f"{HERE}:html_app")
    assert result.exit_code == 1, result.output
    assert "Content-Type is 'text/html; charset=utf-8', not application/json" in result.stdout
    assert "FAIL" in result.stdout
    summary = result.stdout.splitlines()[-1]
    passed, failed = (int(part.split()[0]) for part in summary.split(", "))
    assert failed > 0
    assert summary == f"{passed} passed, {failed} failed"
    # Flask alone has no course API: those cases are left out, and the user is told.
    assert result.stderr.startswith("note: ")
    assert "the app has no route for them: health check, GET a missing course" in result.stderr


def test_a_non_conforming_app_exits_1_with_json_too() -> None:
    result = check_errors("--app", f"{HERE}:html_app", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["failed"] > 0
    unknown = next(case for case in document["cases"] if case["name"] == "unknown route")
    assert unknown["ok"] is False
    assert unknown["status"] == 404


# --- exit 2: usage errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "app"], "'app' is not MODULE:FACTORY"),
        (["--app", "no_such_module_here:create_app"], "cannot import 'no_such_module_here'"),
        (["--app", "app:no_such_factory"], "module 'app' has no attribute 'no_such_factory'"),
        (["--app", f"{HERE}:SERVED"], "is an app, not a factory"),
        (["--app", f"{HERE}:failing_factory"], "the app factory raised RuntimeError: the database is not configured"),
        (["--app", f"{HERE}:recycling_factory"], "returned an app it had built before"),
        (["--url", "ftp://example.com"], "has scheme 'ftp'; give an http:// or https:// URL"),
        (["--url", "example.com/api"], "has no scheme"),
        (["--url", "http://"], "has no host"),
        (["--url", "http://127.0.0.1:99999"], "has an invalid port"),
        (["--url", "http://127.0.0.1:5000/?debug=1"], "has a query or fragment"),
        (["--url", "http://127.0.0.1:5000", "--app", "app:create_app"], "--app and --url exclude each other"),
        (["--url", "http://127.0.0.1:5000", "--fuzz", "3"], "--fuzz raises exceptions inside the app"),
        (["--timeout", "5"], "--timeout applies to --url only"),
        (["--url", "http://127.0.0.1:5000", "--timeout", "0"], "'--timeout'"),
        (["--fuzz", "-1"], "'--fuzz'"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = check_errors(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_connection_refused_exits_2_with_one_line() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = check_errors("--url", url)
    assert result.exit_code == 2
    assert result.stderr == f"Error: cannot reach {url}: connection refused\n"
    assert result.stdout == ""


def test_dns_failure_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: object, **kwargs: object) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = check_errors("--url", "http://no-such-host.invalid")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: cannot reach http://no-such-host.invalid: cannot resolve the host name (Name or service not known)\n"
    )


def test_timeout_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def too_slow(self: object, request: object, data: object = None, timeout: float = 0) -> Any:
        seen.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", too_slow)
    result = check_errors("--url", "http://127.0.0.1:5000", "--timeout", "2.5")
    assert result.exit_code == 2
    assert result.stderr == "Error: cannot reach http://127.0.0.1:5000: no answer within 2.5 s\n"
    assert seen == [2.5]


# --- --fuzz -----------------------------------------------------------------------------------


def test_fuzz_adds_generated_exceptions_to_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import strategies as st

    from src.testing import strategies

    monkeypatch.setattr(strategies, "exceptions", lambda: st.sampled_from([ValueError("x"), KeyError("y")]))
    result = check_errors("--fuzz", "5", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    fuzzed = [case for case in document["cases"] if case["name"].startswith("fuzz #")]
    assert 1 <= len(fuzzed) <= 5
    assert all(case["ok"] and case["expected_status"] == 500 for case in fuzzed)
    assert document["passed"] == len(cases_for("in-process")) + len(fuzzed)


# --- help and import cost ---------------------------------------------------------------------


def test_help_describes_every_option() -> None:
    result = check_errors("--help")
    assert result.exit_code == 0
    for option in ("--app", "--url", "--timeout", "--fuzz", "--json"):
        assert option in result.stdout
    assert "Prove, case by case, that an app keeps the JSON error contract." in result.stdout


def test_importing_the_command_imports_neither_flask_nor_the_checker() -> None:
    code = (
        "import sys, src.cli.check_errors; "
        "print(sorted(m for m in ('flask', 'werkzeug', 'jsonschema', 'anthropic', 'hypothesis', 'src.checker') "
        "if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"
