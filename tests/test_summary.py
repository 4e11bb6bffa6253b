"""Aggregation, CIs and ranks (ebmbench/summary.py) against direct computations."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ebmbench.summary import (
    T975,
    T_MAX_SEEDS,
    aggregate,
    format_cell,
    interval_heading,
    leaderboard,
    pivot,
    rank_table,
    ranks,
    skipped_pairs,
    summarize,
)

DIRECTIONS = {"nll": "lower", "acc": "higher", "beta": "none"}


def frame():
    rows = []
    for task, scores in {
        "a": {"m1": [1.0, 1.2, 1.1], "m2": [2.0, 2.1, 2.2], "m3": [0.5, 0.6, 0.4]},
        "b": {"m1": [3.0, 3.0, 3.1], "m2": [1.0, 1.5, 1.2], "m3": [9.0, 9.0, 9.0]},
    }.items():
        for label, values in scores.items():
            for rep, v in enumerate(values):
                rows.append(
                    {
                        "task": task,
                        "label": label,
                        "rep": rep,
                        "status": "done",
                        "nll": v,
                        "acc": -v,
                        "beta": 1.0,
                        "train_time_s": 0.1,
                        "reason": None,
                    }
                )
    rows.append({"task": "a", "label": "m4", "rep": 0, "status": "skipped", "reason": "incompatible"})
    rows.append({"task": "a", "label": "m5", "rep": 0, "status": "error", "reason": "boom"})
    return pd.DataFrame(rows)


def test_summarize_matches_numpy_and_scipy_bootstrap_from_five_seeds():
    v = [1.0, 2.0, 4.0, 3.5, 2.5]
    s = summarize(v)
    assert s["mean"] == pytest.approx(np.mean(v))
    assert s["std"] == pytest.approx(np.std(v, ddof=1))
    ref = stats.bootstrap((np.array(v),), np.mean, n_resamples=2000, method="percentile", random_state=0)
    assert s["ci_low"] == pytest.approx(ref.confidence_interval.low)
    assert s["ci_high"] == pytest.approx(ref.confidence_interval.high)
    assert s["ci_low"] <= s["mean"] <= s["ci_high"]
    assert s["n"] == 5 and s["interval"] == "bootstrap"


@pytest.mark.parametrize("v", [[1.0, 2.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0, 3.5]])
def test_summarize_few_seeds_is_a_t_interval(v):
    """Two to four seeds: Student's t, never a bootstrap of a handful of values."""
    s = summarize(v)
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    assert s["interval"] == "t" and s["n"] == len(v)


def test_t_quantiles_are_scipys():
    for df, q in T975.items():
        assert q == pytest.approx(stats.t.ppf(0.975, df), rel=1e-14)
    assert max(T975) == T_MAX_SEEDS - 1


def test_aggregate_matches_summarize_per_group():
    rows = []
    for label, values in {"few": [1.0, 1.7, 0.2], "many": [1.0, 2.0, 4.0, 3.5, 2.5, 9.0], "one": [3.0]}.items():
        rows += [{"task": "a", "label": label, "rep": i, "status": "done", "nll": v} for i, v in enumerate(values)]
    rows.append({"task": "a", "label": "inf", "rep": 0, "status": "done", "nll": float("inf")})
    df = pd.DataFrame(rows)
    agg = aggregate(df, ["nll"]).set_index("label")
    for label, group in df.groupby("label"):
        ref = summarize(group["nll"].tolist())
        got = agg.loc[label]
        for key in ("mean", "std", "ci_low", "ci_high"):
            assert got[key] == pytest.approx(ref[key], rel=1e-12, nan_ok=True), (label, key)
        assert got["n"] == ref["n"] and got["interval"] == ref["interval"]
    assert agg.loc["inf", "n"] == 0  # only an infinite value: a row without a mean, as before


def test_summarize_edge_cases():
    assert summarize([])["n"] == 0 and math.isnan(summarize([])["mean"])
    one = summarize([2.0])
    assert one["mean"] == 2.0 and math.isnan(one["ci_low"])
    same = summarize([3.0, 3.0])
    assert same["ci_low"] == same["ci_high"] == 3.0
    assert summarize([1.0, float("nan"), 3.0])["n"] == 2  # non-finite values are dropped
    assert one["interval"] == "none" and format_cell(one) == "2.00"  # n = 1: the value, no ±


def test_aggregate_only_done_cells():
    agg = aggregate(frame(), ["nll"])
    assert set(agg["label"]) == {"m1", "m2", "m3"}
    row = agg[(agg.task == "a") & (agg.label == "m1")].iloc[0]
    assert row["mean"] == pytest.approx(1.1) and row["n"] == 3


def test_leaderboard_ranks_by_direction_and_lists_unfinished_last():
    lb = leaderboard(frame(), "a", "nll", DIRECTIONS, ["nll", "acc"])
    assert lb["model/method"].tolist()[:3] == ["m3", "m1", "m2"]  # lower nll is better
    assert lb["model/method"].tolist()[-1] == "m5" and lb["rank"].tolist()[-1] == ""
    assert "m4" not in lb["model/method"].tolist()  # skipped pairs are listed apart
    lb_acc = leaderboard(frame(), "a", "acc", DIRECTIONS, ["nll", "acc"])
    assert lb_acc["model/method"].tolist()[:3] == ["m3", "m1", "m2"]  # higher acc = -nll
    assert "nll ↓" in lb.columns and "acc ↑" in lb.columns


def test_ranks_and_mean_rank():
    r = ranks(frame(), DIRECTIONS, {"a": "nll", "b": "nll"})
    assert r.loc["m3", "a"] == 1 and r.loc["m3", "b"] == 3
    assert r.loc["m2", "b"] == 1
    assert r.loc["m1", "mean rank"] == pytest.approx((2 + 2) / 2)
    assert r["mean rank"].is_monotonic_increasing
    assert ranks(frame(), DIRECTIONS, {"a": "beta"}).empty  # unranked metrics never rank


def test_pivot_and_skipped():
    p = pivot(frame(), "nll", DIRECTIONS)
    assert p.shape == (3, 2)
    assert p.loc["m3", "b"] == "9.00 ± 0"  # three identical seeds: a zero-width CI
    assert "±" in p.loc["m1", "a"]
    assert skipped_pairs(frame()) == [("a", "m4", "incompatible")]
    assert format_cell({"mean": float("nan"), "ci_low": 0, "ci_high": 0}) == "—"


@pytest.mark.parametrize(
    ("mean", "digits", "text"),
    [
        (3.7, 4, "3.700"),
        (3.54871, 4, "3.549"),
        (2.8728, 3, "2.87"),
        (1234.0, 4, "1234"),
        (0.000123456, 3, "0.000123"),
        (1.5e7, 3, "1.50e+07"),
    ],
)
def test_format_cell_keeps_significant_digits(mean, digits, text):
    nan = float("nan")
    assert format_cell({"mean": mean, "ci_low": nan, "ci_high": nan}, digits) == text
    assert format_cell({"mean": mean, "ci_low": mean - 1, "ci_high": mean + 1}, digits) == f"{text} ± 1"


def test_interval_heading_names_the_method_and_the_seeds():
    def rows(*ns, interval="t"):
        return pd.DataFrame({"n": list(ns), "interval": [interval if n > 1 else "none" for n in ns]})

    assert interval_heading(rows(1, 1)) == "1 seed (n = 1, no interval)"
    assert interval_heading(rows(3, 3)) == "mean ± 95 % t-interval over 3 seeds"
    assert interval_heading(rows(2, 4)) == "mean ± 95 % t-interval over 2–4 seeds"
    assert interval_heading(rows(3, 1)) == "mean ± 95 % t-interval over 3 seeds; n = 1: no interval"
    assert interval_heading(rows(10, interval="bootstrap")) == "mean ± 95 % bootstrap CI over 10 seeds"


def test_rank_table_says_how_many_tasks_each_rank_covers():
    """A method that ran (and won) one task must not read as the best overall."""
    df = frame()
    extra = {"task": "a", "label": "solo", "rep": 0, "status": "done", "nll": 0.01, "reason": None}
    df = pd.concat([df, pd.DataFrame([extra])], ignore_index=True)
    table = rank_table(df, DIRECTIONS, {"a": "nll", "b": "nll"})
    assert table.loc["solo", "tasks"] == 1 and table.loc["solo", "mean rank"] == 1
    assert table.index.tolist()[-1] == "solo"  # more tasks first: solo's 1.0 covers one task
    assert (table.loc[["m1", "m2", "m3"], "tasks"] == 2).all()
    assert table.columns.tolist()[:2] == ["tasks", "mean rank"]


def test_a_mean_inside_the_oracle_interval_is_marked_and_the_oracle_is_found_by_family():
    from ebmbench.summary import FLOOR_MARK, floor_labels, floor_marked, leaderboards

    df = frame()
    df["model"] = df["label"]
    meta = {"entries": {"models": {"m1": {"family": "oracle"}, "m2": {"family": "neural"}}}}
    assert floor_labels(df, meta) == {"m1"}
    assert floor_labels(df, {"entries": {"models": {"m1": {}}}}) == set()  # a run that did not record it
    boards = leaderboards(df, {"a": "nll", "b": "nll"}, DIRECTIONS, {"a": ["acc", "beta"], "b": []}, floors={"m1"})
    a = boards["a"].set_index("model/method")
    # task a: m1 = 1.1 +- t(2) * 0.1 / sqrt(3) = [0.852, 1.348]; m3 (0.5) and m2 (2.1) lie outside
    assert not floor_marked(a.loc[["m2", "m3"]]) and not floor_marked(a.loc[["m1"]])
    b = boards["b"].set_index("model/method")
    # task b: m1 = 3.033 +- 4.303 * 0.0577 / sqrt(3) = [2.890, 3.177]; no mean inside, so no mark
    assert not floor_marked(b)
    df.loc[(df["task"] == "a") & (df["label"] == "m2"), "nll"] = [1.0, 1.3, 1.2]  # mean 1.167: inside
    a = leaderboards(df, {"a": "nll"}, DIRECTIONS, {"a": ["beta"]}, floors={"m1"})["a"].set_index("model/method")
    assert a.loc["m2", "nll ↓"].startswith(FLOOR_MARK) and not a.loc["m1", "nll ↓"].startswith(FLOOR_MARK)
    assert not floor_marked(a[["beta"]])  # an unranked metric is never marked
