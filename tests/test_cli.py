"""The command group: usage errors are one line and exit 2, whichever command they come from."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["--bogus"], "No such option '--bogus'"),
        (["simulate-retry", "--seed", "-1"], "Invalid value for '--seed'"),
        (["simulate-retry", "--policy", "nope"], "Invalid value for '--policy'"),
        (["simulate-retry", "--scenario", "ok,@3"], "--scenario"),
        (["check-errors", "--url", "ftp://example.invalid"], "http"),
        (["check-errors", "--timeout", "-1", "--url", "http://127.0.0.1:9"], "--timeout"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_both_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "simulate-retry" in result.stdout
    assert "check-errors" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check-errors", "--url", "http://a..b"], "invalid host name"),
        (["check-errors", "--url", "http://" + "x" * 64 + ".example"], "invalid host name"),
        (["check-errors", "--url", "http://user:pw@127.0.0.1:9"], "credentials"),
        (["check-errors", "--url", "http://127.0.0.1:9", "--timeout", "nan"], "not a number"),
        (["check-errors", "--app", ""], "MODULE:FACTORY"),
        (["check-errors", "--app", "sys:exit"], "SystemExit"),
    ],
)
def test_check_errors_refuses_what_it_cannot_check(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate-retry", "--scenario", "ai-ratelimit@1_0"], "not a number of seconds"),
        (["simulate-retry", "--scenario", "ai-ratelimit@inf"], "finite number of seconds"),
        (["simulate-retry", "--runs", "1000001", "--fail-rate", "0.5"], "--runs"),
    ],
)
def test_simulate_retry_refuses_odd_numbers(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_negative_zero_retry_after_reads_as_zero() -> None:
    result = CliRunner().invoke(
        cli, ["simulate-retry", "--policy", "ai", "--scenario", "ai-ratelimit@-0,ok", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "ai-ratelimit@0" in result.stdout
    assert "-0" not in result.stdout
