"""Replications of every policy in a scenario: in-process, on a local process pool, or on
a Dask cluster.

Replication r of every policy runs from the same `SeedSequence(seed, spawn_key=(r,))`, so
the policies meet the same patients (common random numbers), and no number depends on which
worker or backend ran what. A replication that raises is returned as a `Failure` with its
seed and traceback; the others go on.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from experiments.trained.los import los_model_for
from experiments.trained.wiring import build_policy
from policies import relative_cost
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


@dataclass(frozen=True)
class Failure:
    task: Task
    error: str
    traceback: str

    def record(self) -> dict:
        return {
            "policy": self.task.policy.key, "replication": self.task.replication,
            "seed": self.task.seed, "spawn_key": [self.task.replication],
            "error": self.error, "traceback": self.traceback,
        }


Outcome = SimulationResult | Failure


def tasks(scenario: Scenario) -> list[Task]:
    """Every replication of every policy, the slowest policies' first: a pool then ends on
    short tasks rather than waiting on one long one (the order changes no number)."""
    every = [
        Task(policy, r, scenario.seed)
        for r in range(scenario.replications) for policy in scenario.policies
    ]
    return sorted(every, key=lambda task: -relative_cost(task.policy.name))


def run_task(scenario: Scenario, task: Task, event_log: bool = False) -> Outcome:
    """One replication; any exception comes back as a `Failure` rather than ending the run."""
    try:
        policy = build_policy(task.policy)
        result = simulate(scenario, policy, task.seed_sequence, los_model=los_model_for(scenario),
                          event_log=event_log, hourly=True, policy_name=task.policy.key)
    except Exception as error:  # reported with its traceback; the others go on
        return Failure(task, f"{type(error).__name__}: {error}", traceback.format_exc())
    result.replication = task.replication
    return result


def run_replications(
    scenario: Scenario,
    todo: list[Task],
    workers: int = 1,
    event_log: bool = False,
    dask: str | None = None,
) -> Iterator[tuple[Task, Outcome]]:
    """Run the tasks, yielding each outcome as it finishes (in no particular order).

    `dask`: None for this machine (in-process when `workers` is 1, else a process pool),
    "local" for a Dask LocalCluster, or a scheduler address such as "tcp://host:8786".
    """
    if dask is not None:
        yield from _on_dask(scenario, todo, workers, event_log, dask)
    elif workers <= 1 or len(todo) <= 1:
        for task in todo:
            yield task, run_task(scenario, task, event_log)
    else:
        # forkserver, not fork: a forked child of a process that has trained XGBoost
        # inherits OpenMP's state mid-flight and can hang in its first prediction.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(run_task, scenario, t, event_log): t for t in todo}
            for future in as_completed(futures):
                yield futures[future], future.result()


def _on_dask(scenario, todo, workers, event_log, address) -> Iterator[tuple[Task, Outcome]]:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError as error:
        raise RuntimeError("Dask is an optional extra: pip install -e '.[dask]'") from error
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(address)
    try:
        shared = client.scatter(scenario, broadcast=True)
        futures = {
            # in the order given (slowest first), as the pool takes them
            client.submit(run_task, shared, task, event_log, pure=False, priority=-i): task
            for i, task in enumerate(todo)
        }
        for future in dask_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_policies(scenario: Scenario) -> None:
    """Fail before any work on a misspelt policy, parameter or forecast source (ValueError
    naming the valid ones)."""
    for spec in scenario.policies:
        build_policy(spec)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
