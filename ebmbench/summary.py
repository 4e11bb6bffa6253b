"""Aggregation over seeds, ranks, pivots and the per-task leaderboards.

Per (task, model/method) and metric: mean, std, n and a 95 % interval of the mean.
No one interval method is honest at every number of seeds, so the method follows n
and every row names the one it used (column `interval`):

* n = 1: no interval ("none") — one seed says nothing about the spread;
* 2 <= n <= T_MAX_SEEDS (4): Student's t-interval, mean ± t(0.975, n - 1) s / sqrt(n)
  ("t"). A bootstrap of two to four values can only reshuffle them and gives
  intervals far too narrow ("2.99 ± 0.014" from two seeds); the t-interval is wide,
  as it should be;
* n > T_MAX_SEEDS: the percentile bootstrap (scipy.stats.bootstrap, 2 000 resamples,
  fixed random_state so tables are reproducible), which assumes no normality
  ("bootstrap").

`interval_heading` turns the rows of a table into the words of its heading, e.g.
"mean ± 95 % t-interval over 3 seeds". Ranks honour each metric's direction;
metrics with direction "none" (reported quantities such as a fitted beta) are never
ranked. Everything here is vectorised over pandas groups: `ebmbench show` prints a
run of 2 000 cells in well under a second.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "AGG_COLUMNS",
    "ARROW",
    "FLOOR_FAMILY",
    "FLOOR_MARK",
    "FLOOR_NOTE",
    "floor_labels",
    "floor_marked",
    "T975",
    "T_MAX_SEEDS",
    "aggregate",
    "format_cell",
    "interval_heading",
    "leaderboard",
    "leaderboards",
    "metric_columns",
    "pivot",
    "rank_table",
    "ranks",
    "skipped_pairs",
    "status_counts",
    "summarize",
]

ARROW = {"higher": "↑", "lower": "↓"}
T_MAX_SEEDS = 4  # up to this many seeds a t-interval, above it the bootstrap
# t(0.975, df) for df = n - 1 <= T_MAX_SEEDS - 1: constants, because importing
# scipy.stats costs a second of `show`; tests check them against scipy.stats.t.ppf.
T975 = {1: 12.706204736174694, 2: 4.302652729749462, 3: 3.1824463052837078}
AGG_COLUMNS = ["task", "label", "metric", "mean", "std", "ci_low", "ci_high", "n", "interval"]
INTERVAL_WORDS = {"t": "95 % t-interval", "bootstrap": "95 % bootstrap CI"}
# A model of this family scores the task's own law (E = -log p): its row is the floor of
# every metric on the split, and a method whose mean lies inside its interval is marked.
FLOOR_FAMILY = "oracle"
FLOOR_MARK = "≈"
FLOOR_NOTE = f"{FLOOR_MARK}: within the oracle's 95 % interval (as good as the true law scores here)"


def _bootstrap(v) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of v (seeded: reproducible)."""
    import numpy as np
    from scipy import stats

    res = stats.bootstrap((v,), np.mean, confidence_level=0.95, n_resamples=2000, method="percentile", random_state=0)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(values) -> dict[str, Any]:
    """mean, std, ci_low, ci_high, n and interval ("none", "t" or "bootstrap") of the
    finite values; the interval is NaN for n < 2 and the method follows n (module doc)."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    n = len(v)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "interval": "none"}
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    lo = hi = math.nan
    kind = "none" if n < 2 else "t" if n <= T_MAX_SEEDS else "bootstrap"
    if n > 1 and np.ptp(v) == 0:
        lo = hi = mean
    elif kind == "t":
        half = T975[n - 1] * std / math.sqrt(n)
        lo, hi = mean - half, mean + half
    elif kind == "bootstrap":
        lo, hi = _bootstrap(v)
    return {"mean": mean, "std": std, "ci_low": lo, "ci_high": hi, "n": n, "interval": kind}


def metric_columns(df, directions: dict[str, str]) -> list[str]:
    """The metric columns present in a results frame, in the registry's order."""
    return [m for m in directions if m in df.columns]


def _long_values(df, metrics: list[str]):
    """Done cells as one row per (task, label, metric, value) with a value present;
    infinite values become NaN (dropped from the statistics, the row's group stays)."""
    import numpy as np
    import pandas as pd

    done = df[df["status"] == "done"]
    present = [m for m in metrics if m in done.columns]
    if done.empty or not present:
        return pd.DataFrame(columns=["task", "label", "metric", "value"])
    wide = done[["task", "label", *present]]
    long = wide.melt(id_vars=["task", "label"], var_name="metric", value_name="value")
    long = long[long["value"].notna()]
    value = pd.to_numeric(long["value"], errors="coerce").astype(float)
    return long.assign(value=value.where(np.isfinite(value)))


def _intervals(stats, long) -> None:
    """Fill ci_low, ci_high and interval of the per-group `stats` (in place), as summarize."""
    import numpy as np

    n = stats["n"].to_numpy()
    mean, std = stats["mean"].to_numpy(), stats["std"].to_numpy()
    t = np.array([T975.get(k - 1, np.nan) for k in n])
    half = t * std / np.sqrt(np.maximum(n, 1))
    constant = (n > 1) & (stats["ptp"].to_numpy() == 0)
    half = np.where(constant, 0.0, half)
    stats["ci_low"], stats["ci_high"] = mean - half, mean + half
    stats["interval"] = np.where(n < 2, "none", np.where(n <= T_MAX_SEEDS, "t", "bootstrap"))
    boot = stats.index[(n > T_MAX_SEEDS) & ~constant]
    if len(boot):  # few groups in a typical run; their values in row order, as summarize sees them
        wanted = long.set_index(["task", "label", "metric"]).loc[boot, "value"]
        for key, values in wanted.groupby(level=[0, 1, 2], sort=False):
            finite = values.to_numpy()
            stats.loc[key, ["ci_low", "ci_high"]] = _bootstrap(finite[np.isfinite(finite)])


def aggregate(df, metrics: list[str]):
    """Long table AGG_COLUMNS (task, label, metric, mean, std, ci_low, ci_high, n, interval)
    of the done cells: one row per (task, label) and metric with a value, sorted by task
    and label, metrics in the order given. Same numbers as `summarize` per group."""
    import pandas as pd

    long = _long_values(df, metrics)
    if long.empty:
        return pd.DataFrame(columns=AGG_COLUMNS)
    keys = ["task", "label", "metric"]
    grouped = long.groupby(keys, sort=False)["value"]
    stats = grouped.agg(["count", "mean", "std", "min", "max"]).rename(columns={"count": "n"})
    stats["ptp"] = stats["max"] - stats["min"]
    _intervals(stats, long)
    out = stats.reset_index()
    out["n"] = out["n"].astype(int)
    order = {m: i for i, m in enumerate(metrics)}
    out["_m"] = out["metric"].map(order)
    out = out.sort_values(["task", "label", "_m"], kind="stable").reset_index(drop=True)
    return out[AGG_COLUMNS]


def format_cell(s: dict[str, Any] | Any, digits: int = 3) -> str:
    """'mean ± half-width' ('mean' alone without an interval, '—' without a value)."""
    mean, lo, hi = s["mean"], s["ci_low"], s["ci_high"]
    if not math.isfinite(mean):
        return "—"
    # '#' keeps trailing zeros, so a column of NLLs lines up (3.700 next to 3.549)
    text = f"{mean:#.{digits}g}".rstrip(".")  # '#' leaves "1234." for a whole number
    if math.isfinite(lo):
        return f"{text} ± {(hi - lo) / 2:.2g}"
    return text


def _seeds(ns: list[int]) -> str:
    lo, hi = min(ns), max(ns)
    return f"{lo} seed{'s' if lo > 1 else ''}" if lo == hi else f"{lo}–{hi} seeds"


def interval_heading(rows) -> str:
    """The words for a table whose cells are `rows` of `aggregate` (n, interval):
    which interval, over how many seeds — e.g. "mean ± 95 % t-interval over 3 seeds",
    "1 seed (n = 1, no interval)". A table must never promise an interval it lacks."""
    ns = [int(n) for n in rows["n"] if n >= 1]
    if not ns:
        return "no finished cells"
    if max(ns) == 1:
        return "1 seed (n = 1, no interval)"
    with_ci = rows[rows["n"] >= 2]
    kinds = [INTERVAL_WORDS[k] for k in ("t", "bootstrap") if (with_ci["interval"] == k).any()]
    text = f"mean ± {' or '.join(kinds)} over {_seeds([n for n in ns if n >= 2])}"
    if min(ns) == 1:
        text += "; n = 1: no interval"
    return text


def _header(metric: str, directions: dict[str, str]) -> str:
    return f"{metric} {ARROW.get(directions.get(metric, ''), '')}".strip()


def _only_skipped(df):
    """Boolean Series over (task, label), sorted: True where every row was skipped."""
    return df["status"].eq("skipped").groupby([df["task"], df["label"]], sort=True).all()


def skipped_pairs(df):
    """(task, label, reason) of the pairs that were skipped in every repetition,
    sorted by task and label; the reason is the pair's first row's."""
    if df.empty:
        return []
    only_skipped = _only_skipped(df)
    pairs = only_skipped[only_skipped].index
    first = df.drop_duplicates(["task", "label"]).set_index(["task", "label"])["reason"]
    return [(t, lab, reason) for (t, lab), reason in zip(pairs, first.reindex(pairs))]


def status_counts(df) -> dict[tuple[str, str], str]:
    """(task, label) -> "3 done, 1 diverged": done first, then the others by count and name."""
    per: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for (task, label, status), n in df.groupby(["task", "label", "status"], sort=True).size().items():
        per.setdefault((task, label), []).append((status, int(n)))
    return {
        key: ", ".join(f"{n} {st}" for st, n in sorted(items, key=lambda kv: (kv[0] != "done", -kv[1], kv[0])))
        for key, items in per.items()
    }


def leaderboard(
    df, task: str, main_metric: str, directions: dict[str, str], metrics: list[str], digits: int = 3, agg=None
):
    """One task's table of display strings: rank, model/method, one column per metric
    with a value (the main metric first, the others in the order given), train s and
    status; one row per model/method that ran, ranked by the main metric's mean, rows
    without a finished cell last. `agg` (aggregate of df over at least these metrics)
    saves recomputing it."""
    sub = df[df["task"] == task]
    return leaderboards(sub, {task: main_metric}, directions, {task: metrics}, digits, agg)[task]


def floor_labels(df, meta) -> set[str]:
    """The labels of `df` whose model declares the FLOOR_FAMILY (run.json's entries)."""
    models = ((meta or {}).get("entries") or {}).get("models") or {}
    oracles = {n for n, e in models.items() if isinstance(e, dict) and e.get("family") == FLOOR_FAMILY}
    if not oracles or df.empty or "model" not in df.columns:
        return set()
    return set(df.loc[df["model"].isin(oracles), "label"])


def floor_marked(frame) -> bool:
    """Whether a leaderboard's display strings carry the FLOOR_MARK anywhere."""
    return any(frame[c].map(lambda v: str(v).startswith(FLOOR_MARK)).any() for c in frame.columns)


def _floor_intervals(agg, floors, directions) -> dict[tuple[str, str], tuple[float, float]]:
    """(task, metric) -> the floor row's (ci_low, ci_high), ranked metrics with an interval."""
    rows = agg[agg["label"].isin(floors) & agg["metric"].map(lambda m: directions.get(m) in ARROW)]
    return {
        (r["task"], r["metric"]): (r["ci_low"], r["ci_high"])
        for r in rows.to_dict("records")
        if r["ci_low"] == r["ci_low"] and r["ci_high"] == r["ci_high"]
    }


def leaderboards(
    df,
    mains: dict[str, str],
    directions,
    metrics: dict[str, list[str]],
    digits: int = 3,
    agg=None,
    floors: set[str] = frozenset(),
):
    """task -> `leaderboard` of every task in `mains` at once: one pass of groupbys over
    the whole run, then plain dictionaries per task (a run of --all has 12 tasks and
    2 000 rows; per-task pandas calls were most of the time `show` took). `floors`
    (floor_labels): a mean inside the floor row's interval is marked FLOOR_MARK."""
    import pandas as pd

    if df.empty:
        return {t: _leaderboard_frame([], [], {}, {}, {}, {}, directions) for t in mains}
    only_skipped = _only_skipped(df)
    ran = only_skipped[~only_skipped].index
    sub = df[pd.MultiIndex.from_frame(df[["task", "label"]]).isin(ran)]
    wanted = list(dict.fromkeys(m for t in mains for m in [mains[t], *metrics.get(t, [])]))
    agg = aggregate(sub, wanted) if agg is None else agg[agg["metric"].isin(wanted)]
    cells: dict[str, dict[tuple[str, str], str]] = {}
    means: dict[str, dict[str, float]] = {}
    floor_ci = _floor_intervals(agg, floors, directions) if floors else {}
    for r in agg.to_dict("records"):
        text = format_cell(r, digits)
        ci = floor_ci.get((r["task"], r["metric"]))
        if ci is not None and r["label"] not in floors and ci[0] <= r["mean"] <= ci[1]:
            text = f"{FLOOR_MARK} {text}"
        cells.setdefault(r["task"], {})[(r["label"], r["metric"])] = text
        if r["metric"] == mains.get(r["task"]) and r["mean"] == r["mean"]:
            means.setdefault(r["task"], {})[r["label"]] = r["mean"]
    statuses = status_counts(sub)
    done = sub[sub["status"] == "done"]
    train = done.groupby(["task", "label"])["train_time_s"].mean().to_dict()
    labels = sub.drop_duplicates(["task", "label"]).groupby("task", sort=False)["label"].agg(list).to_dict()
    out = {}
    for t, main in mains.items():
        here = labels.get(t, [])
        here_set = set(here)
        out[t] = _leaderboard_frame(
            here,
            [main, *(m for m in metrics.get(t, []) if m != main)],
            {lab: statuses.get((t, lab), "") for lab in here},
            {lab: train.get((t, lab), math.nan) for lab in here},
            cells.get(t, {}),
            {lab: m for lab, m in means.get(t, {}).items() if lab in here_set},
            directions,
        )
    return out


def _leaderboard_frame(labels, shown, statuses, train, cells, means, directions):
    """Assemble one leaderboard from its parts: `labels` in first-run order, the metrics
    `shown` (main first), `cells` (label, metric) -> text and the main metric's `means`.
    Ties keep the order of the aggregate (by name): a stable sort, reproducible."""
    import pandas as pd

    ranked = sorted(means, key=means.__getitem__, reverse=directions.get(shown[0] if shown else "") == "higher")
    ranked_set = set(ranked)
    order = ranked + [lab for lab in labels if lab not in ranked_set]
    measured = {metric for _, metric in cells}
    metrics = [m for m in shown if m in measured]
    rank_of = {lab: str(i) for i, lab in enumerate(ranked, 1)}
    columns: dict[str, list[str]] = {"rank": [rank_of.get(lab, "") for lab in order], "model/method": order}
    for m in metrics:
        columns[_header(m, directions)] = [cells.get((lab, m), "—") for lab in order]
    columns["train s"] = [_seconds(train.get(lab)) for lab in order]
    columns["status"] = [statuses.get(lab, "") for lab in order]
    return pd.DataFrame(columns, columns=list(columns), dtype=object)


def _seconds(v) -> str:
    return "—" if v is None or v != v else f"{v:.1f}"


def pivot(df, metric: str, directions: dict[str, str], numeric: bool = False, digits: int = 3, agg=None):
    """Methods x tasks for one metric: "mean ± CI" strings (or the means if numeric)."""
    agg = aggregate(df, [metric]) if agg is None else agg[agg["metric"] == metric]
    if agg.empty:
        import pandas as pd

        return pd.DataFrame()
    if numeric:
        return agg.pivot(index="label", columns="task", values="mean")
    agg = agg.assign(cell=[format_cell(r, digits) for r in agg.to_dict("records")])
    table = agg.pivot(index="label", columns="task", values="cell").fillna("—")
    table.index.name = f"{_header(metric, directions)} (model/method)"
    return table


def _finite_means(df, metrics: list[str]):
    """Mean of the finite values of each metric per (task, label) over the done cells
    (one groupby for all of them)."""
    import numpy as np

    done = df[df["status"] == "done"]
    values = done[metrics].astype(float)
    return values.where(np.isfinite(values)).groupby([done["task"], done["label"]]).mean()


def ranks(df, directions: dict[str, str], main_metrics: dict[str, str]):
    """Rank of each model/method on each task by the task's main metric (1 = best,
    ties share the mean rank), plus the mean rank over the tasks it ran on.
    `rank_table` is the form for reading: it also says how many tasks each rank covers."""
    import pandas as pd

    tasks = set(df["task"]) if not df.empty else set()
    mains = {
        t: m for t, m in main_metrics.items() if directions.get(m, "none") != "none" and t in tasks and m in df.columns
    }
    means = _finite_means(df, sorted(set(mains.values()))) if mains else None
    cols = {}
    for task, metric in mains.items():
        if task not in means.index.get_level_values(0):
            continue
        values = means.loc[task, metric].dropna()
        if len(values):
            cols[task] = values.rank(ascending=directions[metric] == "lower", method="average")
    table = pd.DataFrame(cols)
    if not table.empty:
        table["mean rank"] = table.mean(axis=1)
        table = table.sort_values("mean rank")
    return table


def rank_table(df, directions: dict[str, str], main_metrics: dict[str, str]):
    """The rank across tasks, honest about coverage: index model/method; columns "tasks"
    (how many tasks its mean rank covers), "mean rank" and the per-task ranks.

    A method that ran on one task and won it must not read as the best overall, so the
    table is ordered by coverage first (most tasks first), then by mean rank, then by
    name, and every mean rank is printed beside its task count."""
    table = ranks(df, directions, main_metrics)
    if table.empty:
        return table
    per_task = table.drop(columns="mean rank")
    table.insert(0, "tasks", per_task.notna().sum(axis=1).astype(int))
    table = table[["tasks", "mean rank", *per_task.columns]]
    table = table.assign(_name=table.index).sort_values(
        ["tasks", "mean rank", "_name"], ascending=[False, True, True], kind="stable"
    )
    return table.drop(columns="_name").rename_axis("model/method")
