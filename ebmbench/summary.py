"""Aggregation over seeds and the per-task leaderboard tables.

Mean, std, n and a 95 % bootstrap confidence interval (scipy.stats.bootstrap,
percentile method, fixed random_state so tables are reproducible) per
(task, model/method) and metric; methods ranked by the task's main metric in the
metric's own direction.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["summarize", "aggregate", "leaderboard", "format_cell", "ARROW"]

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
        res = stats.bootstrap((v,), np.mean, confidence_level=0.95, n_resamples=2000,
                              method="percentile", random_state=0)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    elif n > 1:
        lo = hi = mean
    return {"mean": mean, "std": std, "ci_low": lo, "ci_high": hi, "n": n}


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
    if math.isfinite(lo):
        half = (hi - lo) / 2
        return f"{mean:.{digits}g} ± {half:.2g}"
    return f"{mean:.{digits}g}"


def leaderboard(df, task: str, main_metric: str, directions: dict[str, str], metrics: list[str]):
    """One task's table: one row per model/method, ranked by the main metric.

    Returns (frame of display strings, ordered column names). Cells that did not
    finish appear below the ranked ones with their status counts.
    """
    import pandas as pd

    sub = df[df["task"] == task]
    agg = aggregate(sub, metrics)
    labels = list(dict.fromkeys(sub["label"]))
    main = agg[agg["metric"] == main_metric].set_index("label")["mean"]
    ascending = directions.get(main_metric, "lower") == "lower"
    ranked = main.sort_values(ascending=ascending).index.tolist()
    order = ranked + [lab for lab in labels if lab not in ranked]
    shown = [main_metric] + [m for m in metrics if m != main_metric and m in set(agg["metric"])]
    rows = []
    for rank, lab in enumerate(order, 1):
        cells = sub[sub["label"] == lab]
        counts = cells["status"].value_counts()
        row: dict[str, Any] = {"rank": str(rank) if lab in ranked else "", "model/method": lab}
        for m in shown:
            s = agg[(agg["label"] == lab) & (agg["metric"] == m)]
            row[m] = format_cell(s.iloc[0]) if len(s) else "—"
        done = cells[cells["status"] == "done"]
        row["train s"] = f"{done['train_time_s'].mean():.1f}" if len(done) else "—"
        row["status"] = ", ".join(f"{counts[k]} {k}" for k in counts.index)
        rows.append(row)
    cols = ["rank", "model/method", *shown, "train s", "status"]
    frame = pd.DataFrame(rows, columns=cols)
    frame = frame.rename(columns={m: f"{m} {ARROW.get(directions.get(m, ''), '')}".strip() for m in shown})
    return frame
