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
    from src.simulation import MonteCarloSummary, Outage
    from src.utils.retry import RetryPolicy

__all__ = ["simulate_retry"]

_POLICY_CHOICES = ("ai", "file", "network", "all")
_PROGRESS_MIN_CALLS = 2000


def _fail_rate(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise click.BadParameter(f"{value!r} is not a probability between 0 and 1.")
    return value


def _duration(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value!r} is not a number of seconds above 0.")
    return value


def _outage(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | str | None:
    """``START:END`` in seconds, or ``none``; checked against the duration once that is known."""
    if value is None or value.strip().lower() == "none":
        return None if value is None else "none"
    start_text, colon, end_text = value.partition(":")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        start = end = math.nan
    if not colon or not (math.isfinite(start) and math.isfinite(end)):
        raise click.BadParameter(f"{value!r} is not START:END in seconds (e.g. 30:60) or 'none'.")
    if not 0 <= start < end:
        raise click.BadParameter(f"{value!r} must start at 0 or later and end after it starts.")
    return start, end


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
    type=click.IntRange(min=1, max=1_000_000),
    metavar="N",
    help="Monte Carlo: make N calls per policy (at most 1,000,000) instead of replaying scenarios (needs --fail-rate).",
)
@click.option(
    "--fail-rate",
    type=float,
    callback=_fail_rate,
    metavar="P",
    help="Monte Carlo: probability in [0, 1] that an attempt fails transiently (needs --runs).",
)
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    metavar="N",
    help="Fleet: N clients share one upstream and one policy [default: 50]. With --compare-jitter: N contenders.",
)
@click.option(
    "--duration",
    type=float,
    callback=_duration,
    metavar="T",
    help="Fleet: clients send requests for T virtual seconds [default: 120].",
)
@click.option(
    "--outage",
    callback=_outage,
    metavar="START:END",
    help="Fleet: the upstream is down from START to END seconds, or 'none' [default: the run's second quarter].",
)
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    metavar="C",
    help="Fleet or --compare-jitter: attempts the upstream serves at once [default: N/10; N/20 to compare jitter].",
)
@click.option(
    "--compare-jitter",
    is_flag=True,
    help="Compare jitter strategies (none, full, equal, decorrelated, window) with N clients contending at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.pass_context
def simulate_retry(
    ctx: click.Context,
    policy: str,
    scenario: str | None,
    seed: int | None,
    runs: int | None,
    fail_rate: float | None,
    clients: int | None,
    duration: float | None,
    outage: tuple[float, float] | str | None,
    capacity: int | None,
    compare_jitter: bool,
    as_json: bool,
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

    \b
    Fleet (--clients N --duration T, or any of --outage, --capacity): N
    clients each send requests at random (0.1 per second on average) to one
    simulated upstream for T virtual seconds, all sharing one policy object. The
    upstream serves C attempts at once, 0.5 s each, and queues the rest; a
    client gives up on an attempt after 2 s, but the upstream still does the
    work. During the outage every attempt fails. Each policy runs twice,
    without and with a retry budget and circuit breaker (ai_retry's own; the
    defaults for the others), and the tables show upstream calls,
    amplification (calls / requests), success rate, latency p50/p99 and
    recovery: seconds from the outage's end until every later second's
    requests succeed at 95% or better.

    \b
    Jitter (--compare-jitter): N clients [default 50] send one request each
    at the same instant to an upstream serving C at once [default N/20], 0.1 s
    each, with no queue. Each strategy (10 attempts, waits from 0.1 s up to
    10 s) reports the upstream calls and the time until all clients are done,
    as in AWS's "Exponential Backoff And Jitter".

    --json prints {"mode": "scenario", "runs": [...]},
    {"mode": "monte_carlo", "policies": [...]}, {"mode": "fleet", "config": {...},
    "runs": [...]} or {"mode": "jitter", "config": {...}, "runs": [...]}.
    Exit status 0; 2 for bad input.
    """
    fleet = clients is not None or duration is not None or outage is not None or capacity is not None
    _check_modes(ctx, scenario=scenario, runs=runs, fail_rate=fail_rate, fleet=fleet, compare_jitter=compare_jitter)

    from src import simulation as sim

    seed = sim.random_seed() if seed is None else seed
    policies = sim.policies_named(policy.lower())
    if compare_jitter:
        _jitter_mode(clients=clients, capacity=capacity, seed=seed, as_json=as_json)
        return
    if fleet:
        _fleet_mode(
            policies, clients=clients, duration=duration, outage=outage, capacity=capacity, seed=seed, as_json=as_json
        )
        return

    parsed = None
    if scenario is not None:
        try:
            parsed = sim.parse_scenario(scenario)
        except sim.ScenarioError as exc:
            raise click.BadParameter(str(exc), param_hint="'--scenario'") from None

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


def _check_modes(
    ctx: click.Context,
    *,
    scenario: str | None,
    runs: int | None,
    fail_rate: float | None,
    fleet: bool,
    compare_jitter: bool,
) -> None:
    """Refuse options from different modes, each with a one-line usage error."""
    if (fleet or compare_jitter) and (scenario is not None or runs is not None or fail_rate is not None):
        given = "--scenario" if scenario is not None else "--runs/--fail-rate"
        mode = (
            "--compare-jitter" if compare_jitter else "the fleet options (--clients, --duration, --outage, --capacity)"
        )
        raise click.UsageError(f"{given} can't be combined with {mode}; pick one mode.")
    if compare_jitter:
        for name in ("duration", "outage", "policy"):
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                raise click.UsageError(f"--{name} has no meaning with --compare-jitter, which has no outage or policy.")
    if runs is not None and scenario is not None:
        raise click.UsageError("--runs (Monte Carlo) and --scenario (a replay) can't be combined; pick one.")
    if (runs is None) != (fail_rate is None):
        raise click.UsageError("--runs and --fail-rate go together: Monte Carlo needs both.")


def _fleet_mode(
    policies: tuple[RetryPolicy, ...],
    *,
    clients: int | None,
    duration: float | None,
    outage: tuple[float, float] | str | None,
    capacity: int | None,
    seed: int,
    as_json: bool,
) -> None:
    from src import simulation as sim

    clients = 50 if clients is None else clients
    duration = 120.0 if duration is None else duration
    window: Outage | None
    if outage is None:
        window = sim.default_outage(duration)
    elif isinstance(outage, tuple):
        window = sim.Outage(*outage)
    else:
        window = None
    try:
        config = sim.FleetConfig(
            clients=clients,
            duration=duration,
            outage=window,
            capacity=sim.default_capacity(clients) if capacity is None else capacity,
            seed=seed,
        )
    except sim.FleetConfigError as exc:
        raise _usage_error(exc) from None
    runs = [sim.run_fleet(each, config, guarded=guarded) for each in policies for guarded in (False, True)]
    if as_json:
        click.echo(sim.to_json(sim.fleet_document(config, runs)))
        return
    tables = [sim.render_fleet(runs[i], runs[i + 1]) for i in range(0, len(runs), 2)]
    click.echo("\n\n".join([sim.render_fleet_header(config), *tables]))


def _jitter_mode(*, clients: int | None, capacity: int | None, seed: int, as_json: bool) -> None:
    from src import simulation as sim

    try:
        config = sim.ContentionConfig.standard(clients=50 if clients is None else clients, seed=seed, capacity=capacity)
    except sim.FleetConfigError as exc:
        raise _usage_error(exc) from None
    runs = sim.compare_jitter(config)
    if as_json:
        click.echo(sim.to_json(sim.jitter_document(config, runs)))
    else:
        click.echo(sim.render_jitter(config, runs))


def _usage_error(exc: ValueError) -> click.UsageError:
    setting = getattr(exc, "setting", None)
    if setting in ("clients", "duration", "outage", "capacity"):
        return click.BadParameter(str(exc), param_hint=f"'--{setting}'")
    return click.UsageError(str(exc))
