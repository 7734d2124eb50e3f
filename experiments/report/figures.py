"""The report's figures, each a function of the study's tables returning inline SVG."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen
import numpy as np
import pandas as pd

from simulator import kpis as catalogue

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.fonttype": "none", "figure.dpi": 100,
                     "text.parse_math": False})  # labels are users' text: '$' is a dollar


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog so it inlines in HTML


def forest(differences: pd.DataFrame, labels: dict[str, str], means: pd.Series) -> str:
    """Paired differences as % of the reference policy's mean, with 95% CIs."""
    rows = differences[differences["kpi"].isin(labels)].copy()
    scale = rows["kpi"].map(means).abs().replace(0, np.nan)
    for column in ("difference", "ci_low", "ci_high"):
        rows[column] = 100 * rows[column] / scale
    policies = list(dict.fromkeys(rows["policy"]))
    kpis = [k for k in labels if k in set(rows["kpi"])]
    figure, ax = plt.subplots(figsize=(7, 0.45 * len(kpis) * max(1, len(policies)) + 1))
    y = 0
    ticks = []
    for kpi in kpis:
        top = y
        for k, policy in enumerate(policies):
            row = rows[(rows["kpi"] == kpi) & (rows["policy"] == policy)]
            if row.empty or not np.isfinite(row["difference"].iloc[0]):
                continue
            r = row.iloc[0]
            color = f"C{k}" if r["significant"] else "0.6"
            ax.errorbar(r["difference"], y, xerr=[[r["difference"] - r["ci_low"]],
                        [r["ci_high"] - r["difference"]]], fmt="o", color=color, capsize=3)
            ticks.append((y, f"{labels[kpi]}\n{policy}" if len(policies) > 1 else labels[kpi]))
            y -= 1
        if y != top and len(policies) > 1:
            y -= 0.5  # a gap between KPIs when each has several policies
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks([t for t, _ in ticks], [label for _, label in ticks])
    ax.set_xlabel(f"difference vs {rows['reference'].iloc[0]} (% of its mean); grey: not "
                  "significant")
    return _svg(figure)


def occupancy(census: pd.DataFrame, policies: list[str]) -> str:
    """Daily mean census per unit: median and 10-90% band across replications."""
    measured = census[~census["warmup"] & (census["unit"] != "ventilators")]
    units = list(dict.fromkeys(measured["unit"]))
    columns = 2
    rows = int(np.ceil(len(units) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(9, 2.2 * rows), squeeze=False,
                                sharex=True)
    for ax, unit in zip(axes.ravel(), units, strict=False):
        data = measured[measured["unit"] == unit]
        for k, policy in enumerate(policies):
            by_day = data[data["policy"] == policy].groupby("date")
            band = by_day["census_mean"].quantile([0.1, 0.5, 0.9]).unstack()
            ax.fill_between(band.index, band[0.1], band[0.9], color=f"C{k}", alpha=0.2, lw=0)
            ax.plot(band.index, band[0.5], color=f"C{k}", lw=1, label=f"{policy} census")
            staffed = by_day["staffed_mean"].median()
            ax.plot(staffed.index, staffed, color=f"C{k}", lw=0.8, ls="--")
        ax.set_title(unit, loc="left")
    for ax in axes.ravel()[len(units):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7, frameon=False)
    figure.autofmt_xdate()
    return _svg(figure)


def heatmap(hourly: pd.DataFrame, policy: str) -> str:
    """Whole-hospital census by hour of day and weekday: when the peaks come."""
    data = hourly[hourly["policy"] == policy]
    total = data.groupby(["replication", "weekday", "hour"])["census"].sum()
    grid = total.groupby(["weekday", "hour"]).mean().unstack("hour")
    figure, ax = plt.subplots(figsize=(9, 2.6))
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day")
    figure.colorbar(image, ax=ax, label="mean census (patients)")
    return _svg(figure)


def boxes(kpis: pd.DataFrame, labels: dict[str, str], policies: list[str]) -> str:
    """Spread across replications of the KPIs a manager worries about most."""
    figure, axes = plt.subplots(1, len(labels), figsize=(3 * len(labels), 2.8))
    for ax, (kpi, label) in zip(np.atleast_1d(axes), labels.items(), strict=True):
        ax.boxplot([kpis.loc[kpis["policy"] == p, kpi].to_numpy() for p in policies])
        ax.set_xticks(range(1, len(policies) + 1), policies, rotation=20)
        ax.set_title(textwrap.fill(label, 28), loc="left")
    figure.tight_layout()
    return _svg(figure)


def ventilators(census: pd.DataFrame, policies: list[str]) -> str:
    """Ventilators in use against those in service, and patients short of one."""
    data = census[~census["warmup"] & (census["unit"] == "ventilators")]
    figure, ax = plt.subplots(figsize=(9, 2.6))
    for k, policy in enumerate(policies):
        by_day = data[data["policy"] == policy].groupby("date")
        ax.plot(by_day["census_mean"].median(), color=f"C{k}", lw=1, label=f"{policy}: in use")
        short = by_day["waiting_mean"].mean()
        if short.max() > 0:
            ax.plot(short, color=f"C{k}", lw=1, ls=":", label=f"{policy}: patients short")
    capacity = data.groupby("date")["staffed_mean"].median()
    ax.plot(capacity, color="black", lw=1, ls="--", label="in service")
    ax.set_ylabel("ventilators (daily mean)")
    ax.legend(fontsize=7, frameon=False, ncol=3)
    figure.autofmt_xdate()
    return _svg(figure)


def stress_curve(curve: pd.DataFrame, kpi: str, threshold: float, path: str,
                 crossing: float | None) -> str:
    """A KPI against the swept field, with its 95% CI band and the threshold."""
    figure, ax = plt.subplots(figsize=(7, 3.2))
    ax.fill_between(curve["value"], curve["ci_low"], curve["ci_high"], alpha=0.25, lw=0)
    ax.plot(curve["value"], curve["mean"], marker="o", ms=3)
    ax.axhline(threshold, color="C3", ls="--", lw=1, label=f"threshold {threshold:g}")
    if crossing is not None:
        ax.axvline(crossing, color="0.4", ls=":", lw=1, label=f"crossing ≈ {crossing:.4g}")
    ax.set_xlabel(path)
    ax.set_ylabel(kpi)
    ax.legend(frameon=False, fontsize=8)
    return _svg(figure)


def _cost_axes(ax, capacity: pd.Series, cost: pd.Series, marks: dict[str, float],
               half_width: pd.Series | None = None) -> None:
    """A total-cost curve against capacity (with its CI band if given) and dotted, then
    dashed, vertical lines at the labelled capacities in `marks`."""
    if half_width is not None:
        ax.fill_between(capacity, cost - half_width, cost + half_width, alpha=0.25, lw=0)
    ax.plot(capacity, cost, marker="o", ms=3)
    for (label, value), style in zip(marks.items(), (":", "--"), strict=False):
        ax.axvline(value, color="0.4", ls=style, lw=1, label=label)
    if marks:
        ax.legend(frameon=False, fontsize=8)


def cost_curve(curve: pd.DataFrame, path: str, cheapest: float | None) -> str:
    """Total cost against the swept capacity: where one more unit stops paying for itself."""
    figure, ax = plt.subplots(figsize=(7, 3.2))
    marks = {} if cheapest is None else {f"lowest cost at {cheapest:g}": cheapest}
    _cost_axes(ax, curve["value"], curve["cost_total"], marks, curve["cost_half_width"])
    ax.set_xlabel(path)
    ax.set_ylabel("total cost")
    return _svg(figure)


def breakeven(table: pd.DataFrame, curves: dict[str, pd.DataFrame]) -> str:
    """Per unit, expected annual cost against staffed beds near the staffed level and the
    breakeven (from `experiments.report.breakeven`), both marked."""
    columns = 3
    rows = int(np.ceil(len(table) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(10, 2.4 * rows), squeeze=False)
    for ax, row in zip(axes.ravel(), table.itertuples(), strict=False):
        low, high = sorted((row.staffed, row.breakeven))
        pad = max(4, round(0.2 * high))
        curve = curves[row.unit]
        shown = curve[curve["beds"].between(max(0, low - pad), high + pad)]
        _cost_axes(ax, shown["beds"], shown["annual_cost"] / 1e6,
                   {f"breakeven {row.breakeven}": row.breakeven, f"staffed {row.staffed}":
                    row.staffed})
        ax.set_title(row.unit, loc="left")
        ax.set_xlabel("staffed beds")
    for ax in axes.ravel()[len(table):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("annual cost (millions)")
    figure.tight_layout()
    return _svg(figure)


def warmup(census: list[float], cut: int) -> str:
    """The pilot runs' mean daily census and the MSER-5 truncation point."""
    figure, ax = plt.subplots(figsize=(7, 2.6))
    ax.plot(range(len(census)), census, lw=1)
    ax.axvline(cut, color="C3", ls="--", lw=1, label=f"warm-up: {cut} days")
    ax.set_xlabel("day (pilot runs started empty)")
    ax.set_ylabel("census (patients)")
    ax.legend(frameon=False, fontsize=8)
    return _svg(figure)


def _pareto(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The points no other point beats on both axes (lower is better on both), by x."""
    front = []
    for x, y, name in sorted(points):
        if not front or y < front[-1][1]:
            front.append((x, y, name))
    return front


def trade_off(summary: pd.DataFrame, against: tuple[str, ...], targets: dict[str, float],
              policies: list[str], bounds: list[str]) -> list[str]:
    """Total cost against each KPI in `against`, one figure each (so they sit side by side
    on a wide page and stack on a phone): a point per policy with 95% CIs both ways, the
    service-level target as a line, and the frontier of the policies a hospital could run
    (none cheaper and better served); bounds hollow."""
    stats = summary.set_index(["policy", "kpi"])
    cost = stats.xs("cost_total", level="kpi")
    scale_y = 1e6 if cost["mean"].abs().max() >= 1e6 else 1.0
    panels = []
    for name in [k for k in against if (policies[0], k) in stats.index]:
        kpi = catalogue.get(name)
        figure, ax = plt.subplots(figsize=(4.6, 3.6))
        points = []
        for k, policy in enumerate(policies):
            x = stats.loc[(policy, name)] * kpi.scale
            y = cost.loc[policy] / scale_y
            low = max(x["ci_low"], 0.0)  # a rate is never negative
            xerr = np.nan_to_num([[x["mean"] - low], [x["ci_high"] - x["mean"]]])
            yerr = np.nan_to_num([[y["mean"] - y["ci_low"]], [y["ci_high"] - y["mean"]]])
            bound = policy in bounds
            ax.errorbar(x["mean"], y["mean"], xerr=xerr, yerr=yerr, fmt="o", color=f"C{k}",
                        mfc="white" if bound else f"C{k}", capsize=3, ms=7, lw=1.2, zorder=3,
                        label=policy + (" (bound)" if bound else ""))
            if not bound:
                points.append((x["mean"], y["mean"], policy))
        front = _pareto(points)
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="0.25",
                lw=2, ls=":", zorder=2, marker="o", ms=13, mfc="none", mec="0.25",
                label="frontier")
        if name in targets:
            ax.axvline(targets[name] * kpi.scale, color="C3", ls="--", lw=1.2, zorder=1,
                       label="service level")
        ax.set_xlabel(kpi.title)
        ax.set_xlim(left=0)
        ax.set_ylabel("total cost" + (" (millions)" if scale_y > 1 else ""))
        ax.set_title(f"Cost against {kpi.phrase}", loc="left")
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)),  # policies first, in their order
                       key=lambda i: labels[i] in ("frontier", "service level"))
        ax.legend([handles[i] for i in order], [labels[i] for i in order], frameon=False,
                  fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
        figure.tight_layout()
        panels.append(_svg(figure))
    return panels


def waterfall(result: dict) -> str:
    """The oracle gap bridge (`experiments.report.bridge`): mean total cost of the first
    step, each part's paired change floating from the running total with its 95% CI
    (green cheaper, red dearer, grey not significant), and the last step's mean cost."""
    steps = result["steps"]
    first, last = steps[0], steps[-1]
    start = first["means"]["cost_total"]
    scale = 1e6 if abs(start) >= 1e6 else 1.0
    parts = result["parts"]
    figure, ax = plt.subplots(figsize=(1.3 * (len(parts) + 2) + 2, 3.4))
    ax.bar(0, start / scale, color="0.35", width=0.6)
    level = start
    for i, part in enumerate(parts, start=1):
        c = part["kpis"]["cost_total"]
        color = "0.6" if not c["significant"] else "C2" if c["mean"] < 0 else "C3"
        ax.bar(i, c["mean"] / scale, bottom=level / scale, color=color, width=0.6)
        top = level + c["mean"]
        if np.isfinite(c["ci_low"]):
            ax.errorbar(i, top / scale, yerr=[[(c["mean"] - c["ci_low"]) / scale],
                        [(c["ci_high"] - c["mean"]) / scale]], color="black", capsize=3,
                        lw=1)
        ax.plot([i - 1.3, i + 0.3], [level / scale] * 2, color="0.5", lw=0.6, ls=":")
        level = top
    end = len(parts) + 1
    ax.plot([end - 1.3, end - 0.7], [level / scale] * 2, color="0.5", lw=0.6, ls=":")
    labels = [textwrap.fill(first["title"], 16)]
    labels += [textwrap.fill(p["title"], 16) for p in parts]
    if last is not first and last["key"] in ("oracle", "both", "los", "arr") \
            and abs(last["means"]["cost_total"] - level) <= 1e-6 * max(1.0, abs(level)):
        ax.bar(end, last["means"]["cost_total"] / scale, color="0.35", width=0.6)
        labels.append(textwrap.fill(last["title"], 16))
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    low = min(start, level, *(start + sum(p["kpis"]["cost_total"]["mean"]
                                          for p in parts[:k]) for k in range(len(parts) + 1)))
    high = max(start, level)
    pad = 0.25 * max(high - low, 1.0)
    ax.set_ylim((low - pad) / scale, (high + pad) / scale)
    ax.set_ylabel("mean total cost" + (" (millions)" if scale > 1 else ""))
    figure.tight_layout()
    return _svg(figure)


def error_curves(curves: list[dict]) -> str:
    """One axis's forecast-error → outcome curves (`experiments.report.error_curve`): per
    KPI a panel of each policy's paired change from its zero-error point against the
    realised forecast MAE, with the 95% CI as a band; named sources as points with their
    CIs, labelled."""
    axis = curves[0]["axis"]
    kpis = list(curves[0]["points"][0]["changes"])
    figure, axes = plt.subplots(1, len(kpis), figsize=(3.1 * len(kpis), 3.0), squeeze=False)
    for ax, kpi in zip(axes[0], kpis, strict=True):
        highs = [p["changes"][kpi]["ci_high"] for curve in curves for p in curve["points"]]
        money = catalogue.get(kpi).unit == "cost" and np.nanmax(np.abs(highs)) >= 1e6
        scale = catalogue.get(kpi).scale / (1e6 if money else 1.0)
        for colour, curve in enumerate(curves):
            x = [p["error"] for p in curve["points"]]
            cells = [p["changes"][kpi] for p in curve["points"]]
            mean = np.array([c["mean"] for c in cells]) * scale
            low = np.array([c["ci_low"] for c in cells]) * scale
            high = np.array([c["ci_high"] for c in cells]) * scale
            ax.plot(x, mean, marker="o", ms=3, color=f"C{colour}", label=curve["policy"])
            ax.fill_between(x, low, high, color=f"C{colour}", alpha=0.2, lw=0)
            for p in curve["placed"]:
                c = p["changes"][kpi]
                ax.errorbar(p["error"], c["mean"] * scale, fmt="D", ms=4, color=f"C{colour}",
                            yerr=[[(c["mean"] - c["ci_low"]) * scale],
                                  [(c["ci_high"] - c["mean"]) * scale]], capsize=2, lw=1)
                ax.annotate(p["source"], (p["error"], c["mean"] * scale), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_title(catalogue.get(kpi).title + (" (millions)" if money else ""), fontsize=9)
        ax.set_xlabel(f"realised {axis.title} forecast MAE ({axis.units})", fontsize=8)
    axes[0][0].set_ylabel("change from the zero-error forecast")
    axes[0][0].legend(fontsize=7, frameon=False)
    figure.tight_layout()
    return _svg(figure)
