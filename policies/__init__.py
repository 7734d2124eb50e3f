"""Allocation policies implementing the simulator's `Policy` protocol, found by name."""

from policies.registry import make_policy, policy_names, relative_cost

__all__ = ["make_policy", "policy_names", "relative_cost"]
