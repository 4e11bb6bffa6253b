"""Figures made from the results tables alone: training curves, metric comparisons,
the rank heatmap, cost against quality, and the Fβ sweep.

Each function draws the figures that apply to the run and returns nothing; a
figure whose data is absent is simply not made. Confidence intervals come from
ebmbench.summary (the same bootstrap as the tables), not from seaborn's own.
"""

from __future__ import annotations

import json
import math

from ebmbench.report.data import RunData, direction_label, param_value
from ebmbench.report.style import PAGE, FigureWriter, legend_handles, slug, tx

__all__ = [
    "CORE",
    "CURVE_POINTS",
    "beta_sweep",
    "cost_quality",
    "metric_comparison",
    "pareto_front",
    "rank_heatmap",
    "training_curves",
]

CURVE_POINTS = 150  # points per curve and cell: smooth enough, and fast to draw


def _ci(values):
    """95 % bootstrap CI of the mean, exactly as the tables compute it."""
    from ebmbench.summary import summarize

    s = summarize(list(values))
    return s["ci_low"], s["ci_high"]


def _finite(frame, column):
    import numpy as np

    return frame[np.isfinite(frame[column].astype(float))]


def _scale(ax, values, axis="y") -> None:
    """Log (or symlog) when the values span several decades, e.g. losses of different methods."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v != 0)]
    if len(v) < 2:
        return
    a = np.abs(v)
    if a.max() / a.min() < 1e3:
        return
    setter = ax.set_yscale if axis == "y" else ax.set_xscale
    if (v > 0).all():
        setter("log")
    else:
        # linear within 1/1000 of the largest magnitude, log beyond, with ticks at 0 and at
        # most three decades per sign beyond the linear band, so labels never collide
        from matplotlib.ticker import FixedLocator, NullLocator

        linthresh = max(float(np.quantile(a, 0.05)), float(a.max()) * 1e-3)
        setter("symlog", linthresh=linthresh, linscale=0.4)
        first, last = math.ceil(math.log10(linthresh)) + 1, math.floor(math.log10(a.max()))
        step = max(1, math.ceil((last - first + 1) / 3))
        decades = [10.0**e for e in range(last, first - 1, -step)]
        ticks = [0.0] + [d for d in decades if (v > 0).any()] + [-d for d in decades if (v < 0).any()]
        target = ax.yaxis if axis == "y" else ax.xaxis
        target.set_major_locator(FixedLocator(sorted(ticks)))
        target.set_minor_locator(NullLocator())


def _legend(fig, palette, labels, ncol=3):
    handles, texts = legend_handles(palette, labels)
    fig.legend(
        handles,
        texts,
        loc="outside upper center",
        ncol=min(ncol, max(1, len(labels))),
        frameon=False,
        title="model/method",
    )


# --------------------------------------------------------------------- training curves
CORE = ("val_nll_grid", "loss", "energy_gap", "grad_norm")  # against step and wall time; the rest against step


def _binned(curves):
    """At most CURVE_POINTS points per cell and quantity: means over equal runs of logged
    steps (a moving average that also keeps noisy losses readable)."""
    import numpy as np

    curves = curves.sort_values(["cell_id", "name", "step"])
    pos = curves.groupby(["cell_id", "name"]).cumcount()
    size = curves.groupby(["cell_id", "name"])["step"].transform("size")
    width = np.maximum(1, np.ceil(size / CURVE_POINTS))
    binned = curves.assign(bin=(pos // width).astype(int))
    return (
        binned.groupby(["label", "cell_id", "name", "bin"], sort=False)
        .agg(step=("step", "max"), time_s=("time_s", "mean"), value=("value", "mean"))
        .reset_index()
    )


def _curve_panel(ax, data, x, palette, hue_order, name) -> None:
    """Mean line (seaborn) and a ±1 std band over seeds for each method.

    Mean and std are computed here in one vectorised groupby and drawn with
    estimator=None: seaborn's own aggregation runs a Python function per x value
    and label (~0.5 s per panel, minutes per run).
    """
    import numpy as np
    import seaborn as sns

    stats = data.groupby(["label", x], sort=True)["value"].agg(["mean", "std"]).reset_index()
    sns.lineplot(
        data=stats,
        x=x,
        y="mean",
        hue="label",
        palette=palette,
        hue_order=hue_order,
        estimator=None,
        errorbar=None,
        legend=False,
        ax=ax,
        linewidth=0.9,
    )
    for lab, band in stats.groupby("label", sort=False):
        if band["std"].notna().any():
            sd = band["std"].fillna(0).to_numpy()
            ax.fill_between(band[x], band["mean"] - sd, band["mean"] + sd, color=palette[lab], alpha=0.2, linewidth=0)
    _scale(ax, np.concatenate([data["value"].to_numpy(), stats["mean"].to_numpy()]))
    ax.set_ylabel(tx(name))
    ax.set_xlabel("step" if x == "step" else "wall time (s)")


def training_curves(run: RunData, out: FigureWriter) -> None:
    import numpy as np

    if run.curves.empty:
        return
    for task in run.tasks:
        cur = run.curves[(run.curves["task"] == task) & np.isfinite(run.curves["value"].astype(float))]
        if cur.empty:
            continue
        cur = _binned(cur)
        # wall time: each step is placed at its mean time over seeds, so seeds share x values
        cur["time_s"] = cur.groupby(["label", "step"])["time_s"].transform("mean")
        labels = [lab for lab in run.labels if lab in set(cur["label"])] + sorted(set(cur["label"]) - set(run.labels))
        colours = {lab: run.palette.get(lab, (0.4, 0.4, 0.4)) for lab in labels}
        palette = {tx(lab): c for lab, c in colours.items()}  # seaborn sees the escaped labels
        cur = cur.assign(label=cur["label"].map(tx))
        present = set(cur["name"])
        core = [n for n in CORE if n in present]
        extra = sorted(present - set(CORE))
        ncols = 3
        extra_rows = math.ceil(len(extra) / ncols)
        fig = out.new(PAGE, 0.6 + 1.5 * len(core) + 1.3 * extra_rows)
        grid = fig.add_gridspec(len(core) + extra_rows, 6)
        for i, name in enumerate(core):
            data = cur[cur["name"] == name]
            hue = [lab for lab in palette if lab in set(data["label"])]
            _curve_panel(fig.add_subplot(grid[i, 0:3]), data, "step", palette, hue, name)
            _curve_panel(fig.add_subplot(grid[i, 3:6]), data, "time_s", palette, hue, name)
        for k, name in enumerate(extra):
            r, c = divmod(k, ncols)
            data = cur[cur["name"] == name]
            hue = [lab for lab in palette if lab in set(data["label"])]
            _curve_panel(fig.add_subplot(grid[len(core) + r, 2 * c : 2 * c + 2]), data, "step", palette, hue, name)
        _legend(fig, colours, labels, ncol=4)
        out.save(
            fig,
            f"curves-{slug(task)}",
            f"Training curves — {task}",
            "Loss, energy gap and gradient norm against the optimiser step and the wall time, then each "
            "method's own diagnostics against the step: mean over seeds (binned to at most "
            f"{CURVE_POINTS} points), band ±1 std. Losses of different methods are different "
            "objectives: compare shapes, not levels.",
            "task",
            task,
        )


# ------------------------------------------------------------------- metric comparison
def _pointrange(ax, agg, seeds, metric, order, colours) -> None:
    """Mean with its CI (one line collection, one scatter) and the seeds, for one metric.

    Drawn with three artists per panel rather than seaborn's pointplot, which makes one
    Line2D per error bar: a task with 25 metrics x 12 methods took minutes to save.
    """
    import numpy as np

    pos = {lab: i for i, lab in enumerate(order)}
    a = agg[agg["metric"] == metric].set_index("label").reindex(order)
    y = np.arange(len(order))
    ax.hlines(y, a["ci_low"], a["ci_high"], colors=colours, linewidth=1.3)
    ax.scatter(a["mean"], y, c=colours, s=16, zorder=3, edgecolors="white", linewidths=0.4)
    s = _finite(seeds, metric)
    if len(s):
        # seeds spread vertically by repetition (deterministic, unlike random jitter)
        jitter = (s["rep"] % 5 - 2) * 0.07
        ax.scatter(
            s[metric],
            s["label"].map(pos) + jitter,
            c=[colours[pos[lab]] for lab in s["label"]],
            s=5,
            alpha=0.4,
            linewidths=0,
            zorder=2,
        )
    _scale(ax, s[metric] if len(s) else a["mean"], axis="x")
    ax.set_ylim(len(order) - 0.5, -0.5)  # best on top


def metric_comparison(run: RunData, out: FigureWriter) -> None:
    from matplotlib.ticker import MaxNLocator

    for task in run.tasks:
        sub = run.done[run.done["task"] == task]
        metrics = [m for m in run.metrics if sub[m].notna().any()]
        if sub.empty or not metrics:
            continue
        order = run.labels_by_main(task)
        main = run.main_metric(task)
        metrics = [main] + [m for m in metrics if m != main]
        agg = run.agg[run.agg["task"] == task]
        ncols = min(4, len(metrics))
        nrows = math.ceil(len(metrics) / ncols)
        fig = out.new(PAGE, nrows * (0.5 + 0.13 * len(order)) + 0.3)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        colours = [run.palette[lab] for lab in order]
        for k, ax in enumerate(axes.flat):
            if k >= len(metrics):
                ax.set_visible(False)
                continue
            _pointrange(ax, agg, sub, metrics[k], order, colours)
            ax.set_xlabel(tx(direction_label(metrics[k], run.directions.get(metrics[k]), "\n")), fontsize=6.5)
            if ax.get_xscale() == "linear":
                ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(axis="x", labelsize=5.5)
            ax.grid(axis="y", visible=False)
        axes[0, 0].set_yticks(range(len(order)), [tx(lab) for lab in order], fontsize=6)
        fig.suptitle(tx(f"{task}: sorted by {main}"))
        out.save(
            fig,
            f"metrics-{slug(task)}",
            f"Metrics — {task}",
            f"Each metric per model/method: mean over seeds with its 95 % bootstrap CI (the tables' "
            f"interval) and the individual seeds (small dots); sorted best first by the task's main "
            f"metric, {main}.",
            "task",
            task,
        )


# ------------------------------------------------------------------------ rank heatmap
def rank_heatmap(run: RunData, out: FigureWriter) -> None:
    import seaborn as sns

    table = run.ranks
    if table.empty or len(table) < 2:
        return
    table = table.rename(index=tx, columns=tx)
    fig = out.new(min(PAGE, 1.6 + 0.55 * len(table.columns)), 0.8 + 0.22 * len(table))
    ax = fig.subplots()
    sns.heatmap(
        table,
        annot=True,
        fmt=".3g",
        cmap="viridis_r",
        cbar_kws={"label": "rank (1 = best)"},
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 6},
        ax=ax,
    )
    ax.axvline(len(table.columns) - 1, color="white", linewidth=3)  # sets the mean-rank column apart
    ax.grid(False)  # the theme's grid would cross the blank cells of methods that did not run
    ax.set_xlabel("task (ranked by its main metric)")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=45)
    out.save(
        fig,
        "ranks",
        "Ranks across tasks",
        "Rank of each model/method on each task by the task's main metric (1 = best; ties share the "
        "mean rank), and the mean rank over the tasks it ran on.",
        "overview",
    )


# ------------------------------------------------------------------- cost vs quality
def pareto_front(times, scores, higher: bool) -> list[int]:
    """Indices of the points no other point beats in both time (lower) and score."""
    order = sorted(range(len(times)), key=lambda i: (times[i], -scores[i] if higher else scores[i]))
    front, best = [], None
    for i in order:
        s = scores[i]
        if best is None or (s > best if higher else s < best):
            front.append(i)
            best = s
    return front


def cost_quality(run: RunData, out: FigureWriter) -> None:
    panels = []
    for task in run.tasks:
        main = run.main_metric(task)
        if main is None or run.directions.get(main, "none") == "none":
            continue
        sub = run.done[run.done["task"] == task]
        agg = run.agg[(run.agg["task"] == task) & (run.agg["metric"] == main)].set_index("label")
        cost = sub.groupby("label")["train_time_s"].mean()
        labels = [lab for lab in run.labels if lab in agg.index and lab in cost.index and math.isfinite(cost[lab])]
        if labels:
            panels.append((task, main, agg.loc[labels], cost[labels]))
    if not panels:
        return
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = out.new(PAGE, 0.6 + 2.0 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    used = []
    for ax, (task, main, agg, cost) in zip(axes.flat, panels):
        higher = run.directions[main] == "higher"
        for lab in agg.index:
            row = agg.loc[lab]
            err = (
                [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
                if math.isfinite(row["ci_low"])
                else None
            )
            ax.errorbar(
                cost[lab],
                row["mean"],
                yerr=err,
                fmt="o",
                color=run.palette[lab],
                markersize=4,
                elinewidth=0.8,
                capsize=1.5,
            )
            used.append(lab)
        front = pareto_front(list(cost.values), list(agg["mean"].values), higher)
        fx = [cost.iloc[i] for i in front]
        fy = [agg["mean"].iloc[i] for i in front]
        ax.step(fx, fy, where="post", color="0.3", linestyle="--", linewidth=0.9, zorder=0)
        ax.scatter(fx, fy, s=60, facecolors="none", edgecolors="0.2", linewidths=0.9, zorder=3)
        if cost.min() > 0 and cost.max() / cost.min() > 10:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: they never collide
        ax.set_title(tx(task))
        ax.set_xlabel("train time (s)")
        ax.set_ylabel(tx(direction_label(main, run.directions[main], "\n")))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _legend(fig, run.palette, list(dict.fromkeys(lab for lab in run.labels if lab in used)))
    out.save(
        fig,
        "cost-quality",
        "Cost against quality",
        "Mean training time against each task's main metric (95 % CI); circled points joined by the "
        "dashed line are the Pareto front: no other method is both faster and better.",
        "overview",
    )


# ------------------------------------------------------------------------- Fβ sweep
def beta_sweep(run: RunData, out: FigureWriter) -> None:
    """Metrics against β for models run at several inverse temperatures (β = ∞ is F∞)."""
    import numpy as np
    import seaborn as sns

    from ebmbench.params import label as make_label

    df = run.done
    if df.empty:
        return
    rows = []
    for r in df.itertuples(index=False):
        for col, name_col in (("model_params", "model"), ("method_params", "method")):
            beta = param_value(getattr(r, col), "beta")
            if beta is None:
                continue
            params = {k: v for k, v in json.loads(getattr(r, col)).items() if k != "beta"}
            base = make_label(str(getattr(r, name_col)).split("[")[0], params)
            series = f"{base}/{r.method}" if name_col == "model" else f"{r.model}/{base}"
            rows.append({"task": r.task, "series": series, "beta": beta, "cell_id": r.cell_id})
    if not rows:
        return
    import pandas as pd

    betas = pd.DataFrame(rows).merge(df, on=["task", "cell_id"])
    for task, sub in betas.groupby("task"):
        sweeps = sub.groupby("series")["beta"].nunique()
        sub = sub[sub["series"].isin(sweeps[sweeps >= 2].index)]
        if sub.empty:
            continue
        finite = sub["beta"][np.isfinite(sub["beta"])]
        # β = ∞ (the min over z) sits one decade right of the largest finite β
        inf_at = float(finite.max() * 10) if len(finite) else 1.0
        sub = sub.assign(beta_x=sub["beta"].replace(np.inf, inf_at), series=sub["series"].map(tx))
        metrics = [m for m in run.metrics if sub[m].notna().any()]
        ncols = min(3, len(metrics))
        nrows = math.ceil(len(metrics) / ncols)
        fig = out.new(PAGE, 0.6 + 1.8 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, m in zip(axes.flat, metrics):
            sns.lineplot(
                data=_finite(sub, m),
                x="beta_x",
                y=m,
                hue="series",
                errorbar=_ci,
                marker="o",
                markersize=4,
                ax=ax,
                legend=ax is axes.flat[0],
            )
            if ax.get_legend() is not None:
                ax.get_legend().set_title("model/method")
            if (sub["beta_x"] > 0).all():
                ax.set_xscale("log")
            lo, hi = float(sub["beta_x"].min()), float(sub["beta_x"].max())
            ticks = [t for t in ax.get_xticks() if lo / 1.5 <= t <= hi * 1.5]
            if np.isinf(sub["beta"]).any():
                ticks = [t for t in ticks if t < inf_at / 3] + [inf_at]
            ax.set_xticks(ticks, [f"{t:g}" if t != inf_at or not np.isinf(sub["beta"]).any() else "∞" for t in ticks])
            ax.set_xlabel("β (inverse temperature of Fβ)")
            ax.set_ylabel(tx(direction_label(m, run.directions.get(m), "\n")))
        for ax in list(axes.flat)[len(metrics) :]:
            ax.set_visible(False)
        out.save(
            fig,
            f"beta-sweep-{slug(task)}",
            f"Fβ sweep — {task}",
            "Metrics of latent-variable models against the inverse temperature β of the free energy "
            "Fβ (β = ∞: F∞, the minimum over z); mean with 95 % bootstrap CI over seeds.",
            "task",
            task,
        )
