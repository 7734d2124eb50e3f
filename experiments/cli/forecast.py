"""`hospsim forecast ...`: backtest the admission forecasters, evaluate the LOS models.

`forecasting` (scikit-learn, xgboost) is imported by the commands, after OpenMP's waiting
policy is set (`experiments.trained.openmp`), not when the `hospsim` command line loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from experiments.files import csv_safe
from experiments.trained.horizons import HORIZON_AWARE, LAG_14
from experiments.trained.openmp import passive_openmp

DEFAULT_MODELS = ("linear", LAG_14, "xgboost", "dow_average", "seasonal_naive")
"""Backtested by default, beside the historical average (and the true mean on synthetic data)."""

app = typer.Typer(help="Forecast admissions and LOS; evaluate on time-ordered holdouts.",
                  no_args_is_help=True)
console = Console()
Data = Annotated[
    Path | None,
    typer.Option(help="your data (default: the built-in synthetic history, 3 years)"),
]
Out = Annotated[Path, typer.Option(help="output folder")]


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


def _table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if column == frame.columns[0] else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,.3g}" if isinstance(v, float) else str(v) for v in row))
    return table


@app.command("backtest")
def backtest_command(
    data: Data = None,
    out: Out = Path("forecast"),
    test_days: Annotated[int, typer.Option(min=28)] = 365,
    scenario: Annotated[str | None, typer.Option(
        help="a scenario (library name or YAML): backtest the horizon-aware forecaster "
             "against the lag-14 one on its demand, surges included")] = None,
    by_horizon: Annotated[bool, typer.Option(
        "--by-horizon", help="errors by horizon 1-14, horizon-aware against lag-14")] = False,
    models: Annotated[list[str] | None, typer.Option(
        "--model", help=f"forecaster(s) to backtest (default: {', '.join(DEFAULT_MODELS)}; "
                        "random_forest fits a forest per horizon, so it is slow)")] = None,
) -> None:
    """Rolling-origin backtest (expanding window, horizons 1-14 days) of every forecaster
    against the historical average; with the synthetic data, also the true-mean floor.

    --data: an admissions CSV (date, unit, admissions or count), or a folder written by
    `hospsim data synth` (its expected.csv adds the floor). --scenario: the scenario's
    simulated history then one run's demand with its surges, origins every day from four
    weeks before the first surge to its end, models fitted once before it (as the `ml`
    source is); errors by horizon."""
    passive_openmp()
    from forecasting.backtest import backtest, plot_backtest
    from forecasting.sparcs import DataError
    from forecasting.synthetic import generate
    from forecasting.userdata import load_admissions

    if scenario is not None:
        if data is not None:
            _fail(ValueError("give --data or --scenario, not both"))
        _scenario_backtest(scenario, out)
        return
    expected = None
    try:
        if data is None:
            history = generate()
            daily, expected = history.daily, history.expected
        elif data.is_dir():
            daily = load_admissions(data / "admissions.csv")
            if (data / "expected.csv").is_file():
                expected = pd.read_csv(data / "expected.csv", parse_dates=["date"])
        else:
            daily = load_admissions(data)
        names = list(models or DEFAULT_MODELS)
        if by_horizon:  # both forecasters the horizon table compares
            names += [name for name in (HORIZON_AWARE, LAG_14) if name not in names]
        forecasters = _forecasters(names)
    except (DataError, ValueError, FileNotFoundError) as error:
        _fail(error)
    result = backtest(daily, models=forecasters, expected=expected, test_days=test_days)
    out.mkdir(parents=True, exist_ok=True)
    csv_safe(result.table).to_csv(out / "backtest.csv", index=False)
    csv_safe(result.forecasts).to_csv(out / "forecasts.csv", index=False)
    figure = plot_backtest(result, out / "backtest_total.png")
    summary = result.table[(result.table["unit"] == "total") & (result.table["horizon"] == "all")]
    for freq in ("daily", "weekly"):
        rows = summary[summary["freq"] == freq][
            ["model", "rmse", "mae", "mape", "r2", "rmse_reduction_pct", "mae_reduction_pct"]
        ].rename(columns={"mape": "MAPE %", "rmse_reduction_pct": "RMSE cut %",
                          "mae_reduction_pct": "MAE cut %"})
        console.print(_table(rows, f"Total admissions, {freq} (horizons 1-14 days): error, "
                                   "and % cut vs the historical average"))
    written = [out / "backtest.csv", out / "forecasts.csv", figure]
    if by_horizon:
        written += _horizon_outputs(result.table, "synthetic history" if data is None
                                    else "your data", out)
    console.print(f"wrote {', '.join(map(str, written))}")


def _forecasters(names: list[str]) -> dict:
    """Forecasters by registry name, or `linear_lag14`; a misspelt name is a ValueError."""
    from forecasting.admissions import make_model, model_names
    from forecasting.features import FeatureSpec, lag_14

    valid = [*model_names(), LAG_14]
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(f"unknown --model {unknown[0]!r}; choose from {', '.join(valid)}")
    return {name: make_model("linear", features=lag_14(FeatureSpec())) if name == LAG_14
            else make_model(name) for name in names}


def _scenario_backtest(source: str, out: Path) -> None:
    """`hospsim forecast backtest --scenario`: see `experiments.trained.horizons`."""
    import scenarios
    from experiments.trained.horizons import scenario_backtest

    try:
        scenario = scenarios.load(source)
    except scenarios.ScenarioError as error:
        _fail(error)
    result = scenario_backtest(scenario)
    out.mkdir(parents=True, exist_ok=True)
    csv_safe(result.table).to_csv(out / "backtest.csv", index=False)
    csv_safe(result.forecasts).to_csv(out / "forecasts.csv", index=False)
    written = _horizon_outputs(result.table, scenario.name, out)
    console.print(f"wrote {out / 'backtest.csv'}, {out / 'forecasts.csv'}, "
                  f"{', '.join(map(str, written))}")


def _horizon_outputs(table: pd.DataFrame, name: str, out: Path) -> list[Path]:
    """Print the hospital total's errors by horizon, horizon-aware against lag-14; write
    them for every unit (backtest_by_horizon.csv) and the figure (backtest_by_horizon.png)."""
    from experiments.trained.horizons import by_horizon, plot_by_horizon

    units = table.loc[table["freq"] == "daily", "unit"].unique()
    frame = pd.concat([by_horizon(table, unit).assign(unit=unit) for unit in units])
    frame = frame[["unit", *[c for c in frame if c != "unit"]]]
    csv_safe(frame).to_csv(out / "backtest_by_horizon.csv", index=False)
    total = by_horizon(table)
    aware, old = HORIZON_AWARE, LAG_14
    shown = total[["horizon", f"rmse_{aware}", f"rmse_{old}", "rmse_change_pct", f"mae_{aware}",
                   f"mae_{old}", "mae_change_pct", f"r2_{aware}", f"r2_{old}"]]
    shown = shown.astype({"horizon": str}).set_axis(
        ["h", "RMSE", "lag-14", "change %", "MAE", "lag-14", "change %", "R²", "lag-14"], axis=1)
    console.print(_table(shown, f"{name}, total admissions by horizon: horizon-aware ({aware}) "
                                f"against lag-14 ({old}); change < 0: fresh lags win (MAPE and "
                                "every unit: backtest_by_horizon.csv)"))
    figure = plot_by_horizon({name: total}, out / "backtest_by_horizon.png")
    return [out / "backtest_by_horizon.csv", figure]


def _split(records: pd.DataFrame, test_share: float) -> tuple[pd.Series, pd.Series]:
    """Train on earlier stays, test on later: by admission date if known, else by year."""
    when = records["admission_date"]
    if when.isna().all():
        when = records["discharge_year"].astype("float")
    cut = when.quantile(1 - test_share)
    return when < cut, when >= cut


@app.command("los")
def los_command(
    data: Data = None,
    out: Out = Path("forecast"),
    kinds: Annotated[list[str] | None, typer.Option("--kind", help="model(s) to fit")] = None,
    features: Annotated[
        str, typer.Option(help="'simulator' (what simulated patients have) or 'all'")
    ] = "simulator",
    leakage: Annotated[
        bool, typer.Option("--leakage", help="also use charges, costs and disposition "
                           "(known only at discharge: shows what leakage inflates)")
    ] = False,
    test_share: Annotated[float, typer.Option(min=0.05, max=0.5)] = 0.25,
) -> None:
    """Fit the LOS models on earlier stays, evaluate on later ones: RMSE, MAE, R² in days,
    and the calibration of their predictive distributions."""
    passive_openmp()
    from forecasting.los_models import KINDS, LosRegressor, calibration, evaluate
    from forecasting.metrics import error_table
    from forecasting.records import LOS_FEATURES, SIMULATOR_FEATURES
    from forecasting.sparcs import DataError, load_sparcs, normalise_sparcs
    from forecasting.synthetic import generate

    truth = None
    try:
        if data is None:
            history = generate()
            records = normalise_sparcs(history.records).records
            truth = history.los_expected.to_numpy()
        else:
            loaded = load_sparcs(data)
            records = loaded.records
            dropped = {k: v for k, v in loaded.dropped.items() if v}
            console.print(f"{loaded.rows_read:,} rows read, {len(records):,} used"
                          + (f"; dropped {dropped}" if dropped else ""))
        kinds = kinds or list(KINDS)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown --kind {unknown[0]!r}; choose from {', '.join(KINDS)}")
        if features not in ("simulator", "all"):
            raise ValueError("--features must be 'simulator' or 'all'")
    except (DataError, ValueError, FileNotFoundError) as error:
        _fail(error)
    chosen = SIMULATOR_FEATURES if features == "simulator" else LOS_FEATURES
    train, test = _split(records, test_share)
    rows, calibrations, fitted = [], [], {}
    for kind in kinds:
        model = LosRegressor(kind, features=chosen, use_leakage=leakage)
        model.fit(records[train.to_numpy()])
        fitted[kind] = model
        rows.append({"model": kind, **evaluate(model, records[test.to_numpy()])})
        calibrations.append(calibration(model, records[test.to_numpy()]).assign(model=kind))
    if truth is not None:
        floor = error_table(records.loc[test.to_numpy(), "length_of_stay"].to_numpy(),
                            truth[test.to_numpy()])
        rows.append({"model": "true_mean (ceiling)", "rmse": floor["rmse"],
                     "mae": floor["mae"], "r2": floor["r2"], "rows": floor["n"]})
    metrics = pd.DataFrame(rows)
    calib = pd.concat(calibrations, ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    csv_safe(metrics).to_csv(out / "los_metrics.csv", index=False)
    csv_safe(calib).to_csv(out / "los_calibration.csv", index=False)
    figure = _plot_los(fitted, records[test.to_numpy()], calib, out / "los.png")
    console.print(_table(metrics[["model", "rmse", "mae", "r2"]],
                         f"LOS (days) on the latest {test_share:.0%} of stays"
                         + (" — with leakage columns" if leakage else "")))
    wide = calib.pivot(index="q", columns="model", values="share_below").reset_index()
    console.print(_table(wide, "Calibration: share of held-out stays below the predicted "
                               "q-th quantile (should be q)"))
    console.print(f"wrote {out / 'los_metrics.csv'}, {out / 'los_calibration.csv'}, {figure}")


def _plot_los(fitted: dict, test: pd.DataFrame, calib: pd.DataFrame, path: Path) -> Path:
    """Calibration curves, and mean actual LOS against predicted (by prediction decile)."""
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    for kind, rows in calib.groupby("model", sort=False):
        left.plot(rows["q"], rows["share_below"], marker="o", ms=3, label=kind)
    left.set(title="calibration", xlabel="predicted quantile q",
             ylabel="share of stays below it")
    left.legend(fontsize="small")
    actual = test["length_of_stay"].to_numpy()
    top = 0.0
    for kind, model in fitted.items():
        predicted = model.predict(test)
        edges = np.quantile(predicted, np.linspace(0, 1, 11))
        bins = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, 9)
        means = pd.DataFrame({"bin": bins, "p": predicted, "a": actual}).groupby("bin").mean()
        right.plot(means["p"], means["a"], marker="o", ms=3, label=kind)
        top = max(top, means["p"].max(), means["a"].max())
    right.plot([0, top], [0, top], color="grey", ls="--", lw=1)
    right.set(title="predicted vs actual (deciles of prediction)", xlabel="predicted LOS (days)",
              ylabel="mean actual LOS (days)")
    right.legend(fontsize="small")
    figure.savefig(path, dpi=110)
    return path
