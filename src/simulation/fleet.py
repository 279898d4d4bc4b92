"""The fleet simulation: many clients, one upstream, one shared retry policy, on virtual time.

Use :func:`run_fleet` to see what a retry policy does to an upstream that goes
down for a while, when many callers share it. Each of ``clients`` clients sends
logical requests at random (a Poisson process of ``rate`` requests per second,
0.1 by default; the same seed gives every variant the same requests at the same
moments), each request running concurrently with the others, until ``duration``;
the run ends when the last request has finished. Every request awaits the real
policy's ``acall`` with ``asyncio.sleep`` as its sleep on a
:class:`~src.simulation.vloop.VirtualTimeLoop`, against one
:class:`~src.simulation.upstream.Upstream` that serves ``capacity`` attempts at
once (0.5 s each), queues the rest, and is down during ``outage``; a client gives
up on an attempt after ``timeout`` (2 s), though the upstream still does the work.

The default capacity is twice the average load, so the upstream copes easily
with one attempt per request. Retries after the outage can raise the load above
its capacity; then attempts wait in the queue past their timeout and are retried
in turn, which keeps the queue long after the outage has ended: the retry storm
a retry budget and a circuit breaker are there to stop.

A run has one of two variants (``guarded``):

* without: the policy with no retry budget and no circuit breaker (per-call retries only);
* with: the policy with a fresh budget and breaker on the loop's clock, *one* pair
  shared by every client, as they are shared by every call in a process. A policy
  that has none (``file_retry``, ``network_retry``) gets ``RetryBudget()`` and
  ``CircuitBreaker()`` with their defaults.

Each request ends in one of three ways: ``"success"``; ``"failed"``, when the
policy gave up and re-raised the upstream's last failure; or ``"refused"``, when
the policy failed it fast with its own 503 (the breaker was open or the budget
spent), possibly after some attempts. Statistics are in
:mod:`~src.simulation.fleet_stats`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from src.api.errors import AIServiceError
from src.simulation.engine import silenced_retry_hooks
from src.simulation.upstream import Outage, Upstream, UpstreamCall
from src.simulation.vloop import run_virtual
from src.utils.breaker import BreakerStats, CircuitBreaker
from src.utils.budget import BudgetStats, RetryBudget
from src.utils.retry import RetryPolicy

__all__ = [
    "MAX_CLIENTS",
    "MAX_DURATION",
    "MAX_REQUESTS",
    "FleetConfig",
    "FleetConfigError",
    "FleetRun",
    "RequestOutcome",
    "RequestRecord",
    "default_capacity",
    "default_outage",
    "fleet_policy",
    "run_fleet",
    "run_request",
]

MAX_CLIENTS = 10_000
MAX_DURATION = 3600.0
MAX_REQUESTS = 5_000
"""The most logical requests a run may expect (``clients * rate * duration``), eight times the default.

Retried calls cost a few hundred microseconds each, nearly all of it in tenacity: at this
size a run of every policy takes some 20 s of CPU when retries swamp the upstream."""

_RATE = 0.1
_SERVICE_TIME = 0.5
_TIMEOUT = 2.0

RequestOutcome = Literal["success", "failed", "refused"]
"""How a logical request ended; see the module docstring."""

_GUARD_LOGGERS = ("src.utils.budget", "src.utils.breaker")


class FleetConfigError(ValueError):
    """A simulation setting is out of range; the message is one line, fit for a usage error."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        """The offending setting (``"clients"``, ``"outage"``...), or ``None`` when it is a combination."""


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything a fleet run depends on. Raises :class:`FleetConfigError` for values out of range."""

    clients: int
    duration: float
    """Seconds during which clients send requests; requests in flight then still finish."""
    outage: Outage | None
    capacity: int
    """Attempts the upstream serves at once."""
    seed: int
    rate: float = _RATE
    """Requests per second per client (Poisson arrivals)."""
    service_time: float = _SERVICE_TIME
    """Seconds the upstream takes to serve one attempt."""
    timeout: float = _TIMEOUT
    """Seconds a client waits for one attempt (queueing included) before giving up on it."""

    def __post_init__(self) -> None:
        if isinstance(self.clients, bool) or not isinstance(self.clients, int) or not 1 <= self.clients <= MAX_CLIENTS:
            raise FleetConfigError(
                f"clients must be an integer from 1 to {MAX_CLIENTS:,}, got {self.clients!r}", setting="clients"
            )
        if not (math.isfinite(self.duration) and 0 < self.duration <= MAX_DURATION):
            raise FleetConfigError(
                f"duration must be more than 0 and at most {MAX_DURATION:g}s, got {self.duration!r}", setting="duration"
            )
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int) or self.capacity < 1:
            raise FleetConfigError(f"capacity must be an integer >= 1, got {self.capacity!r}", setting="capacity")
        for name in ("rate", "service_time", "timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise FleetConfigError(f"{name} must be a finite number > 0, got {value!r}", setting=name)
        if self.outage is not None and self.outage.end > self.duration:
            raise FleetConfigError(
                f"the outage {self.outage} must end within the run's {self.duration:g}s", setting="outage"
            )
        if self.expected_requests > MAX_REQUESTS:
            raise FleetConfigError(
                f"{self.clients} clients for {self.duration:g}s would send about {self.expected_requests:,.0f} "
                f"requests; at most {MAX_REQUESTS:,} are allowed (fewer clients or a shorter duration)"
            )

    @property
    def expected_requests(self) -> float:
        """The mean number of logical requests a run sends: ``clients * rate * duration``."""
        return self.clients * self.rate * self.duration

    @classmethod
    def standard(
        cls, *, clients: int = 50, duration: float = 120.0, seed: int = 0, capacity: int | None = None
    ) -> FleetConfig:
        """The default scenario for a fleet: capacity :func:`default_capacity`, outage :func:`default_outage`."""
        return cls(
            clients=clients,
            duration=duration,
            outage=default_outage(duration),
            capacity=default_capacity(clients) if capacity is None else capacity,
            seed=seed,
        )


def default_capacity(clients: int, *, rate: float = _RATE, service_time: float = _SERVICE_TIME) -> int:
    """Twice the attempts the fleet keeps in service on average (``clients * rate * service_time``), at least 1.

    Such an upstream is half busy: without an outage, requests hardly ever wait; retries after one can swamp it.
    """
    return max(1, math.ceil(2 * clients * rate * service_time))


def default_outage(duration: float) -> Outage:
    """The second quarter of the run: ``[duration/4, duration/2)``, e.g. 30 to 60 s of 120 s."""
    return Outage(duration / 4, duration / 2)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One logical request and what became of it."""

    id: int
    client: int
    arrived: float
    ended: float
    attempts: int
    """Upstream calls made for this request (0 when refused before the first)."""
    outcome: RequestOutcome

    @property
    def latency(self) -> float:
        """Seconds the caller waited for the outcome, retries and waits included."""
        return self.ended - self.arrived


@dataclass(frozen=True, slots=True)
class FleetRun:
    """Everything one fleet run produced: every request, every upstream call, and the guards' final state."""

    policy: RetryPolicy
    """The policy as configured (the run used a copy: see :func:`fleet_policy`)."""
    guarded: bool
    config: FleetConfig
    requests: tuple[RequestRecord, ...]
    """In the order the requests arrived (their ``id``)."""
    calls: tuple[UpstreamCall, ...]
    """In the order the calls started."""
    breaker: BreakerStats | None
    budget: BudgetStats | None
    peak_queue: int
    wasted: int
    """Attempts the upstream served after their caller had timed out."""


def fleet_policy(policy: RetryPolicy, *, guarded: bool, clock: Callable[[], float]) -> RetryPolicy:
    """The copy of ``policy`` a fleet run uses: its retries alone, or with a fresh budget and breaker on ``clock``.

    Never shares state with ``policy``: the process-wide budget and breaker are left alone.
    """
    if not guarded:
        return policy.replace(budget=None, breaker=None)
    fresh = policy.with_fresh_state(clock)
    return fresh.replace(
        budget=fresh.budget or RetryBudget(name=policy.name),
        breaker=fresh.breaker or CircuitBreaker(clock=clock, name=policy.name),
    )


async def run_request(
    policy: RetryPolicy, upstream: Upstream, *, request: int, client: int, rng: random.Random
) -> RequestRecord:
    """One logical request through ``policy`` against ``upstream``, on the running loop's clock.

    An exception that is neither the policy's own 503 nor the upstream's last
    failure (a bug in the simulation) propagates.
    """
    loop = asyncio.get_running_loop()
    arrived = loop.time()
    attempts = 0
    last: BaseException | None = None

    async def attempt() -> None:
        nonlocal attempts, last
        attempts += 1
        try:
            await upstream.call(request)
        except Exception as exc:
            last = exc
            raise

    outcome: RequestOutcome
    try:
        await policy.acall(attempt, sleep=asyncio.sleep, rng=rng)
        outcome = "success"
    except AIServiceError as error:
        if error is last or error.status_code != 503:  # pragma: no cover - the upstream raises no AIServiceError
            raise
        outcome = "refused"
    except Exception as error:
        if error is not last:
            raise
        outcome = "failed"
    return RequestRecord(request, client, arrived, loop.time(), attempts, outcome)


def run_fleet(policy: RetryPolicy, config: FleetConfig, *, guarded: bool) -> FleetRun:
    """Run the fleet of ``config`` through ``policy`` on a fresh virtual-time loop; see the module docstring.

    Deterministic: the same policy, config (seed included) and variant give the
    same run. Global retry hooks and the budget's and breaker's log lines are
    silenced for the duration, so virtual failures are not logged as real ones.
    """
    with silenced_retry_hooks(), _muted(_GUARD_LOGGERS):
        return run_virtual(_fleet(policy, config, guarded))


async def _fleet(policy: RetryPolicy, config: FleetConfig, guarded: bool) -> FleetRun:
    loop = asyncio.get_running_loop()
    active = fleet_policy(policy, guarded=guarded, clock=loop.time)
    upstream = Upstream(
        capacity=config.capacity, service_time=config.service_time, timeout=config.timeout, outage=config.outage
    )
    pending: list[asyncio.Task[RequestRecord]] = []

    async def client(index: int) -> None:
        arrivals = random.Random(f"fleet-arrivals:{config.seed}:{index}")
        jitter = random.Random(f"fleet-jitter:{config.seed}:{index}")
        moment = arrivals.expovariate(config.rate)
        while moment < config.duration:
            await asyncio.sleep(moment - loop.time())
            request = run_request(active, upstream, request=len(pending), client=index, rng=jitter)
            pending.append(loop.create_task(request))
            moment += arrivals.expovariate(config.rate)

    await asyncio.gather(*(client(index) for index in range(config.clients)))
    records = await asyncio.gather(*pending)
    return FleetRun(
        policy=policy,
        guarded=guarded,
        config=config,
        requests=tuple(records),
        calls=upstream.calls,
        breaker=active.breaker.stats() if active.breaker is not None else None,
        budget=active.budget.stats() if active.budget is not None else None,
        peak_queue=upstream.peak_queue,
        wasted=upstream.wasted,
    )


@contextmanager
def _muted(names: tuple[str, ...]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    previous = [each.disabled for each in loggers]
    for each in loggers:
        each.disabled = True
    try:
        yield
    finally:
        for each, was in zip(loggers, previous, strict=True):
            each.disabled = was
