"""The retry policies the simulator drives, by name, and the scenarios it shows by default.

Use :func:`policies_named` to turn a ``--policy`` value into policy objects and
:data:`DEFAULT_SCENARIOS` for the scenarios a run without ``--scenario`` replays.
The policies are the production objects from :mod:`src.utils.retry`, never copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from src.simulation.scenario import Scenario, parse_scenario
from src.utils.retry import RetryPolicy, ai_retry, file_retry, network_retry

__all__ = ["DEFAULT_SCENARIOS", "POLICIES", "policies_named"]

POLICIES: Mapping[str, RetryPolicy] = MappingProxyType(
    {policy.name: policy for policy in (ai_retry, file_retry, network_retry)}
)
"""Every policy the simulator knows, by its name (``ai``, ``file``, ``network``)."""


def _scenarios(*texts: str) -> tuple[Scenario, ...]:
    return tuple(parse_scenario(text) for text in texts)


DEFAULT_SCENARIOS: Mapping[str, tuple[Scenario, ...]] = MappingProxyType(
    {
        # Each list walks every path: success after transient failures, exhaustion, a
        # permanent error, a Retry-After that is honoured and one too long to honour.
        # File errors carry no Retry-After, so the file policy has no such case.
        "ai": _scenarios(
            "ai-overloaded,ai-ratelimit@5,ok",
            "ai-overloaded",
            "ai-badrequest",
            "ai-ratelimit@7,ok",
            "ai-ratelimit@600",
        ),
        "file": _scenarios("permission,permission,ok", "permission", "notfound"),
        "network": _scenarios("timeout,connection,ok", "connection", "value", "http-503@3,ok", "http-429@60"),
    }
)
"""Per policy name, the scenarios replayed when the user gives none."""


def policies_named(name: str) -> tuple[RetryPolicy, ...]:
    """The policy called ``name``, or all of them (in :data:`POLICIES` order) for ``"all"``.

    Raises ``KeyError`` for any other name.
    """
    if name == "all":
        return tuple(POLICIES.values())
    return (POLICIES[name],)
