"""Throughput benchmark: how many patients per second hospsim simulates, against references.

The project's target is that hospsim, monitoring on, is at least as fast as a plain SimPy
model of the same queue written the usual way (a process per patient and a `Resource`), and
close to a hand-written callback model, the fastest SimPy can go. All models run the same
M/M/50 unit (9 arrivals/day, exponential LOS with mean 5 days, unlimited waiting) in one
process on the same machine, so their ratios mean something even where seconds do not.

    python -m experiments.benchmarks.throughput [--arrivals 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

import scenarios
from policies import make_policy
from policies.baseline import Static
from scenarios.schema import Scenario
from simulator import simulate
from simulator.theory import erlang_c, mmc_mean_wait

try:  # optional, `pip install 'hospsim[bench]'`; imported here so no run times the import
    import ciw
except ImportError:
    ciw = None

SERVERS = 50
RATE_PER_DAY = 9.0
MEAN_LOS_DAYS = 5.0
HOURS_PER_DAY = 24.0
SEED = 2026
CIW_MAX_ARRIVALS = 50_000  # Ciw is the slowest; fewer arrivals keep the run short


@dataclass
class Run:
    """One timed model run: patients simulated, and the share who waited for a bed and the
    mean wait (hours) for the Erlang C check (None where not comparable)."""

    patients: int
    p_wait: float | None = None
    mean_wait_h: float | None = None

    @classmethod
    def from_waits(cls, patients: int, waits_days: list[float]) -> Run:
        waits = np.asarray(waits_days)
        return cls(patients, float((waits > 0).mean()), float(waits.mean()) * HOURS_PER_DAY)


# ---------------------------------------------------------------- the models
def mm50_scenario(arrivals: int) -> Scenario:
    """The M/M/50 unit as a hospsim scenario: one ward taking everyone, no warm-up, and
    patients wait as long as it takes (the queue Erlang C describes)."""
    return Scenario(
        name="mm50",
        horizon_days=round(arrivals / RATE_PER_DAY),
        warmup_days=0,
        units=[dict(name="ward", beds=SERVERS, specialties=["*"])],
        arrivals=[dict(name="e", daily_rate=RATE_PER_DAY)],
        los=dict(model="exponential", mean_days=MEAN_LOS_DAYS, max_days=1e9),
        boarding=dict(limit_hours=None),
    )


def hospsim_mm50(scenario: Scenario, seed: int) -> Run:
    """hospsim through its public API, monitoring on: drawing patients, the event loop and
    the KPIs are all part of what a user waits for, so all are timed."""
    kpis = simulate(scenario, Static(), seed).kpis
    return Run(int(kpis["arrivals"]), kpis["boarded_share"], kpis["time_to_bed_mean_h"])


def _draws(arrivals: int, seed: int) -> tuple[list[float], list[float]]:
    """Inter-arrival gaps and LOS (days), drawn up front with numpy as a SimPy user would."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / RATE_PER_DAY, arrivals)
    stays = rng.exponential(MEAN_LOS_DAYS, arrivals)
    return gaps.tolist(), stays.tolist()


def plain_simpy(arrivals: int, seed: int) -> Run:
    """The textbook SimPy model: a generator per patient holding a `Resource` slot."""
    gaps, stays = _draws(arrivals, seed)
    env = simpy.Environment()
    beds = simpy.Resource(env, capacity=SERVERS)
    waits: list[float] = []

    def patient(los: float) -> Iterator[simpy.Event]:
        arrived = env.now
        with beds.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(los)

    def source() -> Iterator[simpy.Event]:
        for gap, los in zip(gaps, stays, strict=True):
            yield env.timeout(gap)
            env.process(patient(los))

    env.process(source())
    env.run()
    return Run.from_waits(arrivals, waits)


def callback_simpy(arrivals: int, seed: int) -> Run:
    """The fastest plain SimPy: no processes, just timeouts whose callbacks do the work, a
    free-bed counter and a FIFO queue. The upper reference for hospsim."""
    gaps, stays = _draws(arrivals, seed)
    env = simpy.Environment()
    patients = iter(zip(gaps, stays, strict=True))
    queue: deque[tuple[float, float]] = deque()
    waits: list[float] = []
    free = SERVERS

    def admit(arrived: float, los: float) -> None:
        waits.append(env.now - arrived)
        env.timeout(los).callbacks.append(depart)

    def depart(_: simpy.Event) -> None:
        nonlocal free
        if queue:
            admit(*queue.popleft())
        else:
            free += 1

    def arrive(event: simpy.Event) -> None:
        nonlocal free
        schedule_next()
        if free:
            free -= 1
            admit(env.now, event.value)
        else:
            queue.append((env.now, event.value))

    def schedule_next() -> None:
        for gap, los in patients:
            env.timeout(gap, los).callbacks.append(arrive)
            return

    schedule_next()
    env.run()
    return Run.from_waits(arrivals, waits)


def ciw_mm50(arrivals: int, seed: int) -> Run:
    """Ciw, a queueing-network library, on the same queue (run to the same horizon)."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE_PER_DAY)],
        service_distributions=[ciw.dists.Exponential(rate=1 / MEAN_LOS_DAYS)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(arrivals / RATE_PER_DAY)
    records = simulation.get_all_records()
    return Run.from_waits(len(records), [r.waiting_time for r in records])


def hospsim_baseline(scenario: Scenario, seed: int) -> Run:
    """The built-in `baseline` hospital: what a real study runs, with every unit, the case
    mix, the daily staffing policy and the KPIs. Patients = admissions, warm-up included."""
    result = simulate(scenario, make_policy("baseline"), seed)
    return Run(int(result.daily["admissions"].sum()))


# ---------------------------------------------------------------- timing and reporting
def best_times(models: dict[str, Callable[[], Run]], repeat: int) -> dict[str, tuple[float, Run]]:
    """Best wall time of each model over `repeat` rounds, the least disturbed by the rest of
    the machine. Rounds take the models in turn, so a burst of load elsewhere slows one run
    of each model rather than every run of one."""
    best: dict[str, tuple[float, Run]] = {}
    for _ in range(repeat):
        for name, model in models.items():
            gc.collect()  # no model pays for the garbage of the one before
            start = time.perf_counter()
            run = model()
            seconds = time.perf_counter() - start
            best[name] = (min(seconds, best.get(name, (math.inf,))[0]), run)
    return best


def sanity(name: str, run: Run) -> str:
    """Mean wait and P(wait) against Erlang C: a check the models are the same queue. Loose
    bounds: at 90% load one long run's mean wait still varies by several percent."""
    p_wait = erlang_c(SERVERS, RATE_PER_DAY * MEAN_LOS_DAYS)
    mean_wait_h = mmc_mean_wait(SERVERS, RATE_PER_DAY, MEAN_LOS_DAYS) * HOURS_PER_DAY
    assert run.p_wait is not None and run.mean_wait_h is not None
    ok = abs(run.p_wait / p_wait - 1) < 0.15 and abs(run.mean_wait_h / mean_wait_h - 1) < 0.25
    return (f"  {name:<16} P(wait) {run.p_wait:.3f} (Erlang C {p_wait:.3f})   mean wait "
            f"{run.mean_wait_h:5.2f} h (Erlang C {mean_wait_h:.2f} h)   "
            f"{'ok' if ok else 'CHECK'}")


def machine() -> str:
    """CPU, cores and versions: the figures mean little without them."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    versions = f"simpy {simpy.__version__}, numpy {np.__version__}"
    if ciw is not None:
        versions += f", ciw {ciw.__version__}"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()}; "
            f"Python {platform.python_version()}, {versions}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=200_000, help="M/M/50 arrivals")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    n, seed = args.arrivals, args.seed

    print(f"machine: {machine()}")
    print(f"M/M/{SERVERS}: {RATE_PER_DAY:g} arrivals/day, mean LOS {MEAN_LOS_DAYS:g} days, "
          f"{n} arrivals, best of {args.repeat}")
    mm50 = mm50_scenario(n)
    models: dict[str, Callable[[], Run]] = {
        "plain SimPy": lambda: plain_simpy(n, seed),
        "hospsim M/M/50": lambda: hospsim_mm50(mm50, seed),
        "callback SimPy": lambda: callback_simpy(n, seed),
    }
    if ciw is None:
        print("Ciw skipped: not installed (pip install 'hospsim[bench]')")
    else:
        ciw_arrivals = min(n, CIW_MAX_ARRIVALS)
        models["Ciw"] = lambda: ciw_mm50(ciw_arrivals, seed)
    try:
        year = scenarios.load("baseline", ["horizon_days=365"])  # one simulated year
    except Exception as err:  # the library file may not exist yet, or not be valid yet
        print(f"baseline hospital skipped: scenarios.load('baseline') failed: {err}")
    else:
        models["hospsim baseline 1y"] = lambda: hospsim_baseline(year, seed)

    best = best_times(models, args.repeat)
    reference = best["plain SimPy"][1].patients / best["plain SimPy"][0]
    print(f"\n{'model':<20} {'patients':>9} {'seconds':>8} {'patients/s':>11} {'vs plain':>9}")
    for name, (seconds, run) in best.items():
        rate = run.patients / seconds
        print(f"{name:<20} {run.patients:>9} {seconds:>8.3f} {rate:>11,.0f} "
              f"{rate / reference:>8.2f}x")
    seconds, run = best["hospsim M/M/50"]
    ratio = run.patients / seconds / reference
    verdict = "met" if ratio >= 1.0 else "NOT met"
    print(f"\ntarget hospsim M/M/50 >= plain SimPy: {verdict} ({ratio:.2f}x)")
    print("sanity, M/M/50 against Erlang C:")
    for name, (_, run) in best.items():
        if run.p_wait is not None:
            print(sanity(name, run))


if __name__ == "__main__":
    main()
