"""Section ``simulation``: Monte Carlo calls per second through the real policies, against bare tenacity.

For each policy, ``run_monte_carlo`` (the simulator's own entry point: a fresh budget and breaker,
reset before each call, a virtual clock, a seeded jitter) makes ``runs`` calls against an upstream
whose every attempt fails with probability ``fail_rate``. The baseline does the same attempts with
a bare ``tenacity.Retrying`` built once and reused: the policy's attempt count, a random
exponential wait between its bounds, ``ConnectionError`` retried, a no-op sleep. Both draw failures
from ``random.Random(f"failures:{seed}")``, so they face the same upstream, and the section reports
whether their attempt counts agree. Rounds alternate the two, and the figures are medians.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import asdict, dataclass

import tenacity

from bench.report import Ratio, Row, Section
from bench.timing import median, paired_ratio, rotated
from src.simulation import run_monte_carlo
from src.utils.retry import RetryPolicy, ai_retry, file_retry, network_retry

__all__ = ["DEFAULT", "QUICK", "Sizes", "run"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many simulated calls the section makes."""

    runs: int
    """Calls per sample."""
    rounds: int
    fail_rate: float = 0.3
    seed: int = 1


DEFAULT = Sizes(runs=3000, rounds=5)
QUICK = Sizes(runs=50, rounds=1)


def _ours(policy: RetryPolicy, sizes: Sizes) -> tuple[float, float]:
    """Seconds for ``runs`` calls through ``run_monte_carlo``, and its mean attempts."""
    start = time.perf_counter()
    summary = run_monte_carlo(policy, runs=sizes.runs, fail_rate=sizes.fail_rate, seed=sizes.seed)
    return time.perf_counter() - start, summary.mean_attempts


def _bare_tenacity(policy: RetryPolicy, sizes: Sizes) -> tuple[float, float]:
    """Seconds for ``runs`` calls through one reused ``tenacity.Retrying``, and the mean attempts."""
    failures = random.Random(f"failures:{sizes.seed}")
    fail_rate = sizes.fail_rate
    attempts = 0

    def attempt() -> None:
        nonlocal attempts
        attempts += 1
        if failures.random() < fail_rate:
            raise ConnectionError("simulated transient failure")

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_random_exponential(multiplier=policy.wait_min, min=policy.wait_min, max=policy.wait_max),
        retry=tenacity.retry_if_exception_type(ConnectionError),
        sleep=lambda _seconds: None,
        reraise=True,
    )
    start = time.perf_counter()
    for _ in range(sizes.runs):
        with contextlib.suppress(ConnectionError):
            retrying(attempt)
    return time.perf_counter() - start, attempts / sizes.runs


def run(sizes: Sizes = DEFAULT) -> Section:
    """Time both sides for each policy; see the module docstring."""
    policies = {"ai": ai_retry, "file": file_retry, "network": network_retry}
    candidates = [(name, side) for name in policies for side in ("ours", "tenacity")]
    seconds: dict[tuple[str, str], list[float]] = {candidate: [] for candidate in candidates}
    mean_attempts: dict[tuple[str, str], float] = {}
    measure = {"ours": _ours, "tenacity": _bare_tenacity}
    for name, side in candidates:  # warm-up
        measure[side](policies[name], Sizes(runs=min(50, sizes.runs), rounds=1, fail_rate=sizes.fail_rate))
    for round_index in range(sizes.rounds):
        for name, side in rotated(candidates, round_index):
            elapsed, mean_attempts[name, side] = measure[side](policies[name], sizes)
            seconds[name, side].append(elapsed)

    rows = []
    for name, policy in policies.items():
        ours_rate = [sizes.runs / s for s in seconds[name, "ours"]]
        bare_rate = [sizes.runs / s for s in seconds[name, "tenacity"]]
        same = abs(mean_attempts[name, "ours"] - mean_attempts[name, "tenacity"]) < 1e-9
        rows.append(
            Row(
                key=f"{name}_ours",
                label=f"run_monte_carlo({name}_retry)",
                value=median(ours_rate),
                unit="calls/s",
                ratios=(Ratio(f"{name}_tenacity", "bare tenacity", paired_ratio(ours_rate, bare_rate)),),
                note=f"{mean_attempts[name, 'ours']:.3f} attempts/call" + ("" if same else " (DIFFERS from tenacity)"),
                extra={"calls_per_second_per_round": ours_rate, "mean_attempts": mean_attempts[name, "ours"]},
            )
        )
        rows.append(
            Row(
                key=f"{name}_tenacity",
                label=f"bare tenacity.Retrying, {policy.attempts} attempts",
                value=median(bare_rate),
                unit="calls/s",
                note=f"{mean_attempts[name, 'tenacity']:.3f} attempts/call",
                extra={
                    "calls_per_second_per_round": bare_rate,
                    "mean_attempts": mean_attempts[name, "tenacity"],
                    "same_attempts_as_ours": same,
                },
            )
        )
    return Section(
        key="simulation",
        title=(
            f"Monte Carlo simulation ({sizes.runs} calls per sample, fail rate {sizes.fail_rate:g}; "
            f"median of {sizes.rounds} rounds)"
        ),
        rows=tuple(rows),
        notes=(
            "Ours includes what run_monte_carlo adds: a budget and breaker reset per call, the virtual clock, "
            "seeded jitter and the summary's percentiles; the baseline reuses one Retrying for every call.",
        ),
        params=asdict(sizes),
    )
