"""Aggregation over seeds, ranks, pivots and the per-task leaderboards.

Mean, std, n and a 95 % bootstrap confidence interval (scipy.stats.bootstrap,
percentile method, fixed random_state so tables are reproducible) per
(task, model/method) and metric. Ranks honour each metric's direction; metrics
with direction "none" (reported quantities such as a fitted beta) are never ranked.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "summarize",
    "aggregate",
    "leaderboard",
    "pivot",
    "ranks",
    "format_cell",
    "metric_columns",
    "skipped_pairs",
    "ARROW",
]

ARROW = {"higher": "↑", "lower": "↓"}


def summarize(values) -> dict[str, float]:
    """mean, std, ci_low, ci_high, n of the finite values (CI NaN when n < 2)."""
    import numpy as np
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    n = len(v)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    lo = hi = math.nan
    if n > 1 and np.ptp(v) > 0:
        res = stats.bootstrap(
            (v,), np.mean, confidence_level=0.95, n_resamples=2000, method="percentile", random_state=0
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    elif n > 1:
        lo = hi = mean
    return {"mean": mean, "std": std, "ci_low": lo, "ci_high": hi, "n": n}


def metric_columns(df, directions: dict[str, str]) -> list[str]:
    """The metric columns present in a results frame, in the registry's order."""
    return [m for m in directions if m in df.columns]


def aggregate(df, metrics: list[str]):
    """Long table: task, label, metric, mean, std, ci_low, ci_high, n (done cells only)."""
    import pandas as pd

    done = df[df["status"] == "done"]
    rows = []
    for (task, lab), group in done.groupby(["task", "label"], sort=True):
        for m in metrics:
            if m in group and group[m].notna().any():
                rows.append({"task": task, "label": lab, "metric": m, **summarize(group[m].tolist())})
    return pd.DataFrame(rows, columns=["task", "label", "metric", "mean", "std", "ci_low", "ci_high", "n"])


def format_cell(s: dict[str, Any] | Any, digits: int = 3) -> str:
    mean, lo, hi = s["mean"], s["ci_low"], s["ci_high"]
    if not math.isfinite(mean):
        return "—"
    # '#' keeps trailing zeros, so a column of NLLs lines up (3.700 next to 3.549)
    text = f"{mean:#.{digits}g}".rstrip(".")  # '#' leaves "1234." for a whole number
    if math.isfinite(lo):
        return f"{text} ± {(hi - lo) / 2:.2g}"
    return text


def _header(metric: str, directions: dict[str, str]) -> str:
    return f"{metric} {ARROW.get(directions.get(metric, ''), '')}".strip()


def skipped_pairs(df):
    """(task, label, reason) of the pairs that were skipped in every repetition."""
    only_skipped = df.groupby(["task", "label"])["status"].agg(lambda s: set(s) == {"skipped"})
    keys = only_skipped[only_skipped].index
    first = df.drop_duplicates(["task", "label"]).set_index(["task", "label"])["reason"]
    return [(t, lab, first.loc[(t, lab)]) for t, lab in keys]


def leaderboard(df, task: str, main_metric: str, directions: dict[str, str], metrics: list[str], digits: int = 3):
    """One task's table of display strings: one row per model/method that ran,
    ranked by the main metric; rows without a finished cell come last."""
    import pandas as pd

    skipped = {lab for t, lab, _ in skipped_pairs(df) if t == task}
    sub = df[(df["task"] == task) & ~df["label"].isin(skipped)]
    agg = aggregate(sub, metrics)
    labels = list(dict.fromkeys(sub["label"]))
    main = agg[agg["metric"] == main_metric].set_index("label")["mean"]
    ranked = main.sort_values(ascending=directions.get(main_metric) != "higher").index.tolist()
    order = ranked + [lab for lab in labels if lab not in ranked]
    shown = [main_metric] + [m for m in metrics if m != main_metric and m in set(agg["metric"])]
    rows = []
    for rank, lab in enumerate(order, 1):
        cells = sub[sub["label"] == lab]
        counts = cells["status"].value_counts()
        row: dict[str, Any] = {"rank": str(rank) if lab in ranked else "", "model/method": lab}
        for m in shown:
            s = agg[(agg["label"] == lab) & (agg["metric"] == m)]
            row[_header(m, directions)] = format_cell(s.iloc[0], digits) if len(s) else "—"
        done = cells[cells["status"] == "done"]
        row["train s"] = f"{done['train_time_s'].mean():.1f}" if len(done) else "—"
        row["status"] = ", ".join(f"{counts[k]} {k}" for k in counts.index)
        rows.append(row)
    cols = ["rank", "model/method", *(_header(m, directions) for m in shown), "train s", "status"]
    return pd.DataFrame(rows, columns=cols)


def pivot(df, metric: str, directions: dict[str, str], numeric: bool = False, digits: int = 3):
    """Methods x tasks for one metric: "mean ± CI" strings (or the means if numeric)."""
    agg = aggregate(df, [metric])
    if agg.empty:
        import pandas as pd

        return pd.DataFrame()
    if numeric:
        return agg.pivot(index="label", columns="task", values="mean")
    agg["cell"] = [format_cell(r, digits) for _, r in agg.iterrows()]
    table = agg.pivot(index="label", columns="task", values="cell").fillna("—")
    table.index.name = f"{_header(metric, directions)} (model/method)"
    return table


def ranks(df, directions: dict[str, str], main_metrics: dict[str, str]):
    """Rank of each model/method on each task by the task's main metric (1 = best,
    ties share the mean rank), plus the mean rank over the tasks it ran on."""
    import pandas as pd

    cols = {}
    for task, metric in main_metrics.items():
        if directions.get(metric, "none") == "none" or task not in set(df["task"]):
            continue
        means = pivot(df[df["task"] == task], metric, directions, numeric=True)
        if means.empty or task not in means:
            continue
        cols[task] = means[task].rank(ascending=directions[metric] == "lower", method="average")
    table = pd.DataFrame(cols)
    if not table.empty:
        table["mean rank"] = table.mean(axis=1)
        table = table.sort_values("mean rank")
    return table
