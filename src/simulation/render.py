"""Turn simulation results into text for a person or JSON for a program.

Use :func:`render_run` and :func:`render_monte_carlo` for the terminal: they
return text styled with ``click.style``, which ``click.echo`` strips when the
output is not a terminal. Use :func:`runs_document` and
:func:`monte_carlo_document` for ``--json``; their shapes are::

    {"mode": "scenario", "runs": [{"policy", "scenario", "seed", "max_attempts",
        "wait_min", "wait_max", "attempts": [{"attempt", "start", "outcome", "error",
        "retry_after", "wait"}, ...], "result", "total_time", "retry_after_too_long", "refusal"}, ...]}

    {"mode": "monte_carlo", "policies": [{"policy", "runs", "fail_rate", "seed",
        "max_attempts", "success_rate", "mean_attempts", "wait_p50", "wait_p95",
        "wait_p99", "wait_max", "expected_success_rate", "expected_mean_attempts"}, ...]}

``wait`` is ``null`` after the last attempt, ``error`` is ``null`` for a success and
``result`` is ``"success"``, ``"gave_up"`` or ``"not_retried"`` (or ``"refused"``, with
``refusal`` saying why, when a policy's own circuit breaker or retry budget trips
within one call). Times are virtual seconds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

import click

from src.simulation.engine import AttemptRecord, ScenarioRun
from src.simulation.montecarlo import MonteCarloSummary

__all__ = [
    "TIMELINE_WIDTH",
    "monte_carlo_document",
    "render_monte_carlo",
    "render_run",
    "render_timeline",
    "runs_document",
    "to_json",
]

TIMELINE_WIDTH = 60
"""Columns the timeline spans, from the first attempt to the last; fixed so that output is reproducible."""

_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_MIN_TICK_GAP = 10
_OK, _FAIL, _BAR, _AXIS, _TICK = "✓", "✗", "━", "─", "┬"


# --- scenario runs ---------------------------------------------------------------------------


def render_run(run: ScenarioRun, *, width: int = TIMELINE_WIDTH) -> str:
    """A scenario run as a person reads it: header, one row per attempt, the timeline and the verdict."""
    outcome_width = max(len("outcome"), *(len(a.outcome) for a in run.attempts))
    error_width = max(len("raised"), *(len(a.error or "-") for a in run.attempts))
    header = click.style(
        f"{run.policy}  ·  {run.max_attempts} attempts, waits {run.wait_min:g}–{run.wait_max:g}s"
        f"  ·  scenario {run.scenario}  ·  seed {run.seed}",
        bold=True,
    )
    lines = [header, f"  {'#':>2}  {'start':>8}  {'outcome':<{outcome_width}}  {'raised':<{error_width}}  then"]
    for record in run.attempts:
        then = _then(run, record)
        lines.append(
            f"  {record.attempt:>2}  {record.start:>7.2f}s  {record.outcome:<{outcome_width}}"
            f"  {record.error or '-':<{error_width}}  {then}".rstrip()
        )
    lines.extend("  " + line for line in render_timeline(run, width=width))
    lines.append("  " + _verdict(run))
    return "\n".join(lines)


def render_timeline(run: ScenarioRun, *, width: int = TIMELINE_WIDTH) -> list[str]:
    """The run drawn to scale: attempts are marks, waits are bars, with a time axis below.

    Returns three lines: the marks and bars, the axis with its ticks, and the tick labels;
    just the mark for a call that ended on its first attempt, which took no time.
    """
    columns = _columns([record.start for record in run.attempts], run.total_time, width)
    span = columns[-1] + 1
    bar: list[str] = []
    for index, (record, column) in enumerate(zip(run.attempts, columns, strict=True)):
        if index:
            bar.append(click.style(_BAR * (column - columns[index - 1] - 1), fg="cyan"))
        bar.append(_mark(run, record))
    if run.total_time <= 0:
        return ["".join(bar) + click.style("  (no wait)", dim=True)]
    step = _tick_step(run.total_time, span)
    ticks = [step * k for k in range(int(run.total_time / step + 1e-9) + 1)]
    axis = [_AXIS] * span
    labels = ""
    for tick in ticks:
        column = round(tick / run.total_time * (span - 1))
        axis[column] = _TICK
        label = f"{tick:g}s"
        if column >= len(labels) + (1 if labels else 0):
            labels = labels.ljust(column) + label
    return ["".join(bar), "".join(axis), labels]


def _columns(starts: Sequence[float], total: float, width: int) -> list[int]:
    columns: list[int] = []
    for start in starts:
        column = round(start / total * (width - 1)) if total > 0 else 0
        columns.append(max(column, columns[-1] + 1) if columns else column)
    return columns


def _tick_step(total: float, span: int) -> float:
    for step in _TICK_STEPS:
        if step / total * (span - 1) >= _MIN_TICK_GAP:
            return float(step)
    return float(_TICK_STEPS[-1])


def _mark(run: ScenarioRun, record: AttemptRecord) -> str:
    if record.error is None:
        return click.style(_OK, fg="green", bold=True)
    last = record.attempt == len(run.attempts)
    return click.style(_FAIL, fg="red" if last else "yellow", bold=True)


def _then(run: ScenarioRun, record: AttemptRecord) -> str:
    if record.wait is not None:
        waited = f"waited {record.wait:.2f}s"
        if record.retry_after is None:
            return waited
        return click.style(f"retry-after {record.retry_after:g}s", fg="magenta") + f" → {waited}"
    if run.result == "success":
        return click.style("succeeded", fg="green")
    if run.result == "not_retried":
        return click.style("not retried: permanent", fg="red")
    if run.result == "refused":
        return click.style("refused by the policy's breaker or budget", fg="red")
    if run.retry_after_too_long is not None:
        return click.style(f"gave up: {_asked_too_much(run)}", fg="red")
    return click.style(f"gave up: out of attempts ({len(run.attempts)}/{run.max_attempts})", fg="red")


def _asked_too_much(run: ScenarioRun) -> str:
    asked = run.retry_after_too_long or 0.0
    relation = ">" if asked > run.wait_max else "="
    return f"server asked for {asked:g}s {relation} max {run.wait_max:g}s"


def _verdict(run: ScenarioRun) -> str:
    count = len(run.attempts)
    total = f"total {run.total_time:.2f}s"
    if run.result == "success":
        return click.style(f"succeeded on attempt {count}", fg="green", bold=True) + f"  ·  {total}"
    if run.result == "not_retried":
        error = run.attempts[-1].error
        text = f"not retried: {error} is permanent (attempt {count})"
    elif run.result == "refused":
        text = f"refused after {count} attempt{'s' if count > 1 else ''}: {run.refusal}"
    elif run.retry_after_too_long is not None:
        text = f"gave up after {count} attempt{'s' if count > 1 else ''}: {_asked_too_much(run)}"
    else:
        text = f"gave up after {count} attempt{'s' if count > 1 else ''}"
    return click.style(text, fg="red", bold=True) + f"  ·  {total}"


# --- Monte Carlo -----------------------------------------------------------------------------


def render_monte_carlo(summary: MonteCarloSummary) -> str:
    """One policy's Monte Carlo results, each measurement next to what theory predicts."""
    header = click.style(
        f"{summary.policy}  ·  {summary.max_attempts} attempts  ·  {summary.runs:,} calls at fail rate "
        f"{summary.fail_rate:g}  ·  seed {summary.seed}",
        bold=True,
    )
    theory = click.style
    return "\n".join(
        [
            header,
            f"  success rate    {summary.success_rate:>9.3%}   "
            + theory(f"theory {summary.expected_success_rate:.3%}", dim=True),
            f"  attempts/call   {summary.mean_attempts:>9.4f}   "
            + theory(f"theory {summary.expected_mean_attempts:.4f}", dim=True),
            f"  total wait      p50 {summary.wait_p50:.2f}s   p95 {summary.wait_p95:.2f}s   "
            f"p99 {summary.wait_p99:.2f}s   max {summary.wait_max:.2f}s",
        ]
    )


# --- JSON ------------------------------------------------------------------------------------


def runs_document(runs: Iterable[ScenarioRun]) -> dict[str, Any]:
    """The ``--json`` document for scenario runs: ``{"mode": "scenario", "runs": [...]}``."""
    return {"mode": "scenario", "runs": [dataclasses.asdict(run) for run in runs]}


def monte_carlo_document(summaries: Iterable[MonteCarloSummary]) -> dict[str, Any]:
    """The ``--json`` document for Monte Carlo: ``{"mode": "monte_carlo", "policies": [...]}``."""
    return {"mode": "monte_carlo", "policies": [dataclasses.asdict(summary) for summary in summaries]}


def to_json(document: dict[str, Any]) -> str:
    """Serialise a document from this module, indented, with full-precision floats."""
    return json.dumps(document, indent=2, allow_nan=False)
