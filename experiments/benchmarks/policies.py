"""Policy speed: the morning MILP's solve time on `baseline` and a simulated year under each
policy (targets: MILP median < 100 ms, a year under `milp` < 15 s on 2 cores). The `ml`
forecasters are trained before the clock starts, as a study trains them once per worker.

    python -m experiments.benchmarks.policies
"""

from __future__ import annotations

import time

import numpy as np

import scenarios
from experiments.trained.arrival_forecast import train
from experiments.trained.wiring import build_policy
from scenarios.schema import PolicySpec
from simulator import simulate

POLICIES = (("baseline", {}), ("greedy", {}), ("greedy", {"forecast": "ml"}), ("milp", {}),
            ("milp", {"forecast": "ml"}), ("oracle", {}))


def main() -> None:
    scenario = scenarios.load("baseline", ["horizon_days=365", "warmup_days=28"])
    train(scenario)
    for name, params in POLICIES:
        policy = build_policy(PolicySpec(name=name, params=params))
        label = f"{name}+{params['forecast']}" if params else name
        start = time.perf_counter()
        simulate(scenario, policy, 1)
        wall = time.perf_counter() - start
        line = f"{label:10s} simulated year: {wall:6.1f} s"
        solves = getattr(policy, "solves", None)
        if solves:
            seconds = np.array([s["seconds"] for s in solves if s["milp"]]) * 1000
            line += (f"   morning MILP: median {np.median(seconds):.1f} ms, "
                     f"p95 {np.quantile(seconds, 0.95):.1f} ms over {seconds.size} solves "
                     f"(+{len(solves) - seconds.size} mornings with nothing to couple), "
                     f"fallbacks {len(policy.fallbacks)}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
