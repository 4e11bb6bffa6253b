"""`ebmbench history`: a metric over the stored runs, as a table and a figure.

`gather_history` turns the per-seed values of every run (ebmbench.results.history)
into one row per (run, task, label, metric): n seeds, mean and 95 % bootstrap CI,
computed by `ebmbench.summary.summarize` so that the history's numbers are exactly
those of each run's own tables (with one seed there is no interval: NaN). It lives
here, not in results/, because that layer may not import ebmbench.summary.

`plot_history` draws the metric against the runs in time order (commit and date on
the x axis), one line per model/method with the CI as error bars and one panel per
task; `history_table` is the same frame shaped for printing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable

from ebmbench.errors import UsageError
from ebmbench.report.style import DPI, PAGE, FigureWriter, legend_handles, theme, tx
from ebmbench.results.history import PROVENANCE_COLUMNS, gather_values

__all__ = ["HISTORY_COLUMNS", "gather_history", "history_table", "plot_history", "run_label", "summarize_history"]

HISTORY_COLUMNS = (
    *PROVENANCE_COLUMNS,
    "task",
    "label",
    "metric",
    "n",  # seeds with a finite value
    "n_cached",  # of those, reused from an earlier run (no new evidence at this commit)
    "mean",
    "std",
    "ci_low",
    "ci_high",
)


def summarize_history(values):
    """One row per (run, task, label, metric) of a gather_values frame: HISTORY_COLUMNS.

    The bootstrap is seeded, so equal values give equal intervals; a reused cell repeats
    its source run's values, so each distinct tuple of values is summarised only once."""
    import pandas as pd

    from ebmbench.summary import summarize

    if values.empty:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    memo: dict[tuple, dict[str, float]] = {}
    keys = ["run_id", "task", "label", "metric"]
    rows = []
    for key, group in values.groupby(keys, sort=False):
        finite = group[[math.isfinite(v) for v in group["value"]]]
        vals = tuple(float(v) for v in group["value"])  # in rep order, as gather_values sorts them
        if vals not in memo:
            memo[vals] = summarize(vals)
        stats = memo[vals]
        if stats["n"] == 0:
            continue
        rows.append({**dict(zip(keys, key)), **stats, "n_cached": int(finite["cached"].sum())})
    if not rows:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    prov = values.drop_duplicates("run_id")[list(PROVENANCE_COLUMNS)]
    out = pd.DataFrame(rows).merge(prov, on="run_id", how="left")
    out["n"] = out["n"].astype(int)
    return out[list(HISTORY_COLUMNS)]


def gather_history(
    root: Path,
    tasks: Iterable[str] | None = None,
    metrics: Iterable[str] | None = None,
    warn: Callable[[str], None] | None = None,
    main_metrics: dict[str, str] | None = None,
):
    """Every readable run under ROOT as one table: HISTORY_COLUMNS, oldest run first.

    Arguments as ebmbench.results.history.gather_values (which raises UsageError for
    an unknown task or metric and warns about, then skips, unreadable runs)."""
    return summarize_history(gather_values(root, tasks, metrics, warn, main_metrics))


# ----------------------------------------------------------------------------- labels
def _short_commit(commit: Any, dirty: Any) -> str:
    text = str(commit)[:7] if isinstance(commit, str) and commit else "no git"
    return text + ("+" if dirty is True else "")  # "+": uncommitted changes, as `git describe --dirty` marks them


def run_label(runs, with_time: bool = False) -> list[str]:
    """x-axis and row labels of runs (a frame with PROVENANCE_COLUMNS): short commit and
    date; the start time is added where two runs would read the same."""
    import pandas as pd

    def one(r, fmt):
        stamp = r["started"]
        when = stamp.strftime(fmt) if stamp is not None and not pd.isna(stamp) else str(r["run_id"])[:8]
        return f"{_short_commit(r['commit'], r['dirty'])} {when}"

    labels = [one(r, "%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d") for _, r in runs.iterrows()]
    if not with_time and len(set(labels)) < len(labels):
        return run_label(runs, with_time=True)
    return labels


def _runs(frame):
    """The frame's runs, one row each, in time order."""
    return frame.drop_duplicates("run_id")[list(PROVENANCE_COLUMNS)].reset_index(drop=True)


def _cell(mean: float, lo: float, hi: float) -> str:
    from ebmbench.summary import format_cell

    text = format_cell({"mean": mean, "ci_low": math.nan, "ci_high": math.nan})  # the tables' number format
    if text == "—" or not (math.isfinite(lo) and math.isfinite(hi)):
        return text
    return f"{text} [{lo:#.3g}, {hi:#.3g}]"


def history_table(frame):
    """The history for printing: one row per run (run id, commit, date), one column per
    task and model/method (and metric, when the frame holds several), cells
    "mean [CI low, CI high]" ("mean" alone with one seed, "—" where it did not run)."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=["run", "commit", "date"])
    runs = _runs(frame)
    one_metric = frame.groupby(["task", "label"])["metric"].nunique().max() == 1 and frame["metric"].nunique() == 1
    header = frame["task"] + ": " + frame["label"] + ("" if one_metric else " (" + frame["metric"] + ")")
    cells = frame.assign(
        column=header, cell=[_cell(m, lo, hi) for m, lo, hi in zip(frame["mean"], frame["ci_low"], frame["ci_high"])]
    )
    wide = cells.pivot(index="run_id", columns="column", values="cell")
    wide = wide.reindex(index=runs["run_id"], columns=sorted(set(header))).fillna("—")
    table = pd.DataFrame(
        {
            "run": runs["run_id"].tolist(),
            "commit": [_short_commit(c, d) for c, d in zip(runs["commit"], runs["dirty"])],
            "date": [t.strftime("%Y-%m-%d %H:%M") if t is not None and not pd.isna(t) else "" for t in runs["started"]],
        }
    )
    return pd.concat([table, wide.reset_index(drop=True)], axis=1)


# ----------------------------------------------------------------------------- figure
def _palette(labels: list[str]) -> dict[str, Any]:
    """One colour per model/method, the same in every panel (as the run reports choose them)."""
    import seaborn as sns

    colours = sns.color_palette("colorblind" if len(labels) <= 10 else "husl", max(len(labels), 1))
    return dict(zip(labels, colours))


def _panel(ax, data, x_of: dict[str, int], palette: dict[str, Any]) -> list[str]:
    """One task's lines: mean per run (seaborn) and the CI as error bars, dodged a little
    per model/method so that bars of the same run do not hide each other."""
    import numpy as np
    import seaborn as sns

    labels = sorted(set(data["label"]))
    width = min(0.3, 0.06 * len(labels))
    dodge = {lab: (k - (len(labels) - 1) / 2) * (width / max(len(labels) - 1, 1)) for k, lab in enumerate(labels)}
    data = data.assign(x=[x_of[r] + dodge[lab] for r, lab in zip(data["run_id"], data["label"])])
    sns.lineplot(
        data=data.assign(label=data["label"].map(tx)),
        x="x",
        y="mean",
        hue="label",
        palette={tx(lab): palette[lab] for lab in labels},
        hue_order=[tx(lab) for lab in labels],
        estimator=None,
        errorbar=None,
        marker="o",
        markersize=4,
        legend=False,
        ax=ax,
    )
    ci = data[np.isfinite(data["ci_low"].astype(float)) & np.isfinite(data["ci_high"].astype(float))]
    for lab, part in ci.groupby("label", sort=False):
        lo = (part["mean"] - part["ci_low"]).clip(lower=0)
        hi = (part["ci_high"] - part["mean"]).clip(lower=0)
        ax.errorbar(part["x"], part["mean"], yerr=[lo, hi], fmt="none", ecolor=palette[lab], elinewidth=1, capsize=2)
    return labels


def plot_history(frame, metric: str | None, path: Path, directions: dict[str, str] | None = None) -> Path:
    """The metric over the runs (oldest left), one panel per task, saved as PNG and SVG.

    `metric` None plots every metric of the frame (one panel per task and metric: each
    task's main metric, say). `directions` (metric -> higher/lower/none) adds which way is
    better to the y labels. Returns the PNG's path; the SVG is written next to it."""
    from ebmbench.report.data import direction_label

    data = frame if metric is None else frame[frame["metric"] == metric]
    data = data[data["mean"].notna()]
    if data.empty:
        raise UsageError(f"no stored values{'' if metric is None else f' of {metric!r}'} to plot")
    runs = _runs(data)
    x_of = {r: i for i, r in enumerate(runs["run_id"])}
    panels = list(data[["task", "metric"]].drop_duplicates().sort_values(["task", "metric"]).itertuples(index=False))
    several_metrics = data["metric"].nunique() > 1
    palette = _palette(sorted(set(data["label"])))
    heights = [max(1.5, 0.4 + 0.12 * data[(data["task"] == t)]["label"].nunique()) for t, _ in panels]
    with theme():
        fig = FigureWriter.new(PAGE, sum(heights) + 0.6 + 0.1 * max(len(s) for s in run_label(runs)))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
        above = None
        for ax, (task, m) in zip(axes, panels):
            labels = _panel(ax, data[(data["task"] == task) & (data["metric"] == m)], x_of, palette)
            ax.set_title(tx(f"{task} — {m}" if several_metrics else task), loc="left")
            ax.set_ylabel(tx(direction_label(m, (directions or {}).get(m), "\n") if directions else m))
            ax.set_xlabel("")
            if labels != above:  # the panel above already names the same lines
                handles, texts = legend_handles(palette, labels)
                ax.legend(handles, texts, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=5.5)
            above = labels
        ticks = run_label(runs)
        axes[-1].set_xticks(range(len(ticks)), [tx(t) for t in ticks], rotation=30 if len(ticks) > 1 else 0, ha="right")
        axes[-1].set_xlim(-0.5, len(ticks) - 0.5)
        axes[-1].set_xlabel("run (commit, date), oldest first")
        title = "history" if metric is None else f"{metric} over runs"
        fig.suptitle(tx(f"{title}: mean over seeds, bars 95 % bootstrap CI"))
        png = Path(path).with_suffix(".png")
        png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png, dpi=DPI, metadata={"Software": None})
        fig.set_layout_engine("none")  # keep the layout just computed (as FigureWriter.save does)
        fig.savefig(png.with_suffix(".svg"), metadata={"Date": None, "Creator": None})
    return png
