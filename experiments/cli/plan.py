"""`hospsim plan`: the offline bed planner, its replay against true LOS, and the seed's table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from experiments.files import csv_safe
from policies.bed_assignment import (
    BedPlan,
    PatientsError,
    Replay,
    draw_true_los,
    generate_patients,
    plan_beds,
    read_patients,
    replay,
    write_patients,
)

app = typer.Typer(help="Plan beds for a list of stays; replay the plan against true LOS.",
                  pretty_exceptions_enable=False)
console = Console(width=160)

# The seed notebooks' table (its own data, identical beds, unlimited): patients -> figures.
SEED = {200: ("30", "34.8", "< 0.1"), 500: ("63", "26.1", "< 0.1")}
COLUMNS = ("instance", "method", "patients", "beds used", "idle %", "overflow (plan)",
           "conflicts (true LOS)", "overflow (true LOS)", "runtime (s)", "gap", "status")


def _row(name: str, n: int, plan: BedPlan, result: Replay) -> list[str]:
    gap = "n/a" if plan.gap != plan.gap else f"{100 * plan.gap:.2f}%"  # NaN: not known
    status = plan.status + (f" (fallback: {plan.fallback})" if plan.fallback else "")
    return [name, plan.method, str(n), str(plan.beds_used), f"{plan.idle_pct:.1f}",
            str(plan.overflow), str(result.conflicts), str(result.overflow),
            f"{plan.runtime_s:.3f}", gap, status]


def plan_table(rows: list[list[str]], sizes: set[int]) -> Table:
    """Our rows, then the seed's reference rows for the same numbers of patients."""
    table = Table(title="Bed plan (seed reference rows: the seed's own data, not these stays)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("instance", "status") else "right")
    for row in rows:
        table.add_row(*row)
    for n in sorted(sizes & SEED.keys()):
        beds, idle, runtime = SEED[n]
        table.add_row("seed notebook", "greedy", str(n), beds, idle, "-", "-", "-", runtime,
                      "-", "reference", style="dim")
    return table


@app.command()
def plan(
    patients: Annotated[Path | None, typer.Argument(
        help="CSV: admit, predicted_los (days) [, id, unit, sex, alternatives, true_los]")] = None,
    beds: Annotated[int | None, typer.Option(min=0, help="bed cap (default: unlimited)")] = None,
    method: Annotated[str, typer.Option(help="milp or greedy")] = "milp",
    solver: Annotated[str, typer.Option(help="highs or cbc")] = "highs",
    time_limit: Annotated[float, typer.Option(min=0.1, help="MILP time limit (s)")] = 10.0,
    transfer_cost: Annotated[float, typer.Option(
        min=0.0, help="cost of placing in an alternative unit, in beds")] = 0.1,
    generate: Annotated[list[int] | None, typer.Option(
        min=1, help="plan N generated stays instead of a file (repeatable: 200, 500)")] = None,
    mix: Annotated[bool, typer.Option(help="generated stays get units, sexes, alternatives")
                   ] = False,
    days: Annotated[float, typer.Option(min=1.0, help="admission window of generated stays")
                    ] = 60.0,
    cv: Annotated[float, typer.Option(
        min=0.0, help="true LOS = predicted x lognormal(mean 1, this CV) unless a true_los "
        "column is given")] = 0.5,
    seed: Annotated[int, typer.Option(help="seed of generated stays and true LOS")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="folder for the assignment (and generated stays) as CSV")] = None,
) -> None:
    """Assign beds (MILP on counts per pool + interval partitioning, or the exact greedy),
    replay the plan against true LOS, and print beds used, idle %, overflow, conflicts,
    runtime and optimality gap next to the seed's table."""
    if (patients is None) == (not generate):
        raise typer.BadParameter("give a PATIENTS.csv or --generate N (not both)")
    if method not in ("milp", "greedy") or solver not in ("highs", "cbc"):
        raise typer.BadParameter("--method is milp or greedy; --solver is highs or cbc")
    try:
        instances = ([(patients.name, read_patients(patients))] if patients is not None else
                     [(f"generated {n}", generate_patients(n, seed, days, mix)) for n in generate])
    except PatientsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except (OSError, ValueError) as error:  # missing, empty, not text, not CSV
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        typer.echo(f"error: {patients}: cannot read patients ({reason})", err=True)
        raise typer.Exit(2) from None
    rows = []
    for name, frame in instances:
        result = plan_beds(frame, beds, method, solver=solver,  # type: ignore[arg-type]
                           time_limit=time_limit, transfer_cost=transfer_cost)
        rows.append(_row(name, len(frame), result, replay(result, draw_true_los(frame, cv, seed))))
        if out is not None:
            _write(out, name, frame, result, patients is None)
    console.print(plan_table(rows, {len(frame) for _, frame in instances}))


def _write(out: Path, name: str, frame: pd.DataFrame, result: BedPlan, generated: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = name.replace(" ", "_").removesuffix(".csv")
    csv_safe(result.assignment).to_csv(out / f"{stem}_assignment.csv", index=False)
    if generated:
        write_patients(frame, out / f"{stem}.csv")
