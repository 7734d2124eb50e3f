"""The `hospsim` command line: `run` and `compare` (a study, then its report), `report`,
`stress`, `data`, `validate`, `schema`, `scenarios`; `forecast` and `plan` are their own
modules. The commands run studies (`experiments.study`) and write reports from what the
studies stored (`experiments.report`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

import scenarios
from experiments.cli.forecast import app as forecast_app
from experiments.cli.plan import plan as plan_command
from experiments.report.comparison import service_section, write_report
from experiments.report.stress import describe, write_stress_report
from experiments.study.folder import FolderError, claim
from experiments.study.replications import default_workers
from experiments.study.run import (
    PRECISION_KPIS,
    estimated_stays,
    run_study,
    run_to_precision,
)
from experiments.study.stats import paired_differences, summarise
from experiments.study.store import check_one_run
from experiments.study.stress import Condition, Sweep, load_study, run_stress, study_names
from experiments.trained.wiring import policy_problems
from scenarios.limits import LIMITS, most
from scenarios.schema import Scenario
from simulator import kpis as catalogue

app = typer.Typer(
    help="hospsim: forecast, simulate and compare hospital bed-allocation policies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
data_app = typer.Typer(help="Synthetic and user data for the forecasters.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(forecast_app, name="forecast")
app.command("plan")(plan_command)

HEADLINE_KPIS = tuple(catalogue.labels("headline").items())  # (name, title), in order
REPORTS = ("report.html", "summary.md")
"""What `write_report` writes: removed when a study replaces the tables they describe."""
LARGE_RUN = 50e6
"""Patient stays beyond which `run` asks for --yes: ten times the largest built-in study,
hours of work and gigabytes on disk."""
OVERWRITE_HELP = ("write into OUT even if it is not a hospsim results folder, replacing "
                  "files of hospsim's names (nothing else is deleted)")
VERDICT_STYLE = {"meets": "green", "breaches": "red", "undecided": "yellow"}


def _load(source: str, overrides: list[str]) -> Scenario:
    """The scenario, its policies' parameters checked too; else its problems and exit 2."""
    try:
        return scenarios.load(source, overrides, check=policy_problems)
    except scenarios.ScenarioError as error:
        typer.echo(str(error), err=True)  # unwrapped, so FILE:LINE:COL stays clickable
        raise typer.Exit(2) from None
    except ValueError as error:  # the environment: $HOSPSIM_LIMITS
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def policy_override(texts: list[str]) -> str:
    """`--policy NAME[:KEY=VALUE,...]` as a `policies=[...]` override; each is labelled
    with its own text (e.g. `milp:forecast=ml`). Values are read as YAML."""
    specs = []
    for text in texts:
        name, _, rest = text.partition(":")
        params = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, equals, value = item.partition("=")
            if not equals or not key.strip():
                raise typer.BadParameter(f"{text!r}: expected NAME[:KEY=VALUE,...]",
                                         param_hint="--policy")
            params[key.strip()] = yaml.safe_load(value)
        specs.append({"name": name.strip(), "label": text, "params": params})
    return "policies=" + yaml.safe_dump(specs, default_flow_style=True, width=1 << 30).strip()


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
    resume: Annotated[
        bool, typer.Option("--resume", help="keep finished replications in OUT, run the rest")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="run even a study far larger than the built-in ones")
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option(help="run on Dask: 'local' (a LocalCluster) or a scheduler address"),
    ] = None,
    event_log: Annotated[
        bool, typer.Option("--event-log", help="also write every patient event (large)")
    ] = False,
    reference: Annotated[
        str | None, typer.Option(help="policy the others are compared with (default: first)")
    ] = None,
    precision: Annotated[
        float | None,
        typer.Option(help="add replications until each CI half-width <= this x |mean|",
                     min=0.0001),
    ] = None,
    precision_kpi: Annotated[
        list[str] | None, typer.Option(help="KPIs --precision applies to (repeatable)")
    ] = None,
    max_replications: Annotated[int, typer.Option(help="cap for --precision", min=2)] = 200,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", "-p", help="compare these instead of the scenario's policies "
                     "(repeatable): NAME[:KEY=VALUE,...], e.g. milp:forecast=ml"),
    ] = None,
    policies_from: Annotated[
        str | None,
        typer.Option("--policies-from", help="compare another scenario's policies instead "
                     "(built-in name or YAML), e.g. forecast_value on pandemic_surge"),
    ] = None,
) -> None:
    """Run the scenario's policies over replications; write KPIs, census, a manifest and
    the comparison report."""
    if policy and policies_from:
        raise typer.BadParameter("give --policy or --policies-from, not both",
                                 param_hint="--policies-from")
    overrides = list(set_ or [])
    overrides += [policy_override(policy)] if policy else []
    if policies_from:
        specs = [p.model_dump(mode="json") for p in _load(policies_from, []).policies]
        overrides.append("policies=" + json.dumps(specs))
    overrides += [f"replications={replications}"] if replications else []
    overrides += [f"seed={seed}"] if seed is not None else []
    overrides += [f"horizon_days={days}"] if days else []
    resolved = _load(scenario, overrides)
    _check_reference(reference, [p.key for p in resolved.policies])
    stays = estimated_stays(resolved)
    if stays > LARGE_RUN and not yes:
        typer.echo(f"error: this run simulates about {stays / 1e6:,.0f} million patient stays "
                   f"(the largest built-in study: 5 million); pass --yes to run it", err=True)
        raise typer.Exit(2)
    workers = workers or default_workers()
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("replications", total=None)

        def started(final: Scenario, todo: int, reused: int) -> None:
            if final.warmup_days != resolved.warmup_days:
                console.print(f"warm-up: MSER-5 on pilot runs chose {final.warmup} days")
            console.print(
                f"[bold]{final.name}[/bold]: {final.horizon_days} days after {final.warmup} "
                f"warm-up days, {final.replications} replications x {len(final.policies)} "
                f"policies, seed {final.seed}, {workers} workers"
                + (f"; {reused} replications already done" if reused else "")
            )
            progress.update(bar, total=todo)

        options = dict(source=scenario, overrides=overrides, workers=workers, resume=resume,
                       overwrite=overwrite, derived=REPORTS, event_log=event_log, dask=dask,
                       on_start=started, on_done=lambda: progress.advance(bar))
        try:
            with claim(out, overwrite):  # held from the study through its report
                if precision is None:
                    study = run_study(resolved, out, **options)
                else:
                    study = run_to_precision(
                        resolved, out, target=precision, cap=max_replications,
                        kpis=tuple(precision_kpi or PRECISION_KPIS), **options,
                    )
                if study.paths:  # the report after the study, from what it wrote to `out`
                    study.paths.update(write_report(out, reference))
        except (ValueError, RuntimeError, OSError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
    if study.precision:
        rule = study.precision
        console.print(f"{rule['replications']} replications for CI half-widths within "
                      f"{rule['target']:.0%} of the mean"
                      + (f"; still wider: {', '.join(rule['still_imprecise'])}"
                         if rule["still_imprecise"] else ""))
    if len(study.kpis):
        _print_summary(study.kpis, study.scenario)
        _print_differences(study.kpis, study.scenario, reference)
    console.print(f"{study.ran} replications in {study.wall_seconds:.1f} s; wrote "
                  + ", ".join(str(p) for p in study.paths.values()))
    for failure in study.failures:
        last = failure.traceback.strip().splitlines()[-1]
        typer.echo(f"replication {failure.task.replication} of {failure.task.policy.key} "
                   f"(seed {failure.task.seed}, spawn key {failure.task.replication}) "
                   f"failed: {last}", err=True)
    if study.failures:
        typer.echo(f"{len(study.failures)} replications failed; tracebacks in "
                   f"{out / 'replications' / 'failures'}; --resume reruns them", err=True)
        raise typer.Exit(1)


def _check_reference(reference: str | None, keys: list[str]) -> None:
    """Refuse a --reference that is none of the policies, before any work."""
    if reference is not None and reference not in keys:
        typer.echo(f"error: --reference {reference!r} is not one of {', '.join(keys)}", err=True)
        raise typer.Exit(2)


def _print_summary(kpis: pd.DataFrame, scenario: Scenario) -> None:
    summary = summarise(kpis)
    table = Table(title=f"{scenario.name}: mean and 95% CI over {scenario.replications} "
                  "replications")
    table.add_column("KPI")
    policies = [p.key for p in scenario.policies if p.key in set(summary["policy"])]
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
    _print_verdicts(kpis, scenario, policies)


def _print_verdicts(kpis: pd.DataFrame, scenario: Scenario, policies: list[str]) -> None:
    """Each policy against each service level, mean (95% CI) and meets / breaches /
    undecided, then the report's verdict on which policy is best."""
    section = service_section(kpis, scenario, policies)
    if not section["levels"]:
        return
    table = Table(title="Service levels: mean (95% CI) against the target; meets if the whole "
                  "interval is within it, breaches if it is all beyond it")
    table.add_column("policy")
    for level in section["levels"]:
        table.add_column(f"{level['name']} {level['target']}", justify="right")
    for row in section["rows"]:
        cells = [f"{c['mean']} ({c['low']}–{c['high']}) "
                 f"[{VERDICT_STYLE[c['verdict']]}]{c['verdict']}[/]" for c in row["cells"]]
        table.add_row(row["policy"] + (" (bound)" if row["bound"] else ""), *cells)
    console.print(table)
    console.print(f"[bold]{section['lead']}[/bold]{section['rest']}")


def _print_differences(kpis: pd.DataFrame, scenario: Scenario, reference: str | None) -> None:
    keys = [p.key for p in scenario.policies if p.key in set(kpis["policy"])]
    if len(keys) < 2:
        return
    reference = reference or keys[0]
    _check_reference(reference, keys)
    diffs = paired_differences(kpis, reference).set_index(["policy", "kpi"])
    others = [k for k in keys if k != reference]
    table = Table(title=f"Paired differences vs {reference} (same patients in each replication),"
                  " 95% CI")
    table.add_column("KPI")
    for policy in others:
        table.add_column(f"{policy} − {reference}", justify="right")
    for kpi, label in HEADLINE_KPIS:
        cells = []
        for policy in others:
            row = diffs.loc[(policy, kpi)]
            half = (row["ci_high"] - row["ci_low"]) / 2
            text = _format(row["difference"], half)
            cells.append(text if row["significant"] else f"[dim]{text} (n.s.)[/dim]")
        table.add_row(label, *cells)
    console.print(table)
    console.print("n.s.: no significant difference (the interval spans zero)")


def _format(mean: float, half: float) -> str:
    digits = 0 if abs(mean) >= 1000 else 1 if abs(mean) >= 10 else 2
    if pd.isna(half):
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {half:,.{digits}f}"


app.command("compare", help="Compare policies on a scenario: `run` with the policies given "
            "by --policy (e.g. -p baseline -p milp:forecast=ml -p oracle), the first the "
            "reference; the same options and outputs, report.html included.")(run)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="a folder `hospsim run` wrote")],
    reference: Annotated[str | None, typer.Option(help="policy to compare against")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
) -> None:
    """Rebuild report.html and summary.md from a results folder."""
    if not (folder / "manifest.json").is_file():
        typer.echo(f"error: {folder} has no manifest.json; is it a `hospsim run` folder "
                   "(or one whose run was stopped: --resume finishes it)?", err=True)
        raise typer.Exit(2)
    try:
        with claim(folder, overwrite):
            info = json.loads((folder / "manifest.json").read_text())
            check_one_run(folder, info)
            _check_reference(reference, [p.get("label") or p["name"] for p in info["policies"]])
            paths = write_report(folder, reference)
    except FolderError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, KeyError, IndexError, OSError) as error:  # a file damaged or missing
        reason = (str(error).splitlines() or [""])[0]
        typer.echo(f"error: {folder} is damaged or incomplete ({type(error).__name__}: "
                   f"{reason}); rerun the study into it (--resume keeps its replications)",
                   err=True)
        raise typer.Exit(2) from None
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def stress(
    scenario: Annotated[str | None, typer.Argument(help="built-in name or YAML")] = None,
    vary: Annotated[
        str | None, typer.Option(help="PATH=START:STOP:STEP, e.g. ventilators=10:40:2")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="the breaking condition, e.g. 'icu_refusal_rate>0.05'")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="a shipped study: " + ", ".join(study_names()))
    ] = None,
    replications: Annotated[int | None, typer.Option("--replications", "-n", min=2)] = None,
    policy: Annotated[str | None, typer.Option(help="policy to stress (default: first)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("stress"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="PATH=VALUE")] = None,
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores)")] = None,
    resume: Annotated[bool, typer.Option("--resume")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    full: Annotated[
        bool, typer.Option("--full", help="run every value, not stop once certainly broken")
    ] = False,
) -> None:
    """Sweep one field, find where a KPI crosses a threshold; write curves and a report."""
    overrides = list(set_ or [])
    try:
        if study is not None:
            spec = load_study(study)
            scenario = scenario or spec.scenario
            vary, until, policy = vary or spec.vary, until or spec.until, policy or spec.policy
            full = full or spec.full
            overrides = [*spec.set, f"replications={spec.replications}", *overrides]
        if scenario is None or vary is None or until is None:
            raise ValueError("give SCENARIO, --vary and --until, or --study NAME")
        overrides += [f"replications={replications}"] if replications else []
        sweep, condition = Sweep.parse(vary), Condition.parse(until)
        _load(scenario, [*overrides, f"{sweep.path}={sweep.values[0]}"])
        with claim(out, overwrite):
            result = run_stress(
                scenario, sweep, condition, out, overrides=overrides, policy=policy,
                stop_when_certain=not full, workers=workers or default_workers(),
                resume=resume, overwrite=overwrite,
                on_value=lambda v: console.print(f"{sweep.path} = {v}"),
            )
            paths = write_stress_report(result, scenario, out)
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    table = Table(sweep.path, f"{condition.kpi} (mean)", "95% CI")
    for row in result.curve.itertuples():
        table.add_row(f"{row.value:g}", f"{row.mean:.4g}", f"{row.ci_low:.4g} – {row.ci_high:.4g}")
    console.print(table)
    console.print(describe(result))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


@data_app.command("synth")
def data_synth(
    years: Annotated[int, typer.Option(min=1, max=30)] = 3,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("data/synthetic"),
    seed: Annotated[int, typer.Option()] = 2015,
    start: Annotated[str, typer.Option(help="first admission date (ISO)")] = "2015-01-01",
) -> None:
    """Write a synthetic inpatient history: SPARCS-format records, daily admissions by unit,
    and the generator's true means (the floor no forecaster can beat)."""
    from forecasting.synthetic import generate

    history = generate(years=years, seed=seed, start=start)
    paths = history.write(out)
    console.print(f"{len(history.records):,} records, {history.daily['date'].nunique()} days; "
                  "wrote " + ", ".join(str(p) for p in paths))


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="YAML files or built-in names")]):
    """Check scenario files; every problem is reported as FILE:LINE:COL: FIELD: message."""
    failed = 0
    for source in files:
        try:
            scenario = scenarios.load(source, check=policy_problems)
        except (scenarios.ScenarioError, ValueError) as error:  # ValueError: $HOSPSIM_LIMITS
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
        "description": "a built-in scenario name or a path to a YAML file this one overrides, "
        "relative to this file and under its folder (or $HOSPSIM_SCENARIO_ROOTS)",
    }
    document["required"] = []  # a scenario that extends another may set any subset
    document["x-limits"] = {  # beyond these a value is refused; $HOSPSIM_LIMITS raises them
        name: {"most": most(name), "unit": limit.unit, "reason": limit.reason}
        for name, limit in LIMITS.items()}
    typer.echo(json.dumps(document, indent=2))


@app.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios."""
    table = Table("name", "description")
    for name in scenarios.builtin_names():
        table.add_row(name, scenarios.load(name).description)
    console.print(table)
