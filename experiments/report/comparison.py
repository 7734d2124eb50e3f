"""The policy comparison report: one self-contained HTML file (figures inline as SVG), a
`summary.md`, both written from a results folder so they can be rebuilt at any time."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import scenarios
from experiments.report import TEMPLATES, figures, sensitivity
from experiments.report import markdown_text as md
from experiments.report.breakeven import unit_breakevens
from experiments.report.bridge import bridge, bridge_sentence
from experiments.report.error_curve import AXES, curve_sentences, error_curves
from experiments.study.service_levels import (
    BREACHES,
    UNDECIDED,
    best_meeting,
    cost_ties,
    failing,
    service_verdicts,
    shortfalls,
    target_text,
)
from experiments.study.stats import holm, paired_differences, summarise
from experiments.trained.arrival_forecast import HISTORY_DAYS
from experiments.trained.backtest import ORIGINS, SETTINGS, read_backtest, uses_trained_forecast
from experiments.trained.wiring import (
    TRUTH,
    forecast_group,
    knows_the_future,
    noise_of,
    source_label,
)
from scenarios.schema import Scenario
from simulator import kpis as catalogue

HEADLINE = catalogue.labels("headline")  # name -> title, for the KPI table
FOREST = catalogue.labels("forest")
BOXES = catalogue.labels("boxes")


def number(value: float, signed: bool = False) -> str:
    if pd.isna(value):
        return "–"
    digits = 0 if abs(value) >= 1000 else 1 if abs(value) >= 10 else 2
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return text.replace("-", "−")


def findings(differences: pd.DataFrame, reference: str) -> list[str]:
    """Plain sentences: what each policy changes against the reference, with certainty.
    The sentences make one family of comparisons (every policy on every findings KPI):
    a difference counts as significant only after Holm's correction across all of them,
    so a long list of policies does not turn chance into findings."""
    family = differences[differences["kpi"].isin(catalogue.names("findings"))].copy()
    family["p_holm"] = holm(family["p_value"].to_numpy())
    size = int(family["p_value"].notna().sum())
    sentences = []
    for policy, group in family.groupby("policy", sort=False):
        rows = group.set_index("kpi")
        parts = []
        for kpi in catalogue.names("findings"):
            if kpi not in rows.index:
                continue
            r = rows.loc[kpi]
            label = catalogue.get(kpi).title.lower()
            if not r["p_holm"] < 0.05:
                parts.append(f"no significant difference in {label}")
                continue
            parts.append(f"{label} {number(r['difference'], signed=True)} "
                         f"(95% CI {number(r['ci_low'])} to {number(r['ci_high'])})")
        sentences.append(f"{policy} against {reference}: " + "; ".join(parts) + ".")
    if sentences and size > 1:
        sentences.append(f"Significance above is Holm-corrected across the {size} "
                         f"comparisons listed (family-wise error 5%); intervals are "
                         f"per-comparison 95%.")
    return sentences


FORECAST_VALUE = catalogue.labels("forecast_value")


def forecast_sentences(groups: list[dict]) -> list[str]:
    """For the 30-second summary: what each better forecast does to total cost."""
    sentences = []
    for group in groups:
        for row in group["rows"]:
            d = row["cost"]
            if d is None:
                continue
            certainty = "" if d["significant"] else "; not significant"
            sentences.append(
                f"What better forecasting is worth to {group['name']}: {row['source']} instead "
                f"of {group['reference']} changes total cost by "
                f"{number(d['difference'], signed=True)} (95% CI {number(d['ci_low'])} to "
                f"{number(d['ci_high'])}{certainty})."
            )
    return sentences


def forecast_value(kpis: pd.DataFrame, scenario: Scenario) -> list[dict]:
    """What each forecast source is worth downstream: for every policy run with several
    forecast sources (the oracle counting as the MILP's perfect information), each
    source's KPIs and its paired difference from `historical`, else from the first."""
    kpis = kpis.assign(idle_bed_days=kpis["staffed_bed_days"] - kpis["occupied_bed_days"])
    groups: dict[str, dict[str, str]] = {}
    for spec in scenario.policies:
        if spec.key not in set(kpis["policy"]):
            continue
        los = spec.params.get("los_forecast", "predicted")
        if noise_of(los) or noise_of(spec.params.get("forecast")):
            continue  # the error curves show the noisy sources
        if (group := forecast_group(spec)) is not None:
            source = group[1] if los == "predicted" else f"{group[1]}, {source_label(los)} LOS"
            groups.setdefault(group[0], {}).setdefault(source, spec.key)
    shown = [k for k in FORECAST_VALUE if k in kpis.columns]
    tables = []
    for name, keys in groups.items():
        forecasts = [source for source in keys if source != TRUTH]
        if len(keys) < 2 or not forecasts:
            continue
        reference = "historical" if "historical" in keys else forecasts[0]
        subset = kpis[kpis["policy"].isin(keys.values())]
        diffs = paired_differences(subset, keys[reference]).set_index(["policy", "kpi"])
        means = summarise(subset).set_index(["policy", "kpi"])["mean"]
        rows = []
        for source, key in keys.items():
            cells = []
            for kpi in shown:
                cell = {"mean": number(means[(key, kpi)]), "diff": None}
                if source != reference:
                    d = diffs.loc[(key, kpi)]
                    cell["diff"] = (f"{number(d['difference'], signed=True)} "
                                    f"({number(d['ci_low'])} to {number(d['ci_high'])})"
                                    + ("" if d["significant"] else ", n.s."))
                cells.append(cell)
            cost = diffs.loc[(key, "cost_total")] if source != reference else None
            rows.append({"source": source, "policy": key, "cells": cells, "cost": cost})
        tables.append({"name": name, "rows": rows, "reference": reference,
                       "columns": [FORECAST_VALUE[k] for k in shown]})
    return tables


def unit_table(summary: pd.DataFrame, scenario: Scenario, policies: list[str]) -> list[dict]:
    """Per unit and policy: mean census, staffed beds, idle share and premium bed-days
    (the per-unit KPIs), beside the unit's physical beds."""
    means = summary["mean"]

    def cell(policy: str, unit: str) -> dict:
        def get(kpi: str) -> float:
            return means.get((policy, f"{kpi}.{unit}"), float("nan"))
        premium = get("premium_bed_days")
        return {"census": number(get("mean_census")), "staffed": number(get("staffed_beds")),
                "idle": number(get("idle_pct")),
                "premium": number(premium) if premium > 0 else None}

    return [{"unit": u.name, "beds": u.beds, "cells": [cell(p, u.name) for p in policies]}
            for u in scenario.units]


def bridge_section(result: dict | None) -> dict | None:
    """The oracle gap bridge's waterfall and table rows (`experiments.report.bridge`)."""
    if result is None or not result["parts"]:
        return None

    def cell(c: dict) -> str:
        return (f"{number(c['mean'], signed=True)} ({number(c['ci_low'])} to "
                f"{number(c['ci_high'])}{'' if c['significant'] else ', n.s.'})")

    kpis = list(result["parts"][0]["kpis"])
    rows = [{"title": p["title"], "total": False, "cells": [cell(p["kpis"][k]) for k in kpis]}
            for p in result["parts"]]
    if result["gap"] is not None:
        rows.append({"title": "gap: milp+ml to the oracle", "total": True,
                     "cells": [cell(result["gap"][k]) for k in kpis]})
    return {"figure": figures.waterfall(result) if "cost_total" in kpis else None,
            "columns": [catalogue.get(k).title for k in kpis], "rows": rows,
            "steps": [{"title": s["title"], "policy": s["policy"],
                       "cost": number(s["means"].get("cost_total", float("nan")))}
                      for s in result["steps"]],
            "n": result["n"]}


RATE_TEXT = ("the demand process's expected arrivals (the rate: no day's luck, the best "
             "forecast short of clairvoyance)")
CENTRES = {"truth": "", "rate": ", around the expected arrivals"}  # section title suffixes


def curve_sections(kpis: pd.DataFrame, scenario: Scenario) -> list[dict]:
    """Per axis (arrivals, LOS) and centre (truth, rate) that has curves: the figure and one
    sentence per curve."""
    curves = error_curves(kpis, scenario)
    sections = []
    for axis in AXES:
        for centre, suffix in CENTRES.items():
            mine = [c for c in curves if c["axis"] == axis and c["around"] == centre]
            if mine:
                sections.append({
                    "title": f"{axis.title} forecasts{suffix}",
                    "truth": axis.truth if centre == "truth" else RATE_TEXT,
                    "figure": figures.error_curves(mine),
                    "sentences": curve_sentences(mine, number)})
    return sections


def forecast_errors(table: pd.DataFrame | None) -> list[dict] | None:
    """Each forecaster's backtest errors over all horizons, daily and in weekly totals, and
    its RMSE change against the historical average (negative: smaller errors)."""
    if table is None:
        return None
    overall = table[table["horizon"] == "all"]
    rows = []
    for model, group in overall.groupby("model", sort=False):
        by_freq = group.set_index("freq")
        cells = {}
        for freq, r in by_freq.iterrows():
            change = -r["rmse_reduction_pct"]
            cells[freq] = {"rmse": number(r["rmse"]), "mae": number(r["mae"]),
                           "mape": number(r["mape"]), "r2": number(r["r2"]),
                           "change": "reference" if model == "historical_average"
                           else f"{number(change, signed=True)}%"}
        rows.append({"model": model, **cells})
    return rows


def breakeven(census: pd.DataFrame, scenario: Scenario, reference: str) -> dict | None:
    """The breakeven view's figure and table rows (see `experiments.report.breakeven`)."""
    table, curves = unit_breakevens(census, scenario, reference)
    if table.empty:
        return None
    rows = [{"unit": r.unit, "staffed": r.staffed, "staffed_mean": number(r.staffed_mean),
             "demand_mean": number(r.demand_mean), "breakeven": r.breakeven,
             "cost_staffed": number(r.cost_staffed), "cost_breakeven": number(r.cost_breakeven),
             "saving": number(r.cost_staffed - r.cost_breakeven),
             "bed_day": number(r.bed_day), "shortage": number(r.shortage),
             "fractile": f"{100 * r.fractile:.0f}%", "service_beds": r.service_beds,
             "recommended": r.recommended, "cost_recommended": number(r.cost_recommended)}
            for r in table.itertuples()]
    return {"figure": figures.breakeven(table, curves), "rows": rows}


def scenario_diff(manifest: dict) -> str | None:
    """The resolved scenario against the one it extends, as a unified diff of YAML; None when
    there is none, or when the base is not one the scenario may name (a file under its own
    folder, or a built-in: the loader's rule, since a manifest may have been edited)."""
    source = manifest.get("scenario_source") or ""
    path = Path(source)
    try:
        text = path.read_text() if path.is_file() else None
        if text is None and source in scenarios.builtin_names():
            text = (scenarios.loader.LIBRARY / f"{source}.yaml").read_text()
        doc = yaml.safe_load(text) if text else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    base = doc.get("extends") if isinstance(doc, dict) else None
    if not isinstance(base, str) or not base:
        return None
    base_dir = (path.parent if path.is_file() else scenarios.loader.LIBRARY).resolve()
    candidate = (base_dir / base).resolve()
    if candidate.is_file() and candidate.is_relative_to(base_dir):
        ref = str(candidate)
    elif base in scenarios.builtin_names():
        ref = base
    else:
        return None
    try:
        before = yaml.safe_dump(scenarios.load(ref).model_dump(mode="json"), sort_keys=False)
    except scenarios.ScenarioError:
        return None
    after = yaml.safe_dump(manifest["scenario"], sort_keys=False)
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), base, "this scenario",
                                 lineterm="")
    return "\n".join(lines)


def solver_table(out: Path, policies: list[str]) -> list[dict]:
    """Per policy that solves a morning MILP, over all its replications: how many mornings
    the MILP ran, how many were optimal, fell back (and the commonest reason), solve time
    and the largest MIP gap."""
    path = out / "solves.parquet"
    if not path.is_file():
        return []
    solves = pd.read_parquet(path)
    rows = []
    for policy in [p for p in policies if p in set(solves["policy"])]:
        log = solves[solves["policy"] == policy]
        ran = log[log["milp"].fillna(False).astype(bool)]
        reasons = log.loc[log["fallback"] != "", "fallback"]
        ms = ran["seconds"] * 1000
        rows.append({
            "policy": policy, "mornings": len(log), "milp": len(ran),
            "optimal": int((ran["status"] == "Optimal").sum()), "fallbacks": len(reasons),
            "reason": reasons.mode().iloc[0] if len(reasons) else "",
            "median_ms": number(ms.median()), "p95_ms": number(ms.quantile(0.95)),
            "max_ms": number(ms.max()), "max_gap": f"{ran['gap'].max():.1e}"
            if ran["gap"].notna().any() else "–",
        })
    return rows


def _shown(name: str, value: float, unit: bool = True) -> str:
    """A value of a catalogued KPI as tables show it (shares in %)."""
    kpi = catalogue.get(name)
    text = number(value * kpi.scale)
    return text + "%" if unit and kpi.shown_unit == "%" and text != "–" else text


def _tie(tie: dict) -> str:
    needed = tie["needed"]
    more = ("no number of replications would tell them apart (equal costs)"
            if not np.isfinite(needed)
            else f"about {needed:,.0f} replications would tell them apart")
    return (f"{tie['policy']} (cost {number(tie['difference'], signed=True)}, CI "
            f"{number(tie['ci_low'])} to {number(tie['ci_high'])}; {more})")


def service_section(kpis: pd.DataFrame, scenario: Scenario, policies: list[str]) -> dict:
    """Each policy judged against each of the scenario's service levels (meets / breaches /
    undecided, from the replications' 95% CI), and the 30-second summary's lead: the
    lowest-cost policy a hospital could run that meets them all, or, if none does, which
    levels each breaches. The oracle and policies fed perfect forecasts are bounds, never
    best."""
    specs = {s.key: s for s in scenario.policies}
    bounds = [p for p in policies if p in specs and knows_the_future(specs[p])]
    runnable = [p for p in policies if p not in bounds] or policies
    targets = {k: v for k, v in scenario.service_levels.targets().items() if k in kpis.columns}
    verdicts = service_verdicts(kpis, targets, policies)
    cost = kpis.groupby("policy")["cost_total"].mean().to_dict()
    best = best_meeting(verdicts, cost, runnable)
    fails = {p: failing(verdicts).get(p, {BREACHES: [], UNDECIDED: []}) for p in policies}
    by_cell = verdicts.set_index(["policy", "kpi"])
    rows = [{"policy": p, "bound": p in bounds, "cells": [
        {"mean": _shown(k, by_cell.loc[(p, k), "mean"]),
         "low": _shown(k, by_cell.loc[(p, k), "ci_low"], unit=False),
         "high": _shown(k, by_cell.loc[(p, k), "ci_high"]),
         "verdict": by_cell.loc[(p, k), "verdict"]} for k in targets]} for p in policies]
    leader = best
    items = [shortfalls(p, fails[p]) for p in runnable
             if leader is None or cost[p] < cost[leader]]
    meeting = [p for p in runnable if not any(fails[p].values())]
    ties = cost_ties(kpis, leader, meeting) if leader is not None else []
    if ties:
        n = int(kpis.groupby("policy").size().min())
        best, lead = None, f"No policy is named best at {n} replications"
        intro = (f": {leader} has the lowest mean total cost of the {len(meeting)} of "
                 f"{len(runnable)} that meet every service level, but cannot be told from "
                 + "; ".join(_tie(t) for t in ties) + " (paired, simultaneous 95% CIs)."
                 + (" Cheaper, but not meeting every level:" if items else ""))
    elif best is not None:
        lead = best
        intro = (f" is the best policy a hospital could run: the lowest mean total cost of the "
                 f"{len(meeting)} of {len(runnable)} that meet every service level"
                 + (", cheaper than each of the others (paired, simultaneous 95% CIs)."
                    if len(meeting) > 1 else ".")
                 + (" Cheaper, but not meeting them:" if items else ""))
    else:
        lead = "No policy a hospital could run meets every service level"
        intro = ", so none is named best:"
    outro = ""
    if bounds:
        outro += (f" {', '.join(bounds)} {'knows' if len(bounds) == 1 else 'know'} the future: "
                  f"{'a bound' if len(bounds) == 1 else 'bounds'}, never named best.")
    if any(fails[p][UNDECIDED] for p in runnable):
        outro += (" Undecided: the 95% confidence interval straddles the target; more "
                  "replications may decide.")
    rest = intro + (" " + "; ".join(items) + "." if items else "") + outro
    return {"best": best, "bounds": bounds, "runnable": runnable, "verdicts": verdicts,
            "levels": [{"name": catalogue.get(k).label, "target": target_text(k, t)}
                       for k, t in targets.items()],
            "rows": rows, "lead": lead, "rest": rest, "intro": intro, "shortfalls": items,
            "outro": outro}


def write_report(out: Path, reference: str | None = None) -> dict[str, Path]:
    """Build `report.html` and `summary.md` from the tables `hospsim run` wrote to `out`."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    scenario = Scenario.model_validate(manifest["scenario"])
    kpis = pd.read_csv(out / "kpis.csv")
    census = pd.read_parquet(out / "census.parquet")
    hourly = pd.read_parquet(out / "hour_of_week.parquet")
    policies = [p.key for p in scenario.policies if p.key in set(kpis["policy"])]
    reference = reference or policies[0]
    summary = summarise(kpis).set_index(["policy", "kpi"])
    differences = paired_differences(kpis, reference) if len(policies) > 1 else None
    table = [
        {"label": label, "cells": [
            {"mean": number(summary.loc[(p, kpi), "mean"]),
             "half": number(summary.loc[(p, kpi), "half_width"])} for p in policies]}
        for kpi, label in HEADLINE.items()
    ]
    service = service_section(kpis, scenario, policies)
    bounds, runnable, best = service["bounds"], service["runnable"], service["best"]
    value = forecast_value(kpis, scenario)
    gap = bridge(kpis, scenario)
    context = {
        "scenario": scenario, "manifest": manifest, "policies": policies,
        "reference": reference, "table": table, "best": best, "runnable": runnable,
        "bounds": bounds, "service": service, "forecast_sentences": forecast_sentences(value),
        "units": unit_table(summary, scenario, policies),
        "trade_off": figures.trade_off(summary.reset_index(), catalogue.names("trade_off"),
                                       scenario.service_levels.targets(), policies, bounds),
        "n": int(kpis.groupby("policy").size().min()),
        "period": "the year" if scenario.horizon_days == 365
        else f"the {scenario.horizon_days} days",
        "findings": findings(differences, reference) if differences is not None else [],
        "forest": figures.forest(differences, FOREST, summary.xs(reference)["mean"])
        if differences is not None else None,
        "occupancy": figures.occupancy(census, policies),
        "heatmap": figures.heatmap(hourly, reference),
        "boxes": figures.boxes(kpis, BOXES, policies),
        "forecast_value": value,
        "bridge": bridge_section(gap),
        "error_curves": curve_sections(kpis, scenario),
        "bridge_sentence": bridge_sentence(gap, number),
        "forecast_errors": forecast_errors(read_backtest(out))
        if uses_trained_forecast(scenario) else None,  # not a stale file of an earlier run
        "backtest": {**SETTINGS, "origins": ORIGINS, "history_days": HISTORY_DAYS},
        "breakeven": breakeven(census, scenario, reference),
        "price_sensitivity": sensitivity.report_section(kpis, scenario, runnable),
        "ventilators": figures.ventilators(census, policies),
        "solver": solver_table(out, policies),
        "warmup": figures.warmup(manifest["warmup"]["pilot_census"], manifest["warmup"]["days"])
        if "pilot_census" in manifest["warmup"] else None,
        "scenario_yaml": yaml.safe_dump(manifest["scenario"], sort_keys=False),
        "scenario_diff": scenario_diff(manifest),
        "versions": manifest["versions"],
    }
    paths = {"report.html": out / "report.html", "summary.md": out / "summary.md"}
    paths["report.html"].write_text(TEMPLATES.get_template("report.html.j2").render(**context))
    paths["summary.md"].write_text(summary_markdown(context, summary))
    return paths


def summary_markdown(context: dict, summary: pd.DataFrame) -> str:
    """The 30-second summary as Markdown; every text a user wrote (names, labels) and every
    generated sentence goes through `markdown_text`, so none of it can be markup."""
    scenario, policies = context["scenario"], [md(p) for p in context["policies"]]
    lead, rest = context["service"]["lead"], context["service"]["rest"]
    lines = [f"# {md(scenario.name)}: policy comparison", "",
             f"{context['n']} replications per policy, {scenario.horizon_days} days after a "
             f"{scenario.warmup}-day warm-up.", "",
             f"**{md(lead)}**{' ' * rest.startswith(' ')}{md(rest)}", ""]
    lines += [f"- {md(sentence)}" for sentence in context["findings"]]
    lines += [f"- {md(sentence)}" for sentence in context["forecast_sentences"]]
    lines += [f"- {md(sentence)}" for curve in context["error_curves"]
              for sentence in curve["sentences"]]
    if context["bridge_sentence"]:
        lines.append(f"- {md(context['bridge_sentence'])}")
    lines += ["", "| KPI | " + " | ".join(policies) + " |",
              "|---|" + "---:|" * len(policies)]
    for row in context["table"]:
        cells = [f"{c['mean']} ± {c['half']}" for c in row["cells"]]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    service = context["service"]
    if service["levels"]:
        lines += ["", "## Service levels", "",
                  "Mean (95% CI) and verdict: meets if the whole interval is within the "
                  "target, breaches if it is all beyond it, else undecided.", "",
                  "| policy | " + " | ".join(f"{lv['name']} {lv['target']}"
                                             for lv in service["levels"]) + " |",
                  "|---|" + "---:|" * len(service["levels"])]
        for row in service["rows"]:
            cells = [f"{c['mean']} ({c['low']} to {c['high']}) {c['verdict']}"
                     for c in row["cells"]]
            name = md(row["policy"]) + (" (bound)" if row["bound"] else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for group in context["forecast_value"]:
        lines += ["", f"## What better forecasting is worth: {md(group['name'])}", "",
                  "| forecast source | " + " | ".join(group["columns"]) + " |",
                  "|---|" + "---:|" * len(group["columns"])]
        for row in group["rows"]:
            cells = [c["mean"] + (f" ({c['diff']} vs {md(group['reference'])})"
                                  if c["diff"] else "") for c in row["cells"]]
            lines.append(f"| {md(row['source'])} ({md(row['policy'])}) | " + " | ".join(cells)
                         + " |")
    if context["bridge"]:
        bridge_table = context["bridge"]
        lines += ["", "## The oracle gap, decomposed", "",
                  "Paired changes on the same patients (mean, 95% CI; n.s.: not "
                  "significant).", "",
                  "| part | " + " | ".join(bridge_table["columns"]) + " |",
                  "|---|" + "---:|" * len(bridge_table["columns"])]
        lines += [f"| {r['title']} | " + " | ".join(r["cells"]) + " |"
                  for r in bridge_table["rows"]]
    if context["forecast_errors"]:
        lines += ["", "## Forecast error gains", "",
                  "Rolling-origin backtest on the `ml` source's training history (hospital "
                  "total, horizons 1-{horizon} days, {origins} origins); RMSE change vs the "
                  "historical average.".format(**context["backtest"]), "",
                  "| forecaster | RMSE | MAE | MAPE % | R² | RMSE vs historical | "
                  "weekly RMSE | weekly vs historical |", "|---|" + "---:|" * 7]
        lines += [f"| {r['model']} | {r['daily']['rmse']} | {r['daily']['mae']} | "
                  f"{r['daily']['mape']} | {r['daily']['r2']} | {r['daily']['change']} | "
                  f"{r['weekly']['rmse']} | {r['weekly']['change']} |"
                  for r in context["forecast_errors"]]
    if context["breakeven"]:
        lines += ["", "## Breakeven staffed beds (first order: demand held fixed, no knock-on "
                  "between units)", "",
                  "| unit | staffed | breakeven | service-level beds | recommended | "
                  "annual cost, staffed | annual cost, recommended |",
                  "|---|" + "---:|" * 6]
        lines += [f"| {md(r['unit'])} | {r['staffed']} | {r['breakeven']} | {r['service_beds']} | "
                  f"{r['recommended']} | {r['cost_staffed']} | {r['cost_recommended']} |"
                  for r in context["breakeven"]["rows"]]
    return "\n".join(lines) + "\n"
