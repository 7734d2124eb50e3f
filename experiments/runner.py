"""Replications of every policy in a scenario, in-process or on a local process pool.

Replication r of every policy runs from the same `SeedSequence(seed, spawn_key=(r,))`,
so the policies meet the same patients (common random numbers), and the numbers do not
depend on which worker ran what.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from policies import make_policy
from scenarios.schema import PolicySpec, Scenario
from simulator import SimulationResult, simulate


@dataclass(frozen=True)
class Task:
    policy: PolicySpec
    replication: int
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        return self.policy.key, self.replication

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(self.replication,))


def tasks(scenario: Scenario, replications: int, seed: int) -> list[Task]:
    return [
        Task(policy, r, seed) for r in range(replications) for policy in scenario.policies
    ]


def run_task(scenario: Scenario, task: Task, event_log: bool = False) -> SimulationResult:
    policy = make_policy(task.policy.name, task.policy.params)
    result = simulate(
        scenario, policy, task.seed_sequence, event_log=event_log, policy_name=task.policy.key
    )
    result.replication = task.replication
    return result


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int = 1,
    on_done: Callable[[Task, SimulationResult], None] | None = None,
    event_log: bool = False,
) -> list[tuple[Task, SimulationResult]]:
    """Run every (policy, replication); results come back in task order."""
    todo = tasks(scenario, replications, seed)
    check_policies(scenario)
    runs = _run(scenario, todo, workers, on_done, event_log)
    done = {task.key: result for task, result in runs}
    return [(task, done[task.key]) for task in todo]


def _run(scenario, todo, workers, on_done, event_log) -> Iterator[tuple[Task, SimulationResult]]:
    if workers <= 1 or len(todo) <= 1:
        for task in todo:
            result = run_task(scenario, task, event_log)
            if on_done:
                on_done(task, result)
            yield task, result
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        futures = {pool.submit(run_task, scenario, task, event_log): task for task in todo}
        for future in as_completed(futures):
            task, result = futures[future], future.result()
            if on_done:
                on_done(task, result)
            yield task, result


def check_policies(scenario: Scenario) -> None:
    """Fail before any work on a misspelt policy or parameter (ValueError naming valid ones)."""
    for spec in scenario.policies:
        make_policy(spec.name, spec.params)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
