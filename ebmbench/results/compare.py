"""The statistical core of `ebmbench compare BASELINE CURRENT`: which cells got worse.

Two runs' result frames (one row per cell) are matched by (task, label, rep); only
`done` cells give metric values and `skipped` rows are left out entirely. For each
(task, label, metric) a change is called `worse` (or `better`) only when it is BOTH

* outside the tolerance band: |delta| > max(abs_tol, rel_tol * |baseline mean|)
  (a `CompareConfig.per_metric_tol` entry overrides both for its metric), AND
* statistically supported, with the family-wise error held at `alpha` by Holm's
  step-down correction over every compared (task, label, metric) that has a p-value:
  - paired, when the reps both sides share were trained on equal `data_seed`s: a seeded
    percentile bootstrap CI of the mean paired difference (current - baseline) must
    exclude 0, and the paired t-test's two-sided p-value, after Holm, be below alpha
    (>= 2 pairs). The bootstrap's own p-value is not used: with n pairs of one sign
    (probability 2/2^n under no change: 12.5 % with 4 seeds) every resample has that
    sign, p = 0, and no multiple-testing correction can undo a zero;
  - unpaired: a one-sided Mann-Whitney U in the direction of the observed change
    (>= 4 values on each side; with 3 vs 3 no exact one-sided p can fall below 0.05);
  - with fewer values the band alone decides ("band only: too few seeds for a test").

Metrics with direction "none" are reported `changed`/`unchanged`, never worse/better.
Status rows (metric "status") report reps that were done on the baseline and failed
now (`newly failing`) or the reverse (`fixed`). Labels or tasks on one side only are
`new`/`gone`. A (task, label) whose sides ran under another profile or other
parameters, or whose task or metric code changed (source hashes in the run metas), is
`incomparable`; a change in the model's or method's own code is what a comparison is
for, so it is only mentioned in the reason.

This module is pure computation on DataFrames: no CLI or presentation imports.
"""

from __future__ import annotations

import math
import numbers
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ebmbench.errors import UsageError, unknown_name
from ebmbench.results.schema import FAILED_STATUSES

__all__ = [
    "CompareConfig",
    "compare_frames",
    "compare_sides",
    "has_regression",
    "summary_counts",
    "holm_adjust",
    "COLUMNS",
    "MARKS",
    "REGRESSION_MARKS",
    "BAND_ONLY",
    "PAIRED",
    "UNPAIRED",
]

PAIRED = "paired t-test + bootstrap CI"
UNPAIRED = "mann-whitney"
BAND_ONLY = "band only: too few seeds for a test"
MIN_UNPAIRED = 4  # values per side before a Mann-Whitney test can say anything at alpha=0.05
MIN_PAIRS = 2

# sort order of the table, most urgent first
MARKS = ("newly failing", "worse", "incomparable", "new", "gone", "better", "fixed", "changed", "unchanged")
REGRESSION_MARKS = frozenset({"worse", "newly failing"})
_RANK = {
    "newly failing": 0,
    "worse": 1,
    "incomparable": 2,
    "new": 3,
    "gone": 3,
    "better": 4,
    "fixed": 5,
    "changed": 6,
    "unchanged": 7,
}

COLUMNS = [
    "task",
    "label",
    "metric",
    "direction",
    "mark",
    "base_mean",
    "cur_mean",
    "delta",
    "rel_delta",
    "n_base",
    "n_cur",
    "test",
    "p_value",
    "p_holm",
    "ci_low",
    "ci_high",
    "tolerance",
    "reason",
]
_REQUIRED = ("task", "rep", "status")
_USED = ("label", "model", "method", "data_seed", "reason", "profile", "model_params", "method_params")


@dataclass
class CompareConfig:
    rel_tol: float = 0.05  # a change must exceed max(abs_tol, rel_tol*|baseline mean|) ...
    abs_tol: float = 0.0
    per_metric_tol: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (rel, abs)
    alpha: float = 0.05  # family-wise, Holm-corrected
    n_boot: int = 2000
    seed: int = 0  # bootstrap RNG: the same inputs always give the same table
    metrics: tuple[str, ...] | None = None  # None: each task's main metric
    # the user asks to compare across edits of task and metric code (a refactor that keeps
    # the numbers): the changed hashes are then noted in the reason instead of refusing
    across_code_changes: bool = False

    def validate(self) -> None:
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if self.n_boot < 1:
            raise UsageError(f"n_boot must be at least 1, got {self.n_boot!r}")
        tols = {"": (self.rel_tol, self.abs_tol), **self.per_metric_tol}
        for metric, pair in tols.items():
            where = f"tolerance for {metric!r}" if metric else "tolerance"
            ok = isinstance(pair, tuple | list) and len(pair) == 2
            if not ok or any(not isinstance(v, numbers.Real) or not v >= 0 for v in pair):
                raise UsageError(f"{where} must be two numbers >= 0 (relative, absolute), got {pair!r}")

    def tolerance(self, metric: str, base_mean: float) -> float:
        rel, abs_ = self.per_metric_tol.get(metric, (self.rel_tol, self.abs_tol))
        scale = abs(base_mean) if math.isfinite(base_mean) else 0.0
        return max(float(abs_), float(rel) * scale)


# ------------------------------------------------------------------ statistics
def holm_adjust(p_values: Iterable[float]) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order (NaN stays NaN)."""
    p = np.asarray(list(p_values), dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def _bootstrap(diffs: np.ndarray, n_boot: int, alpha: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """(two-sided p, CI low, CI high) of the mean of `diffs` by a percentile bootstrap."""
    n = len(diffs)
    means = diffs[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    p = min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return p, float(low), float(high)


def _paired_t(diffs: np.ndarray) -> float:
    """Two-sided paired t-test p of mean(diffs) != 0; a constant difference is exact."""
    if np.all(diffs == diffs[0]):
        return 1.0 if diffs[0] == 0 else 0.0
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def _mann_whitney(base: np.ndarray, cur: np.ndarray, delta: float) -> tuple[float, str]:
    """One-sided p that `cur` is shifted from `base` in the direction of `delta`."""
    alternative = "less" if delta < 0 else "greater"
    ties = len(np.unique(np.concatenate([base, cur]))) < len(base) + len(cur)
    method = "exact" if not ties and len(base) * len(cur) <= 2500 else "asymptotic"
    res = stats.mannwhitneyu(cur, base, alternative=alternative, method=method)
    return float(res.pvalue), method


# ------------------------------------------------------------------ formatting
def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _signed(x: float) -> str:
    return f"{x:+.4g}" if math.isfinite(x) else str(x)


def _pct(rel: float) -> str:
    return f" ({rel:+.1%})" if math.isfinite(rel) else ""


def _one_line(text: Any, limit: int = 100) -> str:
    if _missing(text):
        return ""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _reps(reps: Iterable[Any]) -> str:
    reps = sorted(reps)
    return f"rep{'s' if len(reps) > 1 else ''} {', '.join(str(r) for r in reps)}"


# ------------------------------------------------------------------ inputs
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


class _Group:
    """The cells of one (task, label) on one side (skipped ones left out), by rep."""

    def __init__(self, records: list[dict[str, Any]]):
        self.cells = {r["rep"]: r for r in records}

    def __len__(self) -> int:
        return len(self.cells)

    def values(self, metric: str) -> dict[Any, float]:
        """The metric's values on done cells, by rep (a cell without one is left out)."""
        out = {}
        for rep, cell in self.cells.items():
            if cell["status"] != "done" or _missing(v := cell.get(metric)):
                continue
            try:
                out[rep] = float(v)
            except (TypeError, ValueError):
                continue
        return {rep: out[rep] for rep in sorted(out)}

    def distinct(self, column: str) -> list[str]:
        return sorted({str(c[column]) for c in self.cells.values() if not _missing(c.get(column))})

    def get(self, rep: Any, column: str) -> Any:
        value = self.cells[rep].get(column)
        return None if _missing(value) else value


def _groups(df: pd.DataFrame, side: str, metrics: set[str]) -> dict[tuple[str, str], _Group]:
    """The non-skipped cells by (task, label), each a dict of the columns compare uses."""
    if df.empty:  # a run without rows may carry no columns at all
        return {}
    missing = [c for c in _REQUIRED if c not in df.columns]
    if "label" not in df.columns and not {"model", "method"} <= set(df.columns):
        missing.append("label")
    if missing:
        raise UsageError(f"{side} results lack column(s) {', '.join(missing)}")
    keep = {*_REQUIRED, *_USED, *metrics}
    df = df[df["status"] != "skipped"]
    df = df[[c for c in df.columns if c in keep]]
    if "label" not in df.columns:
        df = df.assign(label=df["model"].astype(str) + "/" + df["method"].astype(str))
    by_key: dict[tuple[str, str], list[dict]] = {}
    seen = set()
    for record in df.to_dict("records"):
        cell = (str(record["task"]), str(record["label"]), record["rep"])
        if cell in seen:
            raise UsageError(
                f"{side} results hold cell {cell[0]} {cell[1]} rep {cell[2]} more than once: "
                "compare one run with another"
            )
        seen.add(cell)
        by_key.setdefault(cell[:2], []).append(record)
    return {key: _Group(records) for key, records in by_key.items()}


def _metrics_for(task: str, config: CompareConfig, main_metrics: dict[str, str]) -> list[str]:
    if config.metrics is not None:
        return list(config.metrics)
    if task not in main_metrics:
        raise UsageError(f"task {task!r} has no main metric: name the metrics to compare")
    return [main_metrics[task]]


def _hash(meta: dict | None, kind: str, name: str) -> str | None:
    try:
        value = meta["entries"][kind][name]["source_hash"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return str(value) if value else None


def _hash_change(base_meta: dict | None, cur_meta: dict | None, kind: str, name: str) -> str | None:
    b, c = _hash(base_meta, kind, name), _hash(cur_meta, kind, name)
    if b is None or c is None or b == c:
        return None
    return f"{kind[:-1]} {name} source changed {b[:8]} → {c[:8]}"


def _differences(b: _Group, c: _Group) -> list[str]:
    """Why the two sides of one (task, label) cannot be compared: profile or parameters."""
    out = []
    for column in ("profile", "model_params", "method_params"):
        bv, cv = b.distinct(column), c.distinct(column)
        if bv and cv and bv != cv:
            out.append(f"{column} differs: {', '.join(bv)} → {', '.join(cv)}")
    return out


def _source_notes(b: _Group, c: _Group, base_meta: dict | None, cur_meta: dict | None) -> list[str]:
    """Changed code of the model, method or any sampler: information, not a reason to refuse."""
    if not base_meta or not cur_meta:
        return []
    notes = []
    for kind, column in (("models", "model"), ("methods", "method")):
        for name in sorted({v.split("[", 1)[0] for v in b.distinct(column) + c.distinct(column)}):
            notes.append(_hash_change(base_meta, cur_meta, kind, name))
    names = set()
    for meta in (base_meta, cur_meta):
        names |= set((meta.get("entries") or {}).get("samplers") or {})
    notes += [_hash_change(base_meta, cur_meta, "samplers", n) for n in sorted(names)]
    return [n for n in notes if n]


# ------------------------------------------------------------------ rows
def _row(task: str, label: str, metric: str, direction: str, mark: str, reason: str, **values: Any) -> dict:
    row = {
        "task": task,
        "label": label,
        "metric": metric,
        "direction": direction,
        "mark": mark,
        "base_mean": np.nan,
        "cur_mean": np.nan,
        "delta": np.nan,
        "rel_delta": np.nan,
        "n_base": 0,
        "n_cur": 0,
        "test": "",
        "p_value": np.nan,
        "p_holm": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "tolerance": np.nan,
        "reason": reason,
    }
    row.update(values)
    return row


def _mean(values: dict[Any, float]) -> float:
    return float(np.mean(list(values.values()))) if values else np.nan


def _both_sides(task: str, label: str, metric: str, direction: str, mark: str, bv: dict, cv: dict, reason: str) -> dict:
    return _row(
        task,
        label,
        metric,
        direction,
        mark,
        reason,
        base_mean=_mean(bv),
        cur_mean=_mean(cv),
        n_base=len(bv),
        n_cur=len(cv),
    )


def _status_rows(task: str, label: str, b: _Group, c: _Group) -> list[dict]:
    common = sorted(set(b.cells) & set(c.cells))
    bs, cs = {r: b.get(r, "status") for r in common}, {r: c.get(r, "status") for r in common}
    failing = [r for r in common if bs[r] == "done" and cs[r] in FAILED_STATUSES]
    fixed = [r for r in common if bs[r] in FAILED_STATUSES and cs[r] == "done"]
    rows = []
    n = {"n_base": len(b), "n_cur": len(c)}
    if failing:
        parts = []
        for r in failing:
            why = _one_line(c.get(r, "reason"))
            parts.append(f"rep {r}: {cs[r]}{' — ' + why if why else ''}")
        rows.append(
            _row(
                task,
                label,
                "status",
                "",
                "newly failing",
                f"{_reps(failing)} done in baseline, now failing: {'; '.join(parts)}",
                **n,
            )
        )
    if fixed:
        was = ", ".join(f"rep {r}: {bs[r]}" for r in fixed)
        rows.append(
            _row(task, label, "status", "", "fixed", f"{_reps(fixed)} done now, failed in baseline ({was})", **n)
        )
    return rows


def _one_side_rows(
    task: str, label: str, group: _Group, metrics: list[str], directions: dict[str, str], mark: str
) -> list[dict]:
    new = mark == "new"
    reason = f"only in the {'current' if new else 'baseline'} run"
    rows = []
    for metric in metrics:
        v = group.values(metric)
        if v:
            rows.append(
                _both_sides(task, label, metric, directions[metric], mark, {} if new else v, v if new else {}, reason)
            )
    if not rows:
        statuses = ", ".join(group.distinct("status"))
        rows.append(
            _row(
                task,
                label,
                "status",
                "",
                mark,
                f"{reason} ({statuses}, no metric values)",
                **{"n_cur" if new else "n_base": len(group)},
            )
        )
    return rows


def _compare_metric(
    task: str,
    label: str,
    metric: str,
    direction: str,
    b: _Group,
    c: _Group,
    bv: dict,
    cv: dict,
    config: CompareConfig,
    notes: list[str],
) -> dict:
    """One (task, label, metric) row; a tested row's mark is settled after Holm (`_decide`).
    `bv`, `cv`: the metric's values by rep on either side."""
    info = "; ".join(notes)
    if not bv or not cv:
        side, mark = ("current", "gone") if not cv else ("baseline", "new")
        reason = f"no done cell with {metric} in the {side} run"
        return _both_sides(task, label, metric, direction, mark, bv, cv, reason + (f"; {info}" if info else ""))

    common = [r for r in bv if r in cv]
    paired = bool(common) and all(
        b.get(r, "data_seed") is not None and b.get(r, "data_seed") == c.get(r, "data_seed") for r in common
    )
    extra = ""
    if paired:
        left_out = len(bv) + len(cv) - 2 * len(common)
        extra = f"; {left_out} unpaired rep{'s' if left_out != 1 else ''} left out" if left_out else ""
        bv, cv = {r: bv[r] for r in common}, {r: cv[r] for r in common}
    b_arr, c_arr = np.array(list(bv.values())), np.array(list(cv.values()))
    with np.errstate(invalid="ignore"):  # inf and -inf on one side: a NaN mean, handled below
        base_mean, cur_mean = float(b_arr.mean()), float(c_arr.mean())
        delta = cur_mean - base_mean
    rel = delta / abs(base_mean) if base_mean != 0 and math.isfinite(base_mean) else np.nan
    tol = config.tolerance(metric, base_mean)
    row = _row(
        task,
        label,
        metric,
        direction,
        "unchanged",
        "",
        base_mean=base_mean,
        cur_mean=cur_mean,
        delta=delta,
        rel_delta=rel,
        n_base=len(bv),
        n_cur=len(cv),
        tolerance=tol,
    )
    row["_extra"] = extra + (f"; {info}" if info else "")

    if not (np.isfinite(b_arr).all() and np.isfinite(c_arr).all()):
        if math.isnan(base_mean) or math.isnan(cur_mean) or (math.isnan(delta) and base_mean != cur_mean):
            row.update(
                mark="incomparable",
                reason=f"non-finite {metric} values ({_num(base_mean)} → {_num(cur_mean)}){row.pop('_extra')}",
            )
            return row
        row["_outside"] = base_mean != cur_mean
        row["_why"] = "non-finite values, no test"
        row["_change"] = f"{metric} {_num(base_mean)} → {_num(cur_mean)}"
        return row
    row["_outside"] = abs(delta) > tol
    if paired and len(common) >= MIN_PAIRS:
        # seeded per row: a row's result does not depend on which other rows are compared
        rng = np.random.default_rng([config.seed, zlib.crc32("\0".join((task, label, metric)).encode())])
        diffs = c_arr - b_arr
        _, low, high = _bootstrap(diffs, config.n_boot, config.alpha, rng)
        row.update(test=PAIRED, p_value=_paired_t(diffs), ci_low=low, ci_high=high)
    elif not paired and len(bv) >= MIN_UNPAIRED and len(cv) >= MIN_UNPAIRED:
        p, method = _mann_whitney(b_arr, c_arr, delta)
        row.update(test=UNPAIRED, p_value=p)
        row["_method"] = method
    else:
        row["test"] = BAND_ONLY
        sizes = "1 pair" if paired else f"{len(bv)} vs {len(cv)} values"
        row["_why"] = f"{sizes}, too few seeds for a test: the band alone decides"
    return row


def _decide(row: dict, alpha: float) -> None:
    """Settle a compared row's mark and reason (after Holm has filled p_holm)."""
    delta, tol, metric, direction = row["delta"], row["tolerance"], row["metric"], row["direction"]
    change = row.pop("_change", None) or f"{metric} {_signed(delta)}{_pct(row['rel_delta'])}"
    band = f"tolerance ±{_num(tol)}"
    outside = row.pop("_outside")
    extra = row.pop("_extra", "")
    why = row.pop("_why", None)
    if why is not None:  # band only, or non-finite values
        supported, stat = outside, why
    else:
        p_holm = row["p_holm"]
        supported = p_holm < alpha
        if row["test"] == PAIRED:
            supported = supported and not (row["ci_low"] <= 0 <= row["ci_high"])
            stat = (
                f"paired bootstrap CI [{_num(row['ci_low'])}, {_num(row['ci_high'])}], "
                f"t-test p={row['p_value']:.3g}, p_holm={p_holm:.3g}"
            )
        else:
            stat = f"one-sided Mann-Whitney ({row.pop('_method')}) p={row['p_value']:.3g}, p_holm={p_holm:.3g}"
    if not outside:
        row["mark"], text = "unchanged", f"{change} within {band}; {stat}"
    elif not supported:
        row["mark"], text = "unchanged", f"{change} beyond {band} but not significant: {stat}"
    else:
        if direction == "none":
            row["mark"] = "changed"
        else:
            worse = delta > 0 if direction == "lower" else delta < 0
            row["mark"] = "worse" if worse else "better"
        text = f"{change} beyond {band}; {stat}"
    row["reason"] = text + extra


# ------------------------------------------------------------------ the table
def compare_frames(
    base: pd.DataFrame,
    cur: pd.DataFrame,
    directions: dict[str, str],
    main_metrics: dict[str, str],
    config: CompareConfig | None = None,
    base_meta: dict | None = None,
    cur_meta: dict | None = None,
) -> pd.DataFrame:
    """One row per (task, label, metric), plus status rows; columns `COLUMNS`, sorted by urgency."""
    config = config or CompareConfig()
    config.validate()
    wanted = set(config.metrics) if config.metrics is not None else set(main_metrics.values())
    b_groups, c_groups = _groups(base, "baseline", wanted), _groups(cur, "current", wanted)
    if config.metrics is not None:
        for metric in config.metrics:
            if metric not in base.columns and metric not in cur.columns:
                raise unknown_name("metrics", metric, sorted(directions))
    tasks = {task for task, _ in [*b_groups, *c_groups]}
    for metric in {m for t in tasks for m in _metrics_for(t, config, main_metrics)}:
        if metric not in directions:
            raise unknown_name("metrics", metric, directions)
        if directions[metric] not in ("higher", "lower", "none"):
            raise UsageError(
                f"metric {metric!r}: direction must be 'higher', 'lower' or 'none', got {directions[metric]!r}"
            )

    rows: list[dict] = []
    compared: list[dict] = []
    for key in sorted(set(b_groups) | set(c_groups)):
        task, label = key
        metrics = _metrics_for(task, config, main_metrics)
        if key not in c_groups:
            rows += _one_side_rows(task, label, b_groups[key], metrics, directions, "gone")
            continue
        if key not in b_groups:
            rows += _one_side_rows(task, label, c_groups[key], metrics, directions, "new")
            continue
        b, c = b_groups[key], c_groups[key]
        differences = _differences(b, c)
        task_change = _hash_change(base_meta, cur_meta, "tasks", task)
        notes = _source_notes(b, c, base_meta, cur_meta)
        if task_change:
            (notes if config.across_code_changes else differences).append(task_change)
        values = {m: (b.values(m), c.values(m)) for m in metrics}
        values = {m: (bv, cv) for m, (bv, cv) in values.items() if bv or cv}
        if differences:
            reason = "; ".join(differences + notes)
            group_rows = [
                _both_sides(task, label, m, directions[m], "incomparable", bv, cv, reason)
                for m, (bv, cv) in values.items()
            ]
            rows += group_rows or [_row(task, label, "status", "", "incomparable", reason, n_base=len(b), n_cur=len(c))]
            continue
        rows += _status_rows(task, label, b, c)
        for metric, (bv, cv) in values.items():
            metric_change = _hash_change(base_meta, cur_meta, "metrics", metric)
            if metric_change and config.across_code_changes:
                row = _compare_metric(
                    task, label, metric, directions[metric], b, c, bv, cv, config, [*notes, metric_change]
                )
                rows.append(row)
                if "_outside" in row:
                    compared.append(row)
                continue
            if metric_change:
                rows.append(
                    _both_sides(
                        task,
                        label,
                        metric,
                        directions[metric],
                        "incomparable",
                        bv,
                        cv,
                        "; ".join([metric_change, *notes]),
                    )
                )
                continue
            row = _compare_metric(task, label, metric, directions[metric], b, c, bv, cv, config, notes)
            rows.append(row)
            if "_outside" in row:
                compared.append(row)

    adjusted = holm_adjust([r["p_value"] for r in compared])
    for row, p_holm in zip(compared, adjusted, strict=True):
        row["p_holm"] = float(p_holm)
        _decide(row, config.alpha)

    rows.sort(key=_order)
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n_base": int, "n_cur": int})


def _order(row: dict) -> tuple:
    """Most urgent first; the largest relative change first among worse and better."""
    size = 0.0
    if row["mark"] in ("worse", "better"):
        size = abs(row["rel_delta"]) if not math.isnan(row["rel_delta"]) else math.inf
    return _RANK[row["mark"]], -size, row["task"], row["label"], row["metric"] != "status", row["metric"]


def has_regression(table: pd.DataFrame) -> bool:
    """Any `worse` metric or `newly failing` cell."""
    return bool(table["mark"].isin(REGRESSION_MARKS).any()) if len(table) else False


def summary_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many rows carry each mark, every mark listed (in `MARKS` order), zeros included."""
    counts = table["mark"].value_counts() if len(table) else pd.Series(dtype=int)
    return {mark: int(counts.get(mark, 0)) for mark in MARKS}


def compare_sides(base: Any, cur: Any, config: CompareConfig, user_tol: dict[str, tuple[float, float]] | None = None):
    """`compare_frames` of two `ebmbench.results.baseline.Side`s, everything it needs
    taken from their metadata (no plugin has to be importable to compare two runs).

    A metric's band, weakest first: `config`'s rel/abs, the metric's own declaration,
    the suite's `tolerances`, then `user_tol` (the command line)."""
    directions = {**(base.meta.get("metric_directions") or {}), **(cur.meta.get("metric_directions") or {})}
    main = {**(base.meta.get("main_metrics") or {}), **(cur.meta.get("main_metrics") or {})}
    tol: dict[str, tuple[float, float]] = {}
    for meta in (base.meta, cur.meta):
        tol.update({m: tuple(t) for m, t in (meta.get("metric_tolerances") or {}).items()})
    suite = cur.meta.get("suite") or base.meta.get("suite") or {}
    tol.update({m: tuple(t) for m, t in (suite.get("tolerances") or {}).items()})
    for metric in user_tol or {}:
        if metric not in directions:
            raise unknown_name("metrics", metric, directions)
    tol.update(user_tol or {})
    metrics = config.metrics
    if metrics is None and suite.get("metrics"):
        tasks = set(base.rows.get("task", [])) | set(cur.rows.get("task", []))
        metrics = tuple(dict.fromkeys([*(main[t] for t in sorted(tasks) if t in main), *suite["metrics"]]))
    cfg = CompareConfig(
        rel_tol=config.rel_tol,
        abs_tol=config.abs_tol,
        per_metric_tol={**config.per_metric_tol, **tol},
        alpha=config.alpha,
        n_boot=config.n_boot,
        seed=config.seed,
        metrics=metrics,
        across_code_changes=config.across_code_changes,
    )
    status_only = set()
    for meta in (base.meta, cur.meta):
        status_only |= set((meta.get("suite") or {}).get("status_only") or ())
    base_rows, cur_rows = (_status_only(r, status_only, directions) for r in (base.rows, cur.rows))
    return compare_frames(base_rows, cur_rows, directions, main, cfg, base.meta, cur.meta)


def _status_only(rows: pd.DataFrame, pairs: set[str], directions: dict[str, str]) -> pd.DataFrame:
    """`rows` with the metric values of the suite's status-only (task, label) pairs blanked."""
    if not pairs or rows.empty or "label" not in rows.columns:
        return rows
    hit = (rows["task"].astype(str) + " " + rows["label"].astype(str)).isin(pairs)
    if not hit.any():
        return rows
    rows = rows.copy()
    for metric in [c for c in rows.columns if c in directions]:
        rows.loc[hit, metric] = np.nan
    return rows
