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

Every wait comes from ``RetryPolicy.call`` itself (its sleep is the clock's
``advance``, its jitter a seeded ``random.Random``); nothing here re-derives backoff.
"""

from __future__ import annotations

from src.simulation.clock import VirtualClock
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

__all__ = [
    "DEFAULT_SCENARIOS",
    "OUTCOMES",
    "POLICIES",
    "TIMELINE_WIDTH",
    "AttemptRecord",
    "AttemptSource",
    "CallTrace",
    "MonteCarloSummary",
    "Outcome",
    "OutcomeKind",
    "Result",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "VirtualClock",
    "expected_mean_attempts",
    "expected_success_rate",
    "monte_carlo_document",
    "parse_outcome",
    "parse_scenario",
    "policies_named",
    "random_seed",
    "render_monte_carlo",
    "render_run",
    "render_timeline",
    "run_monte_carlo",
    "run_scenario",
    "runs_document",
    "silenced_retry_hooks",
    "simulate_call",
    "to_json",
]
