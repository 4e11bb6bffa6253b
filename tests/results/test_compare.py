"""The statistics of `ebmbench compare` (ebmbench/results/compare.py) on synthetic frames."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ebmbench.errors import UsageError
from ebmbench.results.compare import (
    BAND_ONLY,
    COLUMNS,
    MARKS,
    PAIRED,
    UNPAIRED,
    CompareConfig,
    compare_frames,
    has_regression,
    holm_adjust,
    summary_counts,
)

DIRECTIONS = {"nll": "lower", "acc": "higher", "beta": "none"}
MAIN = {"t": "nll", "c": "acc", "u": "nll"}


def cells(
    values,
    *,
    task="t",
    label="m/h",
    metric="nll",
    data_seeds=None,
    statuses=None,
    reasons=None,
    profile="quick",
    model_params="{}",
    method_params="{}",
    reps=None,
    extra=None,
):
    """One (task, label) group: a row per rep, `values[i]` in column `metric`."""
    reps = list(range(len(values))) if reps is None else reps
    data_seeds = [1000 + r for r in reps] if data_seeds is None else data_seeds
    statuses = statuses or ["done"] * len(values)
    rows = []
    for i, (rep, v) in enumerate(zip(reps, values, strict=True)):
        model, method = label.split("/")
        row = {
            "task": task,
            "model": model,
            "method": method,
            "label": label,
            "rep": rep,
            "seed": 10 * rep + 7,
            "data_seed": data_seeds[i],
            "status": statuses[i],
            "reason": (reasons or {}).get(rep),
            "profile": profile,
            "model_params": model_params,
            "method_params": method_params,
            "cell_key": f"{task}-{label}-{rep}",
            metric: v if statuses[i] == "done" else np.nan,
        }
        row.update({k: vals[i] for k, vals in (extra or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def frame(*groups):
    return pd.concat(groups, ignore_index=True)


def pair(rng, n=5, mean=1.0, shift=0.0, data_sd=0.05, noise_sd=0.01):
    """Baseline and current values of one metric over `n` shared data seeds."""
    data = mean + rng.normal(0, data_sd, n)
    return data + rng.normal(0, noise_sd, n), data + shift + rng.normal(0, noise_sd, n)


def one(table, metric=None):
    rows = table if metric is None else table[table["metric"] == metric]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ------------------------------------------------------------------ paired bootstrap
def test_planted_regression_with_five_paired_seeds_is_worse():
    base, cur = pair(np.random.default_rng(1), shift=0.1)
    table = compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN)
    assert list(table.columns) == COLUMNS
    row = one(table)
    assert (row["mark"], row["test"], row["metric"], row["direction"]) == ("worse", PAIRED, "nll", "lower")
    assert row["ci_low"] > 0 and row["ci_high"] > row["ci_low"]
    assert row["p_holm"] < 0.05 and row["n_base"] == row["n_cur"] == 5
    assert row["delta"] == pytest.approx(cur.mean() - base.mean())
    assert row["rel_delta"] == pytest.approx(row["delta"] / abs(base.mean()))
    assert row["tolerance"] == pytest.approx(0.05 * abs(base.mean()))
    assert row["reason"].startswith("nll +0.09") and "beyond tolerance" in row["reason"]
    assert "paired bootstrap CI" in row["reason"] and "t-test p=" in row["reason"]
    assert has_regression(table)


def test_four_pairs_of_one_sign_are_not_enough_alone():
    """Four noise-only pairs that share a sign make every bootstrap resample share it too
    (a bootstrap p of 0); the t-test's p is what Holm corrects, and it stays honest."""
    base = np.array([2.0, 2.1, 1.9, 2.05])
    cur = base + np.array([0.20, 0.01, 0.35, 0.02])  # same sign, no consistent shift
    row = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN))
    assert row["ci_low"] > 0  # the bootstrap CI alone would call it significant
    assert row["p_value"] > 0.05 and row["mark"] == "unchanged"


def test_paired_family_wise_false_alarm_rate_is_held():
    """200 noise-only comparisons of 12 (cell, metric) pairs with 4 paired seeds and a
    band of zero: Holm keeps the family-wise false alarms near alpha (binomial bound)."""
    rng = np.random.default_rng(11)
    alarms = 0
    for _ in range(200):
        groups = [pair(rng, n=4, noise_sd=0.05) for _ in range(12)]
        base = frame(*[cells(b, label=f"m{i}/h") for i, (b, _) in enumerate(groups)])
        cur = frame(*[cells(c, label=f"m{i}/h") for i, (_, c) in enumerate(groups)])
        table = compare_frames(base, cur, DIRECTIONS, MAIN, CompareConfig(rel_tol=0, n_boot=200))
        alarms += has_regression(table) or (table["mark"] == "better").any()
    assert alarms / 200 <= 0.09  # alpha 0.05; 0.09 is 3 binomial standard errors above it


def test_pure_noise_with_five_seeds_flags_nothing():
    rng = np.random.default_rng(2)
    groups = [pair(rng, noise_sd=0.02) for _ in range(8)]
    base = frame(*[cells(b, label=f"m{i}/h") for i, (b, _) in enumerate(groups)])
    cur = frame(*[cells(c, label=f"m{i}/h") for i, (_, c) in enumerate(groups)])
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    assert len(table) == 8 and set(table["mark"]) == {"unchanged"}
    assert (table["test"] == PAIRED).all() and table["p_holm"].notna().all()
    assert not has_regression(table)


def test_improvement_is_better():
    base, cur = pair(np.random.default_rng(3), shift=-0.1)
    row = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN))
    assert row["mark"] == "better" and row["ci_high"] < 0


@pytest.mark.parametrize(
    ("metric", "shift", "mark"),
    [("nll", +0.2, "worse"), ("nll", -0.2, "better"), ("acc", +0.2, "better"), ("acc", -0.2, "worse")],
)
def test_direction_decides_which_way_is_worse(metric, shift, mark):
    base, cur = pair(np.random.default_rng(4), mean=2.0, shift=shift)
    task = "t" if metric == "nll" else "c"
    table = compare_frames(
        cells(base, task=task, metric=metric), cells(cur, task=task, metric=metric), DIRECTIONS, MAIN
    )
    assert one(table)["mark"] == mark
    assert has_regression(table) == (mark == "worse")


def test_significant_change_inside_the_band_is_unchanged():
    base, cur = pair(np.random.default_rng(5), shift=0.02, noise_sd=1e-4)
    row = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN))
    assert row["p_value"] < 1e-8 and row["ci_low"] > 0  # as significant as it gets
    assert row["mark"] == "unchanged" and "within tolerance" in row["reason"]


def test_per_metric_and_absolute_tolerance():
    base, cur = pair(np.random.default_rng(5), shift=0.02, noise_sd=1e-4)
    assert (
        one(
            compare_frames(
                cells(base), cells(cur), DIRECTIONS, MAIN, CompareConfig(per_metric_tol={"nll": (0.01, 0.0)})
            )
        )["mark"]
        == "worse"
    )
    assert (
        one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN, CompareConfig(rel_tol=0.0, abs_tol=0.03)))["mark"]
        == "unchanged"
    )
    row = one(
        compare_frames(
            cells(base), cells(cur), DIRECTIONS, MAIN, CompareConfig(abs_tol=0.03, per_metric_tol={"nll": (0.0, 0.01)})
        )
    )
    assert row["mark"] == "worse" and row["tolerance"] == 0.01


def test_significant_looking_change_beyond_the_band_needs_the_test():
    """Beyond the band but noisy: the bootstrap does not support it."""
    base = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    cur = base + np.array([0.5, -0.3, 0.4, -0.35, 0.1])  # mean +0.07 > 0.05, CI spans 0
    row = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN))
    assert row["ci_low"] < 0 < row["ci_high"] and row["mark"] == "unchanged"
    assert "not significant" in row["reason"]


def test_one_pair_is_band_only():
    row = one(compare_frames(cells([1.0]), cells([1.2]), DIRECTIONS, MAIN))
    assert (row["mark"], row["test"]) == ("worse", BAND_ONLY) and math.isnan(row["p_value"])


def test_bootstrap_is_deterministic_and_seeded():
    base, cur = pair(np.random.default_rng(6), shift=0.03, noise_sd=0.03)
    b, c = cells(base), cells(cur)
    first = compare_frames(b, c, DIRECTIONS, MAIN)
    pd.testing.assert_frame_equal(first, compare_frames(b, c, DIRECTIONS, MAIN))
    other = compare_frames(b, c, DIRECTIONS, MAIN, CompareConfig(seed=1))
    assert other["ci_low"][0] != first["ci_low"][0]
    # a row's bootstrap does not depend on which other rows are compared
    more = compare_frames(frame(b, cells(base, label="x/h")), frame(c, cells(cur, label="x/h")), DIRECTIONS, MAIN)
    assert more.set_index("label").loc["m/h", "ci_low"] == first["ci_low"][0]


def test_identical_results_are_unchanged():
    row = one(compare_frames(cells([1.0] * 5), cells([1.0] * 5), DIRECTIONS, MAIN))
    assert (row["mark"], row["test"], row["p_value"], row["delta"]) == ("unchanged", PAIRED, 1.0, 0.0)
    ties = one(
        compare_frames(
            cells([1.0] * 4, data_seeds=[1, 2, 3, 4]), cells([1.0] * 4, data_seeds=[5, 6, 7, 8]), DIRECTIONS, MAIN
        )
    )
    assert (ties["mark"], ties["test"]) == ("unchanged", UNPAIRED)


def test_unshared_reps_are_left_out_of_a_paired_comparison():
    base, cur = pair(np.random.default_rng(16), shift=0.1)
    row = one(compare_frames(cells(base), cells(cur, reps=[0, 1, 2, 3, 9]), DIRECTIONS, MAIN))
    assert (row["mark"], row["test"], row["n_base"], row["n_cur"]) == ("worse", PAIRED, 4, 4)
    assert "2 unpaired reps left out" in row["reason"]


def test_non_finite_values_are_decided_without_a_test():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = one(compare_frames(cells([1.0] * 3), cells([1.0, np.inf, 1.0]), DIRECTIONS, MAIN))
        assert (row["mark"], row["test"]) == ("worse", "") and "1 → inf" in row["reason"]
        assert one(compare_frames(cells([np.inf] * 3), cells([np.inf] * 3), DIRECTIONS, MAIN))["mark"] == "unchanged"
        row = one(compare_frames(cells([np.inf, -np.inf]), cells([1.0, 1.0]), DIRECTIONS, MAIN))
        assert row["mark"] == "incomparable" and "non-finite" in row["reason"]


# ------------------------------------------------------------------ unpaired
def test_three_vs_three_unpaired_is_decided_by_the_band():
    base = cells([1.0, 1.02, 0.98], data_seeds=[1, 2, 3])
    big = cells([1.5, 1.52, 1.48], data_seeds=[4, 5, 6])
    small = cells([1.01, 1.03, 1.0], data_seeds=[4, 5, 6])
    row = one(compare_frames(base, big, DIRECTIONS, MAIN))
    assert (row["mark"], row["test"]) == ("worse", BAND_ONLY)
    assert math.isnan(row["p_value"]) and math.isnan(row["p_holm"]) and math.isnan(row["ci_low"])
    assert "3 vs 3" in row["reason"]
    row = one(compare_frames(base, small, DIRECTIONS, MAIN))
    assert (row["mark"], row["test"]) == ("unchanged", BAND_ONLY)


def test_four_vs_four_unpaired_clear_shift_uses_mann_whitney():
    rng = np.random.default_rng(7)
    base = cells(1.0 + rng.normal(0, 0.01, 4), data_seeds=[1, 2, 3, 4])
    cur = cells(1.3 + rng.normal(0, 0.01, 4), data_seeds=[5, 6, 7, 8])
    row = one(compare_frames(base, cur, DIRECTIONS, MAIN))
    assert (row["mark"], row["test"]) == ("worse", UNPAIRED)
    assert row["p_value"] == pytest.approx(1 / 70) and row["p_value"] < 0.05  # exact, complete separation
    assert math.isnan(row["ci_low"])
    # the improvement is tested in the other direction
    row = one(compare_frames(cur, base, DIRECTIONS, MAIN))
    assert row["mark"] == "better" and row["p_value"] == pytest.approx(1 / 70)


def test_reps_with_other_or_unknown_data_seeds_are_unpaired():
    rng = np.random.default_rng(8)
    base = cells(1.0 + rng.normal(0, 0.01, 5))
    cur = cells(1.3 + rng.normal(0, 0.01, 5), data_seeds=[9, 8, 7, 6, 5])
    assert one(compare_frames(base, cur, DIRECTIONS, MAIN))["test"] == UNPAIRED
    no_seeds = one(compare_frames(base.drop(columns="data_seed"), cur.drop(columns="data_seed"), DIRECTIONS, MAIN))
    assert (no_seeds["test"], no_seeds["mark"]) == (UNPAIRED, "worse")


# ------------------------------------------------------------------ Holm
def test_holm_adjust_against_hand_computation():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .06
    got = holm_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm_adjust([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])  # .5*2, max(1, .9)
    assert holm_adjust([]).size == 0


def test_holm_across_groups_matches_hand_computation():
    """Exact one-sided Mann-Whitney p-values: 5v5 separated 1/252, 4v4 separated 1/70,
    4v4 with one overlap (U=15) 2/70; Holm: 3/252, 2/70, max(2/70, 2/70)."""
    seeds = {"b": [1, 2, 3, 4, 5], "c": [6, 7, 8, 9, 10]}
    base = frame(
        cells([1.0, 1.01, 1.02, 1.03, 1.04], label="a/h", data_seeds=seeds["b"]),
        cells([1.0, 1.05, 1.1, 1.15], label="b/h", data_seeds=seeds["b"][:4]),
        cells([1.0, 1.05, 1.1, 1.25], label="c/h", data_seeds=seeds["b"][:4]),
    )
    cur = frame(
        cells([1.5, 1.51, 1.52, 1.53, 1.54], label="a/h", data_seeds=seeds["c"]),
        cells([1.3, 1.35, 1.4, 1.45], label="b/h", data_seeds=seeds["c"][:4]),
        cells([1.2, 1.3, 1.4, 1.5], label="c/h", data_seeds=seeds["c"][:4]),
    )
    table = compare_frames(base, cur, DIRECTIONS, MAIN).set_index("label")
    np.testing.assert_allclose(table.loc[["a/h", "b/h", "c/h"], "p_value"], [1 / 252, 1 / 70, 2 / 70])
    np.testing.assert_allclose(table.loc[["a/h", "b/h", "c/h"], "p_holm"], [3 / 252, 2 / 70, 2 / 70])
    assert set(table["mark"]) == {"worse"}


def test_holm_makes_borderline_p_values_not_significant():
    """Four 4v4 complete separations: each p = 1/70 < 0.05, but Holm gives 4/70 > 0.05."""
    base = frame(*[cells([1.0, 1.01, 1.02, 1.03], label=f"m{i}/h", data_seeds=[1, 2, 3, 4]) for i in range(4)])
    cur = frame(*[cells([1.2, 1.21, 1.22, 1.23], label=f"m{i}/h", data_seeds=[5, 6, 7, 8]) for i in range(4)])
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    np.testing.assert_allclose(table["p_value"], 1 / 70)
    np.testing.assert_allclose(table["p_holm"], 4 / 70)
    assert set(table["mark"]) == {"unchanged"} and not has_regression(table)
    assert table["reason"].str.contains("not significant").all()
    # alone, one of them is a regression
    assert (
        one(compare_frames(base[base["label"] == "m0/h"], cur[cur["label"] == "m0/h"], DIRECTIONS, MAIN))["mark"]
        == "worse"
    )


# ------------------------------------------------------------------ statuses
def test_newly_failing_and_fixed():
    base = frame(
        cells([1.0, 1.0, 1.0, 1.0, 1.0]),
        cells([1.0, 1.0, 1.0, 1.0, 1.0], label="x/h", statuses=["done", "diverged", "done", "done", "done"]),
    )
    cur = frame(
        cells(
            [1.0, 1.0, 1.0, 1.0, 1.0],
            statuses=["done", "done", "error", "done", "timeout"],
            reasons={2: "CUDA out of memory\nTraceback (most recent call last): ...", 4: "over 60 s"},
        ),
        cells([1.0, 1.0, 1.0, 1.0, 1.0], label="x/h"),
    )
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    failing = one(table[table["mark"] == "newly failing"])
    assert (failing["label"], failing["metric"]) == ("m/h", "status")
    assert "reps 2, 4" in failing["reason"] and "error — CUDA out of memory" in failing["reason"]
    assert "Traceback" not in failing["reason"] and "timeout — over 60 s" in failing["reason"]
    fixed = one(table[table["mark"] == "fixed"])
    assert fixed["label"] == "x/h" and "rep 1" in fixed["reason"] and "diverged" in fixed["reason"]
    assert table["mark"].iloc[0] == "newly failing"
    assert has_regression(table)
    # the done reps still compare
    assert set(table[table["metric"] == "nll"]["mark"]) == {"unchanged"}
    only_fixed = compare_frames(base[base["label"] == "x/h"], cur[cur["label"] == "x/h"], DIRECTIONS, MAIN)
    assert "fixed" in set(only_fixed["mark"]) and not has_regression(only_fixed)


def test_skipped_cells_are_left_out():
    skipped = cells([np.nan], label="s/h", statuses=["skipped"])
    base, cur = frame(cells([1.0, 1.0]), skipped), frame(cells([1.0, 1.0]), skipped.assign(task="t"))
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    assert list(table["label"]) == ["m/h"]
    # skipped only on one side: nothing there to compare, not "gone"
    assert list(compare_frames(frame(cells([1.0]), skipped), cells([1.0]), DIRECTIONS, MAIN)["label"]) == ["m/h"]


def test_all_reps_failing_now():
    base, cur = cells([1.0, 1.1]), cells([1.0, 1.1], statuses=["error", "error"])
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    assert list(table["mark"]) == ["newly failing", "gone"]
    assert "no done cell with nll in the current run" in table["reason"][1]


# ------------------------------------------------------------------ new, gone, incomparable
def test_new_and_gone():
    base = frame(cells([1.0, 1.0]), cells([2.0, 2.0], label="old/h"))
    cur = frame(
        cells([1.0, 1.0]),
        cells([3.0, 3.0], label="fresh/h"),
        cells([0.5, 0.7], task="c", metric="acc"),
        cells([np.nan], task="u", label="z/h", statuses=["error"]),
    )
    table = compare_frames(base, cur, DIRECTIONS, MAIN).set_index(["task", "label"])
    assert table.loc[("t", "old/h"), "mark"] == "gone" and table.loc[("t", "old/h"), "base_mean"] == 2.0
    assert table.loc[("t", "fresh/h"), "mark"] == "new" and table.loc[("t", "fresh/h"), "cur_mean"] == 3.0
    new_task = table.loc[("c", "m/h")]
    assert (new_task["mark"], new_task["metric"], new_task["cur_mean"]) == ("new", "acc", pytest.approx(0.6))
    failed_new = table.loc[("u", "z/h")]
    assert (failed_new["mark"], failed_new["metric"]) == ("new", "status") and "error" in failed_new["reason"]
    assert not has_regression(table.reset_index())


def test_incomparable_on_profile_change():
    base, cur = pair(np.random.default_rng(9), shift=0.5)
    row = one(compare_frames(cells(base), cells(cur, profile="full"), DIRECTIONS, MAIN))
    assert row["mark"] == "incomparable" and "profile differs: quick → full" in row["reason"]
    assert row["test"] == "" and math.isnan(row["p_value"])


def test_incomparable_on_params_change():
    base, cur = pair(np.random.default_rng(10))
    row = one(
        compare_frames(
            cells(base, method_params=json.dumps({"lr": 0.1})),
            cells(cur, method_params=json.dumps({"lr": 0.01})),
            DIRECTIONS,
            MAIN,
        )
    )
    assert row["mark"] == "incomparable" and "method_params differs" in row["reason"] and "0.01" in row["reason"]
    row = one(
        compare_frames(
            cells(base, model_params='{"hidden":64}'), cells(cur, model_params='{"hidden":32}'), DIRECTIONS, MAIN
        )
    )
    assert row["mark"] == "incomparable" and "model_params differs" in row["reason"]


def meta(**hashes):
    entries = {"tasks": {"t": {}}, "models": {"m": {}}, "methods": {"h": {}}, "metrics": {"nll": {}, "acc": {}}}
    for key, value in hashes.items():
        kind, name = key.split("_")
        entries[kind][name] = {"source_hash": value, "plugin": "p"}
    return {"entries": entries}


def test_source_hashes_of_model_and_method_are_information_only():
    base, cur = pair(np.random.default_rng(11), shift=0.2)
    table = compare_frames(
        cells(base),
        cells(cur),
        DIRECTIONS,
        MAIN,
        base_meta=meta(models_m="aaaa1111", methods_h="cccc", tasks_t="tt", metrics_nll="nn"),
        cur_meta=meta(models_m="bbbb2222", methods_h="cccc", tasks_t="tt", metrics_nll="nn"),
    )
    row = one(table)
    assert row["mark"] == "worse" and "model m source changed aaaa1111 → bbbb2222" in row["reason"]
    assert "method h" not in row["reason"]


def test_source_hash_of_task_or_metric_makes_incomparable():
    base, cur = pair(np.random.default_rng(12))
    b, c = cells(base, extra={"acc": list(base)}), cells(cur, extra={"acc": list(base)})
    config = CompareConfig(metrics=("nll", "acc"))
    row = one(
        compare_frames(
            b,
            c,
            DIRECTIONS,
            MAIN,
            base_meta=meta(tasks_t="old1"),
            cur_meta=meta(tasks_t="new2"),
            config=CompareConfig(),
        )
    )
    assert row["mark"] == "incomparable" and "task t source changed old1 → new2" in row["reason"]
    table = compare_frames(
        b, c, DIRECTIONS, MAIN, config, base_meta=meta(metrics_nll="x1"), cur_meta=meta(metrics_nll="x2")
    )
    assert one(table, "nll")["mark"] == "incomparable" and "metric nll source changed" in one(table, "nll")["reason"]
    assert one(table, "acc")["mark"] == "unchanged"
    # a hash known on one side only says nothing
    assert (
        one(compare_frames(b, c, DIRECTIONS, MAIN, base_meta=meta(tasks_t="old1"), cur_meta=meta()))["mark"]
        == "unchanged"
    )


# ------------------------------------------------------------------ metrics, order, summary
def test_metric_with_direction_none_is_never_worse():
    rng = np.random.default_rng(13)
    base = 1.0 + rng.normal(0, 0.01, 5)
    b = cells(base, extra={"beta": list(base)})
    c = cells(base, extra={"beta": list(base * 3)})
    table = compare_frames(b, c, DIRECTIONS, MAIN, CompareConfig(metrics=("nll", "beta")))
    beta = one(table, "beta")
    assert (beta["mark"], beta["direction"]) == ("changed", "none") and beta["p_holm"] < 0.05
    assert not has_regression(table)
    c_down = cells(base, extra={"beta": list(base / 3)})
    assert one(compare_frames(b, c_down, DIRECTIONS, MAIN, CompareConfig(metrics=("beta",))))["mark"] == "changed"


def test_sort_order_and_summary_counts():
    rng = np.random.default_rng(14)

    def g(label, shift, **kw):
        b, c = pair(rng, shift=shift)
        return cells(b, label=label), cells(c, label=label, **kw)

    small, large, better, same, inc = (
        g("a/h", 0.1),
        g("b/h", 0.4),
        g("c/h", -0.3),
        g("d/h", 0.0),
        g("e/h", 0.0, profile="full"),
    )
    fail = (cells([1.0, 1.0], label="f/h"), cells([1.0, 1.0], label="f/h", statuses=["done", "error"]))
    parts = [small, large, better, same, inc, fail]
    base = frame(*[p[0] for p in parts], cells([1.0], label="gone/h"))
    cur = frame(*[p[1] for p in parts], cells([1.0], label="new/h"))
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    assert list(zip(table["label"], table["mark"], strict=True)) == [
        ("f/h", "newly failing"),
        ("b/h", "worse"),
        ("a/h", "worse"),
        ("e/h", "incomparable"),
        ("gone/h", "gone"),
        ("new/h", "new"),
        ("c/h", "better"),
        ("d/h", "unchanged"),
        ("f/h", "unchanged"),
    ]
    counts = summary_counts(table)
    assert list(counts) == list(MARKS)
    assert counts == {
        "newly failing": 1,
        "worse": 2,
        "incomparable": 1,
        "new": 1,
        "gone": 1,
        "better": 1,
        "fixed": 0,
        "changed": 0,
        "unchanged": 2,
    }
    assert table["n_base"].dtype.kind == "i"


def test_empty_and_bad_input():
    empty = compare_frames(cells([]), cells([]), DIRECTIONS, MAIN)
    assert empty.empty and list(empty.columns) == COLUMNS and not has_regression(empty)
    assert compare_frames(cells([1.0]).iloc[:0], cells([]), DIRECTIONS, MAIN).empty
    assert summary_counts(empty)["worse"] == 0
    with pytest.raises(UsageError, match="unknown metric 'nlll'"):
        compare_frames(cells([1.0]), cells([1.0]), DIRECTIONS, MAIN, CompareConfig(metrics=("nlll",)))
    with pytest.raises(UsageError, match="no main metric"):
        compare_frames(cells([1.0], task="q"), cells([1.0], task="q"), DIRECTIONS, MAIN)
    with pytest.raises(UsageError, match="more than once"):
        compare_frames(frame(cells([1.0]), cells([1.0])), cells([1.0]), DIRECTIONS, MAIN)
    with pytest.raises(UsageError, match="lack column"):
        compare_frames(cells([1.0]).drop(columns="rep"), cells([1.0]), DIRECTIONS, MAIN)
    with pytest.raises(UsageError, match="alpha"):
        compare_frames(cells([1.0]), cells([1.0]), DIRECTIONS, MAIN, CompareConfig(alpha=0))
    with pytest.raises(UsageError, match="tolerance for 'nll'"):
        compare_frames(cells([1.0]), cells([1.0]), DIRECTIONS, MAIN, CompareConfig(per_metric_tol={"nll": (-1, 0)}))


# ------------------------------------------------------------------ false alarms
def test_noise_only_comparisons_rarely_flag():
    """200 comparisons of equivalent code, 5 paired seeds each: seed-to-seed spread of ~5%
    (shared data effect) plus ~3% training noise per side.

    Computed in one table for speed; a row's bootstrap is seeded by its own (task, label,
    metric), so without Holm each row decides exactly as a comparison on its own would."""
    rng = np.random.default_rng(15)
    pairs = [pair(rng, mean=1.0, data_sd=0.05, noise_sd=0.03) for _ in range(200)]
    base = frame(*[cells(b, label=f"m{i}/h") for i, (b, _) in enumerate(pairs)])
    cur = frame(*[cells(c, label=f"m{i}/h") for i, (_, c) in enumerate(pairs)])
    table = compare_frames(base, cur, DIRECTIONS, MAIN)
    assert len(table) == 200 and not has_regression(table)  # with Holm over the 200
    alone = (
        (table["delta"].abs() > table["tolerance"])
        & (table["p_value"] < 0.05)
        & ((table["ci_low"] > 0) | (table["ci_high"] < 0))
    )
    assert alone.sum() <= 20  # each comparison on its own: <= 10 % false alarms
    for label in table["label"][:8]:  # ... which is what a table of one says
        one_table = compare_frames(base[base["label"] == label], cur[cur["label"] == label], DIRECTIONS, MAIN)
        assert (one(one_table)["mark"] != "unchanged") == alone[table["label"] == label].item()


def test_across_code_changes_compares_what_a_task_edit_would_refuse():
    """A refactor of a task's file changes its hash, not its numbers: asked to, compare goes
    ahead and notes the change; by default the rows stay incomparable."""
    base, cur = pair(np.random.default_rng(21), shift=0.1)
    meta = lambda h: {"entries": {"tasks": {"t": {"source_hash": h}}, "metrics": {"nll": {"source_hash": "m"}}}}  # noqa: E731
    refused = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN, None, meta("aaaa1111"), meta("bbbb2222")))
    assert refused["mark"] == "incomparable" and "task t source changed aaaa1111 → bbbb2222" in refused["reason"]
    config = CompareConfig(across_code_changes=True)
    row = one(compare_frames(cells(base), cells(cur), DIRECTIONS, MAIN, config, meta("aaaa1111"), meta("bbbb2222")))
    assert row["mark"] == "worse" and "task t source changed aaaa1111 → bbbb2222" in row["reason"]
