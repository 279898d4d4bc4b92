"""The load script in small, for CI: ~1,000 requests against gunicorn with 3 workers, figures checked.

One module-scoped run of ``python -m tests.load.run_load --requests 1000 --json`` (through
click's ``CliRunner``; gunicorn itself is a real subprocess on 127.0.0.1) feeds every test here.
Nothing is timed: the run is bounded by its request count and stops itself at ``--time-limit``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.load.run_load import KINDS, Kind, _check_log, _Tally, main

pytestmark = pytest.mark.live

REQUESTS = 1_000
WORKERS = 3
#: Kinds that fail because of a known bug in src/ (none at present); the rest must be clean.
KNOWN_BUGS: set[str] = set()


@pytest.fixture(scope="module")
def load_run() -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of one small run of the load script."""
    result = CliRunner().invoke(
        main, ["--requests", str(REQUESTS), "--workers", str(WORKERS), "--time-limit", "60", "--json"]
    )
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, report


@pytest.fixture(scope="module")
def report(load_run: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return load_run[1]


def test_every_kind_was_sent_and_answered(report: dict[str, Any]) -> None:
    assert report["requests_sent"] == REQUESTS
    assert report["stopped_by_time_limit"] is False
    assert set(report["by_kind"]) == {kind.name for kind in KINDS}
    assert sum(report["by_kind"].values()) == REQUESTS
    assert sum(report["by_status"].values()) == REQUESTS
    assert report["transport_errors"] == 0
    expected_statuses = {str(kind.status) for kind in KINDS}
    assert set(report["by_status"]) == expected_statuses
    assert report["error_responses"] == sum(
        count for kind in KINDS if kind.status >= 400 for name, count in report["by_kind"].items() if name == kind.name
    )


def test_every_response_kept_the_contract_apart_from_the_known_bug(report: dict[str, Any]) -> None:
    unexpected = {kind: count for kind, count in report["problems_by_kind"].items() if kind not in KNOWN_BUGS}
    assert unexpected == {}, report["examples"]
    for figure in ("unexpected_statuses", "header_problems", "request_id_problems", "leaks", "transport_errors"):
        assert report[figure] == 0, (figure, report["examples"])
    known = sum(report["by_kind"][kind] for kind in KNOWN_BUGS)
    assert report["conformant_error_responses"] >= report["error_responses"] - known


def test_every_error_response_was_logged_exactly_once(report: dict[str, Any]) -> None:
    assert report["log_mismatches"] == 0, report["examples"]
    assert report["stray_log_records"] == 0, report["examples"]


def test_no_worker_crashed_or_restarted(report: dict[str, Any]) -> None:
    assert report["worker_restarts"] == 0
    assert report["worker_boots_during_load"] == 0
    assert report["worker_exits_during_load"] == 0
    assert len(report["worker_pids_before"]) == WORKERS
    assert report["worker_pids_after"] == report["worker_pids_before"]


def test_worker_memory_is_measured_and_did_not_balloon(report: dict[str, Any]) -> None:
    assert report["rss_before_kb"] > 10_000 * WORKERS
    assert report["rss_after_kb"] > 0
    assert report["rss_growth_pct"] <= report["max_rss_growth_pct"]


def test_gunicorn_and_its_workers_are_gone_after_the_run(report: dict[str, Any]) -> None:
    for pid in [report["master_pid"], *report["worker_pids_after"]]:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} outlived the load run"


def test_gunicorn_own_answers_are_reported_apart(report: dict[str, Any]) -> None:
    # Malformed requests never reach the app: gunicorn answers them with its own HTML pages.
    answers = report["server_answers"]
    assert answers
    assert all(answer.startswith(("400", "414", "431")) for answer in answers.values()), answers


def test_the_exit_status_follows_the_must_hold_figures(load_run: tuple[int, dict[str, Any]]) -> None:
    exit_code, report = load_run
    assert exit_code == (1 if report["failures"] else 0)
    if report["failures"]:
        assert report["contract_conformance_pct"] < 100 or report["non_json_responses"] > 0


def test_a_teardown_failure_keeps_the_contract_on_gunicorn(load_run: tuple[int, dict[str, Any]]) -> None:
    exit_code, report = load_run
    assert report["problems_by_kind"].get("500 teardown", 0) == 0, report["examples"]
    assert report["failures"] == []
    assert exit_code == 0


@pytest.mark.parametrize(
    "args",
    [["--requests", "0"], ["--workers", "0"], ["--skip", "no such kind"], ["--time-limit", "0"]],
    ids=["no-requests", "no-workers", "unknown-kind", "no-time"],
)
def test_usage_errors_exit_2_without_starting_a_server(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output


def test_the_log_check_catches_missing_doubled_and_stray_records() -> None:
    kind = Kind("500 demo", "GET", "/demo", 500)
    tally = _Tally()
    tally.logged = [("once", 500, kind.name), ("twice", 500, kind.name), ("never", 404, kind.name)]
    line = "contract-log level={} status={} request_id={} traceback={} logger={}"
    log = "\n".join(
        [
            line.format("ERROR", 500, "once", "yes", "src.utils.error_logging"),
            line.format("ERROR", 500, "twice", "yes", "src.utils.error_logging"),
            line.format("ERROR", 500, "twice", "yes", "src.utils.error_logging"),
            line.format("ERROR", "-", "-", "yes", "app"),
        ]
    )
    examples = _check_log(log, tally)
    assert tally.log_mismatches == 2
    assert tally.problems_by_kind == {"500 demo": 2}
    # The record of another logger counts twice: no request id, and not the contract's logger.
    assert tally.stray_log_records == 2
    assert examples
