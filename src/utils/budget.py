"""A retry budget: a token bucket that caps retries at a fraction of successful calls.

Use a :class:`RetryBudget` when many calls in one process share an upstream that
can fail all at once. Per-call retries multiply the load exactly when the upstream
is weakest; a budget lets them through while things mostly work and refuses them
when failures dominate, as Google's SRE book (retries at most ~10% of requests),
the AWS SDKs' retry quota and gRPC's retry throttling do.

The bucket starts full with ``capacity`` tokens. Each retry spends ``retry_cost``;
each successful call refunds ``success_refund`` up to ``capacity``. A retry is
allowed only while the bucket holds at least ``retry_cost``. In steady state
retries are therefore at most ``success_refund / retry_cost`` of successes
(10% with the defaults), with room for a burst of ``capacity / retry_cost``.

Thread- and asyncio-safe: every operation takes a short lock and never awaits.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

__all__ = ["BudgetStats", "RetryBudget"]

logger = logging.getLogger(__name__)

# Refunds of 0.1 add up to 0.9999999999999999 after ten successes: count that as one token.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class BudgetStats:
    """A snapshot of a :class:`RetryBudget`."""

    tokens: float
    capacity: float
    retries_allowed: int
    retries_denied: int
    refunds: int
    """Successes that refilled the bucket (successes while it was full are not counted)."""


class RetryBudget:
    """A token bucket shared by the calls of one retry policy; see the module docstring."""

    def __init__(
        self, *, capacity: float = 10.0, retry_cost: float = 1.0, success_refund: float = 0.1, name: str = "budget"
    ) -> None:
        if not 0 < retry_cost <= capacity:
            raise ValueError(f"need 0 < retry_cost <= capacity, got {retry_cost!r} and {capacity!r}")
        if success_refund < 0:
            raise ValueError(f"success_refund must be >= 0, got {success_refund!r}")
        self.capacity = float(capacity)
        self.retry_cost = float(retry_cost)
        self.success_refund = float(success_refund)
        self.name = name
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._allowed = 0
        self._denied = 0
        self._refunds = 0
        self._exhausted = False
        self.full = True
        """True while the bucket is full: a success then has nothing to refund (read lock-free)."""

    def try_spend(self) -> bool:
        """Take the tokens for one retry; False (and nothing taken) when the budget is spent."""
        with self._lock:
            if self._tokens + _EPSILON >= self.retry_cost:
                self._tokens = max(0.0, self._tokens - self.retry_cost)
                self.full = False
                self._allowed += 1
                return True
            self._denied += 1
            first_denial = not self._exhausted
            self._exhausted = True
        if first_denial:
            logger.warning("retry budget %s exhausted: retries are refused until successes refill it", self.name)
        return False

    def record_success(self) -> None:
        """Refund a successful call's share. Callers on a hot path may skip it while :attr:`full`."""
        if self.full:
            return
        recovered = False
        with self._lock:
            self._refunds += 1
            self._tokens = min(self.capacity, self._tokens + self.success_refund)
            self.full = self._tokens >= self.capacity
            if self._exhausted and self._tokens + _EPSILON >= self.retry_cost:
                self._exhausted = False
                recovered = True
        if recovered:
            logger.info("retry budget %s refilled: retries allowed again", self.name)

    def reset(self) -> None:
        """Refill the bucket and zero the counters (tests, or after a deploy)."""
        with self._lock:
            self._tokens = self.capacity
            self._allowed = self._denied = self._refunds = 0
            self._exhausted = False
            self.full = True

    def fresh(self) -> RetryBudget:
        """A new, full budget with the same settings."""
        return RetryBudget(
            capacity=self.capacity, retry_cost=self.retry_cost, success_refund=self.success_refund, name=self.name
        )

    def stats(self) -> BudgetStats:
        """The tokens left and what the budget has allowed and refused so far."""
        with self._lock:
            return BudgetStats(self._tokens, self.capacity, self._allowed, self._denied, self._refunds)

    def __repr__(self) -> str:
        return f"RetryBudget({self.name!r}, tokens={self._tokens:.2f}/{self.capacity:g})"
