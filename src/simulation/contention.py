"""The jitter comparison: many clients contend for a small upstream at the same instant.

Use :func:`compare_jitter` to reproduce the experiment of AWS's "Exponential
Backoff And Jitter" (Marc Brooker, 2015) with this project's own policies. At
virtual time 0, each of ``clients`` clients sends one request to an
:class:`~src.simulation.upstream.Upstream` that serves ``capacity`` attempts at
once, each for ``service_time`` seconds, and has no queue: an attempt that finds
it full is refused at once, like a write that loses an optimistic-concurrency race.
Every client retries under a :class:`~src.utils.retry.RetryPolicy` that differs
only in its ``jitter``; no budget, no breaker.

Without jitter the clients that lost retry in lockstep and collide again at
every round, so each round lets only ``capacity`` of them through while the waits
double; with jitter their retries spread out and the upstream's capacity is used.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from src.simulation.engine import silenced_retry_hooks
from src.simulation.fleet import FleetConfigError, run_request
from src.simulation.upstream import Upstream
from src.simulation.vloop import run_virtual
from src.utils.retry import Jitter, RetryPolicy
from src.utils.transient import is_transient_network_error

__all__ = [
    "COMPARED_JITTERS",
    "MAX_CONTENDERS",
    "ContentionConfig",
    "JitterRun",
    "compare_jitter",
    "contention_policy",
    "default_contention_capacity",
    "run_contention",
]

COMPARED_JITTERS: tuple[Jitter, ...] = ("none", "full", "equal", "decorrelated", "window")
"""The strategies :func:`compare_jitter` runs, the unjittered baseline first."""

MAX_CONTENDERS = 1000
"""The most clients a comparison may have: each strategy's run stays within a second or two."""

# Timeouts play no part here: without a queue an attempt is refused or served at once.
_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ContentionConfig:
    """The contention experiment's settings; :class:`~src.simulation.fleet.FleetConfigError` when out of range."""

    clients: int
    capacity: int
    """Attempts the upstream serves at once."""
    seed: int
    service_time: float = 0.1
    attempts: int = 10
    wait_min: float = 0.1
    """The backoff's base: the first unjittered wait."""
    wait_max: float = 10.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.clients, bool)
            or not isinstance(self.clients, int)
            or not 1 <= self.clients <= MAX_CONTENDERS
        ):
            raise FleetConfigError(
                f"clients must be an integer from 1 to {MAX_CONTENDERS:,} to compare jitter, got {self.clients!r}",
                setting="clients",
            )
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int) or self.capacity < 1:
            raise FleetConfigError(f"capacity must be an integer >= 1, got {self.capacity!r}", setting="capacity")
        if not (math.isfinite(self.service_time) and 0 < self.service_time < _TIMEOUT):
            raise FleetConfigError(
                f"service_time must be more than 0 and less than {_TIMEOUT:g}s, got {self.service_time!r}",
                setting="service_time",
            )

    @classmethod
    def standard(cls, *, clients: int = 50, seed: int = 0, capacity: int | None = None) -> ContentionConfig:
        """The default experiment for ``clients``: capacity :func:`default_contention_capacity`."""
        return cls(
            clients=clients, capacity=default_contention_capacity(clients) if capacity is None else capacity, seed=seed
        )


def default_contention_capacity(clients: int) -> int:
    """One attempt in service per 20 clients (at least 1): heavy contention, as in AWS's experiment."""
    return max(1, math.ceil(clients / 20))


@dataclass(frozen=True, slots=True)
class JitterRun:
    """What one strategy cost in the contention experiment."""

    jitter: Jitter
    clients: int
    successes: int
    """Clients whose request got through; the others ran out of attempts."""
    calls: int
    """Upstream calls, refused ones included."""
    calls_per_success: float | None
    finished: float
    """Virtual seconds until the last client was done, successful or not: the time to complete all work."""
    mean_done: float
    """Mean virtual seconds until a client was done."""


def contention_policy(jitter: Jitter, config: ContentionConfig) -> RetryPolicy:
    """The policy every client uses for ``jitter``: a plain :class:`RetryPolicy`, no budget, no breaker."""
    return RetryPolicy(
        name=f"jitter-{jitter}",
        attempts=config.attempts,
        wait_min=config.wait_min,
        wait_max=config.wait_max,
        retry_if=is_transient_network_error,
        jitter=jitter,
    )


def run_contention(jitter: Jitter, config: ContentionConfig) -> JitterRun:
    """Run the experiment once with ``jitter``, on a fresh virtual-time loop. Deterministic for a given config."""
    with silenced_retry_hooks():
        return run_virtual(_contend(jitter, config))


def compare_jitter(config: ContentionConfig, jitters: Sequence[Jitter] = COMPARED_JITTERS) -> tuple[JitterRun, ...]:
    """Run the experiment once per strategy, each client drawing the same random stream under every strategy."""
    return tuple(run_contention(jitter, config) for jitter in jitters)


async def _contend(jitter: Jitter, config: ContentionConfig) -> JitterRun:
    policy = contention_policy(jitter, config)
    upstream = Upstream(capacity=config.capacity, service_time=config.service_time, timeout=_TIMEOUT, queue_limit=0)
    records = await asyncio.gather(
        *(
            run_request(
                policy, upstream, request=index, client=index, rng=random.Random(f"jitter:{config.seed}:{index}")
            )
            for index in range(config.clients)
        )
    )
    successes = sum(record.outcome == "success" for record in records)
    calls = len(upstream.calls)
    return JitterRun(
        jitter=jitter,
        clients=config.clients,
        successes=successes,
        calls=calls,
        calls_per_success=calls / successes if successes else None,
        finished=max(record.ended for record in records),
        mean_done=sum(record.ended for record in records) / len(records),
    )
