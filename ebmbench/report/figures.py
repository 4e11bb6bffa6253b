"""Figures made from the results tables alone: training curves, metric comparisons,
the rank heatmap, cost against quality, and the Fβ sweep.

Each function draws the figures that apply to the run and returns nothing; a
figure whose data is absent is simply not made. Confidence intervals come from
ebmbench.summary (the tables' intervals: none for one seed, t for a few, bootstrap for
more; each caption names them), not from seaborn's own.
"""

from __future__ import annotations

import json
import math

from ebmbench.report.data import RunData, direction_label, negative_note, param_value
from ebmbench.report.style import (
    PAGE,
    FigureWriter,
    decade_axis,
    decade_text,
    grid_rects,
    legend_handles,
    slug,
    text_inches,
    tx,
)

__all__ = [
    "CURVE_POINTS",
    "beta_sweep",
    "cost_quality",
    "flat_panels",
    "gradient_cost",
    "metric_comparison",
    "pareto_front",
    "rank_heatmap",
    "training_curves",
]

CURVE_POINTS = 150  # points per curve and cell: smooth enough, and fast to draw


def _ci(values):
    """The interval of the mean exactly as the tables compute it (summary.summarize: none
    for one seed, t for a few, bootstrap for more), for seaborn's `errorbar`."""
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
    decade_axis(ax.yaxis if axis == "y" else ax.xaxis)


def _legend(fig, run: RunData, labels, ncol=3, fixed: bool = False):
    """The figure's model/method legend, grouped by family: a bold family name, then its
    labels with their colour and marker. `fixed`: at the top of a figure without a layout
    engine (whose height the caller then grows by the legend's)."""
    from matplotlib.lines import Line2D

    handles, texts, heads = [], [], []
    colours = {lab: run.palette.get(lab, (0.4, 0.4, 0.4)) for lab in labels}  # grey: a label with no finished cell
    for family in dict.fromkeys([*run.family_order, *(run.family(lab) for lab in labels)]):
        members = [lab for lab in labels if run.family(lab) == family]
        if not members:
            continue
        heads.append(len(texts))
        handles.append(Line2D([], [], linestyle="none"))
        texts.append(tx(family))
        more, more_texts = legend_handles(colours, members, run.markers)
        handles += more
        texts += more_texts
    legend = fig.legend(
        handles,
        texts,
        loc="upper center" if fixed else "outside upper center",
        bbox_to_anchor=(0.5, 1.0) if fixed else None,
        ncol=min(ncol, max(1, len(texts))),
        frameon=False,
        title="model/method, by method family (colour) and method (marker)",
    )
    for i in heads:
        legend.get_texts()[i].set_fontweight("bold")
    return legend


# --------------------------------------------------------------------- training curves
# larger panels, two to a row, first: RunData.core_curves (the run's curve probes, then the
# quantities every method logs with one meaning); the rest are each method's own
EXTRA_COLUMNS = 4  # each method's own diagnostics: small panels, four to a row


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
        .agg(step=("step", "max"), value=("value", "mean"))
        .reset_index()
    )


def flat_panels(curves) -> dict[str, str]:
    """Quantities whose panel would show nothing: {name: why}. A constant (one value over
    every method and step, e.g. a fixed temperature) draws a flat line; a quantity logged
    once per cell draws single points, no curve. Both are left out and named instead."""
    import numpy as np

    out = {}
    for name, g in curves.groupby("name", sort=True):
        v = g["value"].to_numpy(dtype=float)
        if len(v) and np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
            out[name] = f"constant {v[0]:.3g}"
        elif g.groupby("cell_id")["step"].nunique().max() <= 1:
            out[name] = "one point per run"
    return out


def _curve_stats(cur):
    """Mean and std over seeds of every quantity and label at each step, in one groupby."""
    return cur.groupby(["name", "label", "step"], sort=True)["value"].agg(["mean", "std"]).reset_index()


def _curve_panel(ax, stats, colours, name, small: bool = False) -> None:
    """Mean lines (one LineCollection) and ±1 std bands over seeds (one PolyCollection)
    for every label of one quantity; a label with a single x is a dot.

    Drawn with two collections, not seaborn's lineplot with one Line2D and one band per
    label: a page of 30 panels x 16 methods took seconds to build and to save."""
    import numpy as np
    from matplotlib.collections import LineCollection, PolyCollection

    _scale(ax, stats["mean"].to_numpy())  # first: a log axis changes how bands are drawn
    log = ax.get_yscale() == "log"
    lines, line_colours, bands, band_colours, dots = [], [], [], [], []
    for lab, g in stats.groupby("label", sort=False):
        xs, mean, sd = g["step"].to_numpy(float), g["mean"].to_numpy(float), g["std"].to_numpy(float)
        if len(xs) == 1:
            dots.append((xs[0], mean[0], colours[lab]))
            continue
        lines.append(np.column_stack([xs, mean]))
        line_colours.append(colours[lab])
        if np.isfinite(sd).any():
            sd = np.nan_to_num(sd)
            low = np.maximum(mean - sd, mean / 1e3) if log else mean - sd  # log: a band below 0 runs off the axis
            bands.append(np.concatenate([np.column_stack([xs, low]), np.column_stack([xs, mean + sd])[::-1]]))
            band_colours.append(colours[lab])
    if bands:  # on a log axis the bands do not set the limits: the lines do
        ax.add_collection(PolyCollection(bands, facecolors=band_colours, alpha=0.2, linewidths=0), autolim=not log)
    if lines:
        ax.add_collection(LineCollection(lines, colors=line_colours, linewidths=0.9))
    if dots:
        dx, dy, dc = zip(*dots)
        ax.scatter(dx, dy, c=list(dc), s=8, zorder=3)
    ax.autoscale_view()
    ax.set_ylabel(tx(name))
    ax.set_xlabel("step")
    if small:  # fewer ticks: each is a handful of artists built and drawn, on ~20 panels a page
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(3, integer=True))
        if ax.get_yscale() == "linear":
            ax.yaxis.set_major_locator(MaxNLocator(4))
    shown = list(dict.fromkeys(stats["label"]))
    if len(shown) <= 2:  # a method's own diagnostic: say whose, shades of one family look alike
        ax.set_title(tx(", ".join(shown)), fontsize=6, fontweight="normal")


# inches around a curve panel (measured on a rendered panel): tick labels below, the x label beyond
# them, a small title above, and the y tick labels and label left; SPACE between neighbours
CURVE_LEFT, CURVE_TICKS, CURVE_XLABEL, CURVE_TITLE, SPACE = 0.6, 0.21, 0.16, 0.16, 0.06
CORE_HEIGHT, EXTRA_HEIGHT = 1.1, 0.85  # panel heights (inches) of the core rows and of the diagnostics
NOTE_CHARS = 150  # characters per line of the left-out note at 6 pt across a page


def _curve_axes(fig, legend, n_core: int, n_extra: int, note: str) -> list[list]:
    """The panels of a curves page, placed with fixed margins (style.grid_rects): the
    legend on top (measured), core quantities two to a row, diagnostics four to a row
    (titled; only the last row says "step"), the left-out note at the bottom. Grows the
    figure to fit them."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    legend_h = legend.get_window_extent(FigureCanvasAgg(fig).get_renderer()).height / fig.dpi
    below_core = CURVE_TICKS + CURVE_XLABEL + SPACE
    rows = [(2, CORE_HEIGHT, legend_h + 0.1 if i == 0 else below_core) for i in range(math.ceil(n_core / 2))]
    n_rows = math.ceil(n_extra / EXTRA_COLUMNS)
    first = below_core + CURVE_TITLE if rows else legend_h + 0.1 + CURVE_TITLE
    above = [first] + [CURVE_TICKS + CURVE_TITLE + SPACE] * n_rows
    rows += [(EXTRA_COLUMNS, EXTRA_HEIGHT, above[i]) for i in range(n_rows)]
    lines = textwrap.wrap(note, NOTE_CHARS)
    bottom = below_core + 0.04 + 0.11 * len(lines)
    fig.set_size_inches(PAGE, sum(h + a for _, h, a in rows) + bottom)
    if lines:
        fig.text(
            0.5, 0.04 / fig.get_size_inches()[1], "\n".join(lines), ha="center", va="bottom", fontsize=6, color="0.35"
        )
    rects = grid_rects(fig, rows, left=CURVE_LEFT, right=0.12, wgap=CURVE_LEFT + SPACE)
    return [[fig.add_axes(r) for r in row] for row in rects]


def _curve_note(flat: dict[str, str]) -> str:
    return "Left out (nothing to plot): " + "; ".join(f"{n} ({why})" for n, why in flat.items()) + "." if flat else ""


def training_curves(run: RunData, out: FigureWriter) -> None:
    import numpy as np

    if run.curves.empty:
        return
    for task in run.tasks:
        cur = run.curves[(run.curves["task"] == task) & np.isfinite(run.curves["value"].astype(float))]
        if cur.empty:
            continue
        cur = _binned(cur)
        flat = flat_panels(cur)
        cur = cur[~cur["name"].isin(list(flat))]
        if cur.empty:
            continue
        shown = set(cur["label"])
        labels = [lab for lab in run.labels if lab in shown] + sorted(shown - set(run.labels))
        colours = {lab: run.palette.get(lab, (0.4, 0.4, 0.4)) for lab in labels}
        by_step = _curve_stats(cur)
        present = set(cur["name"])
        core = [n for n in run.core_curves if n in present]
        extra = sorted(present - set(core))
        note = _curve_note(flat)
        fig = out.new(PAGE, 10.0, layout=None)
        axes = _curve_axes(fig, _legend(fig, run, labels, ncol=4, fixed=True), len(core), len(extra), note)
        n_core = math.ceil(len(core) / 2)
        big = [ax for row in axes[:n_core] for ax in row]
        for ax, name in zip(big, core):
            _curve_panel(ax, by_step[by_step["name"] == name], colours, name)
        cells = [ax for row in axes[n_core:] for ax in row]
        for k, (ax, name) in enumerate(zip(cells, extra)):
            _curve_panel(ax, by_step[by_step["name"] == name], colours, name, small=True)
            if k < len(cells) - EXTRA_COLUMNS:  # the rows below say it
                ax.set_xlabel("")
        for ax in big[len(core) :] + cells[len(extra) :]:
            ax.set_visible(False)
        out.save(
            fig,
            f"curves-{slug(task)}",
            f"Training curves — {task}",
            f"{_core_words(core)}, "
            "against the optimiser step (deterministic; wall time is in the overview's time view): "
            f"mean over seeds (binned to at most {CURVE_POINTS} points), band ±1 std. Losses of "
            f"different methods are different objectives: compare shapes, not levels. {note}".rstrip(),
            "task",
            task,
            vector=False,  # hundreds of curves: the SVG would be 6x the PNG
        )


def _core_words(core: list[str]) -> str:
    """The caption's words for the large panels: the held-out curve probes, then the rest."""
    from ebmbench.contracts import PROBE_PREFIX

    probes = [n[len(PROBE_PREFIX) :] for n in core if n.startswith(PROBE_PREFIX)]
    rest = [n.replace("_", " ") for n in core if not n.startswith(PROBE_PREFIX)]
    held_out = [f"held-out {', '.join(probes)} on the validation split"] if probes else []
    words = held_out + rest
    text = ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)
    lead = f"{text}, then each method's own diagnostics" if text else "Each method's own diagnostics"
    return lead[:1].upper() + lead[1:]


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


METRIC_COLUMNS = 4
# inches: below each panel its tick labels and two-line axis label; between columns; the title above
METRIC_BELOW, METRIC_GAP, METRIC_TOP = 0.5, 0.2, 0.4


def _metric_axes(fig, labels: list[str], n: int) -> list:
    """`n` panels four to a row with the labels down the y axis (measured for the left
    margin), placed with fixed margins (style.grid_rects); grows the figure to fit.
    The panels do not share their y axis: each sets the same limits itself, and only the
    first of a row has ticks — shared, every panel would build a tick per label."""
    ncols = min(METRIC_COLUMNS, n)
    nrows = math.ceil(n / ncols)
    height = 0.13 * len(labels) + 0.1
    left = text_inches(fig, labels, 6)[0] + 0.14  # + tick length and pad
    rows = [(ncols, height, METRIC_TOP if i == 0 else METRIC_BELOW) for i in range(nrows)]
    fig.set_size_inches(PAGE, sum(h + a for _, h, a in rows) + METRIC_BELOW + 0.05)
    rects = grid_rects(fig, rows, left=left, right=0.15, wgap=METRIC_GAP)
    return [fig.add_axes(r) for row in rects for r in row]


def metric_comparison(run: RunData, out: FigureWriter) -> None:
    from matplotlib.ticker import MaxNLocator

    for task in run.tasks:
        sub = run.done[run.done["task"] == task]
        metrics = [m for m in run.metrics if sub[m].notna().any()]
        if sub.empty or not metrics:
            continue
        order = run.labels_by_main(task)
        main = run.main_metric(task)
        # the leaderboard's columns: the main metric and the task's headline metrics (every
        # metric is in the report's tables); a page of ~28 panels per task was unreadable
        # and a third of the report's time
        metrics = list(dict.fromkeys([main, *run.headlines.get(task, ())]))
        agg = run.agg[run.agg["task"] == task]
        fig = out.new(PAGE, 10.0, layout=None)
        axes = _metric_axes(fig, [tx(lab) for lab in order], len(metrics))
        colours = [run.palette[lab] for lab in order]
        notes = []
        for k, ax in enumerate(axes):
            if k >= len(metrics):
                ax.set_visible(False)
                continue
            _pointrange(ax, agg, sub, metrics[k], order, colours)
            ax.set_xlabel(tx(direction_label(metrics[k], run.directions.get(metrics[k]), "\n")), fontsize=6.5)
            if ax.get_xscale() == "linear":
                ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(axis="x", labelsize=5.5)
            ax.grid(axis="y", visible=False)
            negative = run.negatives(metrics[k], task)
            if negative:
                ax.axvline(0, color="0.3", linewidth=0.7, linestyle=":", zorder=1)
                notes.append(negative_note(metrics[k], negative))
            if k % METRIC_COLUMNS:
                ax.set_yticks([])
            else:
                ax.set_yticks(range(len(order)), [tx(lab) for lab in order], fontsize=6)
        fig.suptitle(tx(f"{task}: sorted by {main}"), y=1 - 0.08 / fig.get_size_inches()[1], va="top")
        out.save(
            fig,
            f"metrics-{slug(task)}",
            f"Metrics — {task}",
            f"Each metric per model/method: {run.interval(task)} (the tables' "
            f"interval) and the individual seeds (small dots); sorted best first by the task's main "
            f"metric, {main}. The task's headline metrics only: every metric is in the tables "
            f"below and in `ebmbench show --all-columns`. " + " ".join(notes),
            "task",
            task,
            vector=False,  # a screen figure; papers take the metric tables (tables/*.tex)
        )


# ------------------------------------------------------------------------ rank heatmap
def _rank_annotations(table, per_task):
    """Cell texts: each task's rank, and the overall rank with its task count beside it."""
    import numpy as np

    text = np.full((len(table), len(per_task) + 1), "", dtype=object)
    for j, task in enumerate(per_task):
        text[:, j] = [f"{v:.3g}" if np.isfinite(v) else "" for v in table[task]]
    text[:, -1] = [f"{r:.3g} ({int(n)})" for r, n in zip(table["mean rank"], table["tasks"])]
    return text


def _heatmap(fig, ax, values, annot, rows: list[str], columns: list[str], last_width: float = 1.0) -> None:
    """seaborn's annotated heatmap, drawn with one pcolormesh: blank where a value is missing,
    each text dark on light cells and white on dark ones (seaborn's luminance rule); the
    last column `last_width` cells wide (it holds longer texts)."""
    import numpy as np

    edges = np.concatenate([np.arange(values.shape[1]), [values.shape[1] - 1 + last_width]])
    centres = (edges[:-1] + edges[1:]) / 2
    mesh = ax.pcolormesh(
        edges, np.arange(values.shape[0] + 1), np.ma.masked_invalid(values), cmap="viridis_r", edgecolors="white"
    )
    mesh.set_linewidth(0.5)
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(values.shape[0], 0)
    ax.set_xticks(centres, columns)
    ax.set_yticks(np.arange(values.shape[0]) + 0.5, rows)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for (i, j), text in np.ndenumerate(annot):
        if text and np.isfinite(values[i, j]):
            r, g, b, _ = mesh.cmap(mesh.norm(values[i, j]))
            light = 0.2126 * r**2.2 + 0.7152 * g**2.2 + 0.0722 * b**2.2 > 0.408
            ax.text(centres[j], i + 0.5, text, ha="center", va="center", fontsize=6, color=".15" if light else "w")
    bar = fig.colorbar(mesh, ax=ax, label="rank (1 = best)")
    bar.solids.set_edgecolor("face")  # the theme's patch edges would band the bar
    bar.outline.set_linewidth(0)


def rank_heatmap(run: RunData, out: FigureWriter) -> None:
    """Ranks per task and overall (RunData.overall, the table `ebmbench show` prints): the
    number of tasks behind each overall rank is printed beside it, and rows go by coverage
    first, so a method that won the one task it ran does not read as the best."""
    overall = run.overall
    table = overall.table
    if table.empty or len(table) < 2:
        return
    per_task = [c for c in table.columns if c not in ("tasks", "mean rank")]
    columns = [tx(t) for t in per_task] + ["mean rank (tasks)"]
    fig = out.new(min(PAGE, 2.6 + 0.55 * len(columns)), 0.9 + 0.22 * len(table))
    ax = fig.subplots()
    values = table[[*per_task, "mean rank"]].to_numpy(dtype=float)
    annot = _rank_annotations(table, per_task)
    _heatmap(fig, ax, values, annot, [tx(i) for i in table.index], columns, last_width=2.0)
    ax.axvline(len(columns) - 1, color="white", linewidth=3)  # sets the overall column apart
    ax.grid(False)  # the theme's grid would cross the blank cells of methods that did not run
    ax.set_xlabel("task (ranked by its main metric)")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=45)
    for tick in ax.get_xticklabels():
        if tick.get_text() in {tx(t) for t in overall.common} and len(overall.common) < len(per_task):
            tick.set_fontweight("bold")  # the tasks every method ran: the fair common ground
    out.save(
        fig,
        "ranks",
        "Ranks across tasks",
        "Rank of each model/method on each task by the task's main metric (1 = best; ties share the "
        f"mean rank); last column: the {overall.heading}, with the number of tasks each method was "
        "ranked on in brackets. Blank: the method did not run on the task.",
        "overview",
    )


# ------------------------------------------------------------------- cost vs quality
def pareto_front(times, scores, higher: bool) -> list[int]:
    """Indices of the points no other point beats in both cost (lower) and score."""
    order = sorted(range(len(times)), key=lambda i: (times[i], -scores[i] if higher else scores[i]))
    front, best = [], None
    for i in order:
        s = scores[i]
        if best is None or (s > best if higher else s < best):
            front.append(i)
            best = s
    return front


def gradient_cost(run: RunData, sub):
    """Energy-gradient evaluations of each label on a task (mean over seeds): training's
    (`grad_evals`) plus, where the sampler's per-sample count (the metric declaring
    `sampling_cost_per_sample`) and the profile's sample count are known, those spent
    drawing the evaluation samples.
    Deterministic, unlike wall time. Returns (Series by label, axis label), or None
    for runs without the column."""
    if "grad_evals" not in sub.columns or sub["grad_evals"].isna().all():
        return None
    cost = sub["grad_evals"].astype(float)
    n_samples = (run.meta.get("profile") or {}).get("n_samples")
    what = "training"
    per_sample = run.sampling_cost
    if per_sample in sub.columns and sub[per_sample].notna().any() and n_samples:
        cost = cost + sub[per_sample].astype(float).fillna(0) * float(n_samples)
        what = f"training + drawing the {n_samples} evaluation samples"
    return cost.groupby(sub["label"]).mean(), f"energy-gradient evaluations ({what})"


def _time_cost(run: RunData, sub):
    return sub.groupby("label")["train_time_s"].mean(), "train time (s)"


def _cost_axis(ax, values):
    """Log x when the costs span more than a decade, with zero (methods that never take an
    energy gradient) placed one decade left of the smallest cost and labelled "0";
    returns the x positions to draw at."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    positive = v[v > 0]
    if len(positive) == 0 or positive.max() / positive.min() <= 10:
        return v
    ax.set_xscale("log")
    zero_at = 10.0 ** (math.floor(math.log10(positive.min())) - 1)
    zeros = bool((v <= 0).any())
    decade_axis(ax.xaxis, lambda t, _=None: "0" if zeros and math.isclose(t, zero_at) else decade_text(t))
    return np.where(v > 0, v, zero_at)


def _cost_panel(ax, run: RunData, main: str, agg, cost) -> None:
    """One task: each label's mean and CI at its cost (colour: family, marker: method), the
    Pareto front dashed, and the front's labels written beside their points."""
    import numpy as np

    higher = run.directions[main] == "higher"
    labels = list(agg.index)
    x = _cost_axis(ax, cost[labels].to_numpy())
    y = agg["mean"].to_numpy(dtype=float)
    colours = [run.palette[lab] for lab in labels]
    finite = np.isfinite(agg["ci_low"].to_numpy(dtype=float))
    ax.vlines(x[finite], agg["ci_low"][finite], agg["ci_high"][finite], colors=np.asarray(colours)[finite], lw=0.8)
    for marker in dict.fromkeys(run.markers[lab] for lab in labels):
        idx = [i for i, lab in enumerate(labels) if run.markers[lab] == marker]
        ax.scatter(x[idx], y[idx], marker=marker, c=[colours[i] for i in idx], s=20, zorder=3, linewidths=0.3)
    front = pareto_front(list(cost[labels]), list(y), higher)
    ax.step(x[front], y[front], where="post", color="0.3", linestyle="--", linewidth=0.8, zorder=0)
    ax.scatter(x[front], y[front], s=70, facecolors="none", edgecolors="0.2", linewidths=0.8, zorder=3)
    for k, i in enumerate(front):  # alternately above and below: neighbours on the front stay apart
        offset = (4, 3) if k % 2 == 0 else (4, -8)
        ax.annotate(tx(labels[i]), (x[i], y[i]), xytext=offset, textcoords="offset points", fontsize=5, color="0.15")


def _cost_figure(run: RunData, out: FigureWriter, cost_of, name: str, title: str, caption: str) -> None:
    panels = []
    for task in run.tasks:
        main = run.main_metric(task)
        if main is None or run.directions.get(main, "none") == "none":
            continue
        sub = run.done[run.done["task"] == task]
        found = cost_of(run, sub)
        if found is None:
            continue
        cost, xlabel = found
        agg = run.agg[(run.agg["task"] == task) & (run.agg["metric"] == main)].set_index("label")
        labels = [lab for lab in run.labels if lab in agg.index and lab in cost.index and math.isfinite(cost[lab])]
        if labels:
            panels.append((task, main, agg.loc[labels], cost, xlabel))
    if not panels:
        return
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = out.new(PAGE, 1.2 + 2.0 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    used, notes = [], []
    for ax, (task, main, agg, cost, _) in zip(axes.flat, panels):
        _cost_panel(ax, run, main, agg, cost)
        used += list(agg.index)
        ax.set_title(tx(task))
        ax.set_ylabel(tx(direction_label(main, run.directions[main], "\n")))
        negative = [lab for lab in run.negatives(main, task) if lab in agg.index]
        if negative:
            ax.axhline(0, color="0.3", linewidth=0.7, linestyle=":", zorder=0)
            notes.append(f"{task}: {negative_note(main, negative)}")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.supxlabel(tx(panels[0][4]), fontsize=7.5)  # one unit for every panel
    _legend(fig, run, [lab for lab in run.labels if lab in set(used)], ncol=4)
    out.save(fig, name, title, " ".join([caption, *notes]), "overview")


def cost_quality(run: RunData, out: FigureWriter) -> None:
    """Quality against cost: first in energy-gradient evaluations (deterministic: the same
    on every machine and every repeat), then, as a secondary view, in training time (what a
    user waits, but it moves with machine load: 1.7x between two identical runs)."""
    _cost_figure(
        run,
        out,
        gradient_cost,
        "cost-quality",
        "Cost against quality",
        f"Each task's main metric ({run.interval()}) against the energy-gradient evaluations a "
        "model/method spent: while training (MCMC chains; methods without sampling spend none, at 0) "
        "plus drawing the evaluation samples. Circled points joined by the dashed line are the Pareto "
        "front, named beside each point: no other method is both cheaper and better. Colour: method "
        "family; marker: method.",
    )
    _cost_figure(
        run,
        out,
        _time_cost,
        "cost-time",
        "Training time against quality",
        "The same against mean training time, a secondary view: wall time depends on the machine and "
        "its load (it moves between identical runs), the gradient count above does not.",
    )


# ------------------------------------------------------------------------- Fβ sweep
def beta_sweep(run: RunData, out: FigureWriter) -> None:
    """Metrics against β for models run at several inverse temperatures (β = ∞ is F∞). β is
    the parameter a model or method declares as its `inverse_temperature_param`."""
    import numpy as np

    from ebmbench.params import label as make_label

    df = run.done
    if df.empty:
        return
    declared = run.temperature_params
    rows = []
    for r in df.itertuples(index=False):
        for col, name_col, kind in (("model_params", "model", "models"), ("method_params", "method", "methods")):
            param = declared.get(kind, {}).get(str(getattr(r, name_col)).split("[")[0])
            beta = param_value(getattr(r, col), param) if param else None
            if beta is None:
                continue
            params = {k: v for k, v in json.loads(getattr(r, col)).items() if k != param}
            base = make_label(str(getattr(r, name_col)).split("[")[0], params)
            series = f"{base}/{r.method}" if name_col == "model" else f"{r.model}/{base}"
            rows.append({"task": r.task, "series": series, "beta": beta, "cell_id": r.cell_id})
    if not rows:
        return
    import pandas as pd

    import seaborn as sns  # only here: it costs a worker 1.6 s to import

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
            f"Fβ (β = ∞: F∞, the minimum over z); {run.interval(task)}.",
            "task",
            task,
        )
