"""The stress test's page: `stress.csv`, `stress.html` (the curve with its CI band, and the
cost curve with the cheapest value), and the finding in one sentence.

The sweep itself is `experiments.study.stress`; the CLI writes this after it.
"""

from __future__ import annotations

from pathlib import Path

from experiments.files import csv_safe, replacing
from experiments.report import TEMPLATES, figures
from experiments.study.stress import FORECAST_ERRORS, StressResult
from simulator import kpis as catalogue


def cheapest(result: StressResult) -> dict | None:
    """The breakeven view: the value with the lowest mean total cost, and whether the next
    step costs significantly more (the point where more capacity stops paying for itself)."""
    curve = result.curve
    if len(curve) < 2:
        return None
    best = int(curve["cost_total"].idxmin())
    after = curve.iloc[best + 1] if best + 1 < len(curve) else None
    finding = {"value": curve.loc[best, "value"], "cost_total": curve.loc[best, "cost_total"]}
    if after is not None:
        low = after["cost_change"] - after["cost_change_half_width"]
        finding.update(next_value=after["value"], next_change=after["cost_change"],
                       next_change_half_width=after["cost_change_half_width"],
                       next_significant=bool(low > 0))
    return finding


def describe(result: StressResult) -> str:
    """The finding in one sentence."""
    c, path = result.condition, result.sweep.path
    if result.crossing is None:
        last = result.curve["value"].iloc[-1]
        return (f"Under {result.policy}, {c} is never reached for {path} up to {last:g} "
                f"(mean {result.curve['mean'].iloc[-1]:.4g} there).")
    text = f"Under {result.policy}, {c} from {path} ≈ {result.crossing:.4g} (mean crossing)"
    if result.certain is not None:
        text += f"; certainly (whole 95% CI) by {result.certain:g}"
    if result.possible is not None:
        text += f"; possibly (part of the CI) from {result.possible:g}"
    return text + "."


def write_stress_report(result: StressResult, source: str, out: Path) -> dict[str, Path]:
    out = Path(out)
    paths = {"stress.csv": out / "stress.csv", "stress.html": out / "stress.html"}
    with replacing(paths["stress.csv"]) as partial:
        csv_safe(result.curve).to_csv(partial, index=False)
    template = TEMPLATES.get_template("stress.html.j2")
    figure = figures.stress_curve(result.curve, result.condition.kpi,
                                  result.condition.threshold, result.sweep.path,
                                  result.crossing)
    breakeven = cheapest(result)
    cost = figures.cost_curve(result.curve, result.sweep.path,
                              breakeven["value"] if breakeven else None)
    paths["stress.html"].write_text(template.render(
        source=source, result=result, sentence=describe(result), figure=figure,
        cost=cost, breakeven=breakeven, rows=result.curve.to_dict("records"),
        errors={k: catalogue.get(k).title for k in FORECAST_ERRORS if k in result.curve},
        n=int(result.curve["n"].max()),
    ))
    return paths
