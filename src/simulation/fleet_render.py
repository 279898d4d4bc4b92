"""Turn fleet runs and the jitter comparison into text for a person or JSON for a program.

Use :func:`render_fleet` and :func:`render_jitter` for the terminal (styled with
``click.style``, which ``click.echo`` strips when the output is not a terminal) and
:func:`fleet_document` and :func:`jitter_document` for ``--json``. Their shapes::

    {"mode": "fleet", "config": {"clients", "duration", "rate", "capacity", "service_time",
        "timeout", "outage": {"start", "end"} | null, "seed", "recovery_threshold"},
     "runs": [{"policy", "guarded", "max_attempts", "wait_min", "wait_max", "requests",
        "successes", "failures", "refusals", "upstream_calls", "served", "timed_out", "down",
        "wasted", "amplification", "success_rate", "latency_p50", "latency_p99", "recovery",
        "breaker_opened", "retries_denied",
        "timeline": [{"start", "arrivals", "successes", "calls"}, ...]}, ...]}

    {"mode": "jitter", "config": {"clients", "capacity", "service_time", "attempts",
        "wait_min", "wait_max", "seed"},
     "runs": [{"jitter", "clients", "successes", "calls", "calls_per_success",
        "finished", "mean_done"}, ...]}

Times are virtual seconds; ``recovery`` and the rates are ``null`` when they can't
be measured (see :mod:`~src.simulation.fleet_stats`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import click

from src.simulation.contention import ContentionConfig, JitterRun
from src.simulation.fleet import FleetConfig, FleetRun
from src.simulation.fleet_stats import RECOVERY_THRESHOLD, FleetSummary, summarize, timeline

__all__ = ["fleet_document", "jitter_document", "render_fleet", "render_fleet_header", "render_jitter"]

_VARIANTS = ("without budget+breaker", "with budget+breaker")


# --- text ------------------------------------------------------------------------------------


def render_fleet_header(config: FleetConfig) -> str:
    """One line describing the fleet and its upstream, printed once above the tables."""
    outage = f"outage {config.outage.start:g}–{config.outage.end:g}s" if config.outage else "no outage"
    return click.style(
        f"fleet  ·  {config.clients} clients × {config.rate:g} requests/s for {config.duration:g}s  ·  "
        f"upstream serves {config.capacity} at once, {config.service_time:g}s each, clients time out after "
        f"{config.timeout:g}s  ·  {outage}  ·  seed {config.seed}",
        bold=True,
    )


def render_fleet(without: FleetRun, with_guards: FleetRun) -> str:
    """One policy's two runs side by side: a row per figure, a column per variant."""
    policy = without.policy
    plain, guarded = summarize(without), summarize(with_guards)
    rows: list[tuple[str, str, str]] = [
        ("logical requests", f"{plain.requests:,}", f"{guarded.requests:,}"),
        ("upstream calls", f"{plain.upstream_calls:,}", f"{guarded.upstream_calls:,}"),
        ("amplification", _times(plain.amplification), _times(guarded.amplification)),
        ("success rate", _percent(plain.success_rate), _percent(guarded.success_rate)),
        ("failed after retries", f"{plain.failures:,}", f"{guarded.failures:,}"),
        ("refused fast (503)", f"{plain.refusals:,}", f"{guarded.refusals:,}"),
        ("latency p50", _seconds(plain.latency_p50), _seconds(guarded.latency_p50)),
        ("latency p99", _seconds(plain.latency_p99), _seconds(guarded.latency_p99)),
        ("recovery after outage", _recovery(plain, without.config), _recovery(guarded, with_guards.config)),
        ("calls timed out", f"{plain.timed_out:,}", f"{guarded.timed_out:,}"),
        ("  served anyway (wasted)", f"{plain.wasted:,}", f"{guarded.wasted:,}"),
    ]
    label_width = max(len(label) for label, _, _ in rows)
    widths = [max(len(_VARIANTS[i]), *(len(row[i + 1]) for row in rows)) for i in range(2)]
    header = click.style(
        f"{policy.name}  ·  {policy.attempts} attempts, waits {policy.wait_min:g}–{policy.wait_max:g}s", bold=True
    )
    lines = [
        header,
        f"  {'':<{label_width}}  {_VARIANTS[0]:>{widths[0]}}  {_VARIANTS[1]:>{widths[1]}}",
        *(f"  {label:<{label_width}}  {a:>{widths[0]}}  {b:>{widths[1]}}" for label, a, b in rows),
        click.style(
            f"  with budget+breaker: breaker opened {guarded.breaker_opened or 0} time(s), "
            f"budget refused {guarded.retries_denied or 0} retr{'y' if guarded.retries_denied == 1 else 'ies'}",
            dim=True,
        ),
    ]
    return "\n".join(lines)


def render_jitter(config: ContentionConfig, runs: Sequence[JitterRun]) -> str:
    """The jitter comparison as a table, one row per strategy."""
    header = click.style(
        f"jitter under contention  ·  {config.clients} clients at once  ·  upstream serves {config.capacity} at "
        f"once, {config.service_time:g}s each, no queue  ·  {config.attempts} attempts, waits from "
        f"{config.wait_min:g}s up to {config.wait_max:g}s  ·  seed {config.seed}",
        bold=True,
    )
    columns = ("jitter", "calls", "succeeded", "calls/success", "all done", "mean done")
    rows = [
        (
            run.jitter,
            f"{run.calls:,}",
            f"{run.successes}/{run.clients}",
            "-" if run.calls_per_success is None else f"{run.calls_per_success:.2f}",
            f"{run.finished:.2f}s",
            f"{run.mean_done:.2f}s",
        )
        for run in runs
    ]
    widths = [max(len(columns[i]), *(len(row[i]) for row in rows)) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return "  " + "  ".join(
            [first, *(f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True))]
        )

    return "\n".join([header, line(columns), *(line(row) for row in rows)])


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _recovery(summary: FleetSummary, config: FleetConfig) -> str:
    if summary.recovery is not None:
        return f"{summary.recovery:g}s"
    if config.outage is None:
        return "-"
    return f"not within {math.floor(config.duration - config.outage.end)}s"


# --- JSON ------------------------------------------------------------------------------------


def fleet_document(config: FleetConfig, runs: Sequence[FleetRun]) -> dict[str, Any]:
    """The ``--json`` document for fleet runs: ``{"mode": "fleet", "config": {...}, "runs": [...]}``."""
    return {
        "mode": "fleet",
        "config": {
            "clients": config.clients,
            "duration": config.duration,
            "rate": config.rate,
            "capacity": config.capacity,
            "service_time": config.service_time,
            "timeout": config.timeout,
            "outage": None if config.outage is None else {"start": config.outage.start, "end": config.outage.end},
            "seed": config.seed,
            "recovery_threshold": RECOVERY_THRESHOLD,
        },
        "runs": [_run_document(run) for run in runs],
    }


def _run_document(run: FleetRun) -> dict[str, Any]:
    summary = dataclasses.asdict(summarize(run))
    policy = run.policy
    return {
        "policy": summary.pop("policy"),
        "guarded": summary.pop("guarded"),
        "max_attempts": policy.attempts,
        "wait_min": policy.wait_min,
        "wait_max": policy.wait_max,
        **summary,
        "timeline": [dataclasses.asdict(second) for second in timeline(run)],
    }


def jitter_document(config: ContentionConfig, runs: Sequence[JitterRun]) -> dict[str, Any]:
    """The ``--json`` document for the jitter comparison: ``{"mode": "jitter", "config": {...}, "runs": [...]}``."""
    return {"mode": "jitter", "config": dataclasses.asdict(config), "runs": [dataclasses.asdict(run) for run in runs]}
