"""``simulate-retry``: replay failures through each retry policy on a virtual clock.

Only click and the standard library are imported here; the simulator is imported
when the command runs, so listing commands stays fast.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # for annotations only: importing these at run time would slow every command's help
    from src.simulation import MonteCarloSummary
    from src.utils.retry import RetryPolicy

__all__ = ["simulate_retry"]

_POLICY_CHOICES = ("ai", "file", "network", "all")
_PROGRESS_MIN_CALLS = 2000


def _fail_rate(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise click.BadParameter(f"{value!r} is not a probability between 0 and 1.")
    return value


@click.command("simulate-retry")
@click.option(
    "--policy",
    type=click.Choice(_POLICY_CHOICES, case_sensitive=False),
    default="all",
    show_default=True,
    help="Which retry policy to drive.",
)
@click.option(
    "--scenario",
    metavar="LIST",
    help="Comma-separated outcomes, one per attempt; the last repeats. Default: a set covering every path.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**53 - 1),
    metavar="N",
    help="Seed for the jitter (and the failures); a run prints its seed, random when not given.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Monte Carlo: make N calls per policy instead of replaying scenarios (needs --fail-rate).",
)
@click.option(
    "--fail-rate",
    type=float,
    callback=_fail_rate,
    metavar="P",
    help="Monte Carlo: probability in [0, 1] that an attempt fails transiently (needs --runs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def simulate_retry(
    policy: str, scenario: str | None, seed: int | None, runs: int | None, fail_rate: float | None, as_json: bool
) -> None:
    """Replay failures through each retry policy on a virtual clock and draw the timelines.

    Each call runs through the real policy object (ai_retry, file_retry,
    network_retry) with a virtual clock as its sleep, so nothing waits and the
    same --seed always prints the same timeline. Without --scenario every policy
    replays scenarios that cover success after transient failures, exhaustion, a
    permanent error and Retry-After (honoured, and too long to honour).

    \b
    Outcomes (one per attempt):
      ok                              success
      timeout, connection             TimeoutError, ConnectionError
      permission, notfound, value     PermissionError, FileNotFoundError, ValueError
      ai-ratelimit, ai-overloaded     anthropic 429 RateLimitError, 529 OverloadedError
      ai-server                       anthropic 500 InternalServerError
      ai-connection, ai-timeout       anthropic APIConnectionError, APITimeoutError
      ai-badrequest, ai-auth          anthropic 400 BadRequestError, 401 AuthenticationError
      http-429, http-500, http-503    urllib HTTPError with that status
      http-404                        urllib HTTPError 404
    HTTP outcomes take a Retry-After in seconds: ai-ratelimit@7, http-503@3.

    \b
    Monte Carlo (--runs N --fail-rate P, not combinable with --scenario): each
    attempt fails with probability P (ConnectionError); reports the success
    rate, attempts per call and the total wait at p50/p95/p99/max per policy,
    next to theory (1 - P^attempts). Each call is measured on its own: the
    policy's retry budget and circuit breaker are reset before every call.

    --json prints {"mode": "scenario", "runs": [...]} or
    {"mode": "monte_carlo", "policies": [...]}. Exit status 0; 2 for bad input.
    """
    if runs is not None and scenario is not None:
        raise click.UsageError("--runs (Monte Carlo) and --scenario (a replay) can't be combined; pick one.")
    if (runs is None) != (fail_rate is None):
        raise click.UsageError("--runs and --fail-rate go together: Monte Carlo needs both.")

    from src import simulation as sim

    parsed = None
    if scenario is not None:
        try:
            parsed = sim.parse_scenario(scenario)
        except sim.ScenarioError as exc:
            raise click.BadParameter(str(exc), param_hint="'--scenario'") from None
    seed = sim.random_seed() if seed is None else seed
    policies = sim.policies_named(policy.lower())

    if runs is not None and fail_rate is not None:
        summaries = _monte_carlo(policies, runs=runs, fail_rate=fail_rate, seed=seed, as_json=as_json)
        if as_json:
            click.echo(sim.to_json(sim.monte_carlo_document(summaries)))
        else:
            click.echo("\n\n".join(sim.render_monte_carlo(summary) for summary in summaries))
        return

    results = [
        sim.run_scenario(each, chosen, seed=seed)
        for each in policies
        for chosen in ((parsed,) if parsed is not None else sim.DEFAULT_SCENARIOS[each.name])
    ]
    if as_json:
        click.echo(sim.to_json(sim.runs_document(results)))
    else:
        click.echo("\n\n".join(sim.render_run(result) for result in results))


def _monte_carlo(
    policies: tuple[RetryPolicy, ...], *, runs: int, fail_rate: float, seed: int, as_json: bool
) -> list[MonteCarloSummary]:
    """Run every policy, with a progress bar on stderr when a person is watching a long run."""
    from src.simulation import run_monte_carlo

    if as_json or runs * len(policies) < _PROGRESS_MIN_CALLS or not sys.stderr.isatty():
        return [run_monte_carlo(each, runs=runs, fail_rate=fail_rate, seed=seed) for each in policies]
    with click.progressbar(length=runs * len(policies), label="simulating", file=sys.stderr) as bar:
        return [
            run_monte_carlo(each, runs=runs, fail_rate=fail_rate, seed=seed, progress=bar.update) for each in policies
        ]
