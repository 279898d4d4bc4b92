"""Turn a :class:`~src.checker.runner.Report` into a table for a person or JSON for a program.

Use :func:`render_table` for the terminal: one row per case (the case, the expected status, the
status received, the verdict), each problem of a failing case on its own line below the row, and
the summary line ``N passed, M failed`` last. Verdicts are styled with ``click.style``, which
``click.echo`` strips when the output is not a terminal. Generated (``--fuzz``) cases that pass
share one row; failing ones get one row per way of failing.

Use :func:`report_document` for ``--json``; its shape is::

    {"cases": [{"name", "expected_status", "status", "ok", "problems"}, ...], "passed", "failed"}

with one entry per case, generated ones included, and ``status`` null when no reply came.
"""

from __future__ import annotations

import json
from typing import Any

import click

from src.checker.runner import CaseResult, Report

__all__ = ["PROBLEM_WIDTH", "render_table", "report_document", "summary_line", "to_json"]

#: Characters of a problem the table shows; the rest is cut (``--json`` has it whole).
PROBLEM_WIDTH = 160

_HEADER = ("case", "expected", "got", "verdict")
_PROBLEM_INDENT = "    - "
#: A table row: case, expected, got, verdict, problems.
_Row = tuple[str, str, str, str, tuple[str, ...]]


def summary_line(report: Report) -> str:
    """``"N passed, M failed"``."""
    return f"{report.passed} passed, {report.failed} failed"


def render_table(report: Report) -> str:
    """The report as an aligned text table followed by the summary line.

    Catalogue cases come first, one row each. Failing generated cases follow, those with the same
    exception description, statuses and problems folded into one row (``fuzz #7 (+3 alike): ...``);
    the generated cases that conform share the last row. Problem lines longer than
    :data:`PROBLEM_WIDTH` are cut short (``--json`` has them whole).
    """
    rows: list[_Row] = []
    alike: dict[tuple[object, ...], list[CaseResult]] = {}
    conforming = []
    for result in report.results:
        if result.origin == "catalogue":
            rows.append(_row(result))
        elif result.ok:
            conforming.append(result)
        else:
            alike.setdefault(_fuzz_key(result), []).append(result)
    rows.extend(_row(group[0], alike=len(group) - 1) for group in alike.values())
    if conforming:
        count = len(conforming)
        statuses = _status_range(sorted({result.expected_status for result in conforming}))
        verb = "exceptions conform" if count > 1 else "exception conforms"
        rows.append((f"fuzz: {count} generated {verb}", statuses, statuses, "ok", ()))

    widths = [max(len(row[column]) for row in [(*_HEADER, ()), *rows]) for column in range(3)]
    lines = [_line(*_HEADER, widths)]
    for name, expected, got, verdict, problems in rows:
        styled = click.style(verdict, fg="green" if verdict == "ok" else "red", bold=verdict != "ok")
        lines.append(_line(name, expected, got, styled, widths))
        lines.extend(f"{_PROBLEM_INDENT}{_shorten(problem)}" for problem in problems)
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


def _row(result: CaseResult, *, alike: int = 0) -> _Row:
    name = result.name
    if alike:
        # Generated cases are named "fuzz #<n>: <exception>"; say how many more failed the same way.
        number, _, description = name.partition(": ")
        name = f"{number} (+{alike} alike): {description}"
    expected = "|".join(str(status) for status in (result.expected_status, *result.also_accepted))
    got = "-" if result.status is None else str(result.status)
    return name, expected, got, "ok" if result.ok else "FAIL", result.problems


def _fuzz_key(result: CaseResult) -> tuple[object, ...]:
    return (result.name.partition(": ")[2], result.expected_status, result.status, result.problems)


def _shorten(text: str) -> str:
    return text if len(text) <= PROBLEM_WIDTH else text[: PROBLEM_WIDTH - 1] + "…"


def _status_range(statuses: list[int]) -> str:
    return str(statuses[0]) if len(statuses) == 1 else f"{statuses[0]}-{statuses[-1]}"


def _line(name: str, expected: str, got: str, verdict: str, widths: list[int]) -> str:
    return f"{name:<{widths[0]}}  {expected:>{widths[1]}}  {got:>{widths[2]}}  {verdict}".rstrip()
