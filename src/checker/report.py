"""Turn a :class:`~src.checker.runner.Report` into a table for a person or JSON for a program.

Use :func:`render_table` for the terminal: one row per case (the case, the expected status, the
status received, the verdict), each problem of a failing case on its own line below the row, and
the summary line ``N passed, M failed`` last. Verdicts are styled with ``click.style``, which
``click.echo`` strips when the output is not a terminal. Generated (``--fuzz``) cases that pass
are folded into one row; each failing one gets its own.

Use :func:`report_document` for ``--json``; its shape is::

    {"cases": [{"name", "expected_status", "status", "ok", "problems"}, ...], "passed", "failed"}

with one entry per case, generated ones included, and ``status`` null when no reply came.
"""

from __future__ import annotations

import json
from typing import Any

import click

from src.checker.runner import CaseResult, Report

__all__ = ["render_table", "report_document", "summary_line", "to_json"]

_HEADER = ("case", "expected", "got", "verdict")
_PROBLEM_INDENT = "    - "


def summary_line(report: Report) -> str:
    """``"N passed, M failed"``."""
    return f"{report.passed} passed, {report.failed} failed"


def render_table(report: Report) -> str:
    """The report as an aligned text table followed by the summary line."""
    rows = [_row(result) for result in report.results if result.origin == "catalogue" or not result.ok]
    fuzz_passed = [result for result in report.results if result.origin == "fuzz" and result.ok]
    if fuzz_passed:
        statuses = sorted({result.expected_status for result in fuzz_passed})
        rows.append(
            (
                f"fuzz: {len(fuzz_passed)} generated exception{'s conform' if len(fuzz_passed) > 1 else ' conforms'}",
                _status_range(statuses),
                _status_range(statuses),
                "ok",
                (),
            )
        )
    widths = [max(len(row[column]) for row in [(*_HEADER, ()), *rows]) for column in range(3)]
    lines = [_line(_HEADER[0], _HEADER[1], _HEADER[2], _HEADER[3], widths)]
    for name, expected, got, verdict, problems in rows:
        styled = click.style(verdict, fg="green" if verdict == "ok" else "red", bold=verdict != "ok")
        lines.append(_line(name, expected, got, styled, widths))
        lines.extend(f"{_PROBLEM_INDENT}{problem}" for problem in problems)
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines)


def report_document(report: Report) -> dict[str, Any]:
    """The report as JSON data (see the module docstring for its shape)."""
    return {
        "cases": [
            {
                "name": result.name,
                "expected_status": result.expected_status,
                "status": result.status,
                "ok": result.ok,
                "problems": list(result.problems),
            }
            for result in report.results
        ],
        "passed": report.passed,
        "failed": report.failed,
    }


def to_json(document: dict[str, Any]) -> str:
    """``document`` as indented JSON text."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def _row(result: CaseResult) -> tuple[str, str, str, str, tuple[str, ...]]:
    expected = "|".join(str(status) for status in (result.expected_status, *result.also_accepted))
    got = "-" if result.status is None else str(result.status)
    return result.name, expected, got, "ok" if result.ok else "FAIL", result.problems


def _status_range(statuses: list[int]) -> str:
    return str(statuses[0]) if len(statuses) == 1 else f"{statuses[0]}-{statuses[-1]}"


def _line(name: str, expected: str, got: str, verdict: str, widths: list[int]) -> str:
    return f"{name:<{widths[0]}}  {expected:>{widths[1]}}  {got:>{widths[2]}}  {verdict}".rstrip()
