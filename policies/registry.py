"""Policies by name, so scenarios and the CLI can ask for them in YAML and on the command line."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from policies.baseline import Baseline, Static
from policies.erlang import Erlang
from policies.greedy import Greedy
from policies.milp import Milp
from policies.oracle import OracleMilp
from simulator import Policy

REGISTRY: dict[str, Callable[..., Policy]] = {
    "baseline": Baseline, "erlang": Erlang, "greedy": Greedy, "milp": Milp, "oracle": OracleMilp,
    "static": Static,
}


def policy_names() -> list[str]:
    return sorted(REGISTRY)


def relative_cost(name: str) -> float:
    """A policy's rough run time against `static`'s (1.0 when it does not say)."""
    return float(getattr(REGISTRY.get(name), "relative_cost", 1.0))


def make_policy(name: str, params: dict[str, Any] | None = None) -> Policy:
    """Build a policy; a misspelt name, parameter or forecast source is an error that lists
    the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown policy {name!r}; available: {', '.join(policy_names())}")
    factory = REGISTRY[name]
    accepted = [p for p in inspect.signature(factory).parameters if p != "self"]
    unknown = sorted(set(params or {}) - set(accepted))
    if unknown:
        raise ValueError(
            f"policy {name!r} has no parameter {unknown[0]!r}; "
            f"its parameters: {', '.join(accepted) or 'none'}"
        )
    return factory(**(params or {}))
