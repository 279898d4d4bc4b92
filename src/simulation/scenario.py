"""Scenarios: the outcome of each attempt, written ``ai-overloaded,ai-ratelimit@5,ok``.

Use :func:`parse_scenario` on user input; it raises :class:`ScenarioError` with a
one-line message for anything it can't read, so a command line can turn it into a
usage error. A scenario lists one outcome per attempt and its last outcome repeats
for as long as the policy keeps trying, so ``connection`` alone means "down for good".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from src.simulation.outcomes import Outcome

__all__ = ["Scenario", "ScenarioError", "parse_outcome", "parse_scenario"]


class ScenarioError(ValueError):
    """A scenario or an outcome in it can't be read; the message is one line, fit for a usage error."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """What each attempt of one call does; the last outcome repeats forever.

    ``str(scenario)`` gives back the text it parses from, so it round-trips.
    """

    outcomes: tuple[Outcome, ...]

    def __post_init__(self) -> None:
        if not self.outcomes:
            raise ScenarioError("a scenario needs at least one outcome")

    def outcome_for(self, attempt: int) -> Outcome:
        """The outcome of attempt ``attempt`` (1-based); past the end, the last one."""
        if attempt < 1:
            raise ValueError(f"attempts are numbered from 1, got {attempt}")
        return self.outcomes[min(attempt, len(self.outcomes)) - 1]

    def __str__(self) -> str:
        return ",".join(str(outcome) for outcome in self.outcomes)


def parse_outcome(text: str) -> Outcome:
    """Read one outcome, ``name`` or ``name@seconds`` (a Retry-After for HTTP outcomes).

    Names are case-insensitive. Raises :class:`ScenarioError` for an unknown name, a
    ``@`` on an outcome without HTTP headers, or seconds that are missing,
    non-numeric, negative, NaN or infinite.
    """
    name, at, seconds = text.strip().partition("@")
    name = name.strip().lower()
    if not name:
        raise ScenarioError(f"empty outcome in {text!r}")
    retry_after: float | None = None
    if at:
        try:
            retry_after = float(seconds) + 0.0  # + 0.0 turns -0 into 0
        except ValueError:
            raise ScenarioError(f"Retry-After in {text.strip()!r} is not a number of seconds") from None
        if math.isfinite(retry_after) and not _SECONDS.fullmatch(seconds.strip()):  # float() takes "1_0"
            raise ScenarioError(f"Retry-After in {text.strip()!r} is not a number of seconds")
        if not math.isfinite(retry_after) or retry_after < 0:
            raise ScenarioError(f"Retry-After in {text.strip()!r} must be a finite number of seconds >= 0")
    try:
        return Outcome(name, retry_after)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


_SECONDS = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_scenario(text: str) -> Scenario:
    """Read a comma-separated list of outcomes, one per attempt, e.g. ``timeout,connection,ok``.

    Raises :class:`ScenarioError` for an empty scenario, an empty item (``ok,,ok``)
    or any outcome :func:`parse_outcome` rejects.
    """
    if not text.strip():
        raise ScenarioError("empty scenario; give outcomes such as 'timeout,connection,ok'")
    items = text.split(",")
    for position, item in enumerate(items, start=1):
        if not item.strip():
            raise ScenarioError(f"outcome {position} of {text.strip()!r} is empty")
    return Scenario(tuple(parse_outcome(item) for item in items))
