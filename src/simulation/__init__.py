"""Replay failures through the real retry policies on a virtual clock.

The pieces, one module each:

* :mod:`~src.simulation.clock` — :class:`VirtualClock`, time that moves only when slept on.
* :mod:`~src.simulation.outcomes` — :class:`Outcome` and the catalogue :data:`OUTCOMES`:
  outcome names and the real exception objects they raise.
* :mod:`~src.simulation.scenario` — :class:`Scenario` and :func:`parse_scenario`.
* :mod:`~src.simulation.policies` — the policies by name and their default scenarios.
* :mod:`~src.simulation.engine` — :func:`run_scenario` and the primitive :func:`simulate_call`.
* :mod:`~src.simulation.montecarlo` — :func:`run_monte_carlo` against a random failure rate.
* :mod:`~src.simulation.render` — text for a terminal and documents for ``--json``.

Many clients at once, on virtual asyncio time:

* :mod:`~src.simulation.vloop` — :class:`VirtualTimeLoop` and :func:`run_virtual`, an event loop whose clock jumps.
* :mod:`~src.simulation.upstream` — :class:`Upstream`, one shared upstream with a capacity, a queue and an outage.
* :mod:`~src.simulation.fleet` — :func:`run_fleet`, many clients through one policy, with and without its guards.
* :mod:`~src.simulation.fleet_stats` — :func:`summarize`: amplification, success, latency, recovery.
* :mod:`~src.simulation.contention` — :func:`compare_jitter`, AWS's backoff-and-jitter experiment.
* :mod:`~src.simulation.fleet_render` — tables and ``--json`` documents for both.

Every wait comes from ``RetryPolicy.call`` or ``RetryPolicy.acall`` itself (its sleep
is the clock's ``advance`` or the virtual loop's ``asyncio.sleep``, its jitter a seeded
``random.Random``); nothing here re-derives backoff.
"""

from __future__ import annotations

from src.simulation.clock import VirtualClock
from src.simulation.contention import (
    COMPARED_JITTERS,
    ContentionConfig,
    JitterRun,
    compare_jitter,
    contention_policy,
    default_contention_capacity,
    run_contention,
)
from src.simulation.engine import (
    AttemptRecord,
    AttemptSource,
    CallTrace,
    Result,
    ScenarioRun,
    random_seed,
    run_scenario,
    silenced_retry_hooks,
    simulate_call,
)
from src.simulation.fleet import (
    FleetConfig,
    FleetConfigError,
    FleetRun,
    RequestOutcome,
    RequestRecord,
    default_capacity,
    default_outage,
    fleet_policy,
    run_fleet,
    run_request,
)
from src.simulation.fleet_render import (
    fleet_document,
    jitter_document,
    render_fleet,
    render_fleet_header,
    render_jitter,
)
from src.simulation.fleet_stats import RECOVERY_THRESHOLD, FleetSummary, Second, recovery_time, summarize, timeline
from src.simulation.montecarlo import (
    MonteCarloSummary,
    expected_mean_attempts,
    expected_success_rate,
    run_monte_carlo,
)
from src.simulation.outcomes import OUTCOMES, Outcome, OutcomeKind
from src.simulation.policies import DEFAULT_SCENARIOS, POLICIES, policies_named
from src.simulation.render import (
    TIMELINE_WIDTH,
    monte_carlo_document,
    render_monte_carlo,
    render_run,
    render_timeline,
    runs_document,
    to_json,
)
from src.simulation.scenario import Scenario, ScenarioError, parse_outcome, parse_scenario
from src.simulation.upstream import (
    Outage,
    Upstream,
    UpstreamCall,
    UpstreamDown,
    UpstreamOverloaded,
    UpstreamTimeout,
)
from src.simulation.vloop import VirtualTimeDeadlock, VirtualTimeLoop, run_virtual

__all__ = [
    "COMPARED_JITTERS",
    "DEFAULT_SCENARIOS",
    "OUTCOMES",
    "POLICIES",
    "RECOVERY_THRESHOLD",
    "TIMELINE_WIDTH",
    "AttemptRecord",
    "AttemptSource",
    "CallTrace",
    "ContentionConfig",
    "FleetConfig",
    "FleetConfigError",
    "FleetRun",
    "FleetSummary",
    "JitterRun",
    "MonteCarloSummary",
    "Outage",
    "Outcome",
    "OutcomeKind",
    "RequestOutcome",
    "RequestRecord",
    "Result",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "Second",
    "Upstream",
    "UpstreamCall",
    "UpstreamDown",
    "UpstreamOverloaded",
    "UpstreamTimeout",
    "VirtualClock",
    "VirtualTimeDeadlock",
    "VirtualTimeLoop",
    "compare_jitter",
    "contention_policy",
    "default_capacity",
    "default_contention_capacity",
    "default_outage",
    "expected_mean_attempts",
    "expected_success_rate",
    "fleet_document",
    "fleet_policy",
    "jitter_document",
    "monte_carlo_document",
    "parse_outcome",
    "parse_scenario",
    "policies_named",
    "random_seed",
    "recovery_time",
    "render_fleet",
    "render_fleet_header",
    "render_jitter",
    "render_monte_carlo",
    "render_run",
    "render_timeline",
    "run_contention",
    "run_fleet",
    "run_monte_carlo",
    "run_request",
    "run_scenario",
    "run_virtual",
    "runs_document",
    "silenced_retry_hooks",
    "simulate_call",
    "summarize",
    "timeline",
    "to_json",
]
