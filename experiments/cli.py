"""The `hospsim` command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

import scenarios
from experiments.output import manifest, write_outputs
from experiments.runner import check_policies, default_workers, run_replications
from experiments.stats import summarise
from experiments.warmup import resolve_warmup
from scenarios.schema import Scenario

app = typer.Typer(
    help="hospsim: forecast, simulate and compare hospital bed-allocation policies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

HEADLINE_KPIS = (
    ("occupancy_pct", "Occupancy of staffed beds (%)"),
    ("idle_pct", "Idle staffed beds (%)"),
    ("mean_census", "Mean census (patients)"),
    ("overflow", "Overflow (off-service + diverted)"),
    ("diversions", "Diversions"),
    ("time_to_bed_mean_h", "Time to bed, mean (h)"),
    ("time_to_bed_p90_h", "Time to bed, p90 (h)"),
    ("icu_refusals", "ICU refusals"),
    ("ventilator_shortfall_hours", "Ventilator shortfall (patient-h)"),
    ("elective_cancellations", "Elective cancellations"),
    ("cost_total", "Total cost"),
)


def _load(source: str, overrides: list[str]) -> Scenario:
    try:
        return scenarios.load(source, overrides)
    except scenarios.ScenarioError as error:
        typer.echo(str(error), err=True)  # unwrapped, so FILE:LINE:COL stays clickable
        raise typer.Exit(2) from None


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="built-in name (`hospsim scenarios`) or YAML")],
    replications: Annotated[int | None, typer.Option("--replications", "-n", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="root seed (default: the scenario's)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("results"),
    days: Annotated[int | None, typer.Option(help="simulated days after warm-up", min=1)] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a field: PATH=VALUE, e.g. units.icu.beds=30"),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores)")] = None,
    event_log: Annotated[
        bool, typer.Option("--event-log", help="also write every patient event (large)")
    ] = False,
) -> None:
    """Run the scenario's policies over replications; write KPIs, census and a manifest."""
    overrides = list(set_ or [])
    overrides += [f"replications={replications}"] if replications else []
    overrides += [f"seed={seed}"] if seed is not None else []
    overrides += [f"horizon_days={days}"] if days else []
    resolved = _load(scenario, overrides)
    try:
        check_policies(resolved)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    resolved, warmup = resolve_warmup(resolved)
    if warmup is not None:
        console.print(f"warm-up: MSER-5 on {warmup.pilots} pilot runs chose {warmup.days} days")
    workers = workers or default_workers()
    total = resolved.replications * len(resolved.policies)
    console.print(
        f"[bold]{resolved.name}[/bold]: {resolved.horizon_days} days after "
        f"{resolved.warmup} warm-up days, {resolved.replications} replications x "
        f"{len(resolved.policies)} policies, seed {resolved.seed}, {workers} workers"
    )
    started = time.perf_counter()
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("replications", total=total)
        done = run_replications(
            resolved, resolved.replications, resolved.seed, workers,
            on_done=lambda task, result: progress.advance(bar), event_log=event_log,
        )
    wall = time.perf_counter() - started
    results = [result for _, result in done]
    info = manifest(resolved, scenario, overrides, warmup, workers, wall)
    paths = write_outputs(out, results, info)
    _print_summary(results, resolved)
    console.print(f"{total} replications in {wall:.1f} s; wrote "
                  + ", ".join(str(p) for p in paths.values()))


def _print_summary(results, scenario: Scenario) -> None:
    from experiments.output import kpi_table

    summary = summarise(kpi_table(results, scenario.seed))
    table = Table(title=f"{scenario.name}: mean and 95% CI over {scenario.replications} "
                  "replications")
    table.add_column("KPI")
    policies = list(dict.fromkeys(summary["policy"]))
    for policy in policies:
        table.add_column(policy, justify="right")
    index = summary.set_index(["policy", "kpi"])
    for kpi, label in HEADLINE_KPIS:
        cells = []
        for policy in policies:
            row = index.loc[(policy, kpi)]
            cells.append(_format(row["mean"], row["half_width"]))
        table.add_row(label, *cells)
    console.print(table)


def _format(mean: float, half: float) -> str:
    digits = 0 if abs(mean) >= 1000 else 1 if abs(mean) >= 10 else 2
    if pd.isna(half):
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {half:,.{digits}f}"


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="YAML files or built-in names")]):
    """Check scenario files; every problem is reported as FILE:LINE:COL: FIELD: message."""
    failed = 0
    for source in files:
        try:
            scenario = scenarios.load(source)
        except scenarios.ScenarioError as error:
            failed += 1
            typer.echo(str(error), err=True)
        else:
            console.print(f"{source}: ok ({scenario.name}: {len(scenario.units)} units, "
                          f"{sum(u.beds for u in scenario.units)} beds)")
    if failed:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the scenario JSON Schema (for editor completion and validation)."""
    document = Scenario.model_json_schema()
    document["properties"]["extends"] = {
        "type": "string",
        "description": "a built-in scenario name or a path to a YAML file this one overrides",
    }
    document["required"] = []  # a scenario that extends another may set any subset
    typer.echo(json.dumps(document, indent=2))


@app.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios."""
    table = Table("name", "description")
    for name in scenarios.builtin_names():
        table.add_row(name, scenarios.load(name).description)
    console.print(table)


if __name__ == "__main__":
    app()
